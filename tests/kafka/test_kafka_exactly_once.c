/*
 * test_kafka_exactly_once.c — `giftope consume --checkpoint` against a real
 * broker (suite kafka_exactly_once; skipped without GOPE_KAFKA_BROKERS, see
 * docs/kafka-tests.md): the window records are exactly-once across crashes
 * and a broker restart.
 *
 * A simulator log of 200,000 events (6.4 hours of event time) is produced,
 * keyed by event_id, into a topic with 4 partitions and evaluated with
 * 10-minute windows (39 windows, 312 records). Every fifth decision has its
 * reward taken out into a reward.v1 line 3 s later, produced into a reward
 * topic with 2 partitions, so the reward join holds decisions and rewards
 * across the crashes. Three ways:
 *   - replay over the file with --rewards (the oracle);
 *   - one consume run that is never interrupted;
 *   - consume runs killed with SIGKILL at 10 random moments and restarted
 *     from their checkpoint, the last one left to finish (--idle-exit), all
 *     appending to one --out file.
 * That file must hold, line for line, the uninterrupted run's file: its
 * records in the same order, each once (every restart cut the file back to
 * the size its checkpoint saved, so nothing written after a checkpoint
 * stays twice), then one summary, the last run's (a killed run writes
 * none; the last run's counters continue from the checkpoint and count
 * every message exactly once). The records are replay's too, value for
 * value. Values agree to 1e-9 relative, not bit for bit: the partitions
 * arrive interleaved in another order in every run, so a pane's sums are
 * added in another order (compensated sums keep the difference to a few
 * ulps). Nothing may be late, or the runs would differ in which events they
 * count: librdkafka hands out a partition's messages a fetched batch (up to
 * 1 MB, ~1,200 messages here) at a time, which puts the partitions up to
 * about 20 minutes of event time apart (measured). The window clock is the
 * minimum over the partitions, so a lateness of 1 minute is enough (a
 * single clock over all partitions needed 2 hours). 26 of the 39 windows
 * close during the run, the rest at its end.
 *
 * The second test restarts the broker (tests/kafka/broker.sh restart) in the
 * middle of a run with a checkpoint: half the events are produced before,
 * half after the restart; the run, which ends after exactly all of them
 * (--max-events), must give replay's records.
 *
 * The kill delays come from GOPE_TEST_SEED when set (else the clock); the
 * seed is printed so a failure can be repeated.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "jsoncmp.h"
#include "kafkatest.h"
#include "recordset.h"
#include "testutil.h"

#define N_PART 4
#define N_KILLS 10

/* Evaluation and consumer options shared by every run. */
#define WINDOW_ARGS "--window", "10m", "--lateness", "1m"
#define GROUP_ARGS "-X", "session.timeout.ms=6000"

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* A simulator log of `decisions` events (4 candidates each) at `path`;
 * @return its text (free() it). */
static char *sim_log(tu_cli *c, const char *decisions, const char *path)
{
    const char *world = tu_cli_write(c, "world.json",
                                     "{\"base\":\"kuailive\",\"users\":{\"count\":500},"
                                     "\"streamers\":{\"count\":40},\"candidates\":{\"k\":4}}");
    const char *sim[] = {"sim", "--world", world, "--policy", "eps_greedy", "--decisions",
                         decisions, "--out", path, "--quiet", NULL};
    tu_cli_expect(c, sim, 0, NULL);
    char *text = tu_read_file(path, NULL);
    cr_assert(text && *text, "no log at %s", path);
    return text;
}

