/*
 * stats.c — descriptive statistics of gope_stats.h: sorting, quantiles, the
 * inequality measures the simulator reports (Gini, top share, lower CVaR), a
 * mean with its t interval, and the rank correlations the agreement report
 * uses to compare estimator orderings.
 *
 * Design: nothing allocates. Order statistics copy into the caller's scratch
 * and sort there, so the input stays intact and a caller computing many
 * metrics over one window reuses one buffer. All sums are Neumaier sums, and
 * the Gini numerator is summed as sum_i (2i - m - 1) x_(i) in one compensated
 * pass instead of 2*sum(i x) - (m+1)*sum(x), which would cancel badly when
 * the shares are nearly equal. The distributions live in stats_dist.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gope_common.h"
#include "gope_stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void gope_sort_doubles(double *x, size_t n)
{
    if (n > 1)
        qsort(x, n, sizeof *x, cmp_double);
}

double gope_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (!(q > 0))
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    double h = q * (double)(n - 1);
    size_t lo = (size_t)h;
    if (lo >= n - 1)
        return sorted[n - 1];
    double t = h - (double)lo, a = sorted[lo], b = sorted[lo + 1], d = b - a;
    /* numpy's lerp: interpolate from the nearer end, so t == 1 gives b exactly
     * and the result is monotone in q */
    return t < 0.5 ? a + d * t : b - d * (1 - t);
}

/* The count k = ceil(frac * n), at least 1 and at most n. A product that
 * lands within 1e-9 of an integer is taken as that integer, so "10% of 30"
 * is 3 although 0.1 * 30 rounds to 3.0000000000000004. */
static size_t share_count(double frac, size_t n)
{
    double kf = frac * (double)n, r = nearbyint(kf);
    if (fabs(kf - r) <= 1e-9 * fmax(1.0, r))
        kf = r;
    if (!(kf > 1))
        return 1;
    if (kf >= (double)n)
        return n;
    return (size_t)ceil(kf);
}

static double sum_range(const double *x, size_t from, size_t to)
{
    gope_ksum k = {0, 0};
    for (size_t i = from; i < to; i++)
        gope_ksum_add(&k, x[i]);
    return gope_ksum_value(&k);
}

bool gope_gini(const double *x, size_t n, bool drop_zeros, double *scratch, double *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!drop_zeros || x[i] > 0)
            scratch[m++] = x[i];
    gope_sort_doubles(scratch, m);
    double total = sum_range(scratch, 0, m);
    if (m == 0 || total == 0)
        return false;
    gope_ksum num = {0, 0};
    for (size_t i = 0; i < m; i++)
        gope_ksum_add(&num, (2.0 * (double)(i + 1) - (double)m - 1.0) * scratch[i]);
    *out = gope_ksum_value(&num) / ((double)m * total);
    return true;
}

bool gope_top_share(const double *x, size_t n, double frac, double *scratch, double *out)
{
    if (n == 0)
        return false;
    memcpy(scratch, x, n * sizeof *x);
    gope_sort_doubles(scratch, n);
    double total = sum_range(scratch, 0, n);
    if (total == 0)
        return false;
    *out = sum_range(scratch, n - share_count(frac, n), n) / total;
    return true;
}

bool gope_cvar_lower(const double *x, size_t n, double alpha, double *scratch, double *out)
{
    if (n == 0)
        return false;
    memcpy(scratch, x, n * sizeof *x);
    gope_sort_doubles(scratch, n);
    size_t k = share_count(alpha, n);
    *out = sum_range(scratch, 0, k) / (double)k;
    return true;
}

gope_mean_ci gope_mean_ci95(const double *x, size_t n)
{
    gope_mean_ci r = {.n = n};
    if (n == 0)
        return r;
    r.mean = sum_range(x, 0, n) / (double)n;
    if (n < 2)
        return r;
    /* two-pass variance; the first-order correction (sum d)^2 / n removes
     * what the rounding of the mean leaves behind */
    gope_ksum d = {0, 0}, d2 = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double di = x[i] - r.mean;
        gope_ksum_add(&d, di);
        gope_ksum_add(&d2, di * di);
    }
    double sd = gope_ksum_value(&d);
    double ss = gope_ksum_value(&d2) - sd * sd / (double)n;
    r.sd = sqrt(fmax(ss, 0) / (double)(n - 1));
    r.se = r.sd / sqrt((double)n);
    double half = gope_t_quantile(0.975, (double)(n - 1)) * r.se;
    r.ci_low = r.mean - half;
    r.ci_high = r.mean + half;
    r.has_sd = true;
    return r;
}

bool gope_kendall_tau_b(const double *x, const double *y, size_t n, double *out)
{
    if (n < 2)
        return false;
    /* s = concordant - discordant; tx, ty = pairs tied in x, in y */
    long long s = 0;
    unsigned long long tx = 0, ty = 0;
    for (size_t i = 0; i + 1 < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int dx = (x[i] > x[j]) - (x[i] < x[j]);
            int dy = (y[i] > y[j]) - (y[i] < y[j]);
            s += dx * dy;
            tx += dx == 0;
            ty += dy == 0;
        }
    unsigned long long pairs = (unsigned long long)n * (n - 1) / 2;
    if (tx == pairs || ty == pairs)
        return false;
    /* one sqrt of the product: exact for the perfect orderings of small n */
    double tau = (double)s / sqrt((double)(pairs - tx) * (double)(pairs - ty));
    *out = fmax(-1.0, fmin(1.0, tau));
    return true;
}

/* Average ranks (1-based, ties share the mean of their ranks) of v[0..n)
 * into rank[0..n); `pairs` holds 2n doubles: (value, index) rows sorted by
 * value. Indices below 2^53 are exact in a double. */
static void average_ranks(const double *v, size_t n, double *pairs, double *rank)
{
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = v[i];
        pairs[2 * i + 1] = (double)i;
    }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_double);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && pairs[2 * j] == pairs[2 * i])
            j++;
        double r = 0.5 * (double)(i + 1 + j); /* mean of ranks i+1 .. j */
        for (size_t t = i; t < j; t++)
            rank[(size_t)pairs[2 * t + 1]] = r;
        i = j;
    }
}

bool gope_spearman_rho(const double *x, const double *y, size_t n, double *scratch, double *out)
{
    if (n < 2)
        return false;
    double *rx = scratch, *ry = scratch + n, *pairs = scratch + 2 * n;
    average_ranks(x, n, pairs, rx);
    average_ranks(y, n, pairs, ry);
    double mean = 0.5 * (double)(n + 1); /* average ranks always sum to n(n+1)/2 */
    gope_ksum sxy = {0, 0}, sxx = {0, 0}, syy = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double dx = rx[i] - mean, dy = ry[i] - mean;
        gope_ksum_add(&sxy, dx * dy);
        gope_ksum_add(&sxx, dx * dx);
        gope_ksum_add(&syy, dy * dy);
    }
    double vx = gope_ksum_value(&sxx), vy = gope_ksum_value(&syy);
    if (vx == 0 || vy == 0)
        return false;
    double rho = gope_ksum_value(&sxy) / sqrt(vx * vy);
    *out = fmax(-1.0, fmin(1.0, rho));
    return true;
}
