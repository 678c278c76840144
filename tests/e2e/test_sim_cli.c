/*
 * test_sim_cli.c — `giftope sim` as a user runs it: reproducible logs that
 * replay accepts in full, exact propensities and V_static, common random
 * numbers across policies, several seeds in one log, the summary line and
 * its schema, and the exit statuses of usage (2) and I/O (1) errors.
 * Worlds are small (a world.v1 file over giftlive-v2) so each test is fast.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "gope_common.h"
#include "testutil.h"

typedef struct {
    tu_cli cli;
    char world[600]; /* the tiny world.v1 file */
    char log[600];   /* dir/log.jsonl, for tests with one log */
} sim_ctx;

static void ctx_init(sim_ctx *c)
{
    static const char tiny[] =
        "{\"base\":\"giftlive-v2\",\"name\":\"tiny\",\"users\":{\"count\":300},"
        "\"streamers\":{\"count\":20},\"time\":{\"round_users\":30}}";
    tu_cli_init(&c->cli);
    snprintf(c->world, sizeof c->world, "%s", tu_cli_write(&c->cli, "world.json", tiny));
    snprintf(c->log, sizeof c->log, "%s", tu_cli_path(&c->cli, "log.jsonl"));
}

/* `giftope sim` on the tiny world; the summary line is returned parsed. */
static cJSON *sim(const sim_ctx *c, const char *policy, const char *seed, const char *decisions,
                  const char *log)
{
    const char *args[] = {"sim", "--world", c->world, "--policy", policy, "--seed", seed,
                          "--decisions", decisions, "--out", log, NULL};
    tu_cli_expect(&c->cli, args, 0, NULL);
    cJSON *lines = tu_read_jsonl(c->cli.out);
    cr_assert(lines && cJSON_GetArraySize(lines) == 1, "one summary line on stdout");
    cJSON *s = cJSON_DetachItemFromArray(lines, 0);
    cJSON_Delete(lines);
    return s;
}

/* `sim` into c->log; *lines is the log, parsed. */
static cJSON *sim_lines(const sim_ctx *c, const char *policy, const char *seed,
                        const char *decisions, cJSON **lines)
{
    cJSON *s = sim(c, policy, seed, decisions, c->log);
    *lines = tu_read_jsonl(c->log);
    cr_assert(*lines, "%s is not JSON lines", c->log);
    return s;
}

static bool same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = tu_read_file(a, &na), *y = tu_read_file(b, &nb);
    cr_assert(x && y);
    bool same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

Test(sim_cli, same_seed_same_bytes_other_seed_differs)
{
    sim_ctx c;
    ctx_init(&c);
    cJSON_Delete(sim(&c, "softmax", "5", "1500", tu_cli_path(&c.cli, "a.jsonl")));
    cJSON_Delete(sim(&c, "softmax", "5", "1500", tu_cli_path(&c.cli, "b.jsonl")));
    cJSON_Delete(sim(&c, "softmax", "6", "1500", tu_cli_path(&c.cli, "c.jsonl")));
    cJSON_Delete(sim(&c, "softmax", "5", "1500", tu_cli_path(&c.cli, "a.jsonl.zst")));
    cJSON_Delete(sim(&c, "softmax", "5", "1500", tu_cli_path(&c.cli, "b.jsonl.zst")));
    cr_expect(same_file(tu_cli_path(&c.cli, "a.jsonl"), tu_cli_path(&c.cli, "b.jsonl")));
    cr_expect(!same_file(tu_cli_path(&c.cli, "a.jsonl"), tu_cli_path(&c.cli, "c.jsonl")));
    cr_expect(same_file(tu_cli_path(&c.cli, "a.jsonl.zst"), tu_cli_path(&c.cli, "b.jsonl.zst")));
    tu_cli_done(&c.cli);
}

