/*
 * test_stats.c — common/gope_stats.h against reference values pasted as
 * literals.
 *
 * Where the literals come from (Python 3, numpy 2.4, scipy 1.17, mpmath 1.3):
 * - quantiles: numpy.percentile(x, 100*q) (method 'linear');
 * - Gini, top share, CVaR: the definitions by hand in exact rational
 *   arithmetic (fractions.Fraction of the doubles), rounded once;
 * - mean CI: numpy mean, x.std(ddof=1), scipy.stats.sem and
 *   scipy.stats.t.interval(0.95, n-1, loc, scale); where numpy's own rounding
 *   is larger than 1e-13 (WIDE, the offset sample) the exact rational mean and
 *   variance with the mpmath t quantile below;
 * - Kendall / Spearman: scipy.stats.kendalltau (tau-b), scipy.stats.spearmanr;
 * - t quantiles: mpmath at 50 digits, solving betainc(df/2, 1/2, 0,
 *   df/(df+t^2), regularized=True)/2 = min(p, 1-p) with findroot (scipy's
 *   t.ppf is itself off by ~1e-10 near p = 0.5, so it is not the reference);
 * - chi-square: mpmath gammainc(k/2, x/2, inf, regularized=True);
 * - normal CDF: scipy.stats.norm.cdf.
 *
 * HEAVY is the shared heavy-tailed sample: zeros, small gifts and one whale;
 * WIDE spans 1e-3 .. 1e7 with ties at 0, 1e-3, 0.5 and 3.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gope_stats.h"

#define N_OF(a) (sizeof(a) / sizeof *(a))

static const double HEAVY[16] = {0.0, 3.0,  0.5,     1200.0, 0.0,   7.25, 1.0,  1.0,
                                 45.5, 0.0, 2.0, 99999.0, 0.125, 10.0, 0.0, 6.0};
static const double WIDE[20] = {1e-3, 0.002, 0.5, 0.5, 3.0, 3.0, 3.0, 12.25, 80.0, 250.0,
                                1e3,  4.5e3, 2e4, 1e5, 7.5e5, 1e7, 0.001, 0.0, 0.0, 64.0};

/* |got - want| <= tol * max(|want|, tiny); exact when want is 0. */
static void expect_rel(double got, double want, double tol, const char *what)
{
    double err = fabs(got - want), scale = fabs(want);
    cr_expect(err <= tol * scale || err == 0, "%s: got %.17g, want %.17g (rel err %.3g)", what,
              got, want, scale > 0 ? err / scale : err);
}

/* -------------------------------------------------------------- sorting */

Test(stats_sort, ascending_with_ties_and_negatives)
{
    double x[] = {3, -1, 2.5, -1, 0, 1e300, -0.0, 7};
    const double want[] = {-1, -1, -0.0, 0, 2.5, 3, 7, 1e300};
    gope_sort_doubles(x, N_OF(x));
    for (size_t i = 0; i < N_OF(x); i++)
        cr_expect_eq(x[i], want[i], "x[%zu] = %g", i, x[i]);
    double one = 4;
    gope_sort_doubles(&one, 1);
    cr_expect_eq(one, 4);
    gope_sort_doubles(NULL, 0);
}

/* ------------------------------------------------------------ quantiles */

Test(stats_quantile, numpy_linear)
{
    double s[16];
    memcpy(s, HEAVY, sizeof s);
    gope_sort_doubles(s, 16);
    static const double q[] = {0, 0.10, 0.25, 0.50, 0.625, 0.90, 0.99, 1};
    /* numpy.percentile(HEAVY, [0, 10, 25, 50, 62.5, 90, 99, 100]) */
    static const double want[] = {0.0, 0.0, 0.09375, 1.5, 4.125, 622.75, 85179.14999999997,
                                  99999.0};
    for (size_t i = 0; i < N_OF(q); i++)
        expect_rel(gope_quantile_sorted(s, 16, q[i]), want[i], 1e-15, "percentile");
}

