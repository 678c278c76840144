/*
 * test_kafka_sink.c — the Kafka sink against a real broker (suite kafka_sink;
 * skipped without GOPE_KAFKA_BROKERS, see docs/kafka-tests.md).
 *
 * The oracle is the file sink: the same evaluation written to kafka:TOPIC and
 * to a file must give the same lines, byte for byte, as multisets (a topic
 * with several partitions has no total order), every record keyed by its
 * policy and every dead letter by its reason. The input topic has one
 * partition, so both runs see the events in one order and their sums agree
 * exactly. Then the simulator: `sim --out kafka:T` streams the very lines
 * `sim --out FILE` writes (same seed), in order, keyed by event_id, and
 * consume on the topic gives replay's records on the file. Then exactly-once
 * through Kafka outputs: consume --checkpoint to kafka:T, killed with
 * SIGKILL a few times and restarted, leaves every record and dead letter on
 * the topics at least once, and once deduplicated they are the lines of an
 * uninterrupted run. Last, a topic that does not exist: the command fails
 * with the sink's message once message.timeout.ms has passed, it does not
 * hang.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clitest.h"
#include "kafkatest.h"
#include "spawn.h"
#include "testutil.h"

/* The lines of a file as an array of strings (the '\n's cut). */
typedef struct {
    char **v;
    size_t n;
} lines;

static lines file_lines(const char *path)
{
    char *text = tu_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    lines l = {0};
    for (char *p = text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        cr_assert(nl, "%s: last line without a newline", path);
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        cr_assert(l.v);
        l.v[l.n] = strndup(p, (size_t)(nl - p));
        cr_assert(l.v[l.n++]);
    }
    free(text);
    return l;
}

static lines message_values(const tk_msg *m, size_t n)
{
    lines l = {calloc(n + 1, sizeof(char *)), n};
    cr_assert(l.v);
    for (size_t i = 0; i < n; i++)
        cr_assert(l.v[i] = strdup(m[i].value));
    return l;
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Only the lines whose "schema" is `schema`, sorted. */
static lines only_schema(const lines *l, const char *schema)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"schema\":\"%s\"", schema);
    lines out = {calloc(l->n + 1, sizeof(char *)), 0};
    cr_assert(out.v);
    for (size_t i = 0; i < l->n; i++)
        if (strstr(l->v[i], needle))
            cr_assert(out.v[out.n++] = strdup(l->v[i]));
    qsort(out.v, out.n, sizeof *out.v, cmp_str);
    return out;
}

static void expect_same_multiset(lines *got, lines *want, const char *what)
{
    qsort(got->v, got->n, sizeof *got->v, cmp_str);
    qsort(want->v, want->n, sizeof *want->v, cmp_str);
    cr_assert_eq(got->n, want->n, "%s: %zu lines, want %zu", what, got->n, want->n);
    for (size_t i = 0; i < got->n; i++)
        cr_assert_str_eq(got->v[i], want->v[i], "%s: line %zu differs", what, i);
}

/* Every message's key is the string field `field` of its value, and one key
 * always lands in one partition. */
static void expect_keyed_by(const tk_msg *m, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_Parse(m[i].value);
        cr_assert(v, "message %zu is not JSON: %s", i, m[i].value);
        const char *want = strstr(m[i].value, "\"ope_run.v1\"") ? "summary" : tu_str(v, field);
        cr_expect_str_eq(m[i].key, want, "message %zu: key", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m[j].key, m[i].key) == 0)
                cr_expect_eq(m[j].partition, m[i].partition, "key %s in two partitions", m[i].key);
        cJSON_Delete(v);
    }
}

static const char bad_lines[] = "not json at all\n"
                                "{\"event_id\":\"bad-missing\",\"ts\":1735689600000}\n";

