/*
 * test_kafka_join.c — `giftope consume` with the reward join, the
 * per-partition window clock and file outputs appended across runs, against
 * a real broker (suite kafka_join; skipped without GOPE_KAFKA_BROKERS, see
 * docs/kafka-tests.md).
 *
 *   - Decisions on one topic and their rewards on another (3 partitions
 *     each), and the same lines interleaved on one topic: consume gives
 *     replay --rewards's records value for value, its join counters, and
 *     the orphan rewards as dead letters at their Kafka positions.
 *   - A partition far behind the other in event time (produced after the
 *     other was read) is not late with a 1-minute lateness: the clock is the
 *     minimum over the partitions, and an empty partition holds it.
 *   - An idle partition stops holding the windows after --idle-timeout:
 *     windows close while it is silent; without the timeout none does.
 *   - With --checkpoint, two runs (SIGTERM between them) write one output
 *     file with both runs' records, a partial last line cut, and both
 *     runs' summaries (the first, written after its run's last checkpoint,
 *     stays when the second run cuts the file back to that checkpoint).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clitest.h"
#include "kafkatest.h"
#include "joinlogs.h"
#include "recordset.h"
#include "spawn.h"
#include "testutil.h"

#define JOIN_ARGS "--window", "1m", "--lateness", "1m", "--reward-wait", "1m"
#define GROUP_ARGS "-X", "session.timeout.ms=6000"

/* The counters of consume's summary are replay's. */
static void expect_same_counts(const cJSON *got, const cJSON *want)
{
    const char *counts[] = {"lines_read", "accepted", "rejected", "late", "windows",
                            "records", "join.rewards_joined", "join.decisions_defaulted",
                            "join.rewards_orphaned"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_expect_eq(tu_num(got, counts[i]), tu_num(want, counts[i]), "%s: %g, replay %g",
                     counts[i], tu_num(got, counts[i]), tu_num(want, counts[i]));
    cr_expect_eq(tu_num(got, "late"), 0);
    cr_expect_gt(tu_num(got, "join.rewards_orphaned"), 0);
}

/* The orphan dead letters of `path`: each names a partition of `topic` and
 * its offset. @return their count. */
static int orphans_at_kafka_positions(const char *path, const char *topic)
{
    char *text = tu_read_file(path, NULL);
    cr_assert(text, "no dead letters at %s", path);
    char prefix[160];
    snprintf(prefix, sizeof prefix, "kafka:%s/", topic);
    int n = 0;
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        cJSON *d = cJSON_Parse(p);
        cr_assert(d, "not JSON: %s", p);
        if (strcmp(tu_str(d, "reason"), "orphan_reward") == 0) {
            cr_expect(strncmp(tu_str(d, "source"), prefix, strlen(prefix)) == 0, "%s", p);
            cr_expect_eq(tu_num(d, "line"), tu_num(d, "offset") + 1, "%s", p);
            cr_expect(strstr(tu_str(d, "raw"), "orphan-"), "%s", p);
            n++;
        }
        cJSON_Delete(d);
    }
    free(text);
    return n;
}

/* consume `topics` (--topic A [--reward-topic B]) to the end; its records
 * must be `want`'s and its counters `want_sum`'s; orphans are dead letters
 * on `reward_topic`. */
static void consume_like_replay(tu_cli *c, const char *brokers, const char *topic,
                                const char *reward_topic, const cJSON *want,
                                const cJSON *want_sum, int orphans)
{
    char group[160], out[600], dl[600];
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(out, sizeof out, "%s/%s.jsonl", c->dir, topic);
    snprintf(dl, sizeof dl, "%s/%s-dl.jsonl", c->dir, topic);
    const char *args[32] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                            JOIN_ARGS, "--idle-exit", "3s", "--out", out, "--dead-letter", dl,
                            "--quiet", GROUP_ARGS};
    size_t n = 0;
    while (args[n])
        n++;
    if (reward_topic) {
        args[n++] = "--reward-topic";
        args[n++] = reward_topic;
    }
    tu_cli_expect(c, args, 0, NULL);
    cJSON *sum, *got = cJSON_CreateObject();
    tr_collect(out, got, &sum);
    cr_assert(sum, "%s: no summary", topic);
    tr_expect_same_records(got, want, topic);
    expect_same_counts(sum, want_sum);
    cr_expect_eq(orphans_at_kafka_positions(dl, reward_topic ? reward_topic : topic), orphans);
    cJSON_Delete(got);
    cJSON_Delete(sum);
}