/* replay's run summary of `log`: every line read must be accepted. */
static void expect_replay_accepts(const sim_ctx *c, const char *log, double lines)
{
    const char *args[] = {"replay", "--quiet", log, NULL};
    tu_cli_expect(&c->cli, args, 0, NULL);
    cJSON *out = tu_read_jsonl(c->cli.out);
    cr_assert(out);
    const cJSON *run = cJSON_GetArrayItem(out, cJSON_GetArraySize(out) - 1);
    cr_expect_str_eq(tu_str(run, "schema"), "ope_run.v1");
    cr_expect_eq(tu_num(run, "lines_read"), lines, "%s", log);
    cr_expect_eq(tu_num(run, "accepted"), lines, "%s", log);
    cr_expect_eq(tu_num(run, "rejected"), 0, "%s", log);
    cr_expect_eq(tu_num(run, "late"), 0, "%s", log);
    cJSON_Delete(out);
}

Test(sim_cli, replay_accepts_every_line_plain_and_zstd)
{
    sim_ctx c;
    ctx_init(&c);
    cJSON_Delete(sim(&c, "eps_greedy", "1", "2000", c.log));
    cJSON_Delete(sim(&c, "eps_greedy", "1", "2000", tu_cli_path(&c.cli, "log.jsonl.zst")));
    expect_replay_accepts(&c, c.log, 2000);
    expect_replay_accepts(&c, tu_cli_path(&c.cli, "log.jsonl.zst"), 2000);
    tu_cli_done(&c.cli);
}

/* A stateful allocator as the logging policy: its shadow prices are in
 * every line, its name is the logging_policy, and replay takes it all. */
Test(sim_cli, allocator_spec_logs_its_prices)
{
    sim_ctx c;
    ctx_init(&c);
    cJSON *lines, *s = sim_lines(&c, "shadow_price_online:eta=0.05", "4", "600", &lines);
    cr_expect_str_eq(tu_str(s, "policy"), "shadow_price_online:eta=0.05");
    for (const cJSON *ev = lines->child; ev; ev = ev->next) {
        cr_assert_str_eq(tu_str(ev, "logging_policy"), "shadow_price_online");
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(ev, "lambda_values");
        cr_assert(cJSON_IsObject(lv) && cJSON_GetArraySize(lv) == 4);
        cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lv, "capacity")));
    }
    expect_replay_accepts(&c, c.log, 600);
    cJSON_Delete(lines);
    cJSON_Delete(s);
    tu_cli_done(&c.cli);
}

/* Per line: propensity is probs[action] exactly, probs sum to 1; and the
 * mean of sum_j probs_j true_ev_j over the log is the summary's v_static. */
Test(sim_cli, propensities_exact_and_v_static_from_the_log)
{
    sim_ctx c;
    ctx_init(&c);
    cJSON *lines, *s = sim_lines(&c, "softmax", "3", "2000", &lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 2000);
    gope_ksum v = {0, 0};
    int line = 0;
    for (const cJSON *ev = lines->child; ev; ev = ev->next, line++) {
        const cJSON *probs = cJSON_GetObjectItemCaseSensitive(ev, "probs");
        const cJSON *cands = cJSON_GetObjectItemCaseSensitive(ev, "candidates");
        cr_assert_eq(cJSON_GetArraySize(probs), cJSON_GetArraySize(cands));
        const int a = (int)tu_num(ev, "action");
        cr_expect_eq(tu_num(ev, "propensity"), cJSON_GetArrayItem(probs, a)->valuedouble,
                     "line %d", line + 1);
        gope_ksum sum = {0, 0}, vs = {0, 0};
        const cJSON *p = probs->child;
        for (const cJSON *cand = cands->child; cand; cand = cand->next, p = p->next) {
            gope_ksum_add(&sum, p->valuedouble);
            gope_ksum_add(&vs, p->valuedouble * tu_num(cand, "true_ev"));
        }
        cr_expect_lt(fabs(gope_ksum_value(&sum) - 1), 1e-12, "line %d", line + 1);
        gope_ksum_add(&v, gope_ksum_value(&vs));
        cr_expect_str_eq(tu_str(ev, "logging_policy"), "softmax");
    }
    const double want = tu_num(s, "v_static"), got = gope_ksum_value(&v) / 2000;
    cr_expect_lt(fabs(got - want), 1e-12 * want, "v_static %.17g from the log, %.17g in summary",
                 got, want);
    cJSON_Delete(lines);
    cJSON_Delete(s);
    tu_cli_done(&c.cli);
}