/* Start giftope with `args` (without argv[0]); stderr to `err_path`. */
static pid_t spawn(const char *const *args, const char *err_path)
{
    const char *argv[64] = {GOPE_BIN};
    size_t n = 1;
    while (args[n - 1]) {
        cr_assert_lt(n, 63);
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen(err_path, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(126);
        execv(GOPE_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait up to `ms` for `pid`; kill it and fail when it does not end.
 * @return its wait status. */
static int wait_exit(pid_t pid, long ms, const char *err_path)
{
    int status = 0;
    for (long waited = 0; waited <= ms; waited += 50) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    char *err = tu_read_file(err_path, NULL);
    cr_assert_fail("giftope did not end within %ld ms; stderr: %s", ms, err ? err : "");
    return status;
}

/* Wait up to `ms` until the file at `path` contains `needle`. */
static bool wait_for_text(const char *path, const char *needle, long ms)
{
    for (long waited = 0; waited <= ms; waited += 50) {
        char *t = tu_read_file(path, NULL);
        bool found = t && strstr(t, needle);
        free(t);
        if (found)
            return true;
        sleep_ms(50);
    }
    return false;
}

/* The counters of two summaries agree, and every message was counted. */
static void expect_counts(const cJSON *got, const cJSON *want, double lines)
{
    const char *counts[] = {"lines_read", "accepted", "rejected", "late", "windows", "records"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_expect_eq(tu_num(got, counts[i]), tu_num(want, counts[i]), "%s", counts[i]);
    cr_expect_eq(tu_num(got, "lines_read"), lines);
    cr_expect_eq(tu_num(got, "late"), 0, "nothing late: the partitions stayed close in time");
    const char *join[] = {"join.rewards_joined", "join.decisions_defaulted",
                          "join.rewards_orphaned"};
    const bool joined = cJSON_GetObjectItemCaseSensitive(want, "join") != NULL;
    for (size_t i = 0; joined && i < sizeof join / sizeof join[0]; i++)
        cr_expect_eq(tu_num(got, join[i]), tu_num(want, join[i]), "%s", join[i]);
}

/* replay over `log` (and the reward.v1 lines of `rewards`, or NULL) with
 * the windows of every run: its records and summary. */
static cJSON *replay_records(tu_cli *c, const char *log, const char *rewards, cJSON **summary)
{
    const char *out = tu_cli_path(c, "replay.jsonl");
    const char *replay[] = {"replay", WINDOW_ARGS, "--quiet", "--out", out, log,
                            rewards ? "--rewards" : NULL, rewards, NULL};
    tu_cli_expect(c, replay, 0, NULL);
    cJSON *rec = cJSON_CreateObject();
    tr_collect(out, rec, summary);
    cr_assert(*summary);
    return rec;
}

/* Every fifth line of `text` loses its inline reward to a reward.v1 line
 * 3 s after the decision: the decisions are written to `log`, the rewards
 * (in ts order, as the decisions are) returned. *n_rewards counts them. */
static char *split_rewards(char *text, const char *log, int *n_rewards)
{
    FILE *f = fopen(log, "w");
    size_t cap = strlen(text) / 10 + 1024, len = 0;
    char *rew = malloc(cap);
    cr_assert(f && rew);
    *n_rewards = 0;
    int i = 0;
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1, i++) {
        *nl = '\0';
        char *r = i % 5 == 2 ? strstr(p, ",\"reward\":") : NULL;
        if (!r) {
            fprintf(f, "%s\n", p);
            continue;
        }
        char *end = r + strlen(",\"reward\":");
        double amount = strtod(end, &end);
        const char *id = strstr(p, "\"event_id\":\"") + strlen("\"event_id\":\"");
        long long ts = strtoll(strstr(p, "\"ts\":") + 5, NULL, 10);
        fprintf(f, "%.*s%s\n", (int)(r - p), p, end);
        cr_assert_lt(len + 256, cap);
        len += (size_t)snprintf(rew + len, cap - len,
                                "{\"schema\":\"reward.v1\",\"event_id\":\"%.*s\",\"ts\":%lld,"
                                "\"reward\":%.17g}\n",
                                (int)(strchr(id, '"') - id), id, ts + 3000, amount);
        (*n_rewards)++;
    }
    cr_assert_eq(fclose(f), 0);
    return rew;
}

/* (window, policy, revision) of a record line, in `key`. */
static void record_key(const cJSON *r, char *key, size_t size)
{
    snprintf(key, size, "%.0f-%.0f/%s/r%.0f", tu_num(r, "window.start"), tu_num(r, "window.end"),
             tu_str(r, "policy"), tu_num(r, "revision"));
}

/* The file at `got` is the file at `want` line for line: the same records
 * in the same order, value for value, then one ope_run.v1 summary, last
 * (summaries differ in their run's facts; expect_counts compares them). */
static void expect_same_file(const char *got, const char *want)
{
    cJSON *g = tu_read_jsonl(got), *w = tu_read_jsonl(want);
    cr_assert(g && w, "cannot read %s or %s", got, want);
    int n = cJSON_GetArraySize(w);
    cr_expect_eq(cJSON_GetArraySize(g), n, "%s: lines", got);
    for (int i = 0; i < n && i < cJSON_GetArraySize(g); i++) {
        const cJSON *gl = cJSON_GetArrayItem(g, i), *wl = cJSON_GetArrayItem(w, i);
        const char *schema = tu_str(wl, "schema");
        cr_assert_str_eq(tu_str(gl, "schema"), schema, "%s: line %d", got, i + 1);
        cr_expect_eq(strcmp(schema, "ope_run.v1") == 0, i == n - 1,
                     "%s: line %d: one summary, the last line", got, i + 1);
        if (strcmp(schema, "ope_metrics.v1") != 0)
            continue;
        char gk[256], wk[256];
        record_key(gl, gk, sizeof gk);
        record_key(wl, wk, sizeof wk);
        cr_expect_str_eq(gk, wk, "%s: line %d", got, i + 1);
        tu_expect_same_json(gl, wl, wk);
    }
    cJSON_Delete(g);
    cJSON_Delete(w);
}

static unsigned test_seed(void)
{
    const char *s = getenv("GOPE_TEST_SEED");
    unsigned seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    printf("kafka_exactly_once: GOPE_TEST_SEED=%u\n", seed);
    return seed;
}

Test(kafka_exactly_once, sigkill_restarts_give_the_uninterrupted_records, .timeout = 420)
{
    const char *brokers = tk_brokers_or_skip();
    unsigned seed = test_seed();
    char topic[96], group[128];
    tk_unique(topic, sizeof topic, "eo-kill");
    tu_cli c;
    tu_cli_init(&c);
    char log[600], rlog[600], rtopic[112];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(rlog, sizeof rlog, "%s", tu_cli_path(&c, "rewards.jsonl"));
    snprintf(rtopic, sizeof rtopic, "%s-rew", topic);
    char *text = sim_log(&c, "200000", log);
    int n_rew;
    char *rewards = split_rewards(text, log, &n_rew);
    cr_assert(tu_write_file(rlog, rewards, strlen(rewards)));
    free(text);
    text = tu_read_file(log, NULL);
    cr_assert(text);
    tk_create_topic(brokers, topic, N_PART);
    tk_create_topic(brokers, rtopic, 2);
    cr_assert_eq(tk_produce_lines(brokers, topic, text), 200000);
    cr_assert_eq(tk_produce_lines(brokers, rtopic, rewards), n_rew);
    free(text);
    free(rewards);
    const double lines = 200000 + n_rew;

    cJSON *want_sum, *want = replay_records(&c, log, rlog, &want_sum);
    cr_assert_eq(cJSON_GetArraySize(want), 312);
    cr_assert_eq(tu_num(want_sum, "join.rewards_joined"), n_rew);

    /* the uninterrupted run */
    char dir[600], out[600], err[600];
    snprintf(group, sizeof group, "%s-whole", topic);
    snprintf(dir, sizeof dir, "%s", tu_cli_path(&c, "ckpt-whole"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "whole.jsonl"));
    const char *whole[] = {"consume", "--brokers", brokers, "--topic", topic, "--reward-topic",
                           rtopic, "--group", group, WINDOW_ARGS, "--checkpoint", dir,
                           "--idle-exit", "4s", "--out", out, "--quiet", GROUP_ARGS, NULL};
    tu_cli_expect(&c, whole, 0, NULL);
    cJSON *whole_sum, *whole_rec = cJSON_CreateObject();
    tr_collect(out, whole_rec, &whole_sum);
    cr_assert(whole_sum, "the uninterrupted run wrote no summary");
    expect_counts(whole_sum, want_sum, lines);
    tr_expect_same_records(whole_rec, want, "uninterrupted vs replay");

    /* killed at 10 random moments, restarted from the checkpoint each time */
    char whole_out[600];
    snprintf(whole_out, sizeof whole_out, "%s", out);
    snprintf(group, sizeof group, "%s-killed", topic);
    snprintf(dir, sizeof dir, "%s", tu_cli_path(&c, "ckpt-killed"));
    snprintf(err, sizeof err, "%s", tu_cli_path(&c, "killed.err"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "killed.jsonl"));
    int cuts = 0;
    for (int run = 0; run <= N_KILLS; run++) {
        const char *args[] = {"consume", "--brokers", brokers, "--topic", topic, "--reward-topic",
                              rtopic, "--group", group, WINDOW_ARGS, "--checkpoint", dir,
                              "--checkpoint-interval", "250ms",
                              "--idle-exit", "4s", "--out", out, "-X",
                              "group.instance.id=giftope-eo", GROUP_ARGS, NULL};
        pid_t pid = spawn(args, err);
        if (run < N_KILLS) {
            cr_assert(wait_for_text(err, "assigned", 60000), "run %d never assigned", run);
            char *e = tu_read_file(err, NULL);
            cuts += e && strstr(e, "cut back to");
            free(e);
            long delay = rand_r(&seed) % 1500;
            sleep_ms(delay);
            kill(pid, SIGKILL);
            int status = 0;
            waitpid(pid, &status, 0);
            printf("kafka_exactly_once: run %d killed %ld ms after its assignment\n", run, delay);
        } else {
            int status = wait_exit(pid, 180000, err);
            char *e = tu_read_file(err, NULL);
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "last run: status %d: %s",
                      status, e ? e : "");
            free(e);
        }
    }
    printf("kafka_exactly_once: %d restarts cut the output back\n", cuts);
    expect_same_file(out, whole_out);
    cJSON *killed = cJSON_CreateObject(), *sum = NULL;
    tr_collect(out, killed, &sum);
    cr_assert(sum, "the last run wrote no summary");
    cr_expect(cJSON_IsTrue(tu_get(sum, "kafka.checkpoint.restored")),
              "the last run started from a checkpoint");
    expect_counts(sum, whole_sum, lines);
    tr_expect_same_records(killed, whole_rec, "killed vs uninterrupted");
    tr_expect_same_records(killed, want, "killed vs replay");
    const cJSON *r;
    cJSON_ArrayForEach(r, killed) cr_expect_eq(tu_num(r, "revision"), 1, "%s", r->string);

    cJSON_Delete(killed);
    cJSON_Delete(sum);
    cJSON_Delete(whole_rec);
    cJSON_Delete(whole_sum);
    cJSON_Delete(want);
    cJSON_Delete(want_sum);
    tu_cli_done(&c);
}

Test(kafka_exactly_once, broker_restart_mid_consumption, .timeout = 300)
{
    const char *brokers = tk_brokers_or_skip();
    const char *kdir = getenv("GOPE_KAFKA_DIR");
    if (!kdir || !*kdir)
        cr_skip_test("GOPE_KAFKA_DIR is not set (the broker's dir, for broker.sh restart)");
    char topic[96], group[128];
    tk_unique(topic, sizeof topic, "eo-restart");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    char log[600], dir[600], out[600], err[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(dir, sizeof dir, "%s", tu_cli_path(&c, "ckpt"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(err, sizeof err, "%s", tu_cli_path(&c, "consume.err"));
    char *text = sim_log(&c, "100000", log);
    char *half = text;
    for (int i = 0; i < 50000; i++)
        half = strchr(half, '\n') + 1;
    char *second = strdup(half);
    cr_assert(second);
    *half = '\0';
    tk_create_topic(brokers, topic, N_PART);
    cr_assert_eq(tk_produce_lines(brokers, topic, text), 50000);
    cJSON *want_sum, *want = replay_records(&c, log, NULL, &want_sum);

    const char *args[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                          WINDOW_ARGS, "--checkpoint", dir, "--checkpoint-interval", "500ms",
                          "--max-events", "100000", "--out", out, GROUP_ARGS, NULL};
    pid_t pid = spawn(args, err);
    cr_assert(wait_for_text(err, "assigned", 60000), "never assigned");
    sleep_ms(2000);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash '%s' restart --dir '%s' >/dev/null 2>&1",
             GOPE_TEST_DATA "/../kafka/broker.sh", kdir);
    cr_assert_eq(system(cmd), 0, "broker.sh restart failed");
    cr_expect_eq(waitpid(pid, NULL, WNOHANG), 0, "consume ended while the broker was down");
    cr_assert_eq(tk_produce_lines(brokers, topic, second), 50000);
    int status = wait_exit(pid, 120000, err); /* it ends after exactly the 100,000 */
    char *e = tu_read_file(err, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, e ? e : "");
    free(e);

    cJSON *sum, *got = cJSON_CreateObject();
    tr_collect(out, got, &sum);
    cr_assert(sum, "no summary");
    expect_counts(sum, want_sum, 100000);
    tr_expect_same_records(got, want, "broker restart vs replay");
    cJSON_Delete(got);
    cJSON_Delete(sum);
    cJSON_Delete(want);
    cJSON_Delete(want_sum);
    free(second);
    free(text);
    tu_cli_done(&c);
}

/* An event of the hour starting at 1735689600000. */
static void event_line(char *buf, size_t size, int i)
{
    snprintf(buf, size,
             "{\"event_id\":\"t%d\",\"ts\":%lld,\"user_id\":\"u\",\"candidates\":"
             "[{\"streamer_id\":\"a\",\"ev\":1.5},{\"streamer_id\":\"b\",\"ev\":0.5}],"
             "\"action\":%d,\"propensity\":0.5,\"reward\":%d}\n",
             i, 1735689600000LL + 1000LL * i, i % 2, i);
}

Test(kafka_exactly_once, sigterm_leaves_open_windows_in_the_checkpoint, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[128];
    tk_unique(topic, sizeof topic, "eo-term");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    char dir[600], out[600], err[600], lines[1024] = "", line[256];
    snprintf(dir, sizeof dir, "%s", tu_cli_path(&c, "ckpt"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "first.jsonl"));
    snprintf(err, sizeof err, "%s", tu_cli_path(&c, "first.err"));
    for (int i = 0; i < 3; i++) {
        event_line(line, sizeof line, i);
        strcat(lines, line);
    }
    tk_create_topic(brokers, topic, 2);
    cr_assert_eq(tk_produce_lines(brokers, topic, lines), 3);

    /* no --idle-exit: only the signal ends it; the hour stays open */
    const char *args[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                          "--window", "1h", "--checkpoint", dir, "--out", out, GROUP_ARGS, NULL};
    pid_t pid = spawn(args, err);
    cr_assert(wait_for_text(err, "assigned", 60000), "never assigned");
    sleep_ms(2000);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int status = wait_exit(pid, 30000, err);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cJSON *sum, *rec = cJSON_CreateObject();
    cr_expect_eq(tr_collect(out, rec, &sum), 0, "a signal emits no half-done window");
    cr_assert(sum);
    cr_expect_eq(tu_num(sum, "accepted"), 3);
    cr_expect_str_eq(tu_str(sum, "kafka.stopped_by"), "signal");
    cr_expect_geq(tu_num(sum, "kafka.checkpoint.written"), 1);
    cJSON_Delete(sum);

    /* two more events; the next run continues the same hour and ends the batch */
    lines[0] = '\0';
    for (int i = 3; i < 5; i++) {
        event_line(line, sizeof line, i);
        strcat(lines, line);
    }
    cr_assert_eq(tk_produce_lines(brokers, topic, lines), 2);
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "second.jsonl"));
    const char *again[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                           "--window", "1h", "--checkpoint", dir, "--out", out, "--idle-exit",
                           "3s", "--quiet", GROUP_ARGS, NULL};
    tu_cli_expect(&c, again, 0, NULL);
    cr_expect_eq(tr_collect(out, rec, &sum), 8, "the hour, once per policy");
    cr_assert(sum);
    cr_expect(cJSON_IsTrue(tu_get(sum, "kafka.checkpoint.restored")));
    cr_expect_eq(tu_num(sum, "lines_read"), 5, "each message once over both runs");
    const cJSON *r;
    cJSON_ArrayForEach(r, rec) {
        cr_expect_eq(tu_num(r, "n"), 5, "%s: every event of the hour", r->string);
        cr_expect_eq(tu_num(r, "revision"), 1);
    }
    cJSON_Delete(sum);
    cJSON_Delete(rec);
    tu_cli_done(&c);
}
