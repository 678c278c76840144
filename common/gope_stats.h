/*
 * gope_stats.h — the small statistics library shared by the simulator's
 * metrics (sim/) and the estimator-agreement report (ope/agree).
 *
 * Everything here works on plain arrays of doubles the caller owns; nothing
 * allocates. Functions that must sort take a caller-supplied `scratch` array
 * (its size is given in each comment) so the input is never reordered and a
 * hot loop can reuse one buffer. Inputs must be NaN-free.
 *
 * A statistic that is undefined for the given data (no values, a zero total,
 * a constant side of a correlation) is reported by returning false and leaving
 * `*out` untouched, never by a NaN the caller has to remember to test for.
 *
 * Sums go through gope_ksum (Neumaier), because gift totals are heavy-tailed:
 * one whale among millions of small gifts must not lose the small ones.
 *
 * The distribution functions (Student t quantile, chi-square upper tail,
 * normal CDF) are implemented here rather than pulled from a dependency; they
 * are accurate to about 1e-10 relative over the ranges giftope uses.
 */
#ifndef GOPE_STATS_H
#define GOPE_STATS_H

#include <stdbool.h>
#include <stddef.h>

/*! gope_sort_doubles() : sorts `x[0..n)` ascending in place. `x` must be
 * NaN-free (NaN has no place in a total order). n == 0 is allowed.
 * @return nothing. */
void gope_sort_doubles(double *x, size_t n);

/*! gope_quantile_sorted() : the `q`-quantile of the ascending array
 * `sorted[0..n)`, by linear interpolation between closest ranks (numpy's
 * default, `numpy.percentile(x, 100*q)`). `q` is clamped to [0,1]; n >= 1.
 * @return the quantile. */
double gope_quantile_sorted(const double *sorted, size_t n, double q);

/*! gope_gini() : Gini coefficient of `x[0..n)` (values >= 0):
 * G = (2 * sum_i i*x_(i) - (m+1) * sum x) / (m * sum x) over the m values
 * used, sorted ascending, i = 1..m. With `drop_zeros` only values > 0 are
 * used (the concentration among those who gave). `scratch` holds n doubles;
 * `x` is not modified. 0 means equal shares, (m-1)/m all in one value.
 * @return true and `*out` set; false (`*out` untouched) when no value is used
 *         or their sum is 0. */
bool gope_gini(const double *x, size_t n, bool drop_zeros, double *scratch, double *out);

/*! gope_top_share() : the share of sum(x) held by the k = max(1,
 * ceil(frac*n)) largest values of `x[0..n)` (values >= 0, k capped at n).
 * A product frac*n within 1e-9 (relative) of an integer counts as that
 * integer, so 10% of 30 is 3 values although 0.1*30 rounds above 3.
 * `scratch` holds n doubles; `x` is not modified.
 * @return true and `*out` in [0,1]; false (`*out` untouched) when n == 0 or
 *         the sum is 0. */
bool gope_top_share(const double *x, size_t n, double frac, double *scratch, double *out);

/*! gope_cvar_lower() : lower conditional value at risk: the mean of the
 * k = max(1, ceil(alpha*n)) smallest values of `x[0..n)` (k capped at n,
 * alpha*n rounded as in gope_top_share()). For revenue this is the bad
 * tail. `scratch` holds n doubles; `x` is not modified.
 * @return true and `*out` set; false (`*out` untouched) when n == 0. */
bool gope_cvar_lower(const double *x, size_t n, double alpha, double *scratch, double *out);

/* A sample mean with its 95% Student-t confidence interval. */
typedef struct {
    size_t n;
    double mean;    /* 0 when n == 0 */
    double sd;      /* sample standard deviation (n-1 denominator) */
    double se;      /* sd / sqrt(n) */
    double ci_low;  /* mean -/+ t_{0.975, n-1} * se */
    double ci_high;
    bool has_sd;    /* false when n < 2: sd, se, ci_low, ci_high are 0 */
} gope_mean_ci;

/*! gope_mean_ci95() : compensated mean of `x[0..n)`, two-pass sample
 * standard deviation, standard error and two-sided 95% t interval.
 * @return the summary; see gope_mean_ci for the n < 2 convention. */
gope_mean_ci gope_mean_ci95(const double *x, size_t n);

/*! gope_t_quantile() : the `p`-quantile of Student's t with `df` > 0
 * degrees of freedom (finite, may be fractional), for 0 < p < 1; relative
 * accuracy 1e-10 or better (checked to 1e-11 for df in [0.3, 1e6] and p down
 * to 1e-300). Exactly antisymmetric for p >= 0.5: t(1-p) = -t(p).
 * @return the quantile, +-inf when it is beyond DBL_MAX (p == 0, p == 1,
 *         tiny df far in the tail); NaN when p is outside [0,1] or NaN, or
 *         df is NaN, <= 0 or infinite. */
double gope_t_quantile(double p, double df);

/*! gope_chi2_sf() : upper tail P(X > x) of the chi-square distribution with
 * `k` > 0 degrees of freedom, i.e. the regularized upper incomplete gamma
 * Q(k/2, x/2). Relative accuracy about 1e-13 (checked for k in [0.01, 1e6]
 * down to results near DBL_MIN; smaller ones underflow to 0).
 * @return the probability in [0,1] (1 for x <= 0); NaN when k <= 0 or an
 *         argument is NaN. */
double gope_chi2_sf(double x, double k);

/*! gope_normal_cdf() : the standard normal CDF Phi(z), accurate in both
 * tails (computed through erfc).
 * @return Phi(z) in [0,1]. */
double gope_normal_cdf(double z);

/*! gope_kendall_tau_b() : Kendall's tau-b of the pairs (x[i], y[i]),
 * i < n, with the tie correction (scipy.stats.kendalltau's default). O(n^2)
 * time, no extra memory; meant for small n (methods or windows, not events).
 * @return true and `*out` in [-1,1]; false (`*out` untouched) when n < 2 or
 *         either side is entirely tied. */
bool gope_kendall_tau_b(const double *x, const double *y, size_t n, double *out);

/*! gope_spearman_rho() : Spearman's rank correlation of the pairs
 * (x[i], y[i]), i < n: the Pearson correlation of their average ranks (ties
 * share the mean of their ranks, as scipy.stats.spearmanr). `scratch` holds
 * 4*n doubles. O(n log n).
 * @return true and `*out` in [-1,1]; false (`*out` untouched) when n < 2 or
 *         either side is entirely tied. */
bool gope_spearman_rho(const double *x, const double *y, size_t n, double *scratch, double *out);

#endif /* GOPE_STATS_H */
