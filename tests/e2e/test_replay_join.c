/*
 * test_replay_join.c — `giftope replay` with rewards that arrive later: the
 * split form (--rewards FILE) and rewards interleaved in the input give the
 * same window records, value for value, as the same decisions with their
 * rewards inline; orphans reach the dead letters; the summary carries the
 * join counters and every output line passes its JSON Schema; the join is
 * off unless asked for.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "testutil.h"

#define N 600
#define T0 1735689600000LL

/* Decision i: ts T0 + 97 i, reward 0 for most, a few gifts (some given in
 * two parts: halves of an even amount add up exactly). */
static double reward_of(int i)
{
    return i % 7 == 3 ? (double)(i % 50) : i % 11 == 5 ? 0.5 * (i % 9) + 0.25 : 0;
}

static void decision(FILE *f, int i, bool inline_reward)
{
    fprintf(f,
            "{\"event_id\":\"d%d\",\"ts\":%lld,\"user_id\":\"u\",\"candidates\":["
            "{\"streamer_id\":\"a\",\"ev\":%g,\"sigma\":0.5},{\"streamer_id\":\"b\",\"ev\":%g},"
            "{\"streamer_id\":\"c\",\"ev\":0.75}],\"action\":%d,\"propensity\":%g",
            i, T0 + 97LL * i, 1 + (i % 5) * 0.25, 2 - (i % 3) * 0.5, i % 3,
            i % 3 == 0 ? 0.5 : 0.25);
    if (inline_reward)
        fprintf(f, ",\"reward\":%.17g", reward_of(i));
    fputs("}\n", f);
}

/* The reward lines of decision i: (ts, amount), 0, 1 or 2 of them. */
static int rewards_of(int i, long long ts[2], double amount[2])
{
    double r = reward_of(i);
    if (r == 0)
        return 0;
    ts[0] = T0 + 97LL * i + 5000 + i % 13 * 1000;
    amount[0] = r;
    if (i % 2)
        return 1;
    amount[0] = r / 2; /* exact: the halves add up to r */
    amount[1] = r / 2;
    ts[1] = ts[0] + 30000;
    return 2;
}

static void reward_line(FILE *f, int i, long long ts, double amount)
{
    fprintf(f, "{\"schema\":\"reward.v1\",\"event_id\":\"d%d\",\"ts\":%lld,\"reward\":%.17g}\n",
            i, ts, amount);
}

typedef struct {
    long long ts;
    int i;
    double amount;
} pending;

