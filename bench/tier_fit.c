/*
 * tier_fit.c — refit a world's amount model (tier_base, wealth_slope) to the
 * calibration figures by re-weighting one set of Greedy runs
 * (docs/simulator.md, "Calibration").
 *
 * Runs the logging policy on --seeds worlds, keeping each gift's user,
 * streamer, wealth and match terms of the tier tilt, externality and tier
 * uniform. A candidate (tier_base, wealth_slope) redraws every tier from the
 * same uniform (common random numbers), so the figures of the candidate are
 * those of a full run up to the feedback the amounts have on the run (big
 * gifts, which lower p(gift) through theta4 and the amounts through gamma,
 * and the EV Greedy ranks by): small in kuailive, whose theta4 and gamma are
 * small; check the result with bench/calibration.sh on other seeds.
 * Coordinate descent on log tier_base and wealth_slope minimises the summed
 * squared log errors of the six amount figures (kuailive's targets).
 *
 * --prior W adds W times the summed squared log changes of tier_base (and
 * of wealth_slope / 0.1) to the loss: the fit then moves the configured
 * tiers only as far as the figures need, instead of emptying a tier to put
 * a quantile on the next one. A list (--prior 0,0.002) fits each in turn
 * from the configured start, on the same runs.
 *
 *   tier_fit [--world kuailive] [--logging greedy] [--seeds 8] [--seed 101]
 *            [--per-user 200] [--fit 1]   (--fit 0: report the world as it is)
 *            [--p99 quantile|exceed]     (what the fit matches P99 by)
 *            [--prior 0[,W...]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "gope_sim.h"
#include "gope_stats.h"

typedef struct {
    uint32_t run, user, streamer;
    double wealth_term, match_term, ext, u;
} gift_rec;

typedef struct {
    gift_rec *g;
    size_t n, cap;
    const gope_sim_world_t *w;
    uint32_t run;
} recorder;

enum { FIGS = 7, FITTED = 6 };
static const char *const fig_name[FIGS] = {"amount P50", "amount P90", "amount P99", "amount mean",
                                           "payer Gini", "top-1% users' share", "earner streamer Gini"};
static const double target[FIGS] = {2, 88, 1488, 82.7, 0.942, 0.599, 0.930};

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static gope_status record(void *ctx, const gope_sim_step *st, gope_err *err)
{
    recorder *r = ctx;
    const gope_sim_outcome *o = st->outcome;
    if (o->reward <= 0)
        return GOPE_OK;
    if (r->n == r->cap) {
        const size_t cap = r->cap ? 2 * r->cap : 4096;
        gift_rec *g = realloc(r->g, cap * sizeof *g);
        if (!g)
            return gope_err_set(err, GOPE_ERR_NOMEM, "tier_fit: out of memory at %zu gifts", r->n);
        r->g = g;
        r->cap = cap;
    }
    const gope_world_conf *c = gope_sim_world_conf(r->w);
    gope_sim_world_view v;
    gope_sim_world_get(r->w, &v);
    const double lw = log1p(v.wealth[st->user]);
    r->g[r->n++] = (gift_rec){
        .run = r->run, .user = st->user, .streamer = o->streamer,
        .wealth_term = clampd((lw - c->wealth_center) / c->wealth_scale, c->wealth_lo, c->wealth_hi),
        .match_term = c->match_slope * o->match, .ext = o->externality,
        .u = gope_rng_u01(gope_sim_world_seed(r->w), GOPE_RNG_AMOUNT, o->decision, 0)};
    return GOPE_OK;
}

/* A candidate amount model. */
typedef struct {
    double logb[GOPE_SIM_TIERS], slope;
} model;

typedef struct {
    const recorder *rec;
    const gope_world_conf *c;
    uint32_t runs;
    bool exceed; /* fit P99 by the share of gifts above its target (--p99 exceed) */
    double prior; /* weight of the squared log changes from `start` (--prior) */
    const model *start;
    double *amount, *user_rev, *streamer_rev, *scratch;
} evaluator;

/* The tier of gift g under model m, redrawn from its uniform. */
static int tier_of(const model *m, const gift_rec *g)
{
    const double a = m->slope * g->wealth_term + g->match_term;
    double p[GOPE_SIM_TIERS], hi = -INFINITY, sum = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        hi = fmax(hi, p[k] = m->logb[k] + a * k);
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        sum += p[k] = exp(p[k] - hi);
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        p[k] /= sum;
    return (int)gope_sim_sample(p, GOPE_SIM_TIERS, g->u);
}

/* The amount of gift g under model m. */
static double amount_of(const evaluator *e, const model *m, const gift_rec *g)
{
    return e->c->tiers[tier_of(m, g)] * g->ext;
}

/* The figures of model m, each the mean over runs of the per-run figure,
 * and (se not NULL) the standard error of that mean. */