Test(stats_quantile, numpy_linear_wide)
{
    double s[20];
    memcpy(s, WIDE, sizeof s);
    gope_sort_doubles(s, 20);
    static const double q[] = {0, 0.05, 0.10, 0.333, 0.50, 0.75, 0.95, 0.99, 1};
    /* numpy.percentile(WIDE, [0, 5, 10, 33.3, 50, 75, 95, 99, 100]) */
    static const double want[] = {0.0,    0.0,       0.0009000000000000002, 1.3174999999999977,
                                  7.625,  1875.0,    1212500.0000000065,    8242499.999999988,
                                  10000000.0};
    for (size_t i = 0; i < N_OF(q); i++)
        expect_rel(gope_quantile_sorted(s, 20, q[i]), want[i], 1e-14, "percentile wide");
}

Test(stats_quantile, edges)
{
    const double one[] = {42};
    cr_expect_eq(gope_quantile_sorted(one, 1, 0), 42);
    cr_expect_eq(gope_quantile_sorted(one, 1, 0.3), 42);
    cr_expect_eq(gope_quantile_sorted(one, 1, 1), 42);
    const double same[] = {2, 2, 2, 2};
    cr_expect_eq(gope_quantile_sorted(same, 4, 0.77), 2);
    const double two[] = {1, 3};
    cr_expect_eq(gope_quantile_sorted(two, 2, 0.25), 1.5);
    cr_expect_eq(gope_quantile_sorted(two, 2, -0.5), 1, "q below 0 clamps");
    cr_expect_eq(gope_quantile_sorted(two, 2, 2), 3, "q above 1 clamps");
    /* the interpolation never leaves [a, b] and hits b exactly near q = 1 */
    const double big[] = {0.1, 1e16};
    cr_expect_eq(gope_quantile_sorted(big, 2, 1 - 1e-17), 1e16);
}

/* ----------------------------------------------------------------- Gini */

Test(stats_gini, reference_heavy_tail)
{
    double x[16], scratch[16], g = -1;
    memcpy(x, HEAVY, sizeof x);
    cr_assert(gope_gini(x, 16, false, scratch, &g));
    expect_rel(g, 0.9357283760983358, 1e-14, "gini all");
    cr_assert(gope_gini(x, 16, true, scratch, &g));
    expect_rel(g, 0.9143045014644477, 1e-14, "gini positive");
    cr_expect_eq(memcmp(x, HEAVY, sizeof x), 0, "input untouched");
    double wscratch[20];
    cr_assert(gope_gini(WIDE, 20, false, wscratch, &g));
    expect_rel(g, 0.9404762524020075, 1e-14, "gini wide all");
    cr_assert(gope_gini(WIDE, 20, true, wscratch, &g));
    expect_rel(g, 0.9338625026688973, 1e-14, "gini wide positive");
}

Test(stats_gini, closed_forms)
{
    double scratch[4], g = -1;
    const double equal[] = {5, 5, 5, 5};
    cr_assert(gope_gini(equal, 4, false, scratch, &g));
    cr_expect_eq(g, 0);
    /* all in one of n: (n-1)/n */
    const double whale[] = {0, 0, 10, 0};
    cr_assert(gope_gini(whale, 4, false, scratch, &g));
    expect_rel(g, 0.75, 1e-15, "one of four");
    cr_assert(gope_gini(whale, 4, true, scratch, &g));
    cr_expect_eq(g, 0, "a single giver is equal to itself");
    /* n = 2: (b - a) / (2 (a + b)) */
    const double two[] = {3, 1};
    cr_assert(gope_gini(two, 2, false, scratch, &g));
    expect_rel(g, 0.25, 1e-15, "n = 2");
    const double one[] = {0.25};
    g = -1;
    cr_assert(gope_gini(one, 1, false, scratch, &g));
    cr_expect_eq(g, 0, "n = 1");
}

Test(stats_gini, undefined_leaves_out)
{
    double scratch[4], g = 123;
    const double zeros[] = {0, 0, 0};
    cr_expect_not(gope_gini(zeros, 3, false, scratch, &g), "sum 0");
    cr_expect_not(gope_gini(zeros, 3, true, scratch, &g), "no positive value");
    cr_expect_not(gope_gini(zeros, 0, false, scratch, &g), "n = 0");
    cr_expect_eq(g, 123);
}