Test(kafka_join, rewards_on_their_topic_or_interleaved_give_replays_records, .timeout = 180)
{
    const char *brokers = tk_brokers_or_skip();
    char dtopic[96], rtopic[112], mtopic[112];
    tk_unique(dtopic, sizeof dtopic, "join-dec");
    snprintf(rtopic, sizeof rtopic, "%s-rew", dtopic);
    snprintf(mtopic, sizeof mtopic, "%s-mixed", dtopic);
    tu_cli c;
    tu_cli_init(&c);
    tj_logs l;
    tj_make_logs(&l);
    char dec[600], rew[600], out[600], dl[600];
    snprintf(dec, sizeof dec, "%s", tu_cli_write(&c, "decisions.jsonl", l.decisions));
    snprintf(rew, sizeof rew, "%s", tu_cli_write(&c, "rewards.jsonl", l.rewards));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "replay.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "replay-dl.jsonl"));
    const char *replay[] = {"replay", JOIN_ARGS, "--rewards", rew, "--out", out,
                            "--dead-letter", dl, "--quiet", dec, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    cJSON *want_sum, *want = cJSON_CreateObject();
    tr_collect(out, want, &want_sum);
    cr_assert(want_sum);
    cr_assert_gt(cJSON_GetArraySize(want), 20);
    int orphans = (int)tu_num(want_sum, "join.rewards_orphaned");
    cr_assert_gt(tu_num(want_sum, "join.rewards_joined"), 500);

    tk_create_topic(brokers, dtopic, 3);
    tk_create_topic(brokers, rtopic, 3);
    tk_create_topic(brokers, mtopic, 3);
    tk_produce_lines(brokers, dtopic, l.decisions);
    tk_produce_lines(brokers, rtopic, l.rewards);
    tk_produce_lines(brokers, mtopic, l.mixed);
    consume_like_replay(&c, brokers, dtopic, rtopic, want, want_sum, orphans);
    consume_like_replay(&c, brokers, mtopic, NULL, want, want_sum, orphans);

    cJSON_Delete(want);
    cJSON_Delete(want_sum);
    tj_free_logs(&l);
    tu_cli_done(&c);
}

/* `n` decisions with inline rewards, ids PREFIX-i, ts TJ_T0 + step i + shift. */
static char *decisions(const char *prefix, int n, long long step, long long shift)
{
    char *text = NULL, line[1024];
    size_t len = 0, cap = 0;
    for (int i = 0; i < n; i++) {
        tj_decision(line, sizeof line, prefix, i, TJ_T0 + step * i + shift, true);
        tj_append(&text, &len, &cap, line);
    }
    return text;
}

/* Starts giftope with `args` (after argv[0]); stderr to `err`. */
static pid_t start(const char *const *args, const char *err)
{
    const char *argv[48] = {GOPE_BIN};
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(i, 46);
        argv[i + 1] = args[i];
    }
    pid_t pid = ts_spawn(argv, "/dev/null", err);
    cr_assert_gt(pid, 0);
    char *t = ts_wait_for(err, "assigned", 60000);
    cr_assert(t, "never assigned");
    free(t);
    return pid;
}

