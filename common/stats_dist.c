/*
 * stats_dist.c — the distribution functions of gope_stats.h: Student t
 * quantile, chi-square upper tail, normal CDF.
 *
 * Design: both t and chi-square reduce to regularized incomplete functions
 * (beta for t, gamma for chi-square), evaluated by the textbook expansions:
 * a power series where it converges fast, otherwise a continued fraction by
 * the modified Lentz method (one shared loop, the terms supplied per
 * function). The side that is computed directly is always the small one, so
 * a tiny tail probability keeps its relative accuracy instead of being
 * 1 - (something close to 1). The incomplete beta takes x and 1 - x as two
 * arguments for the same reason: callers derive both from t without
 * cancellation.
 *
 * The t quantile is a safeguarded Newton iteration on the CDF: a bracket
 * [lo, hi] is kept and a step that leaves it is replaced by bisection. In the
 * tails it works on log(tail) against log(t), where the t tail is nearly a
 * straight line (a power law), so even df = 1 at p = 1e-300 converges in a
 * few steps; near the centre it is plain Newton on P(0 < T < t).
 */
#define _DEFAULT_SOURCE /* lgamma_r: lgamma() writes the global signgam */
#include <float.h>
#include <math.h>

#include "gope_stats.h"

#define PI 3.14159265358979323846
#define SQRT1_2 0.70710678118654752440
#define CF_EPS 1e-16
#define CF_TINY 1e-300
#define CF_MAX_ITER 100000

static double log_gamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* Stirling remainder lgamma(x) - ((x - 1/2) log x - x + log(2 pi)/2), for
 * x >= 50 where the truncated series is exact to double precision. */
static double stirling_rest(double x)
{
    double r = 1 / (x * x);
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r / 1680))) / x;
}

/* lgamma(big) - lgamma(big + small) for big >= small > 0, without the
 * cancellation of two huge lgamma values when big is large (t with 1e5
 * degrees of freedom needs it). */
static double lgamma_drop(double big, double small)
{
    if (big < 50)
        return log_gamma(big) - log_gamma(big + small);
    return small - small * log(big) - (big + small - 0.5) * log1p(small / big) +
           stirling_rest(big) - stirling_rest(big + small);
}

static double log_beta(double a, double b)
{
    double big = fmax(a, b), small = fmin(a, b);
    return log_gamma(small) + lgamma_drop(big, small);
}

/* Term j >= 1 of a continued fraction b0 + a1/(b1 + a2/(b2 + ...)). */
typedef void (*cf_term_fn)(const double *par, int j, double *aj, double *bj);

/* Modified Lentz evaluation of b0 + a1/(b1 + a2/(b2 + ...)). */
static double lentz(double b0, cf_term_fn term, const double *par)
{
    double f = b0 == 0 ? CF_TINY : b0, c = f, d = 0;
    for (int j = 1; j <= CF_MAX_ITER; j++) {
        double aj, bj;
        term(par, j, &aj, &bj);
        d = bj + aj * d;
        c = bj + aj / c;
        d = 1 / (fabs(d) < CF_TINY ? CF_TINY : d);
        if (fabs(c) < CF_TINY)
            c = CF_TINY;
        double delta = c * d;
        f *= delta;
        if (fabs(delta - 1) < CF_EPS)
            break;
    }
    return f;
}

/* par = {a, b, x}: I_x(a,b) = front / (1 + d1/(1 + d2/(1 + ...))) with
 * d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)), d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)). */
static void beta_term(const double *par, int j, double *aj, double *bj)
{
    double a = par[0], b = par[1], x = par[2], m = (double)(j / 2);
    if (j % 2)
        *aj = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
    else
        *aj = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    *bj = 1;
}

/* I_x(a,b) by its continued fraction, given x and lx = log x, lxc = log(1-x). */
static double inc_beta_cf(double a, double b, double x, double lx, double lxc)
{
    double front = exp(a * lx + b * lxc - log_beta(a, b)) / a;
    const double par[3] = {a, b, x};
    return front / lentz(1, beta_term, par);
}

