/*
 * test_truth.c — simulator ground truth over seeds (sim/truth.c,
 * docs/truth.md): V_online and metrics against direct runs of the engine,
 * the summaries over seeds against gope_stats, the pairing of seeds
 * (identical policies under two names differ by exactly 0), determinism,
 * the truth.v1 format as the agreement reader loads it, progress, and
 * configuration errors. V_static is in test_truth_static.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_stats.h"
#include "testutil.h"
#include "truth_fixture.h"

/* ------------------------------------------------------------ V_online */

Test(sim_truth, one_seed_equals_a_direct_run)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    gope_policy_set_t *set = trf_policies(NULL);
    trf_tmp f = {0};
    const size_t lg = trf_policy_index(set, "softmax");
    const gope_simtruth_conf c = {&wc, "tiny", set, "softmax", 7, 1, 150, NULL, NULL, NULL, 0, 1};
    cJSON *lines = trf_truth_lines(&c, NULL, &f);
    size_t nm;
    const char *const *names = gope_metrics_names(&nm);
    for (size_t p = 0; p < gope_policies_count(set); p++) {
        const trf_direct r = trf_run_direct(&wc, 7, set, gope_policy_name(set, p), 150);
        const cJSON *l = cJSON_GetArrayItem(lines, (int)p);
        cr_expect_str_eq(tu_get(l, "policy")->valuestring, gope_policy_name(set, p));
        cr_expect_eq(cJSON_IsTrue(tu_get(l, "logging")), p == lg);
        cr_expect_eq(tu_num(l, "v_online.mean"), r.sum.v_static, "%s: expected reward per decision",
                     gope_policy_name(set, p));
        cr_expect_eq(tu_num(l, "v_online_realized.mean"), r.sum.revenue / 150.0, "%s",
                     gope_policy_name(set, p));
        cr_expect_eq(tu_num(l, "v_online.n"), 1);
        cr_expect(cJSON_IsNull(tu_get(l, "v_online.sd")) &&
                      cJSON_IsNull(tu_get(l, "v_online.ci_low")),
                  "sd and CI are null with one seed");
        cr_expect(cJSON_IsNull(tu_get(l, "v_static")));
        for (size_t i = 0; i < nm; i++) {
            bool ok;
            const double v = gope_metrics_value(&r.m, i, &ok);
            const cJSON *mb = tu_get(tu_get(l, "metrics"), names[i]);
            cr_expect_eq(tu_num(mb, "n"), ok ? 1 : 0, "%s", names[i]);
            if (ok)
                cr_expect_eq(tu_num(mb, "mean"), v, "%s", names[i]);
            else
                cr_expect(cJSON_IsNull(tu_get(mb, "mean")), "%s", names[i]);
        }
        const double rpd = tu_num(tu_get(tu_get(l, "metrics"), "revenue_per_decision"), "mean");
        cr_expect(tu_close(rpd, tu_num(l, "v_online_realized.mean")), "realised revenue per decision");
        const double vsm = tu_num(tu_get(tu_get(l, "metrics"), "v_static_mean"), "mean");
        cr_expect(tu_close(vsm, tu_num(l, "v_online.mean")), "V_online is the run's mean expectation");
    }
    cJSON_Delete(lines);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

