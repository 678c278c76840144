/*
 * test_kafka_merge.c — scale-out: three `consume --partials` instances of one
 * group over a 6-partition topic, combined by `giftope merge`, give the
 * records one instance gives over the same topic (suite kafka_merge;
 * skipped without GOPE_KAFKA_BROKERS, see docs/kafka-tests.md).
 *
 * A simulator log is spread over 6 partitions by event_id, then every
 * partition gets one last event far after it (the "sentinel"), so that every
 * partition's clock passes the end of every window of the log: those windows
 * are final in merge, and only the sentinels' window stays incomplete. The
 * values are compared as tu_expect_same_json does (1e-9 relative), not bit
 * for bit: a single instance adds a window's events in the order they arrive
 * over 6 partitions, merge adds three instances' compensated sums, so the
 * last bits can differ (in practice only rounding noise around 0 did).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "kafkatest.h"
#include "mergecheck.h"
#include "spawn.h"
#include "testutil.h"

#define N_PART 6
#define N_INST 3

Test(kafka_merge, three_instances_and_merge_equal_one_instance, .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], partials[112], group[112], pspec[128], win[32];
    tk_unique(topic, sizeof topic, "merge");
    snprintf(partials, sizeof partials, "%s-partials", topic);
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(pspec, sizeof pspec, "kafka:%s", partials);
    tu_cli c;
    tu_cli_init(&c);
    char out[N_INST][600], err[N_INST][600], mout[600], sout[600];
    for (int i = 0; i < N_INST; i++) {
        snprintf(out[i], sizeof out[i], "%s/inst%d.jsonl", c.dir, i);
        snprintf(err[i], sizeof err[i], "%s/inst%d.err", c.dir, i);
    }
    snprintf(mout, sizeof mout, "%s/merge.jsonl", c.dir);
    snprintf(sout, sizeof sout, "%s/one.jsonl", c.dir);

    double sentinel;
    char *text = tm_setup(&c, brokers, topic, N_PART, partials, 3000, win, &sentinel);

    /* three instances, producing only once each holds its partitions */
    pid_t pid[N_INST];
    for (int i = 0; i < N_INST; i++) {
        const char *argv[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic,
                              "--group", group, "--window", win, "--idle-exit", "10s",
                              "--partials", pspec, "--out", out[i], NULL};
        pid[i] = ts_spawn(argv, NULL, err[i]);
        cr_assert_gt(pid[i], 0);
    }
    for (int i = 0; i < N_INST; i++) {
        char *e = ts_wait_for(err[i], "assigned", TK_WAIT_MS);
        cr_assert(e, "instance %d never assigned", i);
        free(e);
    }
    ts_sleep_ms(2000); /* let the cooperative rebalance finish moving partitions */
    cr_assert_eq(tk_produce_lines(brokers, topic, text), 3000);
    tm_produce_sentinels(brokers, topic, N_PART, sentinel);
    for (int i = 0; i < N_INST; i++) {
        char *o = ts_wait_for(out[i], "ope_run.v1", 60000);
        cr_assert(o, "instance %d never ended", i);
        free(o);
        cr_assert_eq(ts_stop(pid[i], 30000), 0, "instance %d", i);
    }
    /* the work was split: each instance read a share, together every line */
    double read = 0;
    for (int i = 0; i < N_INST; i++) {
        cJSON *lines = tu_read_jsonl(out[i]);
        cr_assert(lines);
        double n = tu_num(cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1), "lines_read");
        cr_expect(n > 0 && n < 3000, "instance %d read %.0f lines", i, n);
        read += n;
        cJSON_Delete(lines);
    }
    cr_expect_eq(read, 3000 + N_PART);

    /* bad input on the partials topic is counted and named, never merged */
    cr_assert_eq(tk_produce_lines(brokers, partials,
                                  "not json\n{\"schema\":\"ope_partial.v1\",\"kind\":"
                                  "\"progress\",\"fingerprint\":\"0123456789abcdef\","
                                  "\"partitions\":[{\"partition\":0,\"clock\":9e15}]}\n"),
                 2);
    cJSON *ms, *ss, *got, *want;
    tm_merge_and_one(&c, brokers, topic, partials, "6", win, mout, sout, &got, &ms, &want, &ss);
    cr_expect_eq(tu_num(ss, "accepted"), 3000 + N_PART);
    cr_expect_eq(tu_num(ms, "lines_read"),
                 tu_num(ms, "window_partials") + tu_num(ms, "progress") + 2);
    cr_expect_eq(tu_num(ms, "rejected_by_reason.invalid_json"), 1);
    cr_expect_eq(tu_num(ms, "rejected_by_reason.other_fingerprint"), 1);
    /* the records and the summary against their schemas (ope_merge_run.v1) */
    const char *mfiles[] = {mout, NULL};
    const int vrc = tu_validate_schema(mfiles, false);
    if (vrc != 77)
        cr_expect_eq(vrc, 0, "%s: schema validation failed (see stdout)", mout);
    /* every record of one instance is merge's, but those of the sentinels'
     * window, which merge names incomplete */
    int n_open;
    const int n_final = tm_expect_merged(got, want, sentinel, &n_open);
    cr_log_info("%d final records, %d incomplete, %.0f partial lines", n_final, n_open,
                tu_num(ms, "lines_read"));
    cr_expect_gt(n_final, 8, "several windows of the log");
    cr_expect_eq(cJSON_GetArraySize(tu_get(ms, "incomplete")), n_open);
    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_Delete(ms);
    cJSON_Delete(ss);
    free(text);
    tu_cli_done(&c);
}
