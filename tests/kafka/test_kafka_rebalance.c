/*
 * test_kafka_rebalance.c — per-partition state (consume --partials
 * --checkpoint): partitions move between the members of a group, and
 * `giftope merge` still gives the records of one uninterrupted instance
 * (suite kafka_rebalance; skipped without GOPE_KAFKA_BROKERS, see
 * docs/kafka-tests.md).
 *
 * Instance A consumes a 6-partition topic alone; instance B joins the group
 * (partitions move from A to B, B loads the checkpoints A wrote on the
 * revoke), consumes a while and then either leaves (SIGTERM: B checkpoints
 * on the revoke, A loads those files) or is killed (SIGKILL while holding
 * partitions and before any checkpoint of its own: A takes them over from
 * its own older checkpoints after the session timeout and redoes B's work,
 * writing B's windows again). The log is produced in three thirds: before
 * B, while B holds partitions, after B. Every partition ends with a
 * sentinel far after the log (mergecheck.h), so every window of the log is
 * final in merge, which must equal one instance reading the topic at once.
 *
 * A quiet partition: the log goes to partition 0 of two, nothing to
 * partition 1. Partition 1's clock follows partition 0 after --idle-timeout,
 * so merge finalizes the windows (they equal replay's over the log), and an
 * event that then comes on partition 1 behind that clock is late, counted.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt_claim.h"
#include "clitest.h"
#include "jsoncmp.h"
#include "kafkatest.h"
#include "mergecheck.h"
#include "spawn.h"
#include "testutil.h"

#define N_PART 6
#define N_LINES 3000

typedef enum { B_LEAVES, B_KILLED } b_end;

/* Lines [from, to) of `text` (free() it). */
static char *lines_of(const char *text, int from, int to)
{
    const char *a = text, *b;
    for (int i = 0; i < from; i++)
        a = strchr(a, '\n') + 1;
    b = a;
    for (int i = from; i < to; i++)
        b = strchr(b, '\n') + 1;
    char *s = strndup(a, (size_t)(b - a));
    cr_assert(s);
    return s;
}

/* Produce lines [from, to) of `text` onto `topic`. */
static void produce_part(const char *brokers, const char *topic, const char *text, int from,
                         int to)
{
    char *part = lines_of(text, from, to);
    cr_assert_eq(tk_produce_lines(brokers, topic, part), to - from);
    free(part);
}

/* Waits until the partials topic holds a window line written by process
 * `pid` (its instance name ends in -PID). */
static void wait_window_of(const char *brokers, const char *partials, pid_t pid)
{
    char needle[64];
    snprintf(needle, sizeof needle, "-%d\",\"fingerprint\"", (int)pid);
    for (int round = 0; round < TK_WAIT_MS / 500; round++) {
        size_t n;
        tk_msg *m = tk_read_topic(brokers, partials, &n);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strstr(m[i].value, "\"kind\":\"window\"") && strstr(m[i].value, needle);
        tk_msgs_free(m, n);
        if (found)
            return;
        ts_sleep_ms(500);
    }
    cr_assert_fail("instance %d never wrote a window partial", (int)pid);
}

/* Waits until the partials topic holds a progress line with a clock for
 * source partition `partition`. */
static void wait_progress_of(const char *brokers, const char *partials, int partition)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"partitions\":[{\"partition\":%d,\"clock\":", partition);
    for (int round = 0; round < TK_WAIT_MS / 500; round++) {
        size_t n;
        tk_msg *m = tk_read_topic(brokers, partials, &n);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strstr(m[i].value, "\"kind\":\"progress\"") && strstr(m[i].value, needle);
        tk_msgs_free(m, n);
        if (found)
            return;
        ts_sleep_ms(500);
    }
    cr_assert_fail("partition %d never reported a clock", partition);
}

/* Partition p's files in `ckpt` (ckpt_claim.h): *epoch the newest state's
 * epoch and `who` the owner its claim names. @return that state was
 * written by the owner of the highest claim (nothing superseded it). */
static bool owned_state(const char *ckpt, const char *topic, int p, uint64_t *epoch, char *who,
                        size_t size)
{
    char base[160];
    snprintf(base, sizeof base, "%s.%d", topic, p);
    gope_claim_view v;
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_scan(ckpt, base, &v, &err), GOPE_OK, "%s", err.msg);
    *epoch = v.state;
    gope_claim_who(ckpt, base, v.state, who, size);
    return v.has_state && v.state == v.claim;
}

