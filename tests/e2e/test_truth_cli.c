/*
 * test_truth_cli.c — `giftope truth` as a user runs it: usage errors (2) and
 * input faults (1) with their messages, the output loaded by the agreement
 * reader and checked against schemas/truth.v1.schema.json (python3
 * jsonschema via validate_schema.py, skipped where it is missing),
 * determinism, the logging policy taken from the log, rejected log lines,
 * V_online against `giftope sim` on the same seed, and the whole loop
 * sim -> replay -> truth --log -> agree through the binary.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "gope_ope.h"
#include "testutil.h"

/* giftlive-v2 at test size */
#define WORLD                                                                                  \
    "{\"users\":{\"count\":300},\"streamers\":{\"count\":20},\"time\":{\"round_users\":30}}"

#define POLICIES                                                                               \
    "[{\"name\":\"greedy\",\"select\":\"greedy\"},{\"name\":\"uniform\",\"select\":\"uniform\"}," \
    "{\"name\":\"soft\",\"select\":\"softmax\",\"temperature\":0.5}]"

/* alloc.v1 lines with true_ev, as `giftope sim` writes them */
#define LINE(id, tev_b, extra)                                                                 \
    "{\"event_id\":\"" id "\",\"ts\":1000,\"user_id\":\"u1\",\"candidates\":["                 \
    "{\"streamer_id\":\"a\",\"ev\":1,\"true_ev\":0.5},"                                        \
    "{\"streamer_id\":\"b\",\"ev\":2" tev_b "}],"                                              \
    "\"action\":1,\"propensity\":0.5,\"reward\":0,\"probs\":[0.5,0.5]" extra "}\n"
#define GOOD(id) LINE(id, ",\"true_ev\":3", ",\"logging_policy\":\"uniform\"")

/* The CLI scaffolding, and the world and policies files every test uses. */
typedef struct {
    tu_cli t;
    char world[600], policies[600];
} run_ctx;

static void ctx_init(run_ctx *c)
{
    tu_cli_init(&c->t);
    snprintf(c->world, sizeof c->world, "%s", tu_cli_write(&c->t, "world.json", WORLD));
    snprintf(c->policies, sizeof c->policies, "%s", tu_cli_write(&c->t, "policies.json", POLICIES));
}