Test(kafka_sink, consume_to_kafka_gives_the_file_sinks_lines_keyed_by_policy_and_reason,
     .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    char in_topic[96], out_topic[112], dl_topic[112], g1[112], g2[112];
    tk_unique(in_topic, sizeof in_topic, "sink-in");
    snprintf(out_topic, sizeof out_topic, "%s-out", in_topic);
    snprintf(dl_topic, sizeof dl_topic, "%s-dl", in_topic);
    snprintf(g1, sizeof g1, "%s-g1", in_topic);
    snprintf(g2, sizeof g2, "%s-g2", in_topic);
    tu_cli c;
    tu_cli_init(&c);
    char log[600], out[600], dl[600], kout[600], kdl[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "out.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "dead.jsonl"));
    snprintf(kout, sizeof kout, "kafka:%s", out_topic);
    snprintf(kdl, sizeof kdl, "kafka:%s", dl_topic);
    char *text = tk_sim_log(&c, 10, 3000, log);
    text = realloc(text, strlen(text) + sizeof bad_lines);
    cr_assert(text);
    strcat(text, bad_lines);

    tk_create_topic(brokers, in_topic, 1);
    tk_create_topic(brokers, out_topic, 3);
    tk_create_topic(brokers, dl_topic, 2);
    cr_assert_eq(tk_produce_lines(brokers, in_topic, text), 3002);

    const char *to_kafka[] = {"consume", "--brokers", brokers, "--topic", in_topic, "--group", g1,
                              "--window", "1h", "--slide", "15m", "--idle-exit", "3s",
                              "--out", kout, "--dead-letter", kdl, "--quiet", NULL};
    tu_cli_expect(&c, to_kafka, 0, NULL);
    const char *to_file[] = {"consume", "--brokers", brokers, "--topic", in_topic, "--group", g2,
                             "--window", "1h", "--slide", "15m", "--idle-exit", "3s",
                             "--out", out, "--dead-letter", dl, "--quiet", NULL};
    tu_cli_expect(&c, to_file, 0, NULL);

    /* window records: the same lines; keys are the policies */
    size_t n_out, n_dl;
    tk_msg *mo = tk_read_topic(brokers, out_topic, &n_out);
    lines got_all = message_values(mo, n_out), want_all = file_lines(out);
    lines got = only_schema(&got_all, "ope_metrics.v1");
    lines want = only_schema(&want_all, "ope_metrics.v1");
    cr_assert_gt(want.n, 8, "several windows of 8 policies");
    expect_same_multiset(&got, &want, "window records");
    cr_expect_eq(n_out, want.n + 1, "the records and one summary");
    expect_keyed_by(mo, n_out, "policy");
    lines gs = only_schema(&got_all, "ope_run.v1"), ws = only_schema(&want_all, "ope_run.v1");
    cr_assert_eq(gs.n, 1);
    cr_assert_eq(ws.n, 1);
    cJSON *s = cJSON_Parse(gs.v[0]), *sw = cJSON_Parse(ws.v[0]);
    cr_assert(s && sw);
    cr_expect_eq(tu_num(s, "lines_read"), 3002);
    cr_expect_eq(tu_num(s, "rejected"), 2);
    const char *counts[] = {"lines_read", "accepted", "rejected", "late", "windows", "records"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_expect_eq(tu_num(s, counts[i]), tu_num(sw, counts[i]), "summary %s", counts[i]);
    cJSON_Delete(s);
    cJSON_Delete(sw);

    /* dead letters: the same lines; keys are the reasons */
    tk_msg *md = tk_read_topic(brokers, dl_topic, &n_dl);
    lines got_dl = message_values(md, n_dl), want_dl = file_lines(dl);
    cr_assert_eq(want_dl.n, 2);
    expect_same_multiset(&got_dl, &want_dl, "dead letters");
    expect_keyed_by(md, n_dl, "reason");

    lines *all[] = {&got_all, &want_all, &got, &want, &gs, &ws, &got_dl, &want_dl};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lines_free(all[i]);
    tk_msgs_free(mo, n_out);
    tk_msgs_free(md, n_dl);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_sink, sim_to_kafka_then_consume_equals_sim_to_file_then_replay, .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[112], ktopic[120];
    tk_unique(topic, sizeof topic, "sink-sim");
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(ktopic, sizeof ktopic, "kafka:%s", topic);
    tu_cli c;
    tu_cli_init(&c);
    char log[600], cout[600], rout[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(cout, sizeof cout, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(rout, sizeof rout, "%s", tu_cli_path(&c, "replay.jsonl"));
    const char *world = tk_small_world(&c, 10);
    tk_create_topic(brokers, topic, 1);

    const char *to_kafka[] = {"sim", "--world", world, "--policy", "softmax", "--decisions", "2000",
                              "--seeds", "2", "--out", ktopic, "--brokers", brokers, "--quiet",
                              NULL};
    tu_cli_expect(&c, to_kafka, 0, NULL);
    cJSON *summary = tu_read_jsonl(c.out);
    cr_assert(summary && cJSON_GetArraySize(summary) == 1);
    cr_expect_str_eq(tu_str(cJSON_GetArrayItem(summary, 0), "out"), ktopic);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(summary, 0), "total_decisions"), 4000);
    cJSON_Delete(summary);
    const char *to_file[] = {"sim", "--world", world, "--policy", "softmax", "--decisions", "2000",
                             "--seeds", "2", "--out", log, "--quiet", NULL};
    tu_cli_expect(&c, to_file, 0, NULL);

    /* the file's lines, in the file's order, each keyed by its event_id */
    size_t n;
    tk_msg *m = tk_read_topic(brokers, topic, &n);
    lines want = file_lines(log);
    cr_assert_eq(n, want.n);
    cr_assert_eq(n, 4000);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(m[i].value, want.v[i], "message %zu", i);
        char id[200];
        snprintf(id, sizeof id, "\"event_id\":\"%s\"", m[i].key);
        cr_expect(strstr(m[i].value, id), "message %zu: key %s is not its event_id", i, m[i].key);
    }

    /* consume on the topic = replay on the file (one partition: the same order) */
    const char *consume[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                             "--idle-exit", "3s", "--out", cout, "--quiet", NULL};
    tu_cli_expect(&c, consume, 0, NULL);
    const char *replay[] = {"replay", "--out", rout, "--quiet", log, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    lines ca = file_lines(cout), ra = file_lines(rout);
    lines crec = only_schema(&ca, "ope_metrics.v1"), rrec = only_schema(&ra, "ope_metrics.v1");
    cr_assert_eq(rrec.n, 8, "--window all: one record per policy");
    expect_same_multiset(&crec, &rrec, "consume vs replay records");

    lines *all[] = {&want, &ca, &ra, &crec, &rrec};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lines_free(all[i]);
    tk_msgs_free(m, n);
    tu_cli_done(&c);
}

/* What a reader of an at-least-once topic keeps: one line per key, the key
 * of a record its (window, policy, revision), of a dead letter its source
 * and offset. A line seen again under its key (emitted again after a crash)
 * must be the very same line: with one input partition every run sees the
 * events in one order, so a restored run computes the same bits. The run
 * summary goes to *summary (its count to *n_summaries). @return an object
 * from each key to its line. */
static cJSON *dedupe(const tk_msg *m, size_t n, cJSON **summary, int *n_summaries)
{
    cJSON *seen = cJSON_CreateObject();
    cr_assert(seen);
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_Parse(m[i].value);
        cr_assert(v, "message %zu is not JSON: %.200s", i, m[i].value);
        char key[400];
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(v, "schema");
        if (cJSON_IsString(schema) && strcmp(schema->valuestring, "ope_run.v1") == 0) {
            cJSON_Delete(*summary);
            *summary = v;
            ++*n_summaries;
            continue;
        }
        if (schema)
            snprintf(key, sizeof key, "%.0f-%.0f/%s/r%.0f", tu_num(v, "window.start"),
                     tu_num(v, "window.end"), tu_str(v, "policy"), tu_num(v, "revision"));
        else
            snprintf(key, sizeof key, "%s@%.0f", tu_str(v, "source"), tu_num(v, "offset"));
        cJSON_Delete(v);
        const cJSON *had = cJSON_GetObjectItemCaseSensitive(seen, key);
        if (had)
            cr_expect_str_eq(m[i].value, had->valuestring, "%s emitted again, differently", key);
        else
            cr_assert(cJSON_AddStringToObject(seen, key, m[i].value));
    }
    return seen;
}

/* Two deduplicated topics (dedupe) hold the same lines under the same keys,
 * byte for byte; `what` names them in messages. */
static void expect_same_keyed_lines(const cJSON *got, const cJSON *want, const char *what)
{
    cr_expect_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s: count", what);
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
        cr_expect(g, "%s: %s missing", what, w->string);
        if (g)
            cr_expect_str_eq(g->valuestring, w->valuestring, "%s: %s", what, w->string);
    }
}

