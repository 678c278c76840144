/*
 * test_kafka_consume.c — `giftope consume` against a real broker (suite
 * kafka_consume; skipped without GOPE_KAFKA_BROKERS, see docs/kafka-tests.md).
 *
 * The oracle is replay: a simulator log plus a few bad lines is produced,
 * keyed by event_id, into a 3-partition topic; consume --window all must give
 * the records replay gives over the same lines, value for value (to 1e-9
 * relative: partitions arrive interleaved, so sums are added in another
 * order), with the bad lines in the dead-letter file at their Kafka
 * positions. Then the group's commits are checked from the outside: a second
 * run in the group reads nothing, --max-events stops after exactly N and the
 * next run resumes after them. Last, SIGTERM mid-run: exit 0 and a summary.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "testutil.h"

#define N_PART 3
#define WAIT_MS 30000

static const char *brokers_or_skip(void)
{
    const char *b = getenv("GOPE_KAFKA_BROKERS");
    if (!b || !*b)
        cr_skip_test("GOPE_KAFKA_BROKERS is not set (tests/kafka/run.sh starts a broker)");
    return b;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    *(int *)opaque += m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* An idempotent producer; `failed` counts failed deliveries. */
static rd_kafka_t *producer_new(const char *brokers, int *failed)
{
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof e), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(c, "enable.idempotence", "true", e, sizeof e), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_opaque(c, failed);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    cr_assert(rk, "producer: %s", e);
    return rk;
}

static void create_topic(rd_kafka_t *rk, const char *topic)
{
    char e[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, N_PART, 1, e, sizeof e);
    cr_assert(nt, "%s", e);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    cr_assert_eq(rd_kafka_AdminOptions_set_operation_timeout(opt, WAIT_MS, e, sizeof e), 0, "%s", e);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS + 5000);
    cr_assert(ev, "CreateTopics: no answer");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    cr_assert(res, "CreateTopics: %s", rd_kafka_event_error_string(ev));
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert(n == 1 && !rd_kafka_topic_result_error(tr[0]), "create %s: %s", topic,
              n ? rd_kafka_topic_result_error_string(tr[0]) : "no result");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
}

/* Produce every line of `text` (one message each, without the '\n'), keyed
 * by its event_id (or "line-N" when it has none); wait for every delivery. */
static int produce_lines(rd_kafka_t *rk, const char *topic, const char *text)
{
    int *failed = rd_kafka_opaque(rk);
    int n = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char key[160];
        const char *id = strstr(p, "\"event_id\":\"");
        const char *q = id && id < p + len ? strchr(id + 12, '"') : NULL;
        if (q && q < p + len)
            snprintf(key, sizeof key, "%.*s", (int)(q - id - 12), id + 12);
        else
            snprintf(key, sizeof key, "line-%d", n);
        rd_kafka_resp_err_t r;
        while ((r = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE((void *)p, len),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        cr_assert_eq(r, 0, "produce: %s", rd_kafka_err2str(r));
        n++;
        p += len + (nl != NULL);
    }
    cr_assert_eq(rd_kafka_flush(rk, WAIT_MS), 0, "flush: %d left", rd_kafka_outq_len(rk));
    cr_assert_eq(*failed, 0, "%d deliveries failed", *failed);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void unique_name(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "gope-consume-%s-%ld-%ld", what, (long)getpid(), (long)time(NULL));
}

/* The ope_run.v1 line of a run's output: the last line. */
static cJSON *summary_of(const char *path, cJSON **lines)
{
    *lines = tu_read_jsonl(path);
    cr_assert(*lines, "cannot read %s", path);
    int n = cJSON_GetArraySize(*lines);
    cr_assert_gt(n, 0, "%s is empty", path);
    cJSON *s = cJSON_GetArrayItem(*lines, n - 1);
    cr_assert_str_eq(tu_str(s, "schema"), "ope_run.v1");
    cr_expect_eq(tu_num(s, "lines_read"),
                 tu_num(s, "accepted") + tu_num(s, "rejected") + tu_num(s, "late"),
                 "lines_read = accepted + rejected + late");
    return s;
}

/* `got` equals `want`: same members and lengths, strings and booleans equal,
 * numbers (or nulls) as tu_num_match, within 1e-9 relative. */
static void expect_same(const cJSON *got, const cJSON *want, const char *where)
{
    if (cJSON_IsObject(want)) {
        cr_assert(cJSON_IsObject(got), "%s: not an object", where);
        cr_expect_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s: member count", where);
        const cJSON *w;
        cJSON_ArrayForEach(w, want) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", where, w->string);
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
            cr_assert(g, "%s: missing", sub);
            expect_same(g, w, sub);
        }
    } else if (cJSON_IsArray(want)) {
        cr_assert(cJSON_IsArray(got), "%s: not an array", where);
        cr_assert_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s: length", where);
        for (int i = 0; i < cJSON_GetArraySize(want); i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", where, i);
            expect_same(cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i), sub);
        }
    } else if (cJSON_IsBool(want)) {
        cr_expect(cJSON_IsBool(got) && cJSON_IsTrue(got) == cJSON_IsTrue(want), "%s: bool", where);
    } else if (cJSON_IsString(want)) {
        cr_expect(cJSON_IsString(got) && strcmp(got->valuestring, want->valuestring) == 0,
                  "%s: \"%s\", want \"%s\"", where, cJSON_IsString(got) ? got->valuestring : "?",
                  want->valuestring);
    } else {
        cr_expect(tu_num_match(got, want), "%s: %.17g, want %.17g", where, got->valuedouble,
                  want->valuedouble);
    }
}