/* Is `who` (host-PID) process `pid`? */
static bool is_pid(const char *who, pid_t pid)
{
    const char *dash = strrchr(who, '-');
    return dash && atol(dash + 1) == (long)pid;
}

/* Waits until process `pid` owns and has written every partition's newest
 * state; their epochs into epoch[]. */
static void wait_owned_by(const char *ckpt, const char *topic, pid_t pid, uint64_t *epoch)
{
    for (int round = 0; round < TK_WAIT_MS / 200; round++) {
        int n = 0;
        for (int p = 0; p < N_PART; p++) {
            char who[128];
            n += owned_state(ckpt, topic, p, &epoch[p], who, sizeof who) && is_pid(who, pid);
        }
        if (n == N_PART)
            return;
        ts_sleep_ms(200);
    }
    cr_assert_fail("process %d never wrote the state of every partition", (int)pid);
}

/* Exactly one state file of partition p is left, of an owner epoch: the
 * superseded ones were removed. */
static void expect_one_state(const char *ckpt, const char *topic, int p)
{
    char pat[800];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/%s.%d.*ckpt", ckpt, topic, p);
    const size_t n = glob(pat, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
    cr_expect_eq(n, 1, "%zu files %s", n, pat);
    if (n == 1)
        cr_expect(strstr(g.gl_pathv[0], ".e"), "%s: not an owner epoch's", g.gl_pathv[0]);
    globfree(&g);
}

/* How often `needle` occurs in the file `path`. */
static int count_in(const char *path, const char *needle)
{
    size_t len;
    char *text = tu_read_file(path, &len);
    int n = 0;
    for (const char *at = text; at && (at = strstr(at, needle)); at++)
        n++;
    free(text);
    return n;
}

/* `consume` of the group with per-partition state into out/err, ending
 * after `idle_exit` without a message. */
static pid_t start_instance(const char *brokers, const char *topic, const char *group,
                            const char *win, const char *pspec, const char *ckpt,
                            const char *interval, const char *idle_exit, const char *out,
                            const char *err)
{
    const char *argv[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic,
                          "--group", group, "--window", win, "--idle-exit", idle_exit,
                          "--partials", pspec, "--checkpoint", ckpt,
                          "--checkpoint-interval", interval, "--out", out,
                          "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
                          NULL};
    pid_t pid = ts_spawn(argv, NULL, err);
    cr_assert_gt(pid, 0);
    return pid;
}

/* The flow of the file comment, then merge and one instance compared. */
static void run_group(b_end how)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], partials[112], group[112], pspec[128], win[32];
    tk_unique(topic, sizeof topic, how == B_LEAVES ? "rebal" : "loss");
    snprintf(partials, sizeof partials, "%s-partials", topic);
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(pspec, sizeof pspec, "kafka:%s", partials);
    tu_cli c;
    tu_cli_init(&c);
    char ckpt[640], out_a[640], err_a[640], out_b[640], err_b[640], mout[640], sout[640];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", c.dir);
    snprintf(out_a, sizeof out_a, "%s/a.jsonl", c.dir);
    snprintf(err_a, sizeof err_a, "%s/a.err", c.dir);
    snprintf(out_b, sizeof out_b, "%s/b.jsonl", c.dir);
    snprintf(err_b, sizeof err_b, "%s/b.err", c.dir);
    snprintf(mout, sizeof mout, "%s/merge.jsonl", c.dir);
    snprintf(sout, sizeof sout, "%s/one.jsonl", c.dir);

    double sentinel;
    char *text = tm_setup(&c, brokers, topic, N_PART, partials, N_LINES, win, &sentinel);

    pid_t a = start_instance(brokers, topic, group, win, pspec, ckpt, "1s", "8s", out_a, err_a);
    char *e = ts_wait_for(err_a, "assigned", TK_WAIT_MS);
    cr_assert(e, "A never assigned");
    free(e);
    produce_part(brokers, topic, text, 0, N_LINES / 3);
    ts_sleep_ms(2000); /* A takes in the first third */

    /* B joins: it holds partitions once it has loaded A's checkpoints */
    pid_t b = start_instance(brokers, topic, group, win, pspec, ckpt,
                             how == B_LEAVES ? "1s" : "1h", "8s", out_b, err_b);
    e = ts_wait_for(err_b, "resumed from", TK_WAIT_MS);
    cr_assert(e, "B never took partitions over from A's checkpoints");
    free(e);
    produce_part(brokers, topic, text, N_LINES / 3, 2 * N_LINES / 3);
    if (how == B_LEAVES) {
        ts_sleep_ms(2000); /* B takes in its share of the second third */
        cr_assert_eq(ts_stop(b, 30000), 0, "B");
    } else {
        wait_window_of(brokers, partials, b); /* B wrote windows, never checkpointed */
        cr_assert_eq(kill(b, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(b, &status, 0), b);
    }
    /* A gets B's partitions back from the checkpoints */
    e = ts_wait_for(err_a, "resumed from", TK_WAIT_MS);
    cr_assert(e, "A never took B's partitions over");
    free(e);
    produce_part(brokers, topic, text, 2 * N_LINES / 3, N_LINES);
    tm_produce_sentinels(brokers, topic, N_PART, sentinel);
    e = ts_wait_for(out_a, "ope_run.v1", 60000);
    cr_assert(e, "A never ended");
    free(e);
    cr_assert_eq(ts_stop(a, 30000), 0, "A");

    cJSON *ms, *ss, *got, *want;
    tm_merge_and_one(&c, brokers, topic, partials, "6", win, mout, sout, &got, &ms, &want, &ss);
    cJSON *as = tm_summary_of(out_a);
    cr_expect_eq(tu_num(ss, "accepted"), N_LINES + N_PART);
    cr_expect_eq(tu_num(as, "lines_read"),
                 tu_num(as, "accepted") + tu_num(as, "rejected") + tu_num(as, "late"));
    cr_expect_eq(cJSON_GetArraySize(tu_get(ms, "rejected_by_reason")), 0,
                 "merge rejected no line (a duplicate is not after_final)");
    if (how == B_LEAVES) {
        /* every message read once, by A or by B, and no window written twice */
        cJSON *bs = tm_summary_of(out_b);
        cr_expect_gt(tu_num(bs, "lines_read"), 0);
        cr_expect_eq(tu_num(as, "lines_read") + tu_num(bs, "lines_read"), N_LINES + N_PART);
        cr_expect_eq(tu_num(ms, "duplicate_partials"), 0);
        cJSON_Delete(bs);
    } else {
        /* A redid B's work from the older checkpoints: B's windows came twice */
        cr_expect_gt(tu_num(ms, "duplicate_partials"), 0);
        cr_expect_gt(tu_num(as, "lines_read"), N_LINES / 3);
    }
    int n_open;
    const int n_final = tm_expect_merged(got, want, sentinel, &n_open);
    cr_log_info("%d final records, %d incomplete, %.0f duplicate partials", n_final, n_open,
                tu_num(ms, "duplicate_partials"));
    cr_expect_gt(n_final, 8, "several windows of the log");
    cr_expect_eq(cJSON_GetArraySize(tu_get(ms, "incomplete")), n_open);
    for (int p = 0; p < N_PART; p++) /* one checkpoint file per partition */
        expect_one_state(ckpt, topic, p);
    const char *files[] = {mout, NULL};
    const int vrc = tu_validate_schema(files, false);
    if (vrc != 77)
        cr_expect_eq(vrc, 0, "%s: schema validation failed (see stdout)", mout);
    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_Delete(ms);
    cJSON_Delete(ss);
    cJSON_Delete(as);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_rebalance, member_joins_and_leaves, .timeout = 240)
{
    run_group(B_LEAVES);
}

