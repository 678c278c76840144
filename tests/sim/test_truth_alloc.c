/*
 * test_truth_alloc.c — truth lines for stateful allocators (sim/truth.c,
 * docs/truth.md "Allocators"): a logging allocator gets the first line,
 * with V_online from direct runs of the allocator and V_static from the
 * logged probs (equal to the simulation's own v_static); the set's
 * policies are paired against it; --allocators lines are simulated only
 * (V_static null even with a log); the agreement reader loads the file; a
 * line without probs is an input fault; allocation failures.
 * Configuration errors of the specs are in test_truth.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "gope_stats.h"
#include "testutil.h"
#include "truth_fixture.h"

#define WHALE "whale_matching:k=2"
#define FREQ "frequency_cap:cap=1,cooldown=60"
#define SHADOW "shadow_price_online"

/* V_online over seeds 3 and 4 of `spec`, as direct runs give it (each run's
 * mean expected reward per decision). */
static gope_mean_ci direct_online(const gope_world_conf *wc, const gope_policy_set_t *set,
                                  const char *spec, double per_seed[2])
{
    for (uint64_t k = 0; k < 2; k++)
        per_seed[k] = trf_run_direct(wc, 3 + k, set, spec, 250).sum.v_static;
    return gope_mean_ci95(per_seed, 2);
}

