/*
 * test_numerics.c — estimates on hard data against a reference computed here
 * literally from the definitions (docs/estimators.md): two passes (mean first,
 * then squared deviations), every sum a long-double compensated sum. The
 * per-event terms are formed in double exactly as the library forms them, so
 * the comparison measures the summation and the power-sum expansion alone.
 *
 * - heavy tails: whale rewards of 1e9 among ~98% zeros and small gifts;
 * - a mean 1e6 times the spread, where sum t^2 - (sum t)^2 / n cancels twelve
 *   digits: plain double power sums get the stderr wrong in the fourth digit;
 * - the logging policy on its own logs (w = 1): ips = snips = logged, and
 *   snips_lift is 0 with stderr 0 (the paired influence terms cancel);
 * - the clipping / switching boundary at w = lambda.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "est_fixture.h"
#include "testutil.h"

/* ------------------------------------------------------------ reference */

typedef struct {
    long double s, c;
} ldsum;

static void ld_add(ldsum *k, long double x)
{
    long double t = k->s + x;
    k->c += fabsl(k->s) >= fabsl(x) ? (k->s - t) + x : (x - t) + k->s;
    k->s = t;
}

typedef struct {
    double value, se;
} ref_est;

/* The per-event term of a mean-type estimator, as the library forms it. */
static double term(const char *name, const gope_obs *o, double lambda)
{
    const double w = o->w, r = o->r, q = o->q, v = o->v;
    if (strcmp(name, "ips") == 0)
        return w * r;
    if (strcmp(name, "ips_clip") == 0)
        return (w < lambda ? w : lambda) * r;
    if (strcmp(name, "dm") == 0)
        return v;
    if (strcmp(name, "dr") == 0)
        return v + w * (r - q);
    if (strcmp(name, "switch_dr") == 0)
        return w <= lambda ? v + w * (r - q) : v;
    if (strcmp(name, "dr_os") == 0)
        return v + lambda * w / (w * w + lambda) * (r - q);
    cr_assert_str_eq(name, "logged");
    return r;
}

static ref_est ref_mean(const char *name, const gope_obs *o, size_t n, double lambda)
{
    ldsum s = {0, 0}, d = {0, 0};
    for (size_t i = 0; i < n; i++)
        ld_add(&s, term(name, &o[i], lambda));
    long double mean = (s.s + s.c) / n;
    for (size_t i = 0; i < n; i++) {
        long double dev = term(name, &o[i], lambda) - mean;
        ld_add(&d, dev * dev);
    }
    return (ref_est){(double)mean, (double)(sqrtl((d.s + d.c) / (n - 1)) / sqrtl(n))};
}

static ref_est ref_snips(const gope_obs *o, size_t n)
{
    ldsum sw = {0, 0}, swr = {0, 0}, d = {0, 0};
    for (size_t i = 0; i < n; i++) {
        ld_add(&sw, o[i].w);
        ld_add(&swr, o[i].w * o[i].r);
    }
    long double v = (swr.s + swr.c) / (sw.s + sw.c);
    for (size_t i = 0; i < n; i++) {
        long double e = o[i].w * (o[i].r - v);
        ld_add(&d, e * e);
    }
    return (ref_est){(double)v, (double)(sqrtl(d.s + d.c) / (sw.s + sw.c))};
}

static ref_est ref_sndr(const gope_obs *o, size_t n)
{
    ldsum sv = {0, 0}, sw = {0, 0}, sy = {0, 0}, p2 = {0, 0};
    for (size_t i = 0; i < n; i++) {
        ld_add(&sv, o[i].v);
        ld_add(&sw, o[i].w);
        ld_add(&sy, o[i].w * (o[i].r - o[i].q));
    }
    long double a = (sy.s + sy.c) / (sw.s + sw.c), vbar = (sv.s + sv.c) / n;
    long double wbar = (sw.s + sw.c) / n;
    for (size_t i = 0; i < n; i++) {
        long double y = o[i].w * (o[i].r - o[i].q);
        long double phi = (o[i].v - vbar) + (y - a * o[i].w) / wbar;
        ld_add(&p2, phi * phi);
    }
    return (ref_est){(double)(vbar + a), (double)(sqrtl(p2.s + p2.c) / n)};
}