static int by_ts(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* inline.jsonl, decisions.jsonl, rewards.jsonl (sorted by ts) and
 * mixed.jsonl (both, in ts order). */
static void write_logs(tu_cli *c)
{
    FILE *in = fopen(tu_cli_path(c, "inline.jsonl"), "w");
    FILE *dec = fopen(tu_cli_path(c, "decisions.jsonl"), "w");
    cr_assert(in && dec);
    pending *rw = malloc(2 * N * sizeof *rw);
    int n = 0;
    for (int i = 0; i < N; i++) {
        decision(in, i, true);
        decision(dec, i, false);
        long long ts[2];
        double amount[2];
        for (int k = 0, m = rewards_of(i, ts, amount); k < m; k++)
            rw[n++] = (pending){ts[k], i, amount[k]};
    }
    fclose(in);
    fclose(dec);
    qsort(rw, (size_t)n, sizeof *rw, by_ts);
    FILE *rf = fopen(tu_cli_path(c, "rewards.jsonl"), "w");
    FILE *mix = fopen(tu_cli_path(c, "mixed.jsonl"), "w");
    cr_assert(rf && mix);
    int next = 0;
    for (int i = 0; i < N; i++) {
        while (next < n && rw[next].ts < T0 + 97LL * i)
            reward_line(mix, rw[next].i, rw[next].ts, rw[next].amount), next++;
        decision(mix, i, false);
    }
    for (int k = 0; k < n; k++) {
        reward_line(rf, rw[k].i, rw[k].ts, rw[k].amount);
        if (k >= next)
            reward_line(mix, rw[k].i, rw[k].ts, rw[k].amount);
    }
    fclose(rf);
    fclose(mix);
    free(rw);
}

/* Every line of `a` but the last (the summary) equals that of `b`. */
static void expect_same_records(const char *a, const char *b)
{
    char *x = tu_read_file(a, NULL), *y = tu_read_file(b, NULL);
    cr_assert(x && y);
    char *xs = strstr(x, "{\"schema\":\"ope_run.v1\""), *ys = strstr(y, "{\"schema\":\"ope_run.v1\"");
    cr_assert(xs && ys);
    *xs = *ys = '\0';
    cr_expect(strlen(x) > 1000, "records were written");
    cr_expect_str_eq(x, y, "%s and %s differ", a, b);
    free(x);
    free(y);
}

static void run_to(tu_cli *c, const char *out, const char *const *args)
{
    const char *full[24] = {"replay", "--quiet", "--window", "10s", "--slide", "5s",
                            "--lateness", "2s", "--out", out};
    size_t n = 10;
    while (*args)
        full[n++] = *args++;
    full[n] = NULL;
    tu_cli_expect(c, full, 0, NULL);
}

Test(replay_join, split_and_interleaved_rewards_equal_inline_rewards)
{
    tu_cli c;
    tu_cli_init(&c);
    write_logs(&c);
    char a[600], b[600], m[600], dl[600];
    snprintf(a, sizeof a, "%s", tu_cli_path(&c, "a.jsonl"));
    snprintf(b, sizeof b, "%s", tu_cli_path(&c, "b.jsonl"));
    snprintf(m, sizeof m, "%s", tu_cli_path(&c, "m.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "dl.jsonl"));
    run_to(&c, a, (const char *[]){tu_cli_path(&c, "inline.jsonl"), NULL});
    run_to(&c, b, (const char *[]){"--rewards", tu_cli_path(&c, "rewards.jsonl"), "--dead-letter",
                                   dl, tu_cli_path(&c, "decisions.jsonl"), NULL});
    run_to(&c, m, (const char *[]){"--reward-wait", "10m", tu_cli_path(&c, "mixed.jsonl"), NULL});
    expect_same_records(a, b);
    expect_same_records(a, m);

    cJSON *lines = tu_read_jsonl(b);
    const cJSON *s = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    int n_rewards = 0;
    for (int i = 0; i < N; i++) {
        long long ts[2];
        double amount[2];
        n_rewards += rewards_of(i, ts, amount);
    }
    cr_expect_eq(tu_num(s, "lines_read"), N + n_rewards);
    cr_expect_eq(tu_num(s, "accepted"), N + n_rewards);
    cr_expect_eq(tu_num(s, "join.rewards_joined"), n_rewards);
    cr_expect_eq(tu_num(s, "join.rewards_orphaned"), 0);
    cr_expect_eq(tu_num(s, "join.reward_wait_ms"), 600000);
    cr_expect_gt(tu_num(s, "join.decisions_defaulted"), N / 2);
    cr_expect_str_eq(cJSON_GetArrayItem(tu_get(s, "rewards"), 0)->valuestring,
                     tu_cli_path(&c, "rewards.jsonl"));
    cJSON_Delete(lines);
    char rewards[600];
    snprintf(rewards, sizeof rewards, "%s", tu_cli_path(&c, "rewards.jsonl"));
    tu_cli_done_schemas(&c, (const char *const[]){a, b, m, rewards, NULL});
}

Test(replay_join, orphans_go_to_the_dead_letters)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *dec = tu_cli_write(
        &c, "d.jsonl",
        "{\"event_id\":\"x\",\"ts\":1000,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":"
        "\"a\",\"ev\":1}],\"action\":0,\"propensity\":1}\n");
    const char *rw = tu_cli_write(
        &c, "r.jsonl",
        "{\"schema\":\"reward.v1\",\"event_id\":\"x\",\"ts\":1500,\"reward\":3}\n"
        "{\"schema\":\"reward.v1\",\"event_id\":\"nobody\",\"ts\":1600,\"reward\":2}\n"
        "{\"schema\":\"reward.v1\",\"event_id\":\"x\",\"ts\":\"bad\",\"reward\":2}\n"
        "{\"schema\":\"reward.v1\",\"event_id\":\"x\",\"ts\":2001,\"reward\":5}\n");
    char out[600], dl[600];
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "out.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "dl.jsonl"));
    tu_cli_expect(&c,
                  (const char *[]){"replay", "--quiet", "--reward-wait", "1s", "--rewards", rw,
                                   "--dead-letter", dl, "--out", out, dec, NULL},
                  0, NULL);
    cJSON *dead = tu_read_jsonl(dl);
    cr_assert_eq(cJSON_GetArraySize(dead), 3);
    const cJSON *bad = cJSON_GetArrayItem(dead, 0);
    cr_expect_str_eq(tu_str(bad, "reason"), "wrong_type");
    cr_expect_eq(tu_num(bad, "line"), 3);
    const cJSON *o1 = cJSON_GetArrayItem(dead, 1), *o2 = cJSON_GetArrayItem(dead, 2);
    cr_expect_str_eq(tu_str(o1, "reason"), "orphan_reward");
    cr_expect_str_eq(tu_str(o1, "source"), rw);
    cr_expect_eq(tu_num(o1, "line"), 2);
    cr_expect(strstr(tu_str(o1, "raw"), "nobody"));
    cr_expect_eq(tu_num(o2, "line"), 4);
    cr_expect(strstr(tu_str(o2, "detail"), "1001 ms away"), "%s", tu_str(o2, "detail"));
    cJSON_Delete(dead);
    cJSON *lines = tu_read_jsonl(out);
    const cJSON *s = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    cr_expect_eq(tu_num(s, "lines_read"), 5);
    cr_expect_eq(tu_num(s, "accepted"), 2);
    cr_expect_eq(tu_num(s, "rejected"), 3);
    cr_expect_eq(tu_num(s, "rejected_by_reason.orphan_reward"), 2);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(lines, 0), "estimates.logged.value"), 3);
    cJSON_Delete(lines);
    tu_cli_done_schemas(&c, (const char *const[]){out, NULL});
}

Test(replay_join, the_join_is_off_unless_asked_for)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *mixed = tu_cli_write(
        &c, "m.jsonl",
        "{\"event_id\":\"x\",\"ts\":1000,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":"
        "\"a\",\"ev\":1}],\"action\":0,\"propensity\":1}\n"
        "{\"schema\":\"reward.v1\",\"event_id\":\"x\",\"ts\":1500,\"reward\":3}\n");
    tu_cli_expect(&c, (const char *[]){"replay", "--quiet", mixed, NULL}, 0, NULL);
    cJSON *lines = tu_read_jsonl(c.out);
    const cJSON *s = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    cr_expect_eq(tu_num(s, "rejected_by_reason.missing_field"), 1);
    cr_expect_eq(tu_num(s, "rejected_by_reason.unknown_schema"), 1);
    cr_expect_null(cJSON_GetObjectItem(s, "join"));
    cJSON_Delete(lines);
    tu_cli_expect(&c, (const char *[]){"replay", "--reward-wait", "soon", mixed, NULL}, 2,
                  "--reward-wait");
    tu_cli_expect(&c, (const char *[]){"replay", "--rewards", "/nonexistent/r.jsonl", mixed, NULL},
                  1, "/nonexistent/r.jsonl");
    tu_cli_done(&c);
}
