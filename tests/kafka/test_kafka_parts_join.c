/*
 * test_kafka_parts_join.c — per-partition state with rewards on their own
 * topic (consume --partials --checkpoint --reward-topic), against a real
 * broker (suite kafka_parts_join; skipped without GOPE_KAFKA_BROKERS, see
 * docs/kafka-tests.md).
 *
 * Decisions and their rewards go to two topics of 3 partitions, keyed by
 * event_id, so a decision and its rewards share a partition number. Member
 * A consumes alone, member B joins halfway (the range assignor's eager
 * rebalance: A checkpoints every partition on the revoke, each member loads
 * the files of the partitions it gets, both topics' partition P together).
 * Every partition of both topics ends with a sentinel far after the log, so
 * every window of the log is final in `giftope merge`, whose records must
 * equal `replay --rewards` over the same lines, value for value; the two
 * members read every message once and joined every reward replay joined.
 *
 * Topics with different partition counts cannot be joined per partition:
 * consume stops at the first message of an unpaired partition, naming it.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "joinlogs.h"
#include "kafkatest.h"
#include "mergecheck.h"
#include "spawn.h"
#include "testutil.h"

#define N_PART 3
#define JOIN_ARGS "--window", "1m", "--lateness", "1m", "--reward-wait", "1m"
#define HALF_TS (TJ_T0 + 150000LL) /* the log's decisions span 5 minutes */

/* The lines of `text` whose ts is below `cut` (or, !below, at or above). */
static char *lines_by_ts(const char *text, long long cut, bool below)
{
    char *out = NULL, line[1024];
    size_t len = 0, cap = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        cr_assert_lt(n, sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        const char *ts = strstr(line, "\"ts\":");
        cr_assert(ts, "no ts: %s", line);
        if ((atoll(ts + 5) < cut) == below)
            tj_append(&out, &len, &cap, line);
        p += n;
    }
    return out ? out : strdup("");
}