/* The ope_metrics.v1 record of `policy` in `lines`, or NULL. */
static const cJSON *record_of(const cJSON *lines, const char *policy)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, lines) {
        if (strcmp(tu_str(l, "schema"), "ope_metrics.v1") == 0 &&
            strcmp(tu_str(l, "policy"), policy) == 0)
            return l;
    }
    return NULL;
}

static int count_records(const cJSON *lines)
{
    int n = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, lines) n += strcmp(tu_str(l, "schema"), "ope_metrics.v1") == 0;
    return n;
}

static const char *const bad_lines[] = {
    "not json at all",
    "{\"event_id\":\"bad-missing\",\"ts\":1735689600000}", /* no user_id, candidates ... */
};

Test(kafka_consume, same_records_as_replay_and_resumes_after_commits, .timeout = 240)
{
    const char *brokers = brokers_or_skip();
    char topic[96], group[112];
    unique_name(topic, sizeof topic, "replay");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);

    /* a simulator log and the bad lines, one file for replay and the topic */
    const char *world = tu_cli_write(&c, "world.json",
                                     "{\"base\":\"kuailive\",\"users\":{\"count\":500},"
                                     "\"streamers\":{\"count\":40},\"candidates\":{\"k\":10}}");
    char log[600], in[600], out[600], dl[600], rout[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(in, sizeof in, "%s", tu_cli_path(&c, "in.jsonl"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "dead.jsonl"));
    snprintf(rout, sizeof rout, "%s", tu_cli_path(&c, "replay.jsonl"));
    const char *sim[] = {"sim", "--world", world, "--policy", "eps_greedy", "--decisions", "3000",
                         "--out", log, NULL};
    tu_cli_expect(&c, sim, 0, NULL);
    size_t len;
    char *text = tu_read_file(log, &len);
    cr_assert(text && len > 0);
    size_t extra = strlen(bad_lines[0]) + strlen(bad_lines[1]) + 3;
    text = realloc(text, len + extra);
    cr_assert(text);
    snprintf(text + len, extra, "%s\n%s\n", bad_lines[0], bad_lines[1]);
    cr_assert(tu_write_file(in, text, strlen(text)));

    int failed = 0;
    rd_kafka_t *prod = producer_new(brokers, &failed);
    create_topic(prod, topic);
    cr_assert_eq(produce_lines(prod, topic, text), 3002);

    const char *consume[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                             "--window", "all", "--idle-exit", "5s", "--out", out,
                             "--dead-letter", dl, "--quiet", NULL};
    tu_cli_expect(&c, consume, 0, NULL);
    const char *replay[] = {"replay", "--window", "all", "--quiet", "--out", rout, in, NULL};
    tu_cli_expect(&c, replay, 0, NULL);

    cJSON *got, *want;
    cJSON *gs = summary_of(out, &got), *ws = summary_of(rout, &want);
    cr_expect_eq(tu_num(gs, "lines_read"), 3002);
    cr_expect_eq(tu_num(gs, "rejected"), 2);
    cr_expect_str_eq(tu_str(gs, "kafka.stopped_by"), "idle");
    const char *counts[] = {"lines_read", "accepted", "rejected", "late", "windows", "records"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_expect_eq(tu_num(gs, counts[i]), tu_num(ws, counts[i]), "%s", counts[i]);
    expect_same(tu_get(gs, "rejected_by_reason"), tu_get(ws, "rejected_by_reason"),
                "rejected_by_reason");
    cr_assert_eq(count_records(got), count_records(want));
    cr_assert_gt(count_records(want), 0);
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        if (strcmp(tu_str(w, "schema"), "ope_metrics.v1") != 0)
            continue;
        const cJSON *g = record_of(got, tu_str(w, "policy"));
        cr_assert(g, "consume has no record for %s", tu_str(w, "policy"));
        expect_same(g, w, tu_str(w, "policy"));
    }

    /* the bad lines, at their Kafka positions */
    cJSON *dead = tu_read_jsonl(dl);
    cr_assert(dead);
    cr_assert_eq(cJSON_GetArraySize(dead), 2);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "kafka:%s/", topic);
    const cJSON *d;
    int seen = 0;
    cJSON_ArrayForEach(d, dead) {
        const char *src = tu_str(d, "source");
        cr_expect(strncmp(src, prefix, strlen(prefix)) == 0, "source %s", src);
        int part = atoi(src + strlen(prefix));
        cr_expect(part >= 0 && part < N_PART, "partition in %s", src);
        cr_expect_eq(tu_num(d, "line"), tu_num(d, "offset") + 1, "line = offset + 1");
        const char *raw = tu_str(d, "raw");
        int k = strcmp(raw, bad_lines[0]) == 0 ? 0 : strcmp(raw, bad_lines[1]) == 0 ? 1 : -1;
        cr_expect_neq(k, -1, "raw %s", raw);
        cr_expect_str_eq(tu_str(d, "reason"), k == 0 ? "invalid_json" : "missing_field");
        seen |= 1 << (k < 0 ? 2 : k);
    }
    cr_expect_eq(seen, 3);
    cJSON_Delete(dead);
    cJSON_Delete(got);
    cJSON_Delete(want);

    /* the offsets were committed: a new run in the group finds nothing */
    const char *again[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                           "--idle-exit", "3s", "--out", out, "--quiet", NULL};
    tu_cli_expect(&c, again, 0, NULL);
    gs = summary_of(out, &got);
    cr_expect_eq(tu_num(gs, "lines_read"), 0);
    cr_expect_eq(count_records(got), 0);
    cJSON_Delete(got);

    /* --max-events stops after exactly N; the next run resumes after them */
    cr_assert_eq(produce_lines(prod, topic, bad_lines[0]), 1);
    cr_assert_eq(produce_lines(prod, topic, bad_lines[0]), 1);
    cr_assert_eq(produce_lines(prod, topic, bad_lines[0]), 1);
    const char *two[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                         "--max-events", "2", "--out", out, "--quiet", NULL};
    tu_cli_expect(&c, two, 0, NULL);
    gs = summary_of(out, &got);
    cr_expect_eq(tu_num(gs, "lines_read"), 2);
    cr_expect_str_eq(tu_str(gs, "kafka.stopped_by"), "max_events");
    cJSON_Delete(got);
    tu_cli_expect(&c, again, 0, NULL);
    gs = summary_of(out, &got);
    cr_expect_eq(tu_num(gs, "lines_read"), 1);
    cJSON_Delete(got);

    rd_kafka_destroy(prod);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_consume, sigterm_ends_the_run_with_exit_0_and_a_summary, .timeout = 120)
{
    const char *brokers = brokers_or_skip();
    char topic[96], group[112];
    unique_name(topic, sizeof topic, "term");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    int failed = 0;
    rd_kafka_t *prod = producer_new(brokers, &failed);
    create_topic(prod, topic);
    const char *line = "{\"event_id\":\"e1\",\"ts\":1735689600000,\"user_id\":\"u\","
                       "\"candidates\":[{\"streamer_id\":\"a\",\"ev\":1.5},"
                       "{\"streamer_id\":\"b\",\"ev\":0.5}],\"action\":0,\"propensity\":0.5,"
                       "\"reward\":2}";
    cr_assert_eq(produce_lines(prod, topic, line), 1);

    /* no --idle-exit: only the signal ends it */
    const char *argv[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic, "--group",
                          group, "--window", "1h", "--out", c.out, NULL};
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen(c.err, "w", stderr))
            _exit(126);
        execv(GOPE_BIN, (char *const *)argv);
        _exit(127);
    }
    /* wait until it has taken the message (rebalance and fetch), then stop it */
    char *err = NULL;
    for (int i = 0; i < 300; i++) {
        sleep_ms(100);
        free(err);
        err = tu_read_file(c.err, NULL);
        if (err && strstr(err, "assigned"))
            break;
    }
    cr_assert(err && strstr(err, "assigned"), "never assigned; stderr: %s", err ? err : "");
    sleep_ms(1500);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 300 && w == 0; i++) {
        sleep_ms(100);
        w = waitpid(pid, &status, WNOHANG);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("consume did not end within 30 s of SIGTERM");
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d; stderr: %s", status, err);
    cJSON *lines;
    cJSON *s = summary_of(c.out, &lines);
    cr_expect_eq(tu_num(s, "lines_read"), 1);
    cr_expect_eq(tu_num(s, "accepted"), 1);
    cr_expect_str_eq(tu_str(s, "kafka.stopped_by"), "signal");
    cr_expect_eq(count_records(lines), 8, "the open window is emitted at shutdown");
    cJSON_Delete(lines);
    free(err);
    rd_kafka_destroy(prod);
    tu_cli_done(&c);
}
