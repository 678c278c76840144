/*
 * test_truth_static.c — V_static (sim/truth_log.c, docs/truth.md): a
 * hand-made log against hand-computed values, a log written by the
 * simulator against the runs' own v_static and a direct recomputation for
 * another policy, the reader's counts and faults (file, line, candidate),
 * the logging policy read from the log, and allocation failures over the
 * whole truth run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "testutil.h"
#include "truth_fixture.h"

Test(sim_truth_static, hand_made_log_gives_the_hand_computed_value)
{
    gope_policy_set_t *set = trf_policies(TRF_POLICIES);
    trf_tmp f = {0};
    gope_simtruth_log_stats s;
    gope_err err;
    double v[2], logged = -1;
    const char *log = trf_write(&f, "log.jsonl",
                                TRF_LINE_1 "not json\n" TRF_LINE_2
                                "{\"event_id\":\"e3\",\"ts\":1,\"user_id\":\"u\",\"candidates\":"
                                "[{\"streamer_id\":\"a\",\"ev\":1,\"true_ev\":1}],"
                                "\"action\":0,\"propensity\":1}\n");
    cr_assert_eq(gope_simtruth_log_static(log, set, v, &logged, &s, &err), GOPE_OK, "%s",
                 err.msg);
    cr_expect_eq(v[0], (3 + 2) / 2.0, "greedy: the top-ev candidate's true_ev");
    cr_expect_eq(v[1], (1.75 + 3) / 2.0, "uniform: the mean true_ev");
    cr_expect_eq(logged, (1.75 + 3) / 2.0, "the logged probs are uniform too");
    cr_expect_eq(s.lines_read, 4);
    cr_expect_eq(s.accepted, 2);
    cr_expect_eq(s.rejected, 2);
    cr_expect_eq(s.by_reason[GOPE_R_INVALID_JSON], 1);
    cr_expect_eq(s.by_reason[GOPE_R_MISSING_FIELD], 1, "rewards are required, as in replay");
    cr_expect_eq(s.first_reject_line, 2);
    cr_expect_eq(s.first_reject_reason, GOPE_R_INVALID_JSON);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

Test(sim_truth_static, v_static_and_log_counts_in_the_output)
{
    gope_world_conf wc = trf_world(60, 8, 10);
    gope_policy_set_t *set = trf_policies(TRF_POLICIES);
    trf_tmp f = {0};
    gope_err err;
    gope_truth_t *t = NULL;
    char log[600];
    snprintf(log, sizeof log, "%s", trf_write(&f, "log.jsonl", TRF_LINE_1 "[]\n" TRF_LINE_2));
    const gope_simtruth_conf c = {&wc, "tiny", set, "uniform", 1, 2, 30, NULL, NULL, NULL, 0, 1};
    cJSON *lines = trf_truth_lines(&c, log, &f);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(lines, 0), "v_static.value"), 2.5);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(lines, 0), "v_static.n"), 2);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(lines, 1), "v_static.value"), 2.375);
    const cJSON *run = cJSON_GetArrayItem(lines, 2);
    cr_expect_str_eq(tu_get(run, "log")->valuestring, log);
    cr_expect_eq(tu_num(run, "log_read.lines_read"), 3);
    cr_expect_eq(tu_num(run, "log_read.accepted"), 2);
    cr_expect_eq(tu_num(run, "log_read.rejected"), 1);
    cr_expect_eq(tu_num(run, "log_read.rejected_by_reason.not_object"), 1);
    cr_expect_eq(cJSON_GetArraySize(tu_get(run, "log_read.rejected_by_reason")), 1);
    cr_assert_eq(gope_truth_load(f.path, &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect(gope_truth_find(t, "greedy")->v_static_ok);
    cr_expect_eq(gope_truth_find(t, "greedy")->v_static, 2.5);
    cr_expect_str_eq(gope_truth_meta_get(t)->log, log);
    gope_truth_free(t);
    cJSON_Delete(lines);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

Test(sim_truth_static, log_faults_name_file_line_and_candidate)
{
    gope_policy_set_t *set = trf_policies(TRF_POLICIES);
    trf_tmp f = {0};
    gope_simtruth_log_stats s;
    gope_err err;
    double v[2] = {-1, -1};
    const char *log = trf_write(&f, "log.jsonl", TRF_LINE_1 TRF_LINE_2_WITH("\"other\":4"));
    cr_expect_eq(gope_simtruth_log_static(log, set, v, NULL, &s, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "log.jsonl:2: candidates[1].true_ev: missing"), "%s", err.msg);
    cr_expect_eq(v[0], -1, "nothing written on failure");
    const char *bad[] = {TRF_LINE_2_WITH("\"true_ev\":-4"), TRF_LINE_2_WITH("\"true_ev\":\"4\""),
                         TRF_LINE_2_WITH("\"true_ev\":null")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "%s%s", TRF_LINE_1, bad[i]);
        log = trf_write(&f, "bad_tev.jsonl", text);
        cr_expect_eq(gope_simtruth_log_static(log, set, v, NULL, &s, &err), GOPE_ERR_INPUT);
        cr_expect(strstr(err.msg,
                         "bad_tev.jsonl:2: candidates[1].true_ev: expected a finite number >= 0"),
                  "%s", err.msg);
    }

    log = trf_write(&f, "empty.jsonl", "");
    cr_expect_eq(gope_simtruth_log_static(log, set, v, NULL, &s, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "no valid decision to compute V_static on (0 lines read"), "%s",
              err.msg);
    log = trf_write(&f, "bad.jsonl", "{}\n");
    cr_expect_eq(gope_simtruth_log_static(log, set, v, NULL, &s, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "(1 lines read, 1 rejected)"), "%s", err.msg);

    cr_expect_eq(gope_simtruth_log_static("/nonexistent/log.jsonl", set, v, NULL, &s, &err),
                 GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "/nonexistent/log.jsonl"), "%s", err.msg);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

Test(sim_truth_static, logging_policy_from_the_first_line)
{
    trf_tmp f = {0};
    gope_err err;
    char *name = (char *)"x";
    cr_assert_eq(gope_simtruth_log_policy(trf_write(&f, "a.jsonl", TRF_LINE_1 TRF_LINE_2),
                                          &name, &err),
                 GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(name, "uniform");
    free(name);
    const char *none[] = {TRF_LINE_2 TRF_LINE_1, "", "garbage\n" TRF_LINE_1,
                          "{\"logging_policy\":3}\n"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        cr_assert_eq(gope_simtruth_log_policy(trf_write(&f, "b.jsonl", none[i]), &name, &err),
                     GOPE_OK, "%s", err.msg);
        cr_expect_null(name, "case %zu", i);
    }
    cr_expect_eq(gope_simtruth_log_policy("/nonexistent/x.jsonl", &name, &err), GOPE_ERR_IO);
    cr_expect_null(name);
    tu_rmtree(f.dir);
}

/* ---------------------------------------------- V_static on simulated logs */