/* The point x of an incomplete beta, with 1 - x and both logarithms, each
 * derived without cancellation or overflow (x may underflow to 0 while lx
 * stays finite, e.g. the t tail at t = 1e200). */
typedef struct {
    double x, xc, lx, lxc;
} beta_point;

/* Regularized incomplete beta I_x(a,b) at `pt`. */
static double inc_beta(double a, double b, beta_point pt)
{
    if (pt.lx == -INFINITY)
        return 0;
    if (pt.lxc == -INFINITY)
        return 1;
    /* the fraction converges fast below the mean; above it, use the mirror
     * I_x(a,b) = 1 - I_{1-x}(b,a) */
    if (pt.x > (a + 1) / (a + b + 2))
        return 1 - inc_beta_cf(b, a, pt.xc, pt.lxc, pt.lx);
    return inc_beta_cf(a, b, pt.x, pt.lx, pt.lxc);
}

/* par = {a, x}: Q(a,x) = front / (x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(x+5-a - ...))). */
static void gamma_term(const double *par, int j, double *aj, double *bj)
{
    double a = par[0], x = par[1];
    *aj = -(double)j * ((double)j - a);
    *bj = x + 2.0 * j + 1 - a;
}

/* log(1 + d) - d for d > -1, accurate also for small |d|, where log1p(d)
 * and d cancel. With u = d / (2 + d): log(1 + d) = 2 atanh(u) and
 * d - 2u = d u, so log(1 + d) - d = -d u + 2u^3 (1/3 + u^2/5 + u^4/7 + ...);
 * for |d| < 1/2, |u| < 1/3 and the series gains a digit per term. */
static double log1pmx(double d)
{
    if (fabs(d) >= 0.5)
        return log1p(d) - d;
    double u = d / (2 + d), u2 = u * u, pw = 1, sum = 0;
    for (int j = 3; pw > CF_EPS * 1e-2; j += 2) {
        sum += pw / j;
        pw *= u2;
    }
    return -d * u + 2 * u * u2 * sum;
}

/* log(x^a e^-x / Gamma(a)), the prefactor of both incomplete gamma
 * expansions. For a >= 50 Stirling's form a (log(1+d) - d) + log(a/(2 pi))/2
 * - rest(a), d = (x-a)/a, replaces a log x - x - lgamma(a), whose terms
 * grow like a log a and cancel to the last digits near x = a (chi-square
 * with 1e5 degrees of freedom lost ten digits that way). */
static double log_gamma_front(double a, double x)
{
    if (a < 50)
        return a * log(x) - x - log_gamma(a);
    return a * log1pmx((x - a) / a) + 0.5 * log(a / (2 * PI)) - stirling_rest(a);
}

/* Regularized upper incomplete gamma Q(a,x), x > 0. */
static double inc_gamma_upper(double a, double x)
{
    double front = exp(log_gamma_front(a, x));
    if (x >= a + 1) {
        const double par[2] = {a, x};
        return front / lentz(x + 1 - a, gamma_term, par);
    }
    /* P(a,x) = front * sum_n x^n / (a (a+1) ... (a+n)); Q = 1 - P is not
     * small here, so the subtraction costs nothing relative */
    double term = 1 / a, sum = term;
    for (int n = 1; n <= CF_MAX_ITER && term > sum * CF_EPS; n++) {
        term *= x / (a + n);
        sum += term;
    }
    return fmax(0.0, 1 - front * sum);
}

double gope_chi2_sf(double x, double k)
{
    if (isnan(x) || isnan(k) || !(k > 0))
        return NAN;
    if (x <= 0)
        return 1;
    if (isinf(x))
        return 0;
    return inc_gamma_upper(0.5 * k, 0.5 * x);
}

double gope_normal_cdf(double z)
{
    return 0.5 * erfc(-z * SQRT1_2);
}