/* The topics of one consumer: its group, checkpoint and outputs, its
 * static group membership (-X group.instance.id), so that a restarted run
 * takes the partitions of the run killed before it at once instead of
 * after the dead member's session timeout, and its producers' linger.ms. */
typedef struct {
    char group[128], dir[600], out[136], dl[136], kout[144], kdl[144], member[160], linger[32];
} eo_run;

static void eo_init(eo_run *r, tu_cli *c, const char *brokers, const char *base, const char *name)
{
    snprintf(r->group, sizeof r->group, "%s-%s", base, name);
    snprintf(r->dir, sizeof r->dir, "%s/ckpt-%s", c->dir, name);
    snprintf(r->out, sizeof r->out, "%s-out", r->group);
    snprintf(r->dl, sizeof r->dl, "%s-dl", r->group);
    snprintf(r->kout, sizeof r->kout, "kafka:%s", r->out);
    snprintf(r->kdl, sizeof r->kdl, "kafka:%s", r->dl);
    snprintf(r->member, sizeof r->member, "group.instance.id=%s", r->group);
    snprintf(r->linger, sizeof r->linger, "linger.ms=5");
    tk_create_topic(brokers, r->out, 3);
    tk_create_topic(brokers, r->dl, 2);
}

/* consume --checkpoint to the run's topics. Without --quiet: the log says
 * when partitions are assigned. */