/* snips - logged, stderr from phi_i = w_i (r_i - V) / wbar - (r_i - rbar). */
static ref_est ref_snips_lift(const gope_obs *o, size_t n)
{
    ldsum sw = {0, 0}, swr = {0, 0}, sr = {0, 0}, p2 = {0, 0};
    for (size_t i = 0; i < n; i++) {
        ld_add(&sw, o[i].w);
        ld_add(&swr, o[i].w * o[i].r);
        ld_add(&sr, o[i].r);
    }
    long double v = (swr.s + swr.c) / (sw.s + sw.c), rbar = (sr.s + sr.c) / n;
    long double wbar = (sw.s + sw.c) / n;
    for (size_t i = 0; i < n; i++) {
        long double phi = (o[i].w * o[i].r - v * o[i].w) / wbar - (o[i].r - rbar);
        ld_add(&p2, phi * phi);
    }
    return (ref_est){(double)(v - rbar), (double)(sqrtl(p2.s + p2.c) / n)};
}

static ref_est reference(const char *name, const gope_obs *o, size_t n, double lambda)
{
    if (strcmp(name, "snips") == 0)
        return ref_snips(o, n);
    if (strcmp(name, "snips_lift") == 0)
        return ref_snips_lift(o, n);
    if (strcmp(name, "sndr") == 0)
        return ref_sndr(o, n);
    return ref_mean(name, o, n, lambda);
}

static int desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Every estimate (default lambdas) and diagnostic against the reference. */
static void expect_reference(const gope_obs *o, size_t n, const char *what)
{
    gope_estset_t *set = estf_set("all");
    gope_result *res = estf_run(set, o, n);
    estf_assert_finite(res);
    for (size_t i = 0; i < res->count; i++) {
        const gope_estimator_conf *c = gope_estset_get(set, i);
        ref_est want = reference(c->ops->name, o, n, c->lambda);
        const gope_estimate *e = &res->estimates[i];
        cr_expect(e->value_ok && tu_close(e->value, want.value), "%s: %s value %.17g, want %.17g",
                  what, c->ops->name, e->value, want.value);
        cr_expect(e->se_ok && tu_close(e->se, want.se), "%s: %s stderr %.17g, want %.17g", what,
                  c->ops->name, e->se, want.se);
    }
    ldsum sw = {0, 0}, sw2 = {0, 0}, swr = {0, 0}, top = {0, 0};
    double *x = malloc(n * sizeof *x);
    cr_assert(x);
    for (size_t i = 0; i < n; i++) {
        ld_add(&sw, o[i].w);
        ld_add(&sw2, (long double)o[i].w * o[i].w);
        ld_add(&swr, x[i] = o[i].w * o[i].r);
    }
    qsort(x, n, sizeof *x, desc);
    for (size_t i = 0; i < GOPE_TOPK && i < n; i++)
        ld_add(&top, x[i]);
    free(x);
    const gope_diagnostics *d = &res->diag;
    long double sum_w = sw.s + sw.c;
    cr_expect(tu_close(d->sum_w, (double)sum_w), "%s: sum_w", what);
    cr_expect(tu_close(d->ess, (double)(sum_w * sum_w / (sw2.s + sw2.c))), "%s: ess", what);
    cr_expect(d->top10_ok && tu_close(d->top10_share, (double)((top.s + top.c) / (swr.s + swr.c))),
              "%s: top10_share %.17g", what, d->top10_share);
    gope_result_free(res);
    gope_estset_free(set);
}

/* ------------------------------------------------------------ data */

/* A small deterministic generator (splitmix64) for the synthetic logs. */
static double uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

