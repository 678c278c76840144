/*
 * test_lift.c — snips_lift = snips - logged with its paired delta-method
 * stderr (docs/estimators.md), against values computed exactly outside the
 * library: python3 with fractions.Fraction over the same vectors (every w r
 * is exact in double there, so the reference is the true rational value,
 * rounded once). Also: the lift is the difference of the two records'
 * values, the interval, and the undefined cases. Merging is covered by
 * test_merge.c ("all" includes snips_lift), the long-double reference on
 * heavy tails and large means by test_numerics.c.
 *
 * Reference script (values pasted below):
 *   V = sum(w r)/sum(w); rbar = mean(r); wbar = mean(w); D = V - rbar
 *   phi_i = w_i (r_i - V)/wbar - (r_i - rbar); se = sqrt(sum phi_i^2)/n
 */
#include <criterion/criterion.h>
#include <math.h>

#include "est_fixture.h"
#include "testutil.h"

#define REL 1e-13

typedef struct {
    double w, r;
} wr;

/* snips_lift (and the set's snips and logged) over `v`. */
static gope_result *run(const wr *v, size_t n, gope_estset_t **set)
{
    gope_obs o[16];
    cr_assert_leq(n, 16);
    for (size_t i = 0; i < n; i++)
        o[i] = (gope_obs){.w = v[i].w, .r = v[i].r, .q = 0, .v = 0};
    *set = estf_set("snips,snips_lift");
    gope_result *res = estf_run(*set, o, n);
    estf_assert_finite(res);
    return res;
}

static void expect_rel(double got, double want, const char *what)
{
    cr_expect(fabs(got - want) <= REL * fabs(want), "%s: got %.17g, want %.17g", what, got, want);
}

static void expect_lift(const wr *v, size_t n, double value, double se, const char *what)
{
    gope_estset_t *set;
    gope_result *res = run(v, n, &set);
    const gope_estimate *e = &res->estimates[estf_index(set, "snips_lift")];
    cr_assert(e->value_ok && e->se_ok, "%s: undefined", what);
    expect_rel(e->value, value, what);
    expect_rel(e->se, se, what);
    cr_expect(e->ci_low == e->value - GOPE_Z95 * e->se && e->ci_high == e->value + GOPE_Z95 * e->se,
              "%s: interval", what);
    const double snips = res->estimates[estf_index(set, "snips")].value;
    const double logged = res->estimates[estf_index(set, "logged")].value;
    cr_expect(tu_close(e->value, snips - logged), "%s: lift %.17g != snips - logged %.17g", what,
              e->value, snips - logged);
    cr_expect_eq(res->warn_bits, 0u);
    gope_result_free(res);
    gope_estset_free(set);
}

/* Mixed weights, one zero weight, a whale reward. */
Test(estimators_lift, fixed_vector_against_exact_reference)
{
    static const wr v[] = {{0.5, 0},  {2.0, 10}, {1.25, 2}, {0.0, 52},   {3.0, 0},
                           {0.75, 1}, {1.0, 100}, {4.5, 0}, {0.125, 1314}, {0.625, 2}};
    expect_lift(v, 10, -127.1, 110.673616981951794323, "vector A");
}

/* Rewards 1e6 +- 1 with weights near 1: snips and logged agree in eight
 * digits and the lift is what is left; the stderr expansion cancels about
 * twelve digits, which plain double power sums would not survive. */
Test(estimators_lift, lift_far_below_the_values)
{
    static const wr v[] = {{0.75, 1e6 + 0.5},   {1.25, 1e6 - 0.5}, {1.0, 1e6 + 0.25},
                           {0.875, 1e6},        {1.125, 1e6 - 0.25}, {1.0, 1e6 + 1},
                           {0.5, 1e6 - 1},      {1.5, 1e6 + 0.75}};
    expect_lift(v, 8, 0.07421875, 0.0809714107834464447604, "vector B");
}

/* The paired stderr is not the unpaired one: for a target close to the
 * logging policy it is far smaller than sqrt(se_snips^2 + se_logged^2). */
Test(estimators_lift, paired_stderr_is_smaller_than_unpaired)
{
    static const wr v[] = {{1.0, 3}, {1.0, 50}, {1.0625, 0}, {0.9375, 7}, {1.0, 1}, {1.0, 20}};
    gope_estset_t *set;
    gope_result *res = run(v, 6, &set);
    const double lift_se = res->estimates[estf_index(set, "snips_lift")].se;
    const double a = res->estimates[estf_index(set, "snips")].se;
    const double b = res->estimates[estf_index(set, "logged")].se;
    cr_expect(lift_se < 0.1 * sqrt(a * a + b * b), "paired %g, unpaired %g", lift_se,
              sqrt(a * a + b * b));
    gope_result_free(res);
    gope_estset_free(set);
}

Test(estimators_lift, undefined_when_no_weight)
{
    static const wr v[] = {{0, 3}, {0, 5}, {0, 0}};
    gope_estset_t *set;
    gope_result *res = run(v, 3, &set);
    const gope_estimate *e = &res->estimates[estf_index(set, "snips_lift")];
    cr_expect(!e->value_ok && !e->se_ok && e->value == 0 && e->se == 0);
    cr_expect(res->estimates[estf_index(set, "logged")].value_ok);
    cr_expect(res->warn_bits & GOPE_W_SUM_W_ZERO);
    gope_result_free(res);
    gope_estset_free(set);
}

Test(estimators_lift, one_event_has_a_value_but_no_stderr)
{
    static const wr v[] = {{2.5, 4}};
    gope_estset_t *set;
    gope_result *res = run(v, 1, &set);
    const gope_estimate *e = &res->estimates[estf_index(set, "snips_lift")];
    cr_expect(e->value_ok && e->value == 0 && !e->se_ok);
    cr_expect_eq(res->warn_bits, GOPE_W_N_LT_2);
    gope_result_free(res);
    gope_estset_free(set);
}

Test(estimators_lift, no_events)
{
    gope_estset_t *set;
    gope_result *res = run(NULL, 0, &set);
    const gope_estimate *e = &res->estimates[estf_index(set, "snips_lift")];
    cr_expect(!e->value_ok && !e->se_ok);
    cr_expect(res->warn_bits & GOPE_W_SUM_W_ZERO && res->warn_bits & GOPE_W_N_LT_2);
    gope_result_free(res);
    gope_estset_free(set);
}