static void evaluate(const evaluator *e, const model *m, double fig[FIGS], double *se)
{
    double sq[FIGS] = {0};
    memset(fig, 0, FIGS * sizeof *fig);
    size_t i = 0;
    for (uint32_t run = 0; run < e->runs; run++) {
        size_t n = 0;
        double total = 0, x;
        memset(e->user_rev, 0, e->c->n_users * sizeof *e->user_rev);
        memset(e->streamer_rev, 0, e->c->n_streamers * sizeof *e->streamer_rev);
        for (; i < e->rec->n && e->rec->g[i].run == run; i++) {
            const gift_rec *g = &e->rec->g[i];
            total += e->amount[n++] = amount_of(e, m, g);
            e->user_rev[g->user] += e->amount[n - 1];
            e->streamer_rev[g->streamer] += e->amount[n - 1];
        }
        gope_sort_doubles(e->amount, n);
        double one[FIGS] = {gope_quantile_sorted(e->amount, n, 0.50), gope_quantile_sorted(e->amount, n, 0.90),
                            gope_quantile_sorted(e->amount, n, 0.99), total / (double)n};
        one[4] = gope_gini(e->user_rev, e->c->n_users, true, e->scratch, &x) ? x : 0;
        /* every user is seen at 200 decisions per user */
        one[5] = gope_top_share(e->user_rev, e->c->n_users, 0.01, e->scratch, &x) ? x : 0;
        one[6] = gope_gini(e->streamer_rev, e->c->n_streamers, true, e->scratch, &x) ? x : 0;
        for (int f = 0; f < FIGS; f++) {
            fig[f] += one[f];
            sq[f] += one[f] * one[f];
        }
    }
    for (int f = 0; f < FIGS; f++) {
        fig[f] /= e->runs;
        if (se)
            se[f] = e->runs > 1 ? sqrt(fmax(sq[f] / e->runs - fig[f] * fig[f], 0) / (e->runs - 1)) : NAN;
    }
}

/* The share of every gift above the P99 target: 1% when the pooled P99 is
 * on target. Unlike the quantile, which stays on a tier until 1% of the
 * gifts pass the next one and then jumps, it moves with every gift, so a
 * descent sees P99 improve before it arrives. */
static double share_above_p99(const evaluator *e, const model *m)
{
    size_t above = 0;
    for (size_t i = 0; i < e->rec->n; i++)
        above += amount_of(e, m, &e->rec->g[i]) > target[2];
    return fmax((double)above, 0.5) / (double)e->rec->n;
}

static double loss(const evaluator *e, const model *m)
{
    double fig[FIGS], l = 0;
    evaluate(e, m, fig, NULL);
    for (int f = 0; f < FITTED; f++)
        l += f == 2 && e->exceed ? pow(log(share_above_p99(e, m) / 0.01), 2)
                                 : pow(log(fig[f] / target[f]), 2);
    for (int k = 0; k < GOPE_SIM_TIERS && e->prior > 0; k++)
        l += e->prior * pow(m->logb[k] - e->start->logb[k], 2);
    return l + e->prior * pow((m->slope - e->start->slope) / 0.1, 2);
}

/* tier_base normalised to sum 1, as a world requires */
static void base_of(const model *m, double b[GOPE_SIM_TIERS])
{
    double sum = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        sum += b[k] = exp(m->logb[k]);
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        b[k] /= sum;
}

/* The amount quantiles of every seed's gifts pooled (the dataset's figures
 * are quantiles of one pooled population; the fitted ones are means over
 * seeds of each seed's quantile, which for P99 jumps between the tiers). */
static void report_pooled(const evaluator *e, const model *m)
{
    double total = 0;
    for (size_t i = 0; i < e->rec->n; i++)
        total += e->scratch[i] = amount_of(e, m, &e->rec->g[i]);
    gope_sort_doubles(e->scratch, e->rec->n);
    printf("  pooled over the seeds' %zu gifts: P50 %.4g, P90 %.4g, P99 %.4g (%+.1f%%), mean %.4g\n",
           e->rec->n, gope_quantile_sorted(e->scratch, e->rec->n, 0.50),
           gope_quantile_sorted(e->scratch, e->rec->n, 0.90),
           gope_quantile_sorted(e->scratch, e->rec->n, 0.99),
           100 * (gope_quantile_sorted(e->scratch, e->rec->n, 0.99) / target[2] - 1),
           total / (double)e->rec->n);
    /* which tiers make the mean: the share of the gifts and of the coins */
    double n_k[GOPE_SIM_TIERS] = {0}, coins_k[GOPE_SIM_TIERS] = {0};
    for (size_t i = 0; i < e->rec->n; i++) {
        const int k = tier_of(m, &e->rec->g[i]);
        n_k[k]++;
        coins_k[k] += e->c->tiers[k] * e->rec->g[i].ext;
    }
    printf("  pooled by tier (share of gifts / of the mean):");
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        printf(" %g: %.3g%%/%.3g", e->c->tiers[k], 100 * n_k[k] / (double)e->rec->n,
               coins_k[k] / (double)e->rec->n);
    printf("\n");
}