Test(sim_truth_alloc, logging_allocator_first_then_policies_then_allocators)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    wc.whale_frac = 0.3; /* whales enough that the matching is not greedy */
    gope_policy_set_t *set = trf_policies(NULL);
    trf_tmp f = {0};
    char log[600];
    snprintf(log, sizeof log, "%s", trf_path(&f, "log.jsonl.zst"));
    const double want_static = trf_sim_log(&wc, set, WHALE, log, NULL, NULL);
    const char *more[] = {FREQ, SHADOW};
    const gope_simtruth_conf c = {&wc, "tiny", set, WHALE, 3, 2, 250, NULL, NULL, more, 2, 1};
    cJSON *lines = trf_truth_lines(&c, log, &f);
    const size_t np = gope_policies_count(set);
    cr_assert_eq(cJSON_GetArraySize(lines), (int)(1 + np + 2 + 1));

    /* the logging allocator: first, named as the log names it */
    const cJSON *wl = cJSON_GetArrayItem(lines, 0);
    cr_expect_str_eq(tu_get(wl, "policy")->valuestring, "whale_matching");
    cr_expect_str_eq(tu_get(wl, "spec")->valuestring, WHALE);
    cr_expect(cJSON_IsTrue(tu_get(wl, "logging")));
    const double vs = tu_num(wl, "v_static.value");
    cr_expect(trf_close12(vs, want_static), "V_static %.17g, runs %.17g", vs, want_static);
    cr_expect_eq(tu_num(wl, "v_static.n"), 500);
    double wv[2], pv[2];
    const gope_mean_ci won = direct_online(&wc, set, WHALE, wv);
    cr_expect_eq(tu_num(wl, "v_online.mean"), won.mean);
    cr_expect_eq(tu_num(wl, "v_online.ci_high"), won.ci_high);
    cr_expect_eq(tu_num(wl, "vs_logging.v_online.mean"), 0);
    cr_expect_eq(tu_num(wl, "vs_logging.v_online.ci_high"), 0);

    /* the set's policies, in order, paired against the allocator */
    for (size_t p = 0; p < np; p++) {
        const cJSON *l = cJSON_GetArrayItem(lines, (int)(1 + p));
        const char *name = gope_policy_name(set, p);
        cr_expect_str_eq(tu_get(l, "policy")->valuestring, name);
        cr_expect(cJSON_IsFalse(tu_get(l, "logging")), "%s", name);
        cr_expect_null(cJSON_GetObjectItemCaseSensitive(l, "spec"), "%s: no spec", name);
        cr_expect_neq(tu_num(l, "v_static.value"), vs, "%s is not the allocator", name);
    }
    direct_online(&wc, set, "softmax", pv);
    const double d[2] = {pv[0] - wv[0], pv[1] - wv[1]};
    const gope_mean_ci dm = gope_mean_ci95(d, 2);
    const cJSON *soft = trf_line_of(lines, "softmax");
    cr_expect(tu_close(tu_num(soft, "vs_logging.v_online.mean"), dm.mean));
    cr_expect(tu_close(tu_num(soft, "vs_logging.v_online.ci_low"), dm.ci_low));

    /* the allocators: last, named by their spec, simulated only */
    for (int i = 0; i < 2; i++) {
        const cJSON *l = cJSON_GetArrayItem(lines, (int)(1 + np) + i);
        cr_expect_str_eq(tu_get(l, "policy")->valuestring, more[i]);
        cr_expect_str_eq(tu_get(l, "spec")->valuestring, more[i]);
        cr_expect(cJSON_IsFalse(tu_get(l, "logging")));
        cr_expect(cJSON_IsNull(tu_get(l, "v_static")), "%s: OPE cannot evaluate it", more[i]);
        cr_expect_eq(tu_num(l, "v_online.n"), 2);
        cr_expect_eq(tu_num(l, "vs_logging.v_online.n"), 2);
    }
    const gope_mean_ci fon = direct_online(&wc, set, FREQ, pv);
    cr_expect_eq(tu_num(trf_line_of(lines, FREQ), "v_online.mean"), fon.mean);

    const cJSON *run = cJSON_GetArrayItem(lines, (int)(1 + np + 2));
    cr_expect_str_eq(tu_get(run, "schema")->valuestring, "truth_run.v1");
    cr_expect_str_eq(tu_get(run, "logging_policy")->valuestring, "whale_matching");

    /* the agreement reader takes the file: the allocator is the baseline */
    gope_truth_t *t = NULL;
    gope_err err;
    cr_assert_eq(gope_truth_load(f.path, &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(gope_truth_logging(t)->policy, "whale_matching");
    cr_expect(gope_truth_logging(t)->v_static_ok);
    cr_expect_not(gope_truth_find(t, FREQ)->v_static_ok);
    gope_truth_free(t);
    cJSON_Delete(lines);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

/* Without a log the allocator lines have no V_static either; a policy of
 * the set as the logging spec adds no line. */
Test(sim_truth_alloc, line_count_and_no_log)
{
    gope_world_conf wc = trf_world(60, 8, 10);
    gope_policy_set_t *set = trf_policies(TRF_POLICIES);
    trf_tmp f = {0};
    const char *more[] = {SHADOW};
    const gope_simtruth_conf c = {&wc, "tiny", set, "greedy", 1, 1, 20, NULL, NULL, more, 1, 1};
    cJSON *lines = trf_truth_lines(&c, NULL, &f);
    cr_expect_eq(cJSON_GetArraySize(lines), 2 + 1 + 1, "greedy, uniform, the allocator, run");
    cr_expect(cJSON_IsTrue(tu_get(cJSON_GetArrayItem(lines, 0), "logging")));
    cr_expect_str_eq(tu_get(cJSON_GetArrayItem(lines, 2), "policy")->valuestring, SHADOW);
    cJSON_Delete(lines);
    const gope_simtruth_conf w = {&wc, "tiny", set, WHALE, 1, 1, 20, NULL, NULL, NULL, 0, 1};
    lines = trf_truth_lines(&w, NULL, &f);
    cr_expect_eq(cJSON_GetArraySize(lines), 1 + 2 + 1);
    for (int i = 0; i < 3; i++)
        cr_expect(cJSON_IsNull(tu_get(cJSON_GetArrayItem(lines, i), "v_static")));
    cJSON_Delete(lines);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

/* The logged probs, not any policy's, make the logging allocator's
 * V_static; a line without them is a fault naming file and line. */
#define PLINE(id, probs)                                                                       \
    "{\"event_id\":\"" id "\",\"ts\":1000,\"user_id\":\"u1\",\"candidates\":["                 \
    "{\"streamer_id\":\"a\",\"ev\":1,\"true_ev\":0.5},"                                        \
    "{\"streamer_id\":\"b\",\"ev\":2,\"true_ev\":3}],"                                         \
    "\"action\":1,\"propensity\":0.75,\"reward\":0" probs "}\n"

Test(sim_truth_alloc, logged_probs_make_the_allocators_v_static)
{
    gope_policy_set_t *set = trf_policies(TRF_POLICIES);
    trf_tmp f = {0};
    gope_simtruth_log_stats s;
    gope_err err;
    double v[2], logged = -1;
    const char *log = trf_write(&f, "p.jsonl", PLINE("e1", ",\"probs\":[0.25,0.75]") TRF_LINE_2);
    cr_assert_eq(gope_simtruth_log_static(log, set, v, &logged, &s, &err), GOPE_OK, "%s",
                 err.msg);
    cr_expect_eq(logged, ((0.25 * 0.5 + 0.75 * 3) + 3) / 2, "%.17g", logged);
    cr_expect_eq(v[1], (1.75 + 3) / 2.0, "uniform stays uniform");

    log = trf_write(&f, "noprobs.jsonl", TRF_LINE_1 PLINE("e2", ""));
    cr_expect_eq(gope_simtruth_log_static(log, set, v, &logged, &s, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "noprobs.jsonl:2: probs: missing"), "%s", err.msg);
    cr_expect_eq(gope_simtruth_log_static(log, set, v, NULL, &s, &err), GOPE_OK,
                 "policies need no probs: %s", err.msg);

    gope_world_conf wc = trf_world(60, 8, 10);
    const gope_simtruth_conf c = {&wc, "tiny", set, WHALE, 1, 1, 10, NULL, NULL, NULL, 0, 1};
    gope_simtruth_t *t = NULL;
    cr_assert_eq(gope_simtruth_new(&c, &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_simtruth_static(t, log, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "probs: missing"), "%s", err.msg);
    gope_simtruth_free(t);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

/* ------------------------------------------------------------ out of memory */

static char *oom_dir;

static gope_status oom_truth(void)
{
    const char *more[] = {FREQ};
    return trf_oom_truth(oom_dir, WHALE, 1, more, 1, 1);
}

/* Three seeds on three threads: a failure in a helper's seed (or of the
 * helpers' own allocation, which only means fewer of them) is reported. */
static gope_status oom_truth_jobs(void)
{
    const char *more[] = {FREQ};
    return trf_oom_truth(oom_dir, WHALE, 3, more, 1, 3);
}

Test(sim_truth_alloc, out_of_memory_everywhere_fails_cleanly)
{
    trf_tmp f = {0};
    trf_write(&f, "log.jsonl", TRF_LINE_1 TRF_LINE_2);
    oom_dir = f.dir;
    fa_exhaust(oom_truth, "truth with allocators");
    fa_exhaust(oom_truth_jobs, "truth with allocators on three threads");
    tu_rmtree(f.dir);
}