/* ------------------------------------------------------------ top share */

Test(stats_top_share, reference_and_counts)
{
    double x[16], scratch[30], s = -1;
    memcpy(x, HEAVY, sizeof x);
    /* 10% of 16 -> ceil(1.6) = 2 values */
    cr_assert(gope_top_share(x, 16, 0.10, scratch, &s));
    expect_rel(s, 0.9992458680108566, 1e-15, "top 10%");
    cr_expect_eq(memcmp(x, HEAVY, sizeof x), 0, "input untouched");
    cr_assert(gope_top_share(HEAVY, 16, 0.0, scratch, &s));
    expect_rel(s, 0.9873969856937088, 1e-15, "frac 0 takes one value");
    cr_assert(gope_top_share(HEAVY, 16, 1.0, scratch, &s));
    cr_expect_eq(s, 1);
    cr_assert(gope_top_share(HEAVY, 16, 7.0, scratch, &s));
    cr_expect_eq(s, 1, "frac above 1 takes all");
    /* 0.1 * 30 = 3.0000000000000004 must count as 3, not 4 */
    double ones[30];
    for (size_t i = 0; i < 30; i++)
        ones[i] = 1;
    cr_assert(gope_top_share(ones, 30, 0.1, scratch, &s));
    expect_rel(s, 0.1, 1e-15, "3 of 30");
    const double one[] = {2.5};
    cr_assert(gope_top_share(one, 1, 0.01, scratch, &s));
    cr_expect_eq(s, 1, "n = 1");
    const double two[] = {1e-3, 1e7};
    cr_assert(gope_top_share(two, 2, 0.5, scratch, &s));
    expect_rel(s, 0.9999999999, 1e-15, "n = 2"); /* 1e7 / (1e7 + 1e-3) */
    /* WIDE: 1% -> 1 value, 10% -> 2, 25% -> 5 */
    static const double fr[] = {0.01, 0.10, 0.25};
    static const double want[] = {0.9194627621670173, 0.9884224693295436, 0.999869780718523};
    for (size_t i = 0; i < N_OF(fr); i++) {
        cr_assert(gope_top_share(WIDE, 20, fr[i], scratch, &s));
        expect_rel(s, want[i], 1e-14, "top share wide");
    }
}

Test(stats_top_share, undefined_leaves_out)
{
    double scratch[3], s = 7;
    const double zeros[] = {0, 0, 0};
    cr_expect_not(gope_top_share(zeros, 3, 0.5, scratch, &s));
    cr_expect_not(gope_top_share(zeros, 0, 0.5, scratch, &s));
    cr_expect_eq(s, 7);
}

/* ----------------------------------------------------------------- CVaR */

Test(stats_cvar, lower_tail_means)
{
    double scratch[16], c = -1;
    cr_assert(gope_cvar_lower(HEAVY, 16, 0.25, scratch, &c));
    cr_expect_eq(c, 0, "the four smallest are the zeros");
    cr_assert(gope_cvar_lower(HEAVY, 16, 0.3, scratch, &c)); /* ceil(4.8) = 5 */
    expect_rel(c, 0.025, 1e-15, "five smallest");
    cr_assert(gope_cvar_lower(HEAVY, 16, 0, scratch, &c));
    cr_expect_eq(c, 0, "alpha 0 is the minimum");
    cr_assert(gope_cvar_lower(HEAVY, 16, 1, scratch, &c));
    expect_rel(c, 6329.7109375, 1e-15, "alpha 1 is the mean");
    const double neg[] = {-3, 8, -1};
    cr_assert(gope_cvar_lower(neg, 3, 0.5, scratch, &c));
    cr_expect_eq(c, -2, "ceil(1.5) = 2 smallest of a signed sample");
    const double one[] = {9};
    cr_assert(gope_cvar_lower(one, 1, 0.05, scratch, &c));
    cr_expect_eq(c, 9);
    const double two[] = {1e7, 1e-3};
    cr_assert(gope_cvar_lower(two, 2, 0.05, scratch, &c));
    cr_expect_eq(c, 1e-3, "n = 2");
    const double same[] = {0.3, 0.3, 0.3, 0.3, 0.3};
    cr_assert(gope_cvar_lower(same, 5, 0.5, scratch, &c));
    expect_rel(c, 0.3, 1e-15, "all equal");
    double wscratch[20];
    cr_assert(gope_cvar_lower(WIDE, 20, 0.10, wscratch, &c));
    cr_expect_eq(c, 0, "the two zeros of WIDE");
    cr_assert(gope_cvar_lower(WIDE, 20, 0.5, wscratch, &c)); /* ten smallest */
    expect_rel(c, 1.0004, 1e-15, "half of WIDE");
    c = 11;
    cr_expect_not(gope_cvar_lower(one, 0, 0.05, scratch, &c));
    cr_expect_eq(c, 11);
}