Test(kafka_rebalance, member_killed_holding_partitions, .timeout = 240)
{
    run_group(B_KILLED);
}

/* A zombie: A holds every partition and is stopped (SIGSTOP) past the
 * session timeout; B takes over from A's files and checkpoints; A wakes
 * (SIGCONT) past --idle-exit, so its first act is to end its batch, which
 * would emit its open windows and write its old state. It must find B's
 * claims and write nothing of those partitions: B's files stay the newest,
 * A's own are never written again (B removed them), B restarted resumes
 * from B's files, and merge equals one uninterrupted instance. */
Test(kafka_rebalance, zombie_member_is_fenced, .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], partials[112], group[112], pspec[128], win[32];
    tk_unique(topic, sizeof topic, "zombie");
    snprintf(partials, sizeof partials, "%s-partials", topic);
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(pspec, sizeof pspec, "kafka:%s", partials);
    tu_cli c;
    tu_cli_init(&c);
    char ckpt[640], out_a[640], err_a[640], out_b[640], err_b[640], out_b2[640], err_b2[640],
        mout[640], sout[640];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", c.dir);
    snprintf(out_a, sizeof out_a, "%s/a.jsonl", c.dir);
    snprintf(err_a, sizeof err_a, "%s/a.err", c.dir);
    snprintf(out_b, sizeof out_b, "%s/b.jsonl", c.dir);
    snprintf(err_b, sizeof err_b, "%s/b.err", c.dir);
    snprintf(out_b2, sizeof out_b2, "%s/b2.jsonl", c.dir);
    snprintf(err_b2, sizeof err_b2, "%s/b2.err", c.dir);
    snprintf(mout, sizeof mout, "%s/merge.jsonl", c.dir);
    snprintf(sout, sizeof sout, "%s/one.jsonl", c.dir);
    double sentinel;
    char *text = tm_setup(&c, brokers, topic, N_PART, partials, N_LINES, win, &sentinel);

    pid_t a = start_instance(brokers, topic, group, win, pspec, ckpt, "1s", "4s", out_a, err_a);
    char *e = ts_wait_for(err_a, "assigned", TK_WAIT_MS);
    cr_assert(e, "A never assigned");
    free(e);
    produce_part(brokers, topic, text, 0, N_LINES / 3);
    uint64_t epoch_a[N_PART], epoch_b[N_PART];
    wait_owned_by(ckpt, topic, a, epoch_a);
    cr_assert_eq(kill(a, SIGSTOP), 0);

    pid_t b = start_instance(brokers, topic, group, win, pspec, ckpt, "1s", "60s", out_b, err_b);
    for (int round = 0; count_in(err_b, "resumed from") < N_PART; round++) {
        cr_assert_lt(round, TK_WAIT_MS / 200, "B never took every partition from A's files");
        ts_sleep_ms(200);
    }
    produce_part(brokers, topic, text, N_LINES / 3, 2 * N_LINES / 3);
    wait_owned_by(ckpt, topic, b, epoch_b); /* B checkpointed: A's files are gone */
    for (int p = 0; p < N_PART; p++)
        cr_expect_gt(epoch_b[p], epoch_a[p]);

    cr_assert_eq(kill(a, SIGCONT), 0);
    int status; /* A ends its batch at once, cleanly: a lost assignment is not a fault */
    cr_assert_eq(waitpid(a, &status, 0), a);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "A: status %d", status);
    cr_expect_gt(count_in(err_a, " fenced: "), 0, "A never said it was fenced");
    cJSON *as = tm_summary_of(out_a);
    cr_expect_eq(tu_num(as, "kafka.checkpoint.fenced"), N_PART, "A's summary counts them");
    cJSON_Delete(as);
    for (int p = 0; p < N_PART; p++) { /* A wrote no state: B's are the newest */
        uint64_t now;
        char who[128];
        cr_expect(owned_state(ckpt, topic, p, &now, who, sizeof who) && is_pid(who, b),
                  "partition %d: the newest state is not B's", p);
        cr_expect_eq(now, epoch_b[p]);
        char f[800];
        snprintf(f, sizeof f, "%s/%s.%d.e%" PRIu64 ".ckpt", ckpt, topic, p, epoch_a[p]);
        cr_expect_neq(access(f, F_OK), 0, "A wrote %s after it was fenced", f);
    }

    /* B stops and starts again: it resumes from its own files */
    cr_assert_eq(ts_stop(b, 30000), 0, "B");
    pid_t b2 = start_instance(brokers, topic, group, win, pspec, ckpt, "1s", "8s", out_b2,
                              err_b2);
    for (int round = 0; count_in(err_b2, "resumed from") < N_PART; round++) {
        cr_assert_lt(round, TK_WAIT_MS / 200, "B never resumed every partition");
        ts_sleep_ms(200);
    }
    for (int p = 0; p < N_PART; p++) {
        char line[1600];
        snprintf(line, sizeof line, "partition %d of %s resumed from %s/%s.%d.e%" PRIu64 ".ckpt",
                 p, topic, ckpt, topic, p, epoch_b[p]);
        cr_expect_eq(count_in(err_b2, line), 1, "not: %s", line);
    }
    produce_part(brokers, topic, text, 2 * N_LINES / 3, N_LINES);
    tm_produce_sentinels(brokers, topic, N_PART, sentinel);
    e = ts_wait_for(out_b2, "ope_run.v1", 60000);
    cr_assert(e, "B never ended");
    free(e);
    cr_assert_eq(ts_stop(b2, 30000), 0, "B restarted");

    cJSON *ms, *ss, *got, *want;
    tm_merge_and_one(&c, brokers, topic, partials, "6", win, mout, sout, &got, &ms, &want, &ss);
    cr_expect_eq(tu_num(ss, "accepted"), N_LINES + N_PART);
    cr_expect_eq(cJSON_GetArraySize(tu_get(ms, "rejected_by_reason")), 0);
    int n_open;
    const int n_final = tm_expect_merged(got, want, sentinel, &n_open);
    cr_log_info("%d final records, %d incomplete, %.0f duplicate partials", n_final, n_open,
                tu_num(ms, "duplicate_partials"));
    cr_expect_gt(n_final, 8, "several windows of the log");
    for (int p = 0; p < N_PART; p++)
        expect_one_state(ckpt, topic, p);
    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_Delete(ms);
    cJSON_Delete(ss);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_rebalance, a_quiet_partition_follows_the_others, .timeout = 180)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], partials[112], group[112], mgroup[112], pspec[128], win[32];
    tk_unique(topic, sizeof topic, "quiet");
    snprintf(partials, sizeof partials, "%s-partials", topic);
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(mgroup, sizeof mgroup, "%s-merge", topic);
    snprintf(pspec, sizeof pspec, "kafka:%s", partials);
    tu_cli c;
    tu_cli_init(&c);
    char ckpt[640], out[640], err[640], mout[640], rout[640];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", c.dir);
    snprintf(out, sizeof out, "%s/a.jsonl", c.dir);
    snprintf(err, sizeof err, "%s/a.err", c.dir);
    snprintf(mout, sizeof mout, "%s/merge.jsonl", c.dir);
    snprintf(rout, sizeof rout, "%s/replay.jsonl", c.dir);
    const char *log = tu_cli_path(&c, "log.jsonl");
    char *text = tk_sim_log(&c, 10, 1000, log);
    double first, last;
    tm_log_span(text, &first, &last);
    snprintf(win, sizeof win, "%llds", (long long)((last - first) / 5000) + 1);
    tk_create_topic(brokers, topic, 2);
    tk_create_topic(brokers, partials, 1);

    const char *argv[] = {GOPE_BIN, "consume", "--brokers", brokers, "--topic", topic,
                          "--group", group, "--window", win, "--idle-exit", "6s",
                          "--idle-timeout", "2s", "--partials", pspec, "--checkpoint", ckpt,
                          "--out", out, NULL};
    pid_t a = ts_spawn(argv, NULL, err);
    cr_assert_gt(a, 0);
    char *e = ts_wait_for(err, "assigned", TK_WAIT_MS);
    cr_assert(e, "never assigned");
    free(e);
    ts_sleep_ms(2500); /* partition 1 is quiet from here on */
    cr_assert_eq(tk_produce_lines_to(brokers, topic, 0, text), 1000);
    wait_progress_of(brokers, partials, 1); /* it followed partition 0 */
    char behind[512];
    snprintf(behind, sizeof behind,
             "{\"event_id\":\"behind\",\"ts\":%.0f,\"user_id\":\"u\",\"candidates\":"
             "[{\"streamer_id\":\"a\",\"ev\":1.5},{\"streamer_id\":\"b\",\"ev\":0.5}],"
             "\"action\":0,\"propensity\":0.5,\"reward\":2}",
             first);
    cr_assert_eq(tk_produce_lines_to(brokers, topic, 1, behind), 1);
    int status; /* it ends by itself (--idle-exit) */
    cr_assert_eq(waitpid(a, &status, 0), a);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);

    const char *merge[] = {"merge", "--brokers", brokers, "--topic", partials,
                           "--source-partitions", "2", "--group", mgroup, "--idle-exit", "5s",
                           "--out", mout, NULL};
    tu_cli_expect(&c, merge, 0, NULL);
    const char *replay[] = {"replay", "--window", win, "--out", rout, log, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    cJSON *as = tm_summary_of(out), *ms, *rs;
    cr_expect_eq(tu_num(as, "lines_read"), 1001);
    cr_expect_eq(tu_num(as, "late"), 1, "the event behind partition 1's clock");
    cJSON *got = tm_records_of(mout, "ope_merge_run.v1", &ms);
    cJSON *want = tm_records_of(rout, "ope_run.v1", &rs);
    /* the windows partition 0 passed are final, as replay has them */
    cr_expect_gt(cJSON_GetArraySize(got), 0, "the quiet partition held no window back");
    cr_expect_lt(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "the last stays open");
    const cJSON *g;
    cJSON_ArrayForEach(g, got) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, g->string);
        cr_assert(w, "replay has no record %s", g->string);
        tu_expect_same_json(g, w, g->string);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_Delete(as);
    cJSON_Delete(ms);
    cJSON_Delete(rs);
    free(text);
    tu_cli_done(&c);
}
