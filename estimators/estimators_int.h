/*
 * estimators_int.h — internals of the estimator library, shared by its .c files.
 *
 * Three layers:
 *   - the set (estset.c): which estimator types, their lambdas, and where
 *     each sum of each one's slice lives inside an accumulator;
 *   - the types (est_mean.c, est_snips.c, est_sndr.c, est_lift.c): an ops
 *     table each, whose `add` feeds the sums only it keeps and whose
 *     `result` turns its slice into numbers;
 *   - the accumulator (acc.c): diagnostics, the shared sums, the own sums,
 *     merge, the saved form (every slice in full) and results.
 *
 * Numerics. Every sum is a gope_ksum (Neumaier): s + c carries roughly twice
 * the precision of a double. Standard errors come from power sums, e.g.
 * sum t^2 - (sum t)^2 / n, which cancel badly when the mean is large next to
 * the spread. Two things keep them accurate:
 *   - products that enter a sum of squares are added exactly: TwoProduct (fma)
 *     splits a*b into the rounded product and its exact error, and the error
 *     goes straight into the compensation term (gope_ksum_add_prod);
 *   - the final arithmetic treats each (s, c) pair as a double-double (gope_dd)
 *     and only rounds to double at the end.
 */
#ifndef GOPE_ESTIMATORS_INT_H
#define GOPE_ESTIMATORS_INT_H

#include <math.h>

#include "gope_estimators.h"

/* Number of estimator types; a set holds each at most once. */
#define GOPE_EST_TYPES 10

/* The longest slice of a type (sndr's). */
#define GOPE_EST_MAX_SUMS 9

/* An accumulator's sums: the shared sums the set uses, in gope_sum_id order
 * (so w and x, always used, are sums[GOPE_SUM_W] and sums[GOPE_SUM_X]),
 * then each estimator's own sums. */
struct gope_estset_s {
    size_t count;                          /* configured estimators */
    size_t n_sums;                         /* distinct gope_ksum per accumulator */
    size_t n_saved;                        /* sums of all slices (the saved form) */
    unsigned shared;                       /* bit per gope_sum_id in use */
    gope_estimator_conf conf[GOPE_EST_TYPES];
    size_t own[GOPE_EST_TYPES];            /* first own sum of conf[i] */
    uint8_t at[GOPE_EST_TYPES][GOPE_EST_MAX_SUMS]; /* sum k of conf[i]'s slice */
    size_t n_adders;                       /* confs with own sums (an `add`) */
    uint8_t adder[GOPE_EST_TYPES];         /* their indices, for gope_acc_add */
};

/* The types, in output order (see gope_estimator_all). */
extern const gope_estimator_ops gope_est_ips, gope_est_ips_clip, gope_est_snips,
    gope_est_dm, gope_est_dr, gope_est_sndr, gope_est_switch_dr, gope_est_dr_os,
    gope_est_logged, gope_est_snips_lift;

/* ------------------------------------------------------------ double-double */

/* An unevaluated sum hi + lo with |lo| <= ulp(hi) / 2. */
typedef struct {
    double hi, lo;
} gope_dd;

/* Exact a + b = s + e (Knuth's TwoSum, no precondition on magnitudes). */
static inline gope_dd gope_dd_two_sum(double a, double b)
{
    double s = a + b, bb = s - a;
    return (gope_dd){s, (a - (s - bb)) + (b - bb)};
}

/* Exact a + b when |a| >= |b| or a == 0 (Dekker's FastTwoSum). */
static inline gope_dd gope_dd_fast(double a, double b)
{
    double s = a + b;
    return (gope_dd){s, b - (s - a)};
}

static inline gope_dd gope_dd_of(double a) { return (gope_dd){a, 0.0}; }

/* The compensated sum as a normalised double-double. */
static inline gope_dd gope_dd_ksum(const gope_ksum *k) { return gope_dd_two_sum(k->s, k->c); }

static inline gope_dd gope_dd_add(gope_dd a, gope_dd b)
{
    gope_dd s = gope_dd_two_sum(a.hi, b.hi), t = gope_dd_two_sum(a.lo, b.lo);
    s = gope_dd_fast(s.hi, s.lo + t.hi);
    return gope_dd_fast(s.hi, s.lo + t.lo);
}

static inline gope_dd gope_dd_neg(gope_dd a) { return (gope_dd){-a.hi, -a.lo}; }

static inline gope_dd gope_dd_sub(gope_dd a, gope_dd b) { return gope_dd_add(a, gope_dd_neg(b)); }

static inline gope_dd gope_dd_mul(gope_dd a, gope_dd b)
{
    double p = a.hi * b.hi, e = fma(a.hi, b.hi, -p);
    return gope_dd_fast(p, e + (a.hi * b.lo + a.lo * b.hi));
}

/* a - b * c, the centred-moment step of the variance formulas. */
static inline gope_dd gope_dd_submul(gope_dd a, gope_dd b, gope_dd c) { return gope_dd_sub(a, gope_dd_mul(b, c)); }

static inline gope_dd gope_dd_div(gope_dd a, gope_dd b)
{
    double q1 = a.hi / b.hi;
    gope_dd r = gope_dd_sub(a, gope_dd_mul(b, gope_dd_of(q1)));
    return gope_dd_fast(q1, r.hi / b.hi);
}

/* ------------------------------------------------------------ sums */

/* The per-event add functions run once per event and policy, and their
 * exact products need fma. Without -mfma gcc calls libm's fma (~50 ns);
 * with an fma clone chosen at load time it is one instruction. Both are
 * correctly rounded, so results are identical on every machine. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define GOPE_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define GOPE_FMA_CLONES
#endif

/* k += a * b exactly up to the compensation's own rounding: the product's
 * rounding error (fma) joins the compensation term instead of being lost. */
static inline void gope_ksum_add_prod(gope_ksum *k, double a, double b)
{
    double p = a * b;
    gope_ksum_add(k, p);
    k->c += fma(a, b, -p);
}

/* ------------------------------------------------------------ results */

/* Fills `out` from a value and a stderr with their definedness; adds the CI.
 * A quantity that came out inf or NaN (overflowed sums) is made undefined
 * and flagged GOPE_W_NONFINITE, so no _ok number is ever non-finite. */
void gope_est_finish(gope_estimate *out, double value, bool value_ok, double se, bool se_ok,
                     unsigned *warn);

/* sqrt(max(x, 0)): a sum of squared deviations expanded into power sums can
 * come out a rounding error below zero when the true value is 0. */
double gope_est_sqrt0(double x);

#endif /* GOPE_ESTIMATORS_INT_H */