#define EO_ARGS(brokers, topic, r)                                                              \
    GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic, "--group", (r)->group,          \
        "--window", "2m", "--checkpoint", (r)->dir, "--checkpoint-interval", "250ms",            \
        "--idle-exit", "3s", "--out", (r)->kout, "--dead-letter", (r)->kdl, "-X",                \
        (r)->linger, "-X", (r)->member, "-X", "session.timeout.ms=6000", NULL

/* The deduplicated records and dead letters of a run's topics, and its
 * summary (exactly one: a killed run writes none). */
static void eo_read(const char *brokers, const eo_run *r, cJSON **rec, cJSON **dead,
                    cJSON **summary)
{
    size_t n;
    int n_summaries = 0;
    *summary = NULL;
    tk_msg *m = tk_read_topic(brokers, r->out, &n);
    *rec = dedupe(m, n, summary, &n_summaries);
    tk_msgs_free(m, n);
    printf("kafka_sink: %s: %zu messages, %d distinct records\n", r->out, n,
           cJSON_GetArraySize(*rec));
    m = tk_read_topic(brokers, r->dl, &n);
    *dead = dedupe(m, n, summary, &n_summaries);
    tk_msgs_free(m, n);
    cr_assert_eq(n_summaries, 1, "%s: one summary, from the run that ended", r->out);
}

#define EO_EVENTS 36000
#define EO_BAD_EVERY 600 /* a bad line after every 600 events: 60 dead letters */
#define EO_KILLS 5
#define EO_PART_LINES ((EO_EVENTS + EO_EVENTS / EO_BAD_EVERY) / (EO_KILLS + 1))

/* Produces the first `n` lines of `text`. @return the rest. */
static char *produce_part(const char *brokers, const char *topic, char *text, int n)
{
    char *end = text;
    for (int i = 0; i < n; i++) {
        end = strchr(end, '\n');
        cr_assert(end, "fewer than %d lines", n);
        end++;
    }
    const char keep = *end;
    *end = '\0';
    cr_assert_eq(tk_produce_lines(brokers, topic, text), n);
    *end = keep;
    return end;
}

/* A simulator log of EO_EVENTS events with a bad line after every
 * EO_BAD_EVERY. @return its text (free() it). */
static char *eo_input(tu_cli *c)
{
    char *text = tk_sim_log(c, 4, EO_EVENTS, tu_cli_path(c, "log.jsonl"));
    const size_t len = strlen(text);
    char *in = malloc(len + (EO_EVENTS / EO_BAD_EVERY) * 32 + 1), *w = in;
    cr_assert(in);
    int events = 0;
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        memcpy(w, p, (size_t)(nl + 1 - p));
        w += nl + 1 - p;
        if (++events % EO_BAD_EVERY == 0)
            w += sprintf(w, "not json %d\n", events);
    }
    *w = '\0';
    free(text);
    cr_assert_eq(events, EO_EVENTS);
    return in;
}

/* The input arrives in parts while the consumer runs, as a live stream
 * does: a part is produced after each killed run has its partition, and the
 * run is killed at a random moment of the next 1.5 s, while the records
 * that part closed are being written. Every other run's producers hold
 * their batches for 2 s (linger.ms), far longer than between two
 * checkpoints, so a checkpoint that did not wait for the deliveries would
 * count records that the SIGKILL then loses; the others deliver at once, so
 * that records delivered after the last checkpoint are emitted again. */