Test(estimators_numerics, heavy_tailed_whales)
{
    const size_t n = 200000;
    gope_obs *o = malloc(n * sizeof *o);
    cr_assert(o);
    uint64_t st = 42;
    for (size_t i = 0; i < n; i++) {
        double u = uniform(&st), w = u < 0.1 ? 0 : -log(uniform(&st) + 0x1p-60) * 6;
        double r = uniform(&st) < 0.02 ? 5 * uniform(&st) : 0;
        o[i] = (gope_obs){.w = w, .r = r, .q = uniform(&st), .v = uniform(&st)};
    }
    for (size_t i = 7; i < n; i += n / 5) /* five whales */
        o[i].r = 1e9, o[i].w = o[i].w ? o[i].w : 3;
    expect_reference(o, n, "whales");
    free(o);
}

/* Mean 1e6, spread ~0.3: the power sums cancel about twelve digits. Weights
 * are powers of two, so every product is exact and only the expansion can
 * lose precision. */
Test(estimators_numerics, mean_far_above_spread)
{
    const size_t n = 100000;
    static const double weights[] = {0.5, 1, 2};
    gope_obs *o = malloc(n * sizeof *o);
    cr_assert(o);
    uint64_t st = 7;
    for (size_t i = 0; i < n; i++)
        o[i] = (gope_obs){.w = weights[i % 3], .r = 1e6 + uniform(&st),
                          .q = 1e6 + uniform(&st), .v = 1e6 + uniform(&st)};
    expect_reference(o, n, "large mean");
    free(o);
}

/* The logging policy evaluated on its own logs: w = 1 everywhere, so ips,
 * snips and logged are all the mean reward, and dr = sndr. */
Test(estimators_numerics, logging_policy_on_its_own_logs)
{
    estf_vec vec;
    estf_load_csv("synth_n1000_seed1001.csv", &vec);
    for (size_t i = 0; i < vec.n; i++)
        vec.obs[i].w = 1;
    gope_estset_t *set = estf_set(NULL);
    gope_result *res = estf_run(set, vec.obs, vec.n);
    const gope_estimate *logged = &res->estimates[estf_index(set, "logged")];
    const char *same[] = {"ips", "ips_clip", "snips"};
    for (size_t k = 0; k < 3; k++) {
        const gope_estimate *e = &res->estimates[estf_index(set, same[k])];
        cr_expect(tu_close(e->value, logged->value), "%s %.17g != logged %.17g", same[k],
                  e->value, logged->value);
    }
    cr_expect(tu_close(res->estimates[estf_index(set, "dr")].value,
                       res->estimates[estf_index(set, "sndr")].value));
    cr_expect(tu_close(res->diag.ess, (double)vec.n));
    const gope_estimate *lift = &res->estimates[estf_index(set, "snips_lift")];
    cr_expect(lift->value == 0 && lift->se_ok && lift->se < 1e-12, "snips_lift %.17g se %.17g",
              lift->value, lift->se);
    gope_result_free(res);
    gope_estset_free(set);
    estf_vec_free(&vec);
}

/* w = lambda is kept by switch_dr and not clipped; w > lambda is dropped by
 * switch_dr and clipped by ips_clip. */
Test(estimators_numerics, lambda_boundary)
{
    const gope_obs o[] = {
        {.w = 100, .r = 2, .q = 1, .v = 0.5},
        {.w = 101.01, .r = 3, .q = 1, .v = 0.25},
    };
    gope_estset_t *set = estf_set("ips_clip,switch_dr");
    gope_result *res = estf_run(set, o, 2);
    const gope_estimate *clip = &res->estimates[estf_index(set, "ips_clip")];
    const gope_estimate *sw = &res->estimates[estf_index(set, "switch_dr")];
    cr_expect(tu_close(clip->value, (100.0 * 2 + 100.0 * 3) / 2), "ips_clip %.17g", clip->value);
    cr_expect(tu_close(sw->value, ((0.5 + 100.0 * (2 - 1)) + 0.25) / 2), "switch_dr %.17g",
              sw->value);
    gope_result_free(res);
    gope_estset_free(set);
}