static void report(const evaluator *e, const model *m, const char *what)
{
    double fig[FIGS], se[FIGS], b[GOPE_SIM_TIERS];
    evaluate(e, m, fig, se);
    base_of(m, b);
    printf("%s: loss %.4f, wealth_slope %.4g, tier_base", what, loss(e, m), m->slope);
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        printf(" %.4g", b[k]);
    printf("\n");
    for (int f = 0; f < FIGS; f++)
        printf("  %-22s target %-7g re-weighted %-9.4g %+6.1f%% (se of the mean over seeds %.1f%%)%s\n",
               fig_name[f], target[f], fig[f], 100 * (fig[f] / target[f] - 1), 100 * se[f] / target[f],
               f < FITTED ? "" : " (not fitted)");
    report_pooled(e, m);
}

/* Coordinate descent: each parameter moved by +-step while that helps,
 * the step halved when nothing does. */
static void fit(const evaluator *e, model *m)
{
    double best = loss(e, m);
    for (double step = 0.4; step > 0.01; step /= 2) {
        bool moved = true;
        while (moved) {
            moved = false;
            for (int k = 0; k <= GOPE_SIM_TIERS; k++)
                for (int sign = -1; sign <= 1; sign += 2) {
                    double *p = k < GOPE_SIM_TIERS ? &m->logb[k] : &m->slope;
                    const double old = *p;
                    *p += sign * step * (k < GOPE_SIM_TIERS ? 1 : 0.1);
                    const double l = loss(e, m);
                    if (l < best - 1e-12) {
                        best = l;
                        moved = true;
                    } else {
                        *p = old;
                    }
                }
        }
    }
}

int main(int argc, char **argv)
{
    const uint32_t runs = (uint32_t)atol(bench_arg(argc, argv, "--seeds", "8"));
    const uint64_t base = strtoull(bench_arg(argc, argv, "--seed", "101"), NULL, 10);
    const uint64_t per_user = strtoull(bench_arg(argc, argv, "--per-user", "200"), NULL, 10);
    const char *logging = bench_arg(argc, argv, "--logging", "greedy");
    gope_err err;
    gope_world_conf conf;
    gope_policy_set_t *set = NULL;
    if (gope_world_load(bench_arg(argc, argv, "--world", "kuailive"), &conf, &err) != GOPE_OK ||
        gope_policies_default(&set, &err) != GOPE_OK)
        bench_die("tier_fit", &err);
    size_t li = 0;
    while (li < gope_policies_count(set) && strcmp(gope_policy_name(set, li), logging) != 0)
        li++;
    if (li == gope_policies_count(set) || runs < 1) {
        fprintf(stderr, "tier_fit: unknown --logging policy %s, or --seeds < 1\n", logging);
        return 2;
    }
    recorder rec = {0};
    for (uint32_t i = 0; i < runs; i++) {
        gope_sim_world_t *w = NULL;
        gope_sim_allocator a;
        gope_sim_summary sum;
        const gope_sim_run_conf rc = {.decisions = per_user * conf.n_users, .on_step = record, .ctx = &rec};
        if (gope_sim_world_new(&conf, base + i, &w, &err) != GOPE_OK ||
            gope_sim_policy_allocator(set, li, &a, &err) != GOPE_OK)
            bench_die("tier_fit", &err);
        rec.w = w;
        rec.run = i;
        if (gope_sim_run(w, &a, &rc, &sum, &err) != GOPE_OK)
            bench_die("tier_fit", &err);
        gope_sim_allocator_free(&a);
        gope_sim_world_free(w);
    }
    const size_t most = conf.n_users > conf.n_streamers ? conf.n_users : conf.n_streamers;
    evaluator e = {.rec = &rec, .c = &conf, .runs = runs, .amount = malloc(rec.n * sizeof(double)),
                   .user_rev = malloc(conf.n_users * sizeof(double)),
                   .streamer_rev = malloc(conf.n_streamers * sizeof(double)),
                   .scratch = malloc((most > rec.n ? most : rec.n) * sizeof(double))};
    if (!e.amount || !e.user_rev || !e.streamer_rev || !e.scratch)
        return 1;
    e.exceed = strcmp(bench_arg(argc, argv, "--p99", "quantile"), "exceed") == 0;
    model start = {.slope = conf.wealth_slope};
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        start.logb[k] = log(conf.tier_base[k]);
    e.start = &start;
    printf("world %s, %s, %u seeds from %llu, %zu gifts\n", conf.name, logging, runs,
           (unsigned long long)base, rec.n);
    report(&e, &start, "as configured");
    const char *prior = bench_arg(argc, argv, "--prior", "0");
    for (char *end; strcmp(bench_arg(argc, argv, "--fit", "1"), "0") != 0 && *prior; prior = end) {
        e.prior = strtod(prior, &end);
        if (end == prior || (*end && *end != ',')) {
            fprintf(stderr, "tier_fit: --prior wants numbers separated by commas, got %s\n", prior);
            return 2;
        }
        end += *end == ',';
        model m = start;
        fit(&e, &m);
        char what[64];
        snprintf(what, sizeof what, "fitted with prior %g", e.prior);
        report(&e, &m, what);
    }
    free(e.amount);
    free(e.user_rev);
    free(e.streamer_rev);
    free(e.scratch);
    free(rec.g);
    gope_policies_free(set);
    return 0;
}
