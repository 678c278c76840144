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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "jsoncmp.h"
#include "kafkatest.h"
#include "spawn.h"
#include "testutil.h"

#define N_PART 3

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
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[112];
    tk_unique(topic, sizeof topic, "consume-replay");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);

    /* a simulator log and the bad lines, one file for replay and the topic */
    char log[600], in[600], out[600], dl[600], rout[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(in, sizeof in, "%s", tu_cli_path(&c, "in.jsonl"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "dead.jsonl"));
    snprintf(rout, sizeof rout, "%s", tu_cli_path(&c, "replay.jsonl"));
    char *text = tk_sim_log(&c, 10, 3000, log);
    const size_t len = strlen(text);
    size_t extra = strlen(bad_lines[0]) + strlen(bad_lines[1]) + 3;
    text = realloc(text, len + extra);
    cr_assert(text);
    snprintf(text + len, extra, "%s\n%s\n", bad_lines[0], bad_lines[1]);
    cr_assert(tu_write_file(in, text, strlen(text)));

    tk_create_topic(brokers, topic, N_PART);
    cr_assert_eq(tk_produce_lines(brokers, topic, text), 3002);

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
    tu_expect_same_json(tu_get(gs, "rejected_by_reason"), tu_get(ws, "rejected_by_reason"),
                "rejected_by_reason");
    cr_assert_eq(count_records(got), count_records(want));
    cr_assert_gt(count_records(want), 0);
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        if (strcmp(tu_str(w, "schema"), "ope_metrics.v1") != 0)
            continue;
        const cJSON *g = record_of(got, tu_str(w, "policy"));
        cr_assert(g, "consume has no record for %s", tu_str(w, "policy"));
        tu_expect_same_json(g, w, tu_str(w, "policy"));
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
    cr_assert_eq(tk_produce_lines(brokers, topic, bad_lines[0]), 1);
    cr_assert_eq(tk_produce_lines(brokers, topic, bad_lines[0]), 1);
    cr_assert_eq(tk_produce_lines(brokers, topic, bad_lines[0]), 1);
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

    free(text);
    tu_cli_done(&c);
}

Test(kafka_consume, sigterm_ends_the_run_with_exit_0_and_a_summary, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[112];
    tk_unique(topic, sizeof topic, "consume-term");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    tk_create_topic(brokers, topic, N_PART);
    const char *line = "{\"event_id\":\"e1\",\"ts\":1735689600000,\"user_id\":\"u\","
                       "\"candidates\":[{\"streamer_id\":\"a\",\"ev\":1.5},"
                       "{\"streamer_id\":\"b\",\"ev\":0.5}],\"action\":0,\"propensity\":0.5,"
                       "\"reward\":2}";
    cr_assert_eq(tk_produce_lines(brokers, topic, line), 1);

    /* no --idle-exit: only the signal ends it */
    const char *argv[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic, "--group",
                          group, "--window", "1h", "--out", c.out, NULL};
    pid_t pid = ts_spawn(argv, NULL, c.err);
    cr_assert_gt(pid, 0);
    /* wait until it has taken the message (rebalance and fetch), then stop it */
    char *err = ts_wait_for(c.err, "assigned", 30000);
    cr_assert(err, "never assigned");
    ts_sleep_ms(1500);
    cr_assert_eq(ts_stop(pid, 30000), 0, "no exit 0 within 30 s of SIGTERM; stderr: %s", err);
    cJSON *lines;
    cJSON *s = summary_of(c.out, &lines);
    cr_expect_eq(tu_num(s, "lines_read"), 1);
    cr_expect_eq(tu_num(s, "accepted"), 1);
    cr_expect_str_eq(tu_str(s, "kafka.stopped_by"), "signal");
    cr_expect_eq(count_records(lines), 8, "the open window is emitted at shutdown");
    cJSON_Delete(lines);
    free(err);
    tu_cli_done(&c);
}