typedef struct {
    const gope_policy_set_t *set;
    size_t other;
    gope_ksum sum;
} direct_static;

/* The other policy's sum_j pi_j true_ev_j on each decision as it happens. */
static gope_status other_static(void *ctx, const gope_sim_step *step, gope_err *err)
{
    (void)err;
    direct_static *d = ctx;
    double pi[GOPE_MAX_CANDIDATES], scratch[GOPE_MAX_CANDIDATES];
    gope_policy_probs(d->set, d->other, step->event, pi, scratch);
    gope_ksum v = {0, 0};
    for (size_t j = 0; j < step->event->n_candidates; j++)
        gope_ksum_add(&v, pi[j] * step->true_ev[j]);
    gope_ksum_add(&d->sum, gope_ksum_value(&v));
    return GOPE_OK;
}

/* A log of two seeds written by the library; V_static of the logging
 * policy is the runs' v_static, another policy's is its direct sum. */
Test(sim_truth_static, v_static_on_a_simulated_log)
{
    gope_world_conf wc = trf_world(300, 20, 30);
    gope_policy_set_t *set = trf_policies(NULL);
    trf_tmp f = {0};
    gope_err err;
    const size_t lg = trf_policy_index(set, "softmax");
    direct_static ds = {set, trf_policy_index(set, "ucb"), {0, 0}};
    const char *log = trf_path(&f, "log.jsonl.zst");
    const double want_lg = trf_sim_log(&wc, set, "softmax", log, other_static, &ds);

    double *v = calloc(gope_policies_count(set), sizeof *v);
    gope_simtruth_log_stats s;
    double logged;
    cr_assert_eq(gope_simtruth_log_static(log, set, v, &logged, &s, &err), GOPE_OK, "%s",
                 err.msg);
    cr_expect_eq(s.accepted, 500);
    cr_expect_eq(s.rejected, 0);
    const double want_ucb = gope_ksum_value(&ds.sum) / 500;
    cr_expect(trf_close12(v[lg], want_lg), "logging %.17g vs runs %.17g", v[lg], want_lg);
    cr_expect(trf_close12(logged, want_lg), "logged probs %.17g vs runs %.17g", logged, want_lg);
    cr_expect(trf_close12(v[ds.other], want_ucb), "ucb %.17g vs direct %.17g", v[ds.other],
              want_ucb);
    cr_expect_neq(v[lg], v[ds.other]);
    /* the logging policy's name comes from the log */
    char *name = NULL;
    cr_assert_eq(gope_simtruth_log_policy(log, &name, &err), GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(name, "softmax");
    free(name);
    free(v);
    gope_policies_free(set);
    tu_rmtree(f.dir);
}

/* ------------------------------------------------------------ out of memory */

static char *oom_dir;

static gope_status oom_truth(void) { return trf_oom_truth(oom_dir, "uniform", 2, NULL, 0, 1); }

static gope_status oom_log_policy(void)
{
    char log[600], *name = NULL;
    gope_err err;
    snprintf(log, sizeof log, "%s/log.jsonl", oom_dir);
    gope_status st = gope_simtruth_log_policy(log, &name, &err);
    cr_expect(st != GOPE_OK || strcmp(name, "uniform") == 0);
    free(name);
    return st;
}

Test(sim_truth_static, out_of_memory_everywhere_fails_cleanly)
{
    trf_tmp f = {0};
    trf_write(&f, "log.jsonl", TRF_LINE_1 TRF_LINE_2);
    oom_dir = f.dir;
    fa_exhaust(oom_truth, "truth");
    fa_exhaust(oom_log_policy, "log policy");
    tu_rmtree(f.dir);
}