Test(sim_truth, summaries_over_seeds_are_gope_stats_of_the_runs)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    gope_policy_set_t *set = trf_policies(NULL);
    trf_tmp f = {0};
    const gope_simtruth_conf c = {&wc, "tiny", set, "eps_greedy", 40, 4, 120, NULL, NULL, NULL, 0, 1};
    cJSON *lines = trf_truth_lines(&c, NULL, &f);
    double v[4], diff[4], gini[4];
    size_t ngini = 0;
    for (uint64_t k = 0; k < 4; k++) {
        const trf_direct a = trf_run_direct(&wc, 40 + k, set, "ucb", 120);
        const trf_direct b = trf_run_direct(&wc, 40 + k, set, "eps_greedy", 120);
        v[k] = a.sum.v_static;
        diff[k] = a.sum.revenue - b.sum.revenue;
        if (a.m.streamer_gini_all.ok)
            gini[ngini++] = a.m.streamer_gini_all.v;
    }
    const cJSON *l = trf_line_of(lines, "ucb");
    const gope_mean_ci s = gope_mean_ci95(v, 4), d = gope_mean_ci95(diff, 4),
                       g = gope_mean_ci95(gini, ngini);
    cr_expect_eq(tu_num(l, "v_online.mean"), s.mean);
    cr_expect_eq(tu_num(l, "v_online.sd"), s.sd);
    cr_expect_eq(tu_num(l, "v_online.se"), s.se);
    cr_expect_eq(tu_num(l, "v_online.ci_low"), s.ci_low);
    cr_expect_eq(tu_num(l, "v_online.ci_high"), s.ci_high);
    cr_expect_eq(tu_num(l, "v_online.n"), 4);
    cr_expect(tu_close(tu_num(l, "vs_logging.total_revenue.mean"), d.mean));
    cr_expect(tu_close(tu_num(l, "vs_logging.total_revenue.ci_low"), d.ci_low));
    cr_expect(tu_close(tu_num(l, "vs_logging.total_revenue.ci_high"), d.ci_high));
    cr_expect(tu_close(tu_num(l, "vs_logging.v_online.mean"),
                       tu_num(l, "v_online.mean") - tu_num(trf_line_of(lines, "eps_greedy"),
                                                     "v_online.mean")),
              "the mean of the differences is the difference of the means");
    cr_expect_eq(tu_num(l, "metrics.streamer_gini_all.n"), (double)ngini);
    cr_expect(tu_close(tu_num(l, "metrics.streamer_gini_all.mean"), g.mean));
    cr_expect(tu_close(tu_num(l, "metrics.streamer_gini_all.ci_high"), g.ci_high));
    const cJSON *run = cJSON_GetArrayItem(lines, (int)gope_policies_count(set));
    cr_expect_str_eq(tu_get(run, "schema")->valuestring, "truth_run.v1");
    cr_expect_str_eq(tu_get(run, "logging_policy")->valuestring, "eps_greedy");
    cr_expect_eq(tu_num(run, "seed"), 40);
    cr_expect_eq(tu_num(run, "seeds"), 4);
    cr_expect_eq(tu_num(run, "decisions"), 120);
    cr_expect(cJSON_IsNull(tu_get(run, "log")) && cJSON_IsNull(tu_get(run, "log_read")));
    cr_expect_eq(tu_num(run, "world_config.users.count"), 300);
    cJSON_Delete(lines);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

/* Two policies that are the same policy under two names: on paired seeds
 * every per-seed value is identical, so each difference is exactly 0. */
Test(sim_truth, paired_seeds_make_identical_policies_differ_by_exactly_zero)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    gope_policy_set_t *set =
        trf_policies("[{\"name\":\"soft_a\",\"select\":\"softmax\",\"temperature\":2},"
                     "{\"name\":\"soft_b\",\"select\":\"softmax\",\"temperature\":2},"
                     "{\"name\":\"greedy\",\"select\":\"greedy\"}]");
    trf_tmp f = {0};
    const gope_simtruth_conf c = {&wc, "tiny", set, "soft_a", 1, 3, 200, NULL, NULL, NULL, 0, 1};
    cJSON *lines = trf_truth_lines(&c, NULL, &f);
    const char *blocks[] = {"vs_logging.v_online", "vs_logging.total_revenue"};
    for (int p = 0; p < 2; p++)
        for (int b = 0; b < 2; b++) {
            const cJSON *d = tu_get(cJSON_GetArrayItem(lines, p), blocks[b]);
            cr_expect_eq(tu_num(d, "mean"), 0, "%d %s", p, blocks[b]);
            cr_expect_eq(tu_num(d, "sd"), 0);
            cr_expect_eq(tu_num(d, "ci_low"), 0, "zero-width interval");
            cr_expect_eq(tu_num(d, "ci_high"), 0);
            cr_expect_eq(tu_num(d, "n"), 3);
        }
    char *a = cJSON_PrintUnformatted(tu_get(cJSON_GetArrayItem(lines, 0), "metrics"));
    char *b = cJSON_PrintUnformatted(tu_get(cJSON_GetArrayItem(lines, 1), "metrics"));
    cr_expect_str_eq(a, b, "identical policies, identical metrics");
    /* not vacuous: a different policy on the same seeds is different (its
     * revenue may still coincide: gifts are rare and share their uniforms) */
    char *g = cJSON_PrintUnformatted(tu_get(cJSON_GetArrayItem(lines, 2), "metrics"));
    cr_expect_str_neq(a, g);
    cr_expect_neq(tu_num(cJSON_GetArrayItem(lines, 2), "metrics.v_static_mean.mean"),
                  tu_num(cJSON_GetArrayItem(lines, 0), "metrics.v_static_mean.mean"));
    free(a);
    free(b);
    free(g);
    cJSON_Delete(lines);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

/* The same configuration gives the same bytes, and so does any number of
 * jobs: each seed's cells are its own, whatever thread ran it (stateful
 * allocators too, each made per run). 16 jobs for 5 seeds: the extra
 * helpers are not started. */