Test(truth_cli, usage_errors_exit_2_with_a_message)
{
    run_ctx c;
    ctx_init(&c);
    const char *w = c.world, *p = c.policies;
    const char *log = tu_cli_write(&c.t, "log.jsonl", GOOD("e1"));
    const char *nolp = tu_cli_write(&c.t, "nolp.jsonl", LINE("e1", ",\"true_ev\":3", ""));
    const char *whale = tu_cli_write(&c.t, "whale.jsonl",
                                     LINE("e1", ",\"true_ev\":3",
                                          ",\"logging_policy\":\"whale_matching\""));
    struct {
        const char *args[16];
        const char *needle;
    } cases[] = {
        {{"truth", "--logging", "greedy", "--decisions", "5", "--seeds", "1", NULL},
         "--world PRESET|FILE is required"},
        {{"truth", "--world", w, "--logging", "greedy", "--seeds", "1", NULL},
         "--decisions is required"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", NULL},
         "--seeds is required"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "0", NULL},
         "--seeds: '0' is not an integer in [1, 1000000]"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "x3", NULL},
         "--seeds: 'x3' is not an integer"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "-1", NULL},
         "--seeds: '-1' is not an integer"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "2x",
          NULL},
         "--seeds: '2x' is not an integer"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds",
          "1000001", NULL},
         "is not an integer in [1, 1000000]"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "0", "--seeds", "1", NULL},
         "--decisions: '0' is not an integer"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "1",
          "--jobs", "0", NULL},
         "--jobs: '0' is not an integer in [1, 1024]"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "2",
          "--seed", "18446744073709551615", NULL},
         "--seed: '18446744073709551615' is not an integer in [0, 18446744073709551614]"},
        {{"truth", "--world", w, "--logging", "nobody", "--decisions", "5", "--seeds", "1", NULL},
         "truth: logging: unknown policy or allocator \"nobody\" (policies: greedy, ucb, lcb, "
         "softmax"},
        {{"truth", "--world", w, "--policies", p, "--logging", "ucb", "--decisions", "5",
          "--seeds", "1", NULL},
         "unknown policy or allocator \"ucb\" (policies: greedy, uniform, soft; allocators: "
         "shadow_price_online, whale_matching, frequency_cap)"},
        {{"truth", "--world", w, "--decisions", "5", "--seeds", "1", NULL},
         "--logging SPEC is required"},
        {{"truth", "--world", w, "--policies", p, "--log", nolp, "--decisions", "5", "--seeds",
          "1", NULL},
         "--logging SPEC is required (the log's first line names no logging_policy)"},
        {{"truth", "--world", w, "--policies", p, "--log", whale, "--decisions", "5", "--seeds",
          "1", NULL},
         "was written by the allocator whale_matching, which is not a policy of the set: give "
         "its spec with --logging"},
        {{"truth", "--world", w, "--policies", p, "--log", log, "--logging", "whale_matching:k=2",
          "--decisions", "5", "--seeds", "1", NULL},
         "--logging whale_matching:k=2, but"},
        {{"truth", "--world", w, "--logging", "whale_matching:k=0", "--decisions", "5", "--seeds",
          "1", NULL},
         "truth: logging: allocator whale_matching: k: 0 is outside [1, 1e+06]"},
        {{"truth", "--world", w, "--logging", "greedy", "--allocators", "whale_matching;;x",
          "--decisions", "5", "--seeds", "1", NULL},
         "--allocators: spec 2 of 'whale_matching;;x' is empty (specs are separated by ';')"},
        {{"truth", "--world", w, "--logging", "greedy", "--allocators", "frequency_cap;",
          "--decisions", "5", "--seeds", "1", NULL},
         "--allocators: spec 2 of 'frequency_cap;' is empty"},
        {{"truth", "--world", w, "--logging", "greedy", "--allocators", "frequency_cap;ucb",
          "--decisions", "5", "--seeds", "1", NULL},
         "truth: allocators[1]: \"ucb\" is not a stateful allocator"},
        {{"truth", "--world", w, "--logging", "greedy", "--allocators", "frequency_cap:cap=x",
          "--decisions", "5", "--seeds", "1", NULL},
         "truth: allocators[0]: allocator frequency_cap: cap: \"x\" is not an integer"},
        {{"truth", "--world", w, "--policies", p, "--log", log, "--logging", "greedy",
          "--decisions", "5", "--seeds", "1", NULL},
         "--logging greedy, but"},
        {{"truth", "--world", w, "--policies", p, "--log", "-", "--decisions", "5", "--seeds",
          "1", NULL},
         "--log: a file is needed"},
        {{"truth", "--world", "no-such-preset", "--logging", "greedy", "--decisions", "5",
          "--seeds", "1", NULL},
         "no-such-preset"},
        {{"truth", "--world", w, "--policies", "/nonexistent.json", "--logging", "greedy",
          "--decisions", "5", "--seeds", "1", NULL},
         "/nonexistent.json"},
        {{"truth", "--world", w, "--logging", "greedy", "--decisions", "5", "--seeds", "1",
          "--out", "/nonexistent/t.jsonl", NULL},
         "/nonexistent/t.jsonl: cannot open for writing"},
        {{"truth", "--world", w, "extra", NULL}, "unexpected argument"},
        {{"truth", "--bogus", NULL}, "unknown option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tu_cli_expect(&c.t, cases[i].args, 2, cases[i].needle);
    /* the mismatch message names both policies and the log */
    const char *mismatch[] = {"truth", "--world", w, "--policies", p, "--log", log,
                              "--logging", "soft", "--decisions", "5", "--seeds", "1", NULL};
    tu_cli_expect(&c.t, mismatch, 2, "was written by uniform");
    tu_cli_done(&c.t);
}