/* -------------------------------------------------------------- mean CI */

Test(stats_mean_ci, heavy_tail_reference)
{
    gope_mean_ci m = gope_mean_ci95(HEAVY, 16);
    cr_expect_eq(m.n, 16);
    cr_expect(m.has_sd);
    expect_rel(m.mean, 6329.7109375, 1e-15, "mean");
    expect_rel(m.sd, 24980.25677242091, 1e-13, "sd");
    expect_rel(m.se, 6245.064193105228, 1e-13, "se");
    expect_rel(m.ci_low, -6981.328298885766, 1e-12, "ci_low");
    expect_rel(m.ci_high, 19640.750173885768, 1e-12, "ci_high");
    /* WIDE: exact rationals + mpmath t(0.975, 19) */
    m = gope_mean_ci95(WIDE, 20);
    expect_rel(m.mean, 543795.8127, 1e-15, "mean wide");
    expect_rel(m.sd, 2232047.0142776833, 1e-14, "sd wide");
    expect_rel(m.se, 499100.88529003436, 1e-14, "se wide");
    expect_rel(m.ci_low, -500834.34578852444, 1e-12, "ci_low wide");
    expect_rel(m.ci_high, 1588425.9711885244, 1e-12, "ci_high wide");
}

Test(stats_mean_ci, small_and_degenerate)
{
    gope_mean_ci m = gope_mean_ci95(NULL, 0);
    cr_expect(m.n == 0 && !m.has_sd && m.mean == 0 && m.sd == 0 && m.ci_high == 0);
    const double one[] = {4.5};
    m = gope_mean_ci95(one, 1);
    cr_expect(m.n == 1 && !m.has_sd && m.mean == 4.5);
    cr_expect(m.sd == 0 && m.se == 0 && m.ci_low == 0 && m.ci_high == 0);
    /* n = 2: t at 1 df is 12.706 */
    const double two[] = {1.5, 4.0};
    m = gope_mean_ci95(two, 2);
    cr_expect(m.has_sd);
    expect_rel(m.mean, 2.75, 1e-15, "mean2");
    expect_rel(m.sd, 1.7677669529663689, 1e-15, "sd2");
    expect_rel(m.ci_low, -13.132755920218369, 1e-13, "ci_low2");
    expect_rel(m.ci_high, 18.63275592021837, 1e-13, "ci_high2");
    const double same[] = {-7, -7, -7};
    m = gope_mean_ci95(same, 3);
    cr_expect(m.has_sd && m.mean == -7 && m.sd == 0 && m.ci_low == -7 && m.ci_high == -7);
    const double zeros[] = {0, 0};
    m = gope_mean_ci95(zeros, 2);
    cr_expect(m.has_sd && m.mean == 0 && m.sd == 0 && m.se == 0 && m.ci_low == 0 &&
              m.ci_high == 0);
}