Test(kafka_join, a_partition_far_behind_in_event_time_is_not_late, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[128];
    tk_unique(topic, sizeof topic, "join-behind");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    /* an hour of events on each partition, the same hour */
    char *first = decisions("p0", 400, 9000, 0), *second = decisions("p1", 400, 9000, 1);
    char *both = NULL, line[1024];
    size_t len = 0, cap = 0;
    for (int i = 0; i < 400; i++) /* the oracle's file: both, by ts */
        for (int k = 0; k < 2; k++) {
            tj_decision(line, sizeof line, k ? "p1" : "p0", i, TJ_T0 + 9000LL * i + k, true);
            tj_append(&both, &len, &cap, line);
        }
    char log[600], out[600], err[600];
    snprintf(log, sizeof log, "%s", tu_cli_write(&c, "all.jsonl", both));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "replay.jsonl"));
    const char *replay[] = {"replay", "--window", "10m", "--lateness", "1m", "--out", out,
                            "--quiet", log, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    cJSON *want_sum, *want = cJSON_CreateObject();
    tr_collect(out, want, &want_sum);
    cr_assert(want_sum);

    tk_create_topic(brokers, topic, 2);
    cr_assert_eq(tk_produce_lines_to(brokers, topic, 0, first), 400);
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(err, sizeof err, "%s", tu_cli_path(&c, "consume.err"));
    const char *args[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                          "--window", "10m", "--lateness", "1m", "--idle-timeout", "10m",
                          "--idle-exit", "6s", "--out", out, GROUP_ARGS, NULL};
    pid_t pid = start(args, err);
    ts_sleep_ms(2000); /* partition 0's hour is read; partition 1 has nothing yet */
    cr_assert_eq(tk_produce_lines_to(brokers, topic, 1, second), 400);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cJSON *sum, *got = cJSON_CreateObject();
    tr_collect(out, got, &sum);
    cr_assert(sum, "no summary");
    cr_expect_eq(tu_num(sum, "late"), 0, "partition 1's hour is not late");
    cr_expect_eq(tu_num(sum, "accepted"), 800);
    tr_expect_same_records(got, want, "consume vs replay");
    cJSON_Delete(got);
    cJSON_Delete(sum);
    cJSON_Delete(want);
    cJSON_Delete(want_sum);
    free(both);
    free(first);
    free(second);
    tu_cli_done(&c);
}

/* A consume run over `topic` with a checkpoint in dir/NAME, stopped by
 * SIGTERM once `wait_text` is in its output (NULL: after 3 s). @return its
 * output's records (the open windows stay in the checkpoint). */
static cJSON *run_until_term(tu_cli *c, const char *brokers, const char *topic,
                             const char *name, const char *idle_timeout, const char *wait_text)
{
    char group[160], dir[600], out[600], err[600];
    snprintf(group, sizeof group, "%s-%s", topic, name);
    snprintf(dir, sizeof dir, "%s/%s-ckpt", c->dir, name);
    snprintf(out, sizeof out, "%s/%s.jsonl", c->dir, name);
    snprintf(err, sizeof err, "%s/%s.err", c->dir, name);
    const char *args[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                          "--window", "5m", "--lateness", "1m", "--idle-timeout", idle_timeout,
                          "--checkpoint", dir, "--checkpoint-interval", "200ms", "--out", out,
                          GROUP_ARGS, NULL};
    pid_t pid = start(args, err);
    if (wait_text) {
        char *t = ts_wait_for(out, wait_text, 30000);
        if (!t) {
            char *e = tu_read_file(err, NULL);
            cr_expect_fail("%s: no window closed while a partition was silent; stderr: %s",
                           name, e ? e : "(none)");
            free(e);
        }
        free(t);
    } else {
        ts_sleep_ms(3000);
    }
    cr_assert_eq(ts_stop(pid, 30000), 0, "%s: SIGTERM", name);
    cJSON *sum, *rec = cJSON_CreateObject();
    tr_collect(out, rec, &sum);
    cr_assert(sum, "%s: no summary", name);
    cr_expect_str_eq(tu_str(sum, "kafka.stopped_by"), "signal");
    cJSON_Delete(sum);
    return rec;
}