Test(truth_cli, input_faults_exit_1_naming_file_and_line)
{
    run_ctx c;
    ctx_init(&c);
    const char *bad = tu_cli_write(&c.t, "bad.jsonl", GOOD("e1") GOOD("e2") LINE("e3", "", ""));
    const char *args[] = {"truth", "--world", c.world, "--policies", c.policies, "--log", bad,
                          "--decisions", "5", "--seeds", "1", "--out", tu_cli_path(&c.t, "t.jsonl"),
                          NULL};
    tu_cli_expect(&c.t, args, 1, "bad.jsonl:3: candidates[1].true_ev: missing");
    char *t = tu_read_file(tu_cli_path(&c.t, "t.jsonl"), NULL);
    cr_expect(!t || !*t, "no output after an input fault");
    free(t);
    const char *none = tu_cli_write(&c.t, "none.jsonl", "{}\n");
    const char *empty[] = {"truth", "--world", c.world, "--policies", c.policies, "--log", none,
                           "--logging", "soft", "--decisions", "5", "--seeds", "1", NULL};
    tu_cli_expect(&c.t, empty, 1, "none.jsonl: no valid decision to compute V_static on");
    const char *missing[] = {"truth", "--world", c.world, "--log", "/nonexistent/log.jsonl",
                             "--logging", "greedy", "--decisions", "5", "--seeds", "1", NULL};
    tu_cli_expect(&c.t, missing, 1, "/nonexistent/log.jsonl");
    tu_cli_done(&c.t);
}