Test(stats_mean_ci, large_offset_keeps_spread)
{
    /* a mean 1e10 times the spread: one-pass power sums lose every digit.
     * Exact sd of these doubles (numpy's ddof=1 std is 0.1290994140939514,
     * itself 6e-13 off) */
    const double x[] = {1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3, 1e9 + 0.4};
    gope_mean_ci m = gope_mean_ci95(x, 4);
    expect_rel(m.mean, 1000000000.25, 1e-15, "mean with offset");
    expect_rel(m.sd, 0.12909941409387802, 1e-12, "sd with offset");
}

/* ---------------------------------------------------------- t quantiles */

typedef struct {
    double df, p, t;
} t_case;

Test(stats_t_quantile, reference_values)
{
    static const t_case cases[] = {
        {1, 0.975, 12.706204736174693314},   {1, 0.995, 63.656741162871524447},
        {1, 0.9, 3.0776835371752541331},     {1, 0.6, 0.32491969623290624903},
        {1, 1e-6, -318309.88618274348839},   {1, 1e-300, -3.1830988618379067e299},
        {2, 0.975, 4.3026527297494617894},   {2, 0.995, 9.9248432009182886403},
        {2, 0.9, 1.8856180831641270225},     {2, 0.6, 0.28867513459481281549},
        {2, 1e-6, -707.10572052593381853},   {10, 0.975, 2.2281388519862742245},
        {10, 0.995, 3.1692726726169507118},  {10, 0.9, 1.3721836411103357746},
        {10, 0.6, 0.26018482949208017615},   {10, 1e-6, -9.7519954909405802263},
        {30, 0.975, 2.0422724563012378878},  {30, 0.995, 2.7499956535672249664},
        {30, 0.9, 1.3104150253913957112},    {30, 0.6, 0.25560536495191271444},
        {30, 1e-6, -5.8711171204188826617},  {1000, 0.975, 1.9623390808264081039},
        {1000, 0.995, 2.5807546980659507706}, {1000, 0.9, 1.282398721460924564},
        {1000, 0.6, 0.25341451583949870728}, {1000, 1e-6, -4.7816086204583505741},
        /* fractional and very large df */
        {0.5, 0.9, 10.270324410234510724},   {4.7, 0.975, 2.6207260753531696379},
        {4.7, 1e-9, -122.91157777480539532}, {12345.6, 0.995, 2.5762276044252137194},
        {1e6, 0.975, 1.9599663568141066553},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        const t_case *c = &cases[i];
        double t = gope_t_quantile(c->p, c->df);
        cr_expect(fabs(t - c->t) <= 1e-10 * fabs(c->t), "df %g p %g: got %.17g want %.17g",
                  c->df, c->p, t, c->t);
        if (c->p > 0.5) /* then 1 - p is exact, and so is the mirror */
            cr_expect_eq(gope_t_quantile(1 - c->p, c->df), -t, "symmetry df %g p %g", c->df,
                         c->p);
    }
}