/* Common random numbers: two policies on one seed see the same arrivals. */
Test(sim_cli, policies_on_one_seed_share_users_and_times)
{
    sim_ctx c;
    ctx_init(&c);
    cJSON_Delete(sim(&c, "greedy", "9", "1000", tu_cli_path(&c.cli, "g.jsonl")));
    cJSON_Delete(sim(&c, "softmax", "9", "1000", tu_cli_path(&c.cli, "s.jsonl")));
    cJSON *g = tu_read_jsonl(tu_cli_path(&c.cli, "g.jsonl"));
    cJSON *s = tu_read_jsonl(tu_cli_path(&c.cli, "s.jsonl"));
    cr_assert(g && s);
    cr_assert_eq(cJSON_GetArraySize(g), 1000);
    cr_assert_eq(cJSON_GetArraySize(s), 1000);
    int differ = 0;
    for (const cJSON *x = g->child, *y = s->child; x && y; x = x->next, y = y->next) {
        cr_expect_str_eq(tu_str(x, "event_id"), tu_str(y, "event_id"));
        cr_expect_eq(tu_num(x, "ts"), tu_num(y, "ts"));
        cr_expect_str_eq(tu_str(x, "user_id"), tu_str(y, "user_id"));
        differ += tu_num(x, "action") != tu_num(y, "action");
    }
    cr_expect_gt(differ, 100, "the policies choose differently (%d of 1000)", differ);
    cJSON_Delete(g);
    cJSON_Delete(s);
    tu_cli_done(&c.cli);
}

/* --seeds 3: one log, ids per seed, ts restarting with every seed; the
 * summary counts them all; the summary goes to stderr when the log is on
 * stdout. */
Test(sim_cli, seeds_run_one_after_another_into_one_log)
{
    sim_ctx c;
    ctx_init(&c);
    const char *args[] = {"sim", "--world", c.world, "--policy", "eps_greedy", "--seeds", "3",
                          "--seed", "40", "--decisions", "500", "--out", "-", NULL};
    cr_assert_eq(tu_run(args, NULL, NULL, c.log, c.cli.err), 0);
    cJSON *lines = tu_read_jsonl(c.log), *err = tu_read_jsonl(c.cli.err);
    cr_assert(lines && err);
    cr_assert_eq(cJSON_GetArraySize(lines), 1500);
    cr_assert_eq(cJSON_GetArraySize(err), 1);
    const cJSON *s = err->child;
    cr_expect_str_eq(tu_str(s, "schema"), "sim_run.v1");
    cr_expect_str_eq(tu_str(s, "world"), "tiny");
    cr_expect_str_eq(tu_str(s, "out"), "-");
    cr_expect_eq(tu_num(s, "seeds"), 3);
    cr_expect_eq(tu_num(s, "seed"), 40);
    cr_expect_eq(tu_num(s, "decisions"), 500);
    cr_expect_eq(tu_num(s, "total_decisions"), 1500);
    double revenue = 0, gifts = 0, prev_ts = 0;
    int restarts = 0, i = 0;
    for (const cJSON *ev = lines->child; ev; ev = ev->next, i++) {
        char id[64];
        snprintf(id, sizeof id, "sim-%d-%d", 40 + i / 500, i % 500);
        cr_expect_str_eq(tu_str(ev, "event_id"), id);
        restarts += i > 0 && tu_num(ev, "ts") < prev_ts;
        prev_ts = tu_num(ev, "ts");
        revenue += tu_num(ev, "reward");
        gifts += tu_num(ev, "reward") > 0;
    }
    cr_expect_eq(restarts, 2, "ts starts over with each seed");
    cr_expect_eq(tu_num(s, "gifts"), gifts);
    cr_expect_lt(fabs(tu_num(s, "revenue") - revenue), 1e-9 * (1 + revenue));
    cr_expect_lt(fabs(tu_num(s, "gift_rate") - gifts / 1500), 1e-15);
    expect_replay_accepts(&c, c.log, 1500);
    cJSON_Delete(lines);
    cJSON_Delete(err);
    tu_cli_done(&c.cli);
}