Test(truth_cli, output_loads_validates_and_repeats)
{
    run_ctx c;
    ctx_init(&c);
    const char *log = tu_cli_write(&c.t, "log.jsonl", GOOD("e1") "garbage\n" GOOD("e2"));
    const char *a = tu_cli_path(&c.t, "a.jsonl");
    const char *args[] = {"truth", "--world", c.world, "--policies", c.policies, "--log", log,
                          "--decisions", "60", "--seeds", "3", "--seed", "11", "--out", a,
                          NULL};
    tu_cli_expect(&c.t, args, 0,
                  "log.jsonl: 1 of 3 lines rejected, V_static averages the 2 accepted "
                  "(first: line 2: invalid_json");
    gope_truth_t *t = NULL;
    gope_err err;
    cr_assert_eq(gope_truth_load(a, &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(gope_truth_logging(t)->policy, "uniform", "taken from the log");
    cr_expect_eq(gope_truth_find(t, "greedy")->v_static, 3);
    cr_expect_eq(gope_truth_find(t, "uniform")->v_static, 1.75);
    cr_expect_eq(gope_truth_meta_get(t)->seeds, 3);
    cr_expect_str_eq(gope_truth_meta_get(t)->log, log);
    gope_truth_free(t);

    /* without a log: v_static and log_read are null */
    const char *b = tu_cli_path(&c.t, "b.jsonl");
    const char *online[] = {"truth", "--world", c.world, "--logging", "softmax", "--decisions",
                            "30", "--seeds", "1", "--out", b, NULL};
    tu_cli_expect(&c.t, online, 0, NULL);
    const char *files[] = {a, b, NULL};
    const int rc = tu_validate_schema(files, false);
    if (rc == 77)
        cr_skip_test("python3 jsonschema is not installed");
    cr_expect_eq(rc, 0, "schema validation failed (see stdout)");

    /* the same arguments give the same bytes, also on stdout and on three
     * threads; --quiet is quiet */
    const char *again[] = {"truth", "--world", c.world, "--policies", c.policies, "--log", log,
                           "--decisions", "60", "--seeds", "3", "--seed", "11", "--quiet",
                           "--jobs", "3", NULL};
    tu_cli_expect(&c.t, again, 0, NULL);
    char *x = tu_read_file(a, NULL), *y = tu_read_file(c.t.out, NULL);
    char *e = tu_read_file(c.t.err, NULL);
    cr_assert(x && y && e);
    cr_expect_str_eq(x, y);
    cr_expect_str_eq(e, "", "--quiet: nothing on stderr");
    free(x);
    free(y);
    free(e);
    tu_cli_done(&c.t);
}

Test(truth_cli, help_and_registration)
{
    run_ctx c;
    ctx_init(&c);
    const char *help[] = {"truth", "--help", NULL};
    tu_cli_expect(&c.t, help, 0, NULL);
    char *out = tu_read_file(c.t.out, NULL);
    cr_assert(out);
    cr_expect(strstr(out, "usage: giftope truth") && strstr(out, "--log LOG") &&
              strstr(out, "--seed BASE"));
    free(out);
    const char *top[] = {"--help", NULL};
    tu_cli_expect(&c.t, top, 0, NULL);
    out = tu_read_file(c.t.out, NULL);
    cr_assert(out);
    cr_expect(strstr(out, "  truth "), "giftope --help lists truth");
    free(out);
    tu_cli_done(&c.t);
}

/* ----------------------------------------------- with `giftope sim` logs */

/* On one seed, V_online of the logging policy is the sim run's revenue per
 * decision, and its V_static on the sim's log is the run's v_static. */
Test(truth_cli, one_seed_matches_giftope_sim)
{
    run_ctx c;
    ctx_init(&c);
    const char *log = tu_cli_path(&c.t, "log.jsonl");
    const char *sim[] = {"sim", "--world", c.world, "--policies", c.policies, "--policy", "soft",
                         "--decisions", "400", "--seeds", "1", "--seed", "8", "--out", log,
                         NULL};
    tu_cli_expect(&c.t, sim, 0, NULL);
    cJSON *summary = tu_read_jsonl(c.t.out);
    cr_assert(summary);
    const cJSON *s = cJSON_GetArrayItem(summary, 0);
    cr_assert_str_eq(tu_get(s, "schema")->valuestring, "sim_run.v1");

    const char *truth = tu_cli_path(&c.t, "truth.jsonl");
    const char *args[] = {"truth", "--world", c.world, "--policies", c.policies, "--log", log,
                          "--decisions", "400", "--seeds", "1", "--seed", "8", "--out", truth,
                          NULL};
    tu_cli_expect(&c.t, args, 0, NULL);
    cJSON *lines = tu_read_jsonl(truth);
    cr_assert(lines);
    const cJSON *soft = cJSON_GetArrayItem(lines, 2);
    cr_expect_str_eq(tu_get(soft, "policy")->valuestring, "soft");
    cr_expect(cJSON_IsTrue(tu_get(soft, "logging")), "the log's logging_policy");
    cr_expect_eq(tu_num(soft, "v_online.mean"), tu_num(s, "v_static"),
                 "truth %.17g, sim %.17g", tu_num(soft, "v_online.mean"), tu_num(s, "v_static"));
    cr_expect_eq(tu_num(soft, "v_online_realized.mean"), tu_num(s, "revenue_per_decision"),
                 "truth %.17g, sim %.17g", tu_num(soft, "v_online_realized.mean"),
                 tu_num(s, "revenue_per_decision"));
    const double vs = tu_num(soft, "v_static.value"), want = tu_num(s, "v_static");
    cr_expect(fabs(vs - want) <= 1e-12 * fabs(want), "V_static %.17g, sim %.17g", vs, want);
    cr_expect_eq(tu_num(soft, "v_static.n"), 400);
    cJSON_Delete(summary);
    cJSON_Delete(lines);
    tu_cli_done(&c.t);
}

/* sim -> replay -> truth --log -> agree, through the binary, on a small
 * world: every exit status 0, every record a verdict. */
Test(truth_cli, full_loop_sim_replay_truth_agree)
{
    run_ctx c;
    ctx_init(&c);
    const char *log = tu_cli_path(&c.t, "log.jsonl.zst"), *ope = tu_cli_path(&c.t, "ope.jsonl");
    const char *truth = tu_cli_path(&c.t, "truth.jsonl"), *agree = tu_cli_path(&c.t, "agree.jsonl");
    const char *sim[] = {"sim", "--world", c.world, "--policy", "eps_greedy", "--decisions",
                         "1500", "--seeds", "2", "--out", log, NULL};
    tu_cli_expect(&c.t, sim, 0, NULL);
    const char *replay[] = {"replay", "--quiet", "--out", ope, log, NULL};
    tu_cli_expect(&c.t, replay, 0, NULL);
    const char *tr[] = {"truth", "--world", c.world, "--log", log, "--decisions", "1500",
                        "--seeds", "2", "--quiet", "--out", truth, NULL};
    tu_cli_expect(&c.t, tr, 0, NULL);
    const char *ag[] = {"agree", "--metrics", ope, "--truth", truth, "--json", "--out", agree,
                        NULL};
    tu_cli_expect(&c.t, ag, 0, NULL);

    cJSON *records = tu_read_jsonl(agree), *lines = tu_read_jsonl(truth);
    cr_assert(records && lines);
    const int n = cJSON_GetArraySize(records);
    cr_assert_eq(n, 9, "8 default policies and the summary");
    for (int i = 0; i < n - 1; i++) {
        const cJSON *r = cJSON_GetArrayItem(records, i);
        const char *v = tu_get(r, "verdict")->valuestring;
        cr_expect(strcmp(v, "launch") == 0 || strcmp(v, "review") == 0 ||
                      strcmp(v, "block") == 0 || strcmp(v, "baseline") == 0,
                  "verdict %s", v);
        cr_expect(cJSON_IsNumber(tu_get(r, "truth.v_static")), "every policy has V_static");
    }
    const cJSON *run = cJSON_GetArrayItem(records, n - 1);
    cr_expect_eq(tu_num(run, "records"), 8);
    cr_expect_str_eq(tu_get(run, "logging_policy")->valuestring, "eps_greedy");
    const cJSON *tr_run = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    cr_expect_eq(tu_num(tr_run, "log_read.accepted"), 3000, "both seeds' decisions");
    cr_expect_eq(tu_num(tr_run, "log_read.rejected"), 0);
    cJSON_Delete(records);
    cJSON_Delete(lines);
    tu_cli_done(&c.t);
}

/* ------------------------------------------------ stateful allocators */

#define MORE "frequency_cap:cap=1,cooldown=60;shadow_price_online"

/* A log from `giftope sim --policy whale_matching:k=2`: truth gives the
 * allocator the first line, its V_static the sim run's v_static and its
 * V_online the run's revenue per decision; the set's policies are paired
 * against it; --allocators lines have no V_static; the schema holds; and
 * agree takes the file, the allocator lines having no OPE record. */
Test(truth_cli, allocator_logging_matches_giftope_sim)
{
    run_ctx c;
    ctx_init(&c);
    /* whales enough that the matching is not greedy */
    snprintf(c.world, sizeof c.world, "%s",
             tu_cli_write(&c.t, "whales.json",
                          "{\"users\":{\"count\":300,\"whale_frac\":0.3},"
                          "\"streamers\":{\"count\":20},\"time\":{\"round_users\":30}}"));
    const char *log = tu_cli_path(&c.t, "log.jsonl.zst"), *ope = tu_cli_path(&c.t, "ope.jsonl");
    const char *truth = tu_cli_path(&c.t, "truth.jsonl"), *agree = tu_cli_path(&c.t, "agree.jsonl");
    const char *sim[] = {"sim", "--world", c.world, "--policies", c.policies, "--policy",
                         "whale_matching:k=2", "--decisions", "400", "--seeds", "2", "--seed",
                         "8", "--out", log, NULL};
    tu_cli_expect(&c.t, sim, 0, NULL);
    cJSON *summary = tu_read_jsonl(c.t.out);
    cr_assert(summary);
    const cJSON *s = cJSON_GetArrayItem(summary, 0);
    const char *args[] = {"truth", "--world", c.world, "--policies", c.policies, "--log", log,
                          "--logging", "whale_matching:k=2", "--allocators", MORE,
                          "--decisions", "400", "--seeds", "2", "--seed", "8", "--out", truth,
                          NULL};
    tu_cli_expect(&c.t, args, 0, NULL);
    cJSON *lines = tu_read_jsonl(truth);
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 1 + 3 + 2 + 1);

    const cJSON *wl = cJSON_GetArrayItem(lines, 0);
    cr_expect_str_eq(tu_str(wl, "policy"), "whale_matching");
    cr_expect_str_eq(tu_str(wl, "spec"), "whale_matching:k=2");
    cr_expect(cJSON_IsTrue(tu_get(wl, "logging")));
    const double vs = tu_num(wl, "v_static.value"), want = tu_num(s, "v_static");
    cr_expect(fabs(vs - want) <= 1e-12 * fabs(want), "V_static %.17g, sim %.17g", vs, want);
    cr_expect_eq(tu_num(wl, "v_static.n"), 800);
    cr_expect(tu_close(tu_num(wl, "v_online.mean"), tu_num(s, "v_static")), "truth %.17g, sim %.17g",
              tu_num(wl, "v_online.mean"), tu_num(s, "v_static"));
    cr_expect(tu_close(tu_num(wl, "v_online_realized.mean"), tu_num(s, "revenue_per_decision")),
              "truth %.17g, sim %.17g", tu_num(wl, "v_online_realized.mean"),
              tu_num(s, "revenue_per_decision"));
    const char *set[] = {"greedy", "uniform", "soft"};
    for (int i = 0; i < 3; i++) {
        const cJSON *l = cJSON_GetArrayItem(lines, 1 + i);
        cr_expect_str_eq(tu_str(l, "policy"), set[i]);
        cr_expect(cJSON_IsFalse(tu_get(l, "logging")));
        cr_expect_neq(tu_num(l, "v_static.value"), vs, "%s is not the allocator", set[i]);
        cr_expect(tu_close(tu_num(l, "vs_logging.v_online.mean"),
                           tu_num(l, "v_online.mean") - tu_num(wl, "v_online.mean")),
                  "%s is paired against the allocator", set[i]);
        cr_expect_eq(tu_num(l, "vs_logging.v_online.n"), 2);
    }
    const char *more[] = {"frequency_cap:cap=1,cooldown=60", "shadow_price_online"};
    for (int i = 0; i < 2; i++) {
        const cJSON *l = cJSON_GetArrayItem(lines, 4 + i);
        cr_expect_str_eq(tu_str(l, "policy"), more[i]);
        cr_expect(cJSON_IsNull(tu_get(l, "v_static")), "%s: simulated only", more[i]);
        cr_expect(cJSON_IsNumber(tu_get(l, "vs_logging.v_online.mean")));
    }
    cr_expect_str_eq(tu_str(cJSON_GetArrayItem(lines, 6), "logging_policy"), "whale_matching");

    /* agree: a record per OPE-evaluated policy, none for the allocators */
    const char *replay[] = {"replay", "--quiet", "--policies", c.policies, "--out", ope, log, NULL};
    tu_cli_expect(&c.t, replay, 0, NULL);
    const char *ag[] = {"agree", "--metrics", ope, "--truth", truth, "--json", "--out", agree,
                        NULL};
    tu_cli_expect(&c.t, ag, 0, NULL);
    cJSON *records = tu_read_jsonl(agree);
    cr_assert(records);
    const int n = cJSON_GetArraySize(records);
    cr_expect_eq(n, 3 + 1, "the set's 3 policies and the summary");
    for (int i = 0; i < n - 1; i++) {
        const cJSON *r = cJSON_GetArrayItem(records, i);
        cr_expect_str_eq(tu_str(r, "logging_policy"), "whale_matching");
        cr_expect(cJSON_IsNumber(tu_get(r, "truth.v_static")));
    }
    const char *files[] = {truth, agree, NULL};
    const int rc = tu_validate_schema(files, false);
    cJSON_Delete(records);
    cJSON_Delete(lines);
    cJSON_Delete(summary);
    tu_cli_done(&c.t);
    if (rc == 77)
        cr_skip_test("python3 jsonschema is not installed");
    cr_expect_eq(rc, 0, "schema validation failed (see stdout)");
}

/* validate passes its --logging spec to sim and truth alike. */
Test(truth_cli, validate_with_an_allocator_as_the_logging_policy)
{
    run_ctx c;
    ctx_init(&c);
    const char *dir = tu_cli_path(&c.t, "run");
    const char *args[] = {"validate", "--world", c.world, "--logging", "whale_matching:k=2",
                          "--decisions", "2000", "--seeds", "2", "--out-dir", dir, "--json",
                          NULL};
    tu_cli_expect(&c.t, args, 0, NULL);
    cJSON *lines = tu_read_jsonl(tu_cli_path(&c.t, "run/truth.jsonl"));
    cr_assert(lines);
    const cJSON *first = cJSON_GetArrayItem(lines, 0);
    cr_expect_str_eq(tu_str(first, "policy"), "whale_matching");
    cr_expect(cJSON_IsTrue(tu_get(first, "logging")));
    cr_expect_eq(tu_num(first, "v_static.n"), 2000, "the log is the first seed's");
    cJSON *agreement = tu_read_jsonl(tu_cli_path(&c.t, "run/agreement.jsonl"));
    cr_assert(agreement);
    cr_expect_eq(cJSON_GetArraySize(agreement), 8 + 1, "the default set's 8 and the summary");
    cJSON_Delete(agreement);
    cJSON_Delete(lines);
    tu_cli_done(&c.t);
}
