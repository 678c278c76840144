/*
 * coverage_bench.c — does the snips 95% interval cover the truth 95% of the
 * time? (issue 3, section 6: the statistical check that matters most.)
 *
 * Each replication simulates a log from a stochastic logging policy in a
 * fresh world (seed base + rep), estimates every target policy's value from
 * that log with the estimators replay uses, and compares the interval with
 * V_static: the exact expected reward of the target on the logged contexts,
 * sum_j pi_j true_ev_j averaged over the decisions — the quantity OPE
 * estimates without bias. Coverage is the share of replications whose
 * interval contains it. Prints a Markdown table (and one JSON line per
 * target with --json), with the misses on each side of the interval and the
 * target's mean weight diagnostics (ESS / n, max w, top10_share).
 *
 *   coverage_bench [--reps 200] [--decisions 5000] [--world giftlive-v2]
 *                  [--logging softmax] [--seed 1] [--estimators snips,dr] [--json]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gope_estimators.h"
#include "bench_args.h"
#include "gope_sim.h"

typedef struct {
    const gope_policy_set_t *set;
    const gope_estset_t *est;
    size_t n_policies;
    gope_acc **acc;      /* per target policy */
    gope_ksum *v_static; /* per target policy */
    double pi[GOPE_MAX_CANDIDATES], scratch[GOPE_MAX_CANDIDATES];
} rep_state;

/* Every target policy sees the logged decision the way replay does. */
static gope_status observe(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    rep_state *r = ctx;
    const gope_event *ev = st->event;
    for (size_t i = 0; i < r->n_policies; i++) {
        gope_policy_probs(r->set, i, ev, r->pi, r->scratch);
        gope_ksum v = {0, 0}, vs = {0, 0};
        for (size_t j = 0; j < ev->n_candidates; j++) {
            gope_ksum_add(&v, r->pi[j] * ev->candidates[j].ev);
            gope_ksum_add(&vs, r->pi[j] * st->true_ev[j]);
        }
        const gope_obs o = {.w = r->pi[ev->action] / ev->propensity,
                            .r = ev->reward,
                            .q = ev->candidates[ev->action].ev,
                            .v = gope_ksum_value(&v)};
        gope_acc_add(r->est, r->acc[i], &o);
        gope_ksum_add(&r->v_static[i], gope_ksum_value(&vs));
    }
    return GOPE_OK;
}

typedef struct {
    long covered, defined;
    double rel_err, abs_rel_err, width;
    long low, high; /* misses: the truth below / above the interval */
} tally;

/* Per target, the weight diagnostics replay reports, summed over the
 * replications: how much of the log a far-off target really uses. */
typedef struct {
    double ess, max_w, top10;
    long ess_n, top10_n;
} weights;