Test(stats_t_quantile, closed_forms_near_the_centre)
{
    /* df = 1 is Cauchy: tan(pi (p - 1/2)); df = 2: (2p-1) / sqrt(2 p (1-p)) */
    static const double ps[] = {0.5000001, 0.51, 0.7, 0.74999, 0.75, 0.76};
    for (size_t i = 0; i < N_OF(ps); i++) {
        double p = ps[i];
        expect_rel(gope_t_quantile(p, 1), tan(3.14159265358979323846 * (p - 0.5)), 1e-12,
                   "cauchy");
        expect_rel(gope_t_quantile(p, 2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-12, "df 2");
    }
}

Test(stats_t_quantile, special_arguments)
{
    cr_expect_eq(gope_t_quantile(0.5, 7), 0);
    cr_expect(isinf(gope_t_quantile(0, 3)) && gope_t_quantile(0, 3) < 0);
    cr_expect(isinf(gope_t_quantile(1, 3)) && gope_t_quantile(1, 3) > 0);
    cr_expect(isnan(gope_t_quantile(-0.1, 3)));
    cr_expect(isnan(gope_t_quantile(1.1, 3)));
    cr_expect(isnan(gope_t_quantile(NAN, 3)));
    cr_expect(isnan(gope_t_quantile(0.9, 0)));
    cr_expect(isnan(gope_t_quantile(0.9, -2)));
    cr_expect(isnan(gope_t_quantile(0.9, NAN)));
    cr_expect(isnan(gope_t_quantile(0.9, INFINITY)));
    /* df = 0.3 at p = 1e-100 lies beyond DBL_MAX */
    double far = gope_t_quantile(1e-100, 0.3);
    cr_expect(isinf(far) && far < 0, "got %g", far);
    /* large df approaches the normal: z_0.975 = 1.959963984540054 */
    double t = gope_t_quantile(0.975, 1e7);
    cr_expect(t > 1.959963984540054 && t < 1.9599643, "got %.17g", t);
}

/* ----------------------------------------------------------- chi-square */

Test(stats_chi2_sf, reference_values)
{
    static const double cases[][3] = {
        /* k, x, Q(k/2, x/2) */
        {1, 3.841458820694124, 0.050000000000000057435},
        {2, 1.0, 0.6065306597126334236},
        {3, 7.5, 0.057558451972636406967},
        {10, 2.0, 0.99634015317265628765},
        {10, 40.0, 0.000016944743930067383904},
        {0.5, 0.01, 0.70691910527898041424},
        {100, 100.0, 0.48119168452795671811},
        {100, 300.0, 7.4121008573228767906e-22},
        {4, 200.0, 3.7572767357810443226e-42},
        /* large k, where log x^a e^-x / Gamma(a) cancels unless done in
         * Stirling form (these were 1e-11 .. 8e-11 off before) */
        {500, 400.0, 0.99963792954171030687},
        {2000, 2500.0, 1.0740080231386176286e-13},
        {20000, 20200.0, 0.1586512495528203776},
        {1e5, 1e5, 0.49940529189520668861},
        {1e5, 101000.0, 0.012868840377233669864},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        double got = gope_chi2_sf(cases[i][1], cases[i][0]);
        cr_expect(fabs(got - cases[i][2]) <= 1e-12 * cases[i][2],
                  "k %g x %g: got %.17g want %.17g", cases[i][0], cases[i][1], got, cases[i][2]);
    }
    /* k = 2 is exp(-x/2) exactly */
    expect_rel(gope_chi2_sf(7.0, 2), exp(-3.5), 1e-14, "k 2");
}

Test(stats_chi2_sf, special_arguments)
{
    cr_expect_eq(gope_chi2_sf(0, 3), 1);
    cr_expect_eq(gope_chi2_sf(-4, 3), 1);
    cr_expect_eq(gope_chi2_sf(INFINITY, 3), 0);
    cr_expect(isnan(gope_chi2_sf(1, 0)));
    cr_expect(isnan(gope_chi2_sf(1, -1)));
    cr_expect(isnan(gope_chi2_sf(NAN, 1)));
    cr_expect(isnan(gope_chi2_sf(1, NAN)));
}

/* -------------------------------------------------------------- normal */

Test(stats_normal_cdf, reference_values)
{
    static const double cases[][2] = {
        {-8, 6.22096057427174e-16}, {-1.5, 0.06680720126885807}, {0, 0.5},
        {0.3, 0.6179114221889526},  {2.5, 0.9937903346742238},
    };
    for (size_t i = 0; i < N_OF(cases); i++)
        expect_rel(gope_normal_cdf(cases[i][0]), cases[i][1], 1e-14, "normal cdf");
    cr_expect_eq(gope_normal_cdf(-INFINITY), 0);
    cr_expect_eq(gope_normal_cdf(INFINITY), 1);
}

/* ----------------------------------------------------- rank correlation */

Test(stats_kendall, scipy_with_ties)
{
    const double a[] = {1, 2, 2, 3, 4, 4, 4, 5, 6, 7}, b[] = {2, 1, 3, 3, 5, 4, 6, 6, 8, 7};
    double tau = 0;
    cr_assert(gope_kendall_tau_b(a, b, 10, &tau));
    expect_rel(tau, 0.8335696394016967, 1e-14, "tau ties");
    const double c[] = {3.0, 1e6, 2.0, -1.0, 1e6, 0.5}, d[] = {0.1, 0.2, 0.1, 0.9, 0.2, 0.3};
    cr_assert(gope_kendall_tau_b(c, d, 6, &tau));
    expect_rel(tau, -0.3706246583305506, 1e-14, "tau heavy");
    const double e[] = {5e-3, 1e7, 2.0, 2.0, 0.0, 3e5}, f[] = {1.0, 0.9, 0.9, 0.1, 7e6, 7e6};
    cr_assert(gope_kendall_tau_b(e, f, 6, &tau));
    expect_rel(tau, -0.2964997266644405, 1e-14, "tau ties both sides");
}

Test(stats_kendall, extremes_and_undefined)
{
    const double up[] = {1, 2}, down[] = {5, -5};
    double tau = 0;
    cr_assert(gope_kendall_tau_b(up, down, 2, &tau));
    cr_expect_eq(tau, -1, "n = 2 reversed");
    cr_assert(gope_kendall_tau_b(up, up, 2, &tau));
    cr_expect_eq(tau, 1);
    tau = 3;
    const double flat[] = {4, 4, 4}, any[] = {1, 2, 3};
    cr_expect_not(gope_kendall_tau_b(flat, any, 3, &tau), "x all tied");
    cr_expect_not(gope_kendall_tau_b(any, flat, 3, &tau), "y all tied");
    cr_expect_not(gope_kendall_tau_b(any, any, 1, &tau), "n = 1");
    cr_expect_not(gope_kendall_tau_b(any, any, 0, &tau), "n = 0");
    cr_expect_eq(tau, 3);
}

Test(stats_spearman, scipy_with_ties)
{
    const double a[] = {1, 2, 2, 3, 4, 4, 4, 5, 6, 7}, b[] = {2, 1, 3, 3, 5, 4, 6, 6, 8, 7};
    /* the function may use exactly 4n doubles: a sentinel guards the rest */
    double scratch[41], rho = 0;
    scratch[40] = -12345;
    cr_assert(gope_spearman_rho(a, b, 10, scratch, &rho));
    expect_rel(rho, 0.93812095999547, 1e-14, "rho ties");
    cr_expect_eq(scratch[40], -12345);
    const double c[] = {3.0, 1e6, 2.0, -1.0, 1e6, 0.5}, d[] = {0.1, 0.2, 0.1, 0.9, 0.2, 0.3};
    cr_assert(gope_spearman_rho(c, d, 6, scratch, &rho));
    expect_rel(rho, -0.5075192189225523, 1e-14, "rho heavy");
    const double e[] = {5e-3, 1e7, 2.0, 2.0, 0.0, 3e5}, f[] = {1.0, 0.9, 0.9, 0.1, 7e6, 7e6};
    cr_assert(gope_spearman_rho(e, f, 6, scratch, &rho));
    expect_rel(rho, -0.3134677528639293, 1e-14, "rho ties both sides");
}

Test(stats_spearman, extremes_and_undefined)
{
    double scratch[12], rho = 0;
    const double up[] = {1, 2}, down[] = {5, -5};
    cr_assert(gope_spearman_rho(up, down, 2, scratch, &rho));
    cr_expect_eq(rho, -1, "n = 2 reversed");
    const double x[] = {0.5, 10, 3}, y[] = {-2, 1e300, 0};
    cr_assert(gope_spearman_rho(x, y, 3, scratch, &rho));
    cr_expect_eq(rho, 1, "monotone, whatever the scale");
    rho = 3;
    const double flat[] = {4, 4, 4};
    cr_expect_not(gope_spearman_rho(flat, x, 3, scratch, &rho), "x all tied");
    cr_expect_not(gope_spearman_rho(x, flat, 3, scratch, &rho), "y all tied");
    cr_expect_not(gope_spearman_rho(x, y, 1, scratch, &rho), "n = 1");
    cr_expect_eq(rho, 3);
}