Test(sim_truth, same_configuration_same_bytes_whatever_the_jobs)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    gope_policy_set_t *set = trf_policies(NULL);
    trf_tmp f = {0};
    gope_err err;
    const char *more[] = {"whale_matching:k=2", "frequency_cap:cap=1,cooldown=60"};
    gope_simtruth_conf c = {&wc, "tiny", set, "softmax", 5, 5, 100, NULL, NULL, more, 2, 1};
    const unsigned jobs[] = {1, 1, 3, 16};
    char *text[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        char name[32], path[600];
        snprintf(name, sizeof name, "t%d.jsonl", i);
        snprintf(path, sizeof path, "%s", trf_path(&f, name));
        c.jobs = jobs[i];
        cr_assert_eq(trf_make_truth(&c, NULL, path, NULL, &err), GOPE_OK, "%s", err.msg);
        cr_assert(text[i] = tu_read_file(path, &len[i]));
    }
    for (int i = 1; i < 4; i++)
        cr_expect(len[i] == len[0] && memcmp(text[i], text[0], len[0]) == 0,
                  "%u jobs: byte-identical to one", jobs[i]);
    for (int i = 0; i < 4; i++)
        free(text[i]);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

Test(sim_truth, loads_back_with_the_agreement_reader)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    gope_policy_set_t *set = trf_policies(NULL);
    trf_tmp f = {0};
    gope_err err;
    gope_truth_t *t = NULL;
    const gope_simtruth_conf c = {&wc, "tiny.json", set, "lcb", 1, 3, 100, NULL, NULL, NULL, 0, 1};
    const char *out = trf_path(&f, "truth.jsonl");
    cr_assert_eq(trf_make_truth(&c, NULL, out, NULL, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_truth_load(out, &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(gope_truth_logging(t)->policy, "lcb");
    for (size_t p = 0; p < gope_policies_count(set); p++) {
        const gope_truth_policy *tp = gope_truth_find(t, gope_policy_name(set, p));
        cr_assert(tp);
        cr_expect_eq(tp->online_n, 3);
        cr_expect(tp->online_ci_ok);
        cr_expect(tp->online_ci_low <= tp->online_mean && tp->online_mean <= tp->online_ci_high);
        cr_expect_not(tp->v_static_ok, "no --log, no V_static");
    }
    const gope_truth_meta *m = gope_truth_meta_get(t);
    cr_expect_str_eq(m->world, "tiny.json");
    cr_expect_eq(m->seeds, 3);
    cr_expect_eq(m->decisions, 100);
    cr_expect_null(m->log);
    gope_truth_free(t);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

typedef struct {
    uint64_t calls, last_done, total, seeds[8];
} progress_log;

static void on_progress(void *ctx, uint64_t done, uint64_t total, uint64_t seed)
{
    progress_log *p = ctx;
    cr_expect_eq(total, p->total);
    cr_expect_eq(done, p->last_done + 1);
    p->last_done = done;
    p->seeds[p->calls++ % 8] = seed;
}

/* `seeds` seeds from `first` on `jobs` threads, reporting into *pl. */
static void run_with_progress(uint64_t first, uint64_t seeds, unsigned jobs, progress_log *pl)
{
    gope_world_conf wc = trf_world(60, 8, 10);
    gope_policy_set_t *set = trf_policies(NULL);
    gope_simtruth_t *t = NULL;
    gope_err err;
    pl->total = seeds;
    const gope_simtruth_conf c = {&wc, "tiny", set, "greedy", first, seeds, 200, on_progress, pl,
                                  NULL, 0, jobs};
    cr_assert_eq(gope_simtruth_new(&c, &t, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_simtruth_online(t, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(pl->calls, seeds);
    gope_simtruth_free(t);
    gope_policies_free(set);
}

Test(sim_truth, progress_after_every_seed)
{
    progress_log pl = {0};
    run_with_progress(9, 3, 1, &pl);
    cr_expect(pl.seeds[0] == 9 && pl.seeds[1] == 10 && pl.seeds[2] == 11);
}

/* With jobs the seeds finish in any order, but the reports come one at a
 * time, `done` counting up, every seed once. */
Test(sim_truth, progress_with_jobs_reports_every_seed_once)
{
    progress_log pl = {0};
    run_with_progress(20, 8, 3, &pl);
    uint64_t seen = 0;
    for (int i = 0; i < 8; i++)
        if (pl.seeds[i] >= 20 && pl.seeds[i] < 28)
            seen |= UINT64_C(1) << (pl.seeds[i] - 20);
    cr_expect_eq(seen, 0xff, "every seed reported once");
}

Test(sim_truth, bad_configuration_is_a_usage_error)
{
    gope_world_conf wc = trf_world(60, 8, 10);
    gope_policy_set_t *set = trf_policies(NULL);
    static char sentinel;
    gope_simtruth_t *t;
    gope_err err;
    const gope_simtruth_conf ok = {&wc, "tiny", set, "greedy", 1, 2, 10, NULL, NULL, NULL, 0, 1};
    const char *greedy[] = {"greedy"}, *bad_key[] = {"frequency_cap:nope=1"},
               *whale[] = {"whale_matching"}, *twice[] = {"frequency_cap", "frequency_cap"};
#define CONF(logging, seed, seeds, decisions, allocators, n)                                    \
    {&wc, "tiny", set, logging, seed, seeds, decisions, NULL, NULL, allocators, n, 1}
    struct {
        gope_simtruth_conf c;
        const char *needle;
    } cases[] = {
        {CONF("greedy", 1, 0, 10, NULL, 0), "seeds and decisions must be >= 1"},
        {CONF("greedy", 1, 2, 0, NULL, 0), "seeds and decisions must be >= 1"},
        {CONF("greedy", UINT64_MAX, 2, 10, NULL, 0), "beyond 2^64 - 1"},
        {CONF(NULL, 1, 2, 10, NULL, 0), "truth: no logging policy or allocator"},
        {CONF("nobody", 1, 2, 10, NULL, 0),
         "truth: logging: unknown policy or allocator \"nobody\" (policies: greedy, ucb, lcb, "
         "softmax, eps_greedy, crowding, coldstart, shadow_log; allocators: shadow_price_online, "
         "whale_matching, frequency_cap)"},
        {CONF("whale_matching:k=0", 1, 2, 10, NULL, 0),
         "truth: logging: allocator whale_matching: k: 0 is outside [1, 1e+06]"},
        {CONF("greedy:beta=1", 1, 2, 10, NULL, 0),
         "truth: logging: policy greedy: takes no options"},
        {CONF("greedy", 1, 2, 10, greedy, 1),
         "truth: allocators[0]: \"greedy\" is not a stateful allocator (shadow_price_online, "
         "whale_matching, frequency_cap)"},
        {CONF("greedy", 1, 2, 10, bad_key, 1),
         "truth: allocators[0]: allocator frequency_cap: nope: unknown key"},
        {CONF("whale_matching:k=2", 1, 2, 10, whale, 1),
         "truth: two lines would be called \"whale_matching\""},
        {CONF("greedy", 1, 2, 10, twice, 2), "truth: two lines would be called \"frequency_cap\""},
    };
#undef CONF
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t = (gope_simtruth_t *)(void *)&sentinel;
        cr_expect_eq(gope_simtruth_new(&cases[i].c, &t, &err), GOPE_ERR_USAGE, "case %zu", i);
        cr_expect_null(t);
        cr_expect(strstr(err.msg, cases[i].needle), "case %zu: %s", i, err.msg);
    }
    /* the last seed exactly 2^64 - 1 is fine */
    gope_simtruth_conf edge = ok;
    edge.seed = UINT64_MAX - 1;
    cr_expect_eq(gope_simtruth_new(&edge, &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_simtruth_lines(t), gope_policies_count(set));
    /* writing before anything was simulated */
    gope_sink sink = {0};
    cr_expect_eq(gope_simtruth_write(t, &sink, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "nothing simulated yet"));
    gope_simtruth_free(t);
    gope_simtruth_free(NULL);
    /* an invalid world surfaces from the first seed, named, before any run */
    gope_world_conf bad = wc;
    bad.round_users = bad.n_users + 1;
    gope_simtruth_conf bc = ok;
    bc.world = &bad;
    cr_expect_eq(gope_simtruth_new(&bc, &t, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "truth: seed 1: "), "%s", err.msg);
    gope_policies_free(set);
}

/* A policy of the set called like an allocator: the allocator wins the
 * spec (the registry's rule), and the two lines would share a name. */
Test(sim_truth, a_policy_named_like_the_logging_allocator_is_a_usage_error)
{
    gope_world_conf wc = trf_world(60, 8, 10);
    gope_policy_set_t *set = trf_policies("[{\"name\":\"whale_matching\",\"select\":\"greedy\"}]");
    gope_simtruth_t *t = NULL;
    gope_err err;
    const gope_simtruth_conf c = {&wc, "tiny", set, "whale_matching", 1, 1, 10,
                                  NULL, NULL, NULL, 0, 1};
    cr_expect_eq(gope_simtruth_new(&c, &t, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "two lines would be called \"whale_matching\""), "%s", err.msg);
    cr_expect_null(t);
    gope_policies_free(set);
}