Test(kafka_sink, checkpointed_kafka_outputs_survive_sigkill_restarts_exactly_once, .timeout = 300)
{
    const char *brokers = tk_brokers_or_skip();
    const char *s = getenv("GOPE_TEST_SEED");
    unsigned seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    printf("kafka_sink: GOPE_TEST_SEED=%u\n", seed);
    char topic[96];
    tk_unique(topic, sizeof topic, "sink-eo");
    tu_cli c;
    tu_cli_init(&c);
    char *in = eo_input(&c), *rest = in;
    tk_create_topic(brokers, topic, 1);
    eo_run whole, killed;
    eo_init(&whole, &c, brokers, topic, "whole");
    eo_init(&killed, &c, brokers, topic, "killed");

    const char *err = tu_cli_path(&c, "killed.err");
    const char *killed_args[] = {EO_ARGS(brokers, topic, &killed)};
    for (int run = 0; run < EO_KILLS; run++) {
        snprintf(killed.linger, sizeof killed.linger, "linger.ms=%d", run % 2 ? 0 : 2000);
        pid_t pid = ts_spawn(killed_args, NULL, err);
        cr_assert_gt(pid, 0);
        char *log_text = ts_wait_for(err, "assigned", 60000);
        cr_assert(log_text, "run %d never assigned", run);
        free(log_text);
        rest = produce_part(brokers, topic, rest, EO_PART_LINES);
        const long delay = rand_r(&seed) % 1500;
        ts_sleep_ms(delay);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        printf("kafka_sink: run %d killed %ld ms after its part\n", run, delay);
    }
    cr_assert_eq(tk_produce_lines(brokers, topic, rest), EO_PART_LINES);
    free(in);
    tu_cli_expect(&c, killed_args + 1, 0, NULL);
    const char *whole_args[] = {EO_ARGS(brokers, topic, &whole)};
    tu_cli_expect(&c, whole_args + 1, 0, NULL);

    cJSON *want_rec, *want_dead, *want_sum, *got_rec, *got_dead, *got_sum;
    eo_read(brokers, &whole, &want_rec, &want_dead, &want_sum);
    eo_read(brokers, &killed, &got_rec, &got_dead, &got_sum);
    cr_assert_gt(cJSON_GetArraySize(want_rec), 8 * 10, "ten windows or more of 8 policies");
    cr_expect_eq(cJSON_GetArraySize(want_dead), EO_EVENTS / EO_BAD_EVERY);
    expect_same_keyed_lines(got_rec, want_rec, "window records");
    expect_same_keyed_lines(got_dead, want_dead, "dead letters");
    cr_expect(cJSON_IsTrue(tu_get(got_sum, "kafka.checkpoint.restored")));
    const char *counts[] = {"lines_read", "accepted", "rejected", "late", "windows", "records"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_expect_eq(tu_num(got_sum, counts[i]), tu_num(want_sum, counts[i]), "summary %s",
                     counts[i]);
    cr_expect_eq(tu_num(want_sum, "lines_read"), EO_EVENTS + EO_EVENTS / EO_BAD_EVERY);

    cJSON *all[] = {want_rec, want_dead, want_sum, got_rec, got_dead, got_sum};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cJSON_Delete(all[i]);
    tu_cli_done(&c);
}

Test(kafka_sink, a_missing_topic_fails_the_command_after_message_timeout, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], ktopic[120], needle[240];
    tk_unique(topic, sizeof topic, "sink-missing");
    snprintf(ktopic, sizeof ktopic, "kafka:%s", topic);
    snprintf(needle, sizeof needle, "%s: 20 message(s) not delivered: Local: Message timed out",
             ktopic);
    tu_cli c;
    tu_cli_init(&c);
    /* the test broker does not create topics on first use */
    const char *sim[] = {"sim", "--world", tk_small_world(&c, 10), "--policy", "greedy",
                         "--decisions", "20", "--out", ktopic, "--brokers", brokers, "-X",
                         "message.timeout.ms=2000", "--quiet", NULL};
    tu_cli_expect(&c, sim, 1, needle);
    tu_cli_done(&c);
}