/* The log's lines and the summary against their JSON Schemas (python3
 * jsonschema; skipped where it is missing). */
Test(sim_cli, log_and_summary_match_their_schemas)
{
    sim_ctx c;
    ctx_init(&c);
    cJSON_Delete(sim(&c, "coldstart", "2", "300", c.log));
    const char *files[] = {c.log, c.cli.out, NULL};
    tu_cli_done_schemas(&c.cli, files);
}

Test(sim_cli, usage_errors_exit_2_naming_the_problem)
{
    sim_ctx c;
    ctx_init(&c);
    const char *log = tu_cli_path(&c.cli, "x.jsonl"), *w = c.world;
    const char *none = tu_cli_path(&c.cli, "none.json");
    const struct {
        const char *args[10];
        const char *needle;
    } cases[] = {
        {{"sim", "--world", "no-such-world", "--policy", "greedy", "--out", log, NULL},
         "unknown world preset \"no-such-world\""},
        {{"sim", "--world", w, "--policy", "best", "--out", log, NULL},
         "unknown policy or allocator \"best\" (policies: greedy,"},
        {{"sim", "--world", w, "--policy", "whale_matching:q=1", "--out", log, NULL},
         "whale_matching"},
        {{"sim", "--world", w, "--policy", "greedy", NULL}, "--out LOG is required"},
        {{"sim", "--out", log, NULL}, "--policy SPEC is required"},
        {{"sim", "--policy", "greedy", "--decisions", "0", "--out", log, NULL},
         "--decisions: '0' is not an integer"},
        {{"sim", "--policy", "greedy", "--decisions", "1e3", "--out", log, NULL},
         "--decisions: '1e3' is not an integer"},
        {{"sim", "--policy", "greedy", "--seeds", "-1", "--out", log, NULL}, "--seeds: '-1'"},
        {{"sim", "--policy", "greedy", "--out", log, "more", NULL}, "unexpected argument"},
        {{"sim", "--polcy", "greedy", NULL}, "unknown option '--polcy'"},
        {{"sim", "--policy", "greedy", "--policies", none, "--out", log, NULL}, "none.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tu_cli_expect(&c.cli, cases[i].args, 2, cases[i].needle);
    cr_expect(!tu_read_file(log, NULL), "no log is created on a usage error");
    const char *help[] = {"sim", "--help", NULL};
    tu_cli_expect(&c.cli, help, 0, NULL);
    char *text = tu_read_file(c.cli.out, NULL);
    cr_assert(text);
    cr_expect(strstr(text, "ts restarts") && strstr(text, "--decisions N"), "%s", text);
    free(text);
    tu_cli_done(&c.cli);
}

Test(sim_cli, unwritable_out_exits_1)
{
    sim_ctx c;
    ctx_init(&c);
    const char *missing_dir[] = {"sim", "--world", c.world, "--policy", "greedy", "--decisions",
                                 "10", "--out", tu_cli_path(&c.cli, "no/such/dir.jsonl"), NULL};
    tu_cli_expect(&c.cli, missing_dir, 1, "no/such/dir.jsonl: cannot open for writing");
    const char *full[] = {"sim", "--world", c.world, "--policy", "greedy", "--decisions", "10",
                          "--out", "/dev/full", NULL};
    tu_cli_expect(&c.cli, full, 1, "/dev/full: write failed: No space left on device");
    char *out = tu_read_file(c.cli.out, NULL);
    cr_expect(out && !*out, "no summary after a failed run: %s", out);
    free(out);
    tu_cli_done(&c.cli);
}