/* Does the n bytes at `hay` (binary, NULs included) hold `needle`? */
static bool holds(const char *hay, size_t n, const char *needle)
{
    const size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

/* Does the text file at `path` hold `needle`? */
static bool file_says(const char *path, const char *needle)
{
    char *text = tu_read_file(path, NULL);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

/* Lines of `text` with ts below (or at and above) HALF_TS onto `topic`. */
static void produce_half(const char *brokers, const char *topic, const char *text, bool first)
{
    char *half = lines_by_ts(text, HALF_TS, first);
    tk_produce_lines(brokers, topic, half);
    free(half);
}

/* A reward.v1 sentinel for no decision into each partition of `topic`. */
static void produce_reward_sentinels(const char *brokers, const char *topic, double ts)
{
    for (int p = 0; p < N_PART; p++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"schema\":\"reward.v1\",\"event_id\":\"sentinel-r%d\",\"ts\":%.0f,"
                 "\"reward\":1}", p, ts);
        cr_assert_eq(tk_produce_lines_to(brokers, topic, p, line), 1);
    }
}

/* A test's topics (decisions, rewards, partials), group and --partials spec. */
typedef struct {
    char dtopic[96], rtopic[112], partials[112], group[112], pspec[128];
} names;

static void name_topics(names *t, const char *what)
{
    tk_unique(t->dtopic, sizeof t->dtopic, what);
    snprintf(t->rtopic, sizeof t->rtopic, "%s-rew", t->dtopic);
    snprintf(t->partials, sizeof t->partials, "%s-partials", t->dtopic);
    snprintf(t->group, sizeof t->group, "%s-g", t->dtopic);
    snprintf(t->pspec, sizeof t->pspec, "kafka:%s", t->partials);
}

typedef struct {
    const char *brokers, *dtopic, *rtopic, *group, *pspec, *ckpt;
} member_conf;

/* A member of the group, its records into `out`, its log into `err`. */
static pid_t start_member(const member_conf *m, const char *out, const char *err)
{
    const char *argv[] = {GOPE_BIN, "consume", "--brokers", m->brokers, "--topic", m->dtopic,
                          "--reward-topic", m->rtopic, "--group", m->group, JOIN_ARGS,
                          "--idle-exit", "8s", "--partials", m->pspec, "--checkpoint", m->ckpt,
                          "--checkpoint-interval", "1s", "--out", out,
                          "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
                          NULL};
    pid_t pid = ts_spawn(argv, NULL, err);
    cr_assert_gt(pid, 0);
    return pid;
}

/* The run's ope_run.v1 summary, the last line of `path` once written. */
static cJSON *summary_when_done(const char *path)
{
    char *e = ts_wait_for(path, "ope_run.v1", 90000);
    cr_assert(e, "%s: the member never ended", path);
    free(e);
    return tm_summary_of(path);
}

Test(kafka_parts_join, two_members_join_rewards_per_partition_like_replay, .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    names t;
    name_topics(&t, "pjoin");
    tu_cli c;
    tu_cli_init(&c);
    char ckpt[640], out_a[640], err_a[640], out_b[640], err_b[640], mout[640], rout[640];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", c.dir);
    snprintf(out_a, sizeof out_a, "%s/a.jsonl", c.dir);
    snprintf(err_a, sizeof err_a, "%s/a.err", c.dir);
    snprintf(out_b, sizeof out_b, "%s/b.jsonl", c.dir);
    snprintf(err_b, sizeof err_b, "%s/b.err", c.dir);
    snprintf(mout, sizeof mout, "%s/merge.jsonl", c.dir);
    snprintf(rout, sizeof rout, "%s/replay.jsonl", c.dir);

    tj_logs l;
    tj_make_logs(&l);
    char dec[600], rew[600];
    snprintf(dec, sizeof dec, "%s", tu_cli_write(&c, "decisions.jsonl", l.decisions));
    snprintf(rew, sizeof rew, "%s", tu_cli_write(&c, "rewards.jsonl", l.rewards));
    const char *replay[] = {"replay", JOIN_ARGS, "--rewards", rew, "--out", rout, "--quiet",
                            dec, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    tk_create_topic(brokers, t.dtopic, N_PART);
    tk_create_topic(brokers, t.rtopic, N_PART);
    tk_create_topic(brokers, t.partials, 1);

    const member_conf m = {brokers, t.dtopic, t.rtopic, t.group, t.pspec, ckpt};
    pid_t a = start_member(&m, out_a, err_a);
    char *e = ts_wait_for(err_a, "assigned", TK_WAIT_MS);
    cr_assert(e, "A never assigned");
    free(e);
    produce_half(brokers, t.dtopic, l.decisions, true);
    produce_half(brokers, t.rtopic, l.rewards, true);
    ts_sleep_ms(2000); /* A takes in the first half */

    pid_t b = start_member(&m, out_b, err_b);
    e = ts_wait_for(err_b, "resumed from", TK_WAIT_MS);
    cr_assert(e, "B never took a partition over from A's checkpoints");
    free(e);
    produce_half(brokers, t.dtopic, l.decisions, false);
    produce_half(brokers, t.rtopic, l.rewards, false);
    const double sentinel = (double)HALF_TS + 3600000.0;
    tm_produce_sentinels(brokers, t.dtopic, N_PART, sentinel);
    produce_reward_sentinels(brokers, t.rtopic, sentinel);
    cJSON *as = summary_when_done(out_a), *bs = summary_when_done(out_b);
    cr_assert_eq(ts_stop(a, 30000), 0, "A");
    cr_assert_eq(ts_stop(b, 30000), 0, "B");

    char mgroup[128];
    snprintf(mgroup, sizeof mgroup, "%s-merge", t.dtopic);
    const char *merge[] = {"merge", "--brokers", brokers, "--topic", t.partials,
                           "--source-partitions", "3", "--group", mgroup, "--idle-exit", "5s",
                           "--out", mout, NULL};
    tu_cli_expect(&c, merge, 0, NULL);
    cJSON *ms, *rs;
    cJSON *got = tm_records_of(mout, "ope_merge_run.v1", &ms);
    cJSON *want = tm_records_of(rout, "ope_run.v1", &rs);
    int n_open;
    const int n_final = tm_expect_merged(got, want, sentinel, &n_open);
    cr_expect_eq(n_final, cJSON_GetArraySize(want), "every window of the log is final");
    cr_expect_gt(n_final, 8);
    cr_log_info("%d final records; A read %.0f lines, B %.0f", n_final, tu_num(as, "lines_read"),
                tu_num(bs, "lines_read"));

    /* every message read once, by A or by B; every reward replay joined, joined once.
     * Unless a member lost its partitions (a session timeout on a slow machine,
     * e.g. under the sanitizers): the other then redid them from their last
     * checkpoint, the counts include the redo and merge dropped the re-emitted
     * partials; the records above are exact either way. */
    const int sent = count_lines(l.decisions) + count_lines(l.rewards) + 2 * N_PART;
    cr_expect_gt(tu_num(bs, "lines_read"), 0);
    if (!file_says(err_a, "lost ") && !file_says(err_b, "lost ")) {
        cr_expect_eq(tu_num(as, "lines_read") + tu_num(bs, "lines_read"), sent);
        cr_expect_eq(tu_num(as, "join.rewards_joined") + tu_num(bs, "join.rewards_joined"),
                     tu_num(rs, "join.rewards_joined"));
        cr_expect_eq(tu_num(ms, "duplicate_partials"), 0);
    }
    for (int p = 0; p < N_PART; p++) { /* one file per partition, for both topics */
        char pat[800];
        glob_t g;
        snprintf(pat, sizeof pat, "%s/%s.%d.e*.ckpt", ckpt, t.dtopic, p); /* its owner epoch's */
        cr_assert(glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1, "not one %s", pat);
        const char *f = g.gl_pathv[0];
        size_t len;
        char *text = tu_read_file(f, &len);
        cr_assert(text, "no %s", f);
        cr_expect(holds(text, len, t.rtopic), "%s: no offset of %s", f, t.rtopic);
        free(text);
        globfree(&g);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_Delete(ms);
    cJSON_Delete(rs);
    cJSON_Delete(as);
    cJSON_Delete(bs);
    tj_free_logs(&l);
    tu_cli_done(&c);
}

Test(kafka_parts_join, topics_with_other_partition_counts_are_refused, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    names t;
    name_topics(&t, "pjoin-uneven");
    tu_cli c;
    tu_cli_init(&c);
    tk_create_topic(brokers, t.dtopic, N_PART);
    tk_create_topic(brokers, t.rtopic, N_PART - 1);
    tk_create_topic(brokers, t.partials, 1);
    char line[512];
    tj_decision(line, sizeof line, "d", 7, TJ_T0, false);
    cr_assert_eq(tk_produce_lines_to(brokers, t.dtopic, N_PART - 1, line), 1);
    char ckpt[640];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", c.dir);
    const char *consume[] = {"consume", "--brokers", brokers, "--topic", t.dtopic,
                             "--reward-topic", t.rtopic, "--group", t.group, "--idle-exit", "5s",
                             "--partials", t.pspec, "--checkpoint", ckpt, "--quiet",
                             "-X", "session.timeout.ms=6000", NULL};
    tu_cli_expect(&c, consume, 1, "must have the same number of partitions");
    tu_cli_done(&c);
}