static bool flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const long reps = atol(bench_arg(argc, argv, "--reps", "200"));
    const uint64_t decisions = strtoull(bench_arg(argc, argv, "--decisions", "5000"), NULL, 10);
    const uint64_t base = strtoull(bench_arg(argc, argv, "--seed", "1"), NULL, 10);
    const char *logging = bench_arg(argc, argv, "--logging", "softmax");
    gope_err err;
    gope_world_conf conf;
    gope_policy_set_t *set = NULL;
    gope_estset_t *est = NULL;
    if (gope_world_load(bench_arg(argc, argv, "--world", "giftlive-v2"), &conf, &err) != GOPE_OK ||
        gope_policies_default(&set, &err) != GOPE_OK ||
        gope_estset_parse(bench_arg(argc, argv, "--estimators", "snips,dr"), &est, &err) != GOPE_OK)
        bench_die("coverage_bench", &err);
    const size_t np = gope_policies_count(set), ne = gope_estset_count(est);
    size_t li = 0;
    while (li < np && strcmp(gope_policy_name(set, li), logging) != 0)
        li++;
    if (li == np || reps < 1 || decisions < 2) {
        fprintf(stderr, "coverage_bench: unknown --logging policy, or --reps/--decisions too small\n");
        return 2;
    }
    rep_state r = {.set = set, .est = est, .n_policies = np};
    r.acc = calloc(np, sizeof *r.acc);
    r.v_static = calloc(np, sizeof *r.v_static);
    tally *t = calloc(np * ne, sizeof *t);
    weights *wt = calloc(np, sizeof *wt);
    gope_result *res = gope_result_new(est);
    if (!r.acc || !r.v_static || !t || !wt || !res)
        return 1;
    for (size_t i = 0; i < np; i++)
        if (!(r.acc[i] = malloc(gope_acc_size(est))))
            return 1;
    const clock_t t0 = clock();
    for (long rep = 0; rep < reps; rep++) {
        gope_sim_world_t *w = NULL;
        gope_sim_allocator a;
        gope_sim_summary sum;
        for (size_t i = 0; i < np; i++) {
            gope_acc_init(est, r.acc[i]);
            r.v_static[i] = (gope_ksum){0, 0};
        }
        const gope_sim_run_conf rc = {.decisions = decisions, .on_step = observe, .ctx = &r};
        if (gope_sim_world_new(&conf, base + (uint64_t)rep, &w, &err) != GOPE_OK ||
            gope_sim_policy_allocator(set, li, &a, &err) != GOPE_OK ||
            gope_sim_run(w, &a, &rc, &sum, &err) != GOPE_OK)
            bench_die("coverage_bench", &err);
        gope_sim_allocator_free(&a);
        gope_sim_world_free(w);
        for (size_t i = 0; i < np; i++) {
            const double truth = gope_ksum_value(&r.v_static[i]) / (double)decisions;
            gope_acc_result(est, r.acc[i], res);
            const gope_diagnostics *dg = &res->diag;
            wt[i].ess += dg->ess_ok ? dg->ess : 0;
            wt[i].ess_n += dg->ess_ok;
            wt[i].max_w += dg->max_w;
            wt[i].top10 += dg->top10_ok ? dg->top10_share : 0;
            wt[i].top10_n += dg->top10_ok;
            for (size_t e = 0; e < ne; e++) {
                const gope_estimate *x = &res->estimates[e];
                tally *c = &t[i * ne + e];
                if (!x->se_ok)
                    continue;
                c->defined++;
                c->covered += x->ci_low <= truth && truth <= x->ci_high;
                c->low += truth < x->ci_low;
                c->high += truth > x->ci_high;
                c->rel_err += (x->value - truth) / truth;
                c->abs_rel_err += fabs(x->value - truth) / truth;
                c->width += (x->ci_high - x->ci_low) / truth;
            }
        }
    }
    const double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("world %s, logging %s, %ld replications x %llu decisions, %.1f s\n\n", conf.name, logging,
           reps, (unsigned long long)decisions, secs);
    printf("| target | estimator | coverage of V_static | truth below / above | mean rel error | mean abs rel error "
           "| mean CI width / V | mean ESS / n | mean max w | mean top10_share |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < np; i++)
        for (size_t e = 0; e < ne; e++) {
            const tally *c = &t[i * ne + e];
            const double n = c->defined ? (double)c->defined : NAN;
            const char *en = gope_estset_get(est, e)->ops->name;
            if (strcmp(en, "logged") == 0) /* the logging policy's value, not the target's */
                continue;
            const weights *g = &wt[i];
            printf("| %s | %s | %.1f%% (%ld/%ld) | %ld / %ld | %+.2f%% | %.2f%% | %.1f%% | %.3g%% | %.0f | %.3f |\n",
                   gope_policy_name(set, i), en, 100.0 * c->covered / n, c->covered, c->defined, c->low,
                   c->high, 100 * c->rel_err / n, 100 * c->abs_rel_err / n, 100 * c->width / n,
                   100 * g->ess / (double)g->ess_n / (double)decisions, g->max_w / (double)reps,
                   g->top10 / (double)g->top10_n);
            if (flag(argc, argv, "--json"))
                fprintf(stderr, "{\"target\":\"%s\",\"estimator\":\"%s\",\"coverage\":%.6f,\"n\":%ld}\n",
                        gope_policy_name(set, i), en, c->covered / n, c->defined);
        }
    for (size_t i = 0; i < np; i++)
        free(r.acc[i]);
    free(r.acc);
    free(r.v_static);
    free(t);
    free(wt);
    gope_result_free(res);
    gope_estset_free(est);
    gope_policies_free(set);
    return 0;
}