Test(kafka_join, an_idle_partition_stops_holding_the_windows, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96];
    tk_unique(topic, sizeof topic, "join-idle");
    tu_cli c;
    tu_cli_init(&c);
    char *text = decisions("p0", 300, 6000, 0); /* 30 minutes on partition 0 */
    tk_create_topic(brokers, topic, 2);
    cr_assert_eq(tk_produce_lines_to(brokers, topic, 0, text), 300);
    /* partition 1 never has a message: without --idle-timeout it holds the
     * clock and no window closes; with 1s, the windows close behind
     * partition 0 (a signal emits nothing half-done, so what is in the
     * output closed during the run) */
    cJSON *held = run_until_term(&c, brokers, topic, "held", "0", NULL);
    cr_expect_eq(cJSON_GetArraySize(held), 0, "an empty partition holds the windows");
    cJSON *idle = run_until_term(&c, brokers, topic, "idle", "1s", "ope_metrics.v1");
    cr_expect_geq(cJSON_GetArraySize(idle), 8 * 5, "windows up to minute 25 closed");
    cJSON_Delete(held);
    cJSON_Delete(idle);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_join, checkpoint_runs_append_to_one_output_file, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[128];
    tk_unique(topic, sizeof topic, "join-append");
    snprintf(group, sizeof group, "%s-append", topic);
    tu_cli c;
    tu_cli_init(&c);
    char *early = decisions("a", 300, 1000, 0), *late = decisions("b", 300, 1000, 300000);
    char log[600], out[600], err[600];
    tk_create_topic(brokers, topic, 2);
    cr_assert_eq(tk_produce_lines(brokers, topic, early), 300);

    /* run 1: minutes 0-4 (minute 0-4 windows of 5m: the first stays open) */
    cJSON *first = run_until_term(&c, brokers, topic, "append", "30s", NULL);
    cJSON_Delete(first);
    snprintf(out, sizeof out, "%s/append.jsonl", c.dir);
    FILE *f = fopen(out, "a");
    cr_assert(f);
    const char partial[] = "{\"schema\":\"ope_metrics.v1\",\"window\":{\"sta"; /* a crash mid-line */
    fputs(partial, f);
    fclose(f);

    /* run 2: minutes 5-9 more; it ends the batch, emitting both windows */
    cr_assert_eq(tk_produce_lines(brokers, topic, late), 300);
    snprintf(err, sizeof err, "%s/append2.err", c.dir);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/append-ckpt", c.dir);
    const char *args[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                          "--window", "5m", "--lateness", "1m", "--checkpoint", dir,
                          "--idle-exit", "3s", "--out", out, GROUP_ARGS, NULL};
    pid_t pid = start(args, err);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    char *e = tu_read_file(err, NULL);
    char needle[64];
    snprintf(needle, sizeof needle, "cut a partial last line (%zu bytes)", strlen(partial));
    cr_expect(e && strstr(e, needle), "%s", e ? e : "");
    free(e);

    cJSON *sum, *got = cJSON_CreateObject();
    tr_collect(out, got, &sum); /* every line is JSON: the partial one was cut */
    cr_assert(sum);
    cr_expect(cJSON_IsTrue(tu_get(sum, "kafka.checkpoint.restored")));
    char *text = tu_read_file(out, NULL);
    int summaries = 0;
    for (const char *p = text; (p = strstr(p, "\"ope_run.v1\"")); p++)
        summaries++;
    cr_expect_eq(summaries, 2, "one summary per run in the one file");
    cr_expect_eq(tu_num(sum, "lines_read"), 600, "the last summary counts both runs");
    free(text);

    FILE *lf = fopen(tu_cli_path(&c, "all.jsonl"), "w");
    cr_assert(lf);
    fputs(early, lf);
    fputs(late, lf);
    fclose(lf);
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "all.jsonl"));
    const char *rout = tu_cli_path(&c, "replay.jsonl");
    const char *replay[] = {"replay", "--window", "5m", "--lateness", "1m", "--out", rout,
                            "--quiet", log, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    cJSON *want_sum, *want = cJSON_CreateObject();
    tr_collect(rout, want, &want_sum);
    tr_expect_same_records(got, want, "both runs in one file vs replay");
    cJSON_Delete(want);
    cJSON_Delete(want_sum);
    cJSON_Delete(got);
    cJSON_Delete(sum);
    free(early);
    free(late);
    tu_cli_done(&c);
}