/* The t quantile problem for one (p, df): find t >= 0 with f(t) = 0, where
 * f(t) = c - P(0 < T < t) in the centre (target probability >= 0.25) and
 * f(t) = P(T > t) - q in the tail; both decrease from f(0) > 0. */
typedef struct {
    double df, a;   /* a = df/2 */
    double q, c;    /* tail target, and c = 0.5 - q */
    bool tail;      /* which form of f is used */
    double log_pdf0; /* log of the density at t = 0 */
} tq_problem;

/* The beta point x = df / (df + t^2) of the t tail; t >= 0. */
static beta_point tq_point(const tq_problem *pb, double t)
{
    double root = sqrt(pb->df);
    beta_point pt;
    if (t <= root) {
        double u = t / root, u2 = u * u, l = log1p(u2);
        pt = (beta_point){1 / (1 + u2), u2 / (1 + u2), -l, 2 * log(u) - l};
    } else {
        double s = root / t, s2 = s * s, l = log1p(s2);
        pt = (beta_point){s2 / (1 + s2), 1 / (1 + s2), 2 * log(s) - l, -l};
    }
    return pt;
}

/* f(t); also the tail probability P(T > t) into *tail and the log density
 * at t into *log_pdf. */
static double tq_eval(const tq_problem *pb, double t, double *tail, double *log_pdf)
{
    beta_point pt = tq_point(pb, t);
    /* density: pdf(0) * (1 + t^2/df)^(-(df+1)/2), and log(1 + t^2/df) = -lx */
    *log_pdf = pb->log_pdf0 + 0.5 * (pb->df + 1) * pt.lx;
    if (pb->tail) {
        *tail = 0.5 * inc_beta(pb->a, 0.5, pt);
        return *tail - pb->q;
    }
    beta_point mirror = {pt.xc, pt.x, pt.lxc, pt.lx};
    double mid = 0.5 * inc_beta(0.5, pb->a, mirror);
    *tail = 0.5 - mid;
    return pb->c - mid;
}

double gope_t_quantile(double p, double df)
{
    if (isnan(p) || isnan(df) || !(df > 0) || isinf(df) || p < 0 || p > 1)
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    if (p == 0.5)
        return 0;
    tq_problem pb = {.df = df, .a = 0.5 * df};
    pb.q = p < 0.5 ? p : 1 - p; /* exact for p >= 0.5 */
    pb.c = 0.5 - pb.q;          /* exact when it is used (q >= 0.25) */
    pb.tail = pb.q < 0.25;
    pb.log_pdf0 = -lgamma_drop(pb.a, 0.5) - 0.5 * log(df * PI);
    double sign = p < 0.5 ? -1 : 1, tail, log_pdf;

    /* bracket: f(lo) > 0 >= f(hi); squaring reaches DBL_MAX in eleven steps */
    double lo = 0, hi = 1;
    while (tq_eval(&pb, hi, &tail, &log_pdf) > 0) {
        if (hi == DBL_MAX)
            return sign * INFINITY;
        lo = hi;
        hi = hi < 2 ? 2 : hi > 1e154 ? DBL_MAX : hi * hi;
    }
    double t = lo > 0 ? sqrt(lo) * sqrt(hi) : 0.5 * hi;
    for (int iter = 0; iter < 200; iter++) {
        double f = tq_eval(&pb, t, &tail, &log_pdf);
        if (f == 0)
            break;
        if (f > 0)
            lo = t;
        else
            hi = t;
        double next;
        if (pb.tail) /* Newton on log tail against log t; tail / (pdf t) in logs */
            next = t * exp((log(tail) - log(pb.q)) * exp(log(tail) - log_pdf - log(t)));
        else
            next = t + f * exp(-log_pdf);
        if (!(next > lo && next < hi))
            next = lo > 0 && pb.tail ? sqrt(lo) * sqrt(hi) : lo + 0.5 * (hi - lo);
        double step = fabs(next - t);
        t = next;
        if (step <= 1e-14 * t || hi - lo <= 4 * DBL_EPSILON * hi)
            break;
    }
    return sign * t;
}
