/*
 * test_undefined.c — the null rules: which quantities are undefined (the _ok
 * flags false, a GOPE_W_* bit saying why) for n = 0, n = 1, all w = 0,
 * all r = 0 and overflowing input, and that nothing marked defined is ever
 * inf or NaN, even on random extreme input.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "est_fixture.h"
#include "estimators_int.h" /* GOPE_W_NONFINITE, not yet public */
#include "testutil.h"

static gope_result *run_all(const gope_obs *o, size_t n, gope_estset_t **set)
{
    *set = estf_set("all");
    gope_result *res = estf_run(*set, o, n);
    estf_assert_finite(res);
    return res;
}

static const gope_estimate *est(const gope_estset_t *set, const gope_result *res,
                                const char *name)
{
    return &res->estimates[estf_index(set, name)];
}

static bool self_normalised(const char *name)
{
    return strcmp(name, "snips") == 0 || strcmp(name, "sndr") == 0 ||
           strcmp(name, "snips_lift") == 0;
}

Test(estimators_undefined, no_events)
{
    gope_estset_t *set;
    gope_result *res = run_all(NULL, 0, &set);
    for (size_t i = 0; i < res->count; i++)
        cr_expect(!res->estimates[i].value_ok && !res->estimates[i].se_ok, "estimate %zu", i);
    const gope_diagnostics *d = &res->diag;
    cr_expect(d->n == 0 && d->sum_w == 0 && !d->mean_w_ok && !d->ess_ok && !d->top10_ok);
    cr_expect_eq(res->warn_bits, GOPE_W_N_LT_2 | GOPE_W_SUM_W_ZERO | GOPE_W_SUM_W2_ZERO |
                                     GOPE_W_SUM_WR_ZERO);
    gope_result_free(res);
    gope_estset_free(set);
}

Test(estimators_undefined, one_event_has_values_but_no_stderr)
{
    const gope_obs o = {.w = 2, .r = 3, .q = 1, .v = 0.5};
    gope_estset_t *set;
    gope_result *res = run_all(&o, 1, &set);
    for (size_t i = 0; i < res->count; i++) {
        cr_expect(res->estimates[i].value_ok, "estimate %zu", i);
        cr_expect(!res->estimates[i].se_ok && res->estimates[i].se == 0, "estimate %zu", i);
    }
    cr_expect(tu_close(est(set, res, "ips")->value, 6));
    cr_expect(tu_close(est(set, res, "snips")->value, 3));
    cr_expect(tu_close(est(set, res, "sndr")->value, 0.5 + 2.0 * 2 / 2));
    cr_expect(tu_close(est(set, res, "dr")->value, 0.5 + 2.0 * 2));
    cr_expect_eq(res->warn_bits, GOPE_W_N_LT_2);
    cr_expect(res->diag.ess_ok && tu_close(res->diag.ess, 1));
    cr_expect(res->diag.top10_ok && tu_close(res->diag.top10_share, 1));
    gope_result_free(res);
    gope_estset_free(set);
}

/* The target policy never picks a logged action: snips and sndr undefined. */
Test(estimators_undefined, all_weights_zero)
{
    const gope_obs o[] = {{0, 1, 0.5, 0.25}, {0, 0, 0.5, 0.75}, {0, 4, 1, 0.5}};
    gope_estset_t *set;
    gope_result *res = run_all(o, 3, &set);
    for (size_t i = 0; i < res->count; i++) {
        const char *name = gope_estset_get(set, i)->ops->name;
        bool sn = self_normalised(name);
        cr_expect(res->estimates[i].value_ok == !sn && res->estimates[i].se_ok == !sn, "%s", name);
    }
    cr_expect(tu_close(est(set, res, "ips")->value, 0));
    cr_expect(tu_close(est(set, res, "dm")->value, 0.5));
    cr_expect(tu_close(est(set, res, "logged")->value, 5.0 / 3));
    const gope_diagnostics *d = &res->diag;
    cr_expect(d->mean_w_ok && d->mean_w == 0 && d->zero_w_frac == 1 && d->max_w == 0);
    cr_expect(!d->ess_ok && !d->top10_ok);
    cr_expect_eq(res->warn_bits, GOPE_W_SUM_W_ZERO | GOPE_W_SUM_W2_ZERO | GOPE_W_SUM_WR_ZERO);
    gope_result_free(res);
    gope_estset_free(set);
}

Test(estimators_undefined, all_rewards_zero)
{
    const gope_obs o[] = {{1.5, 0, 0.5, 0.25}, {0, 0, 0.5, 0.75}, {3, 0, 1, 0.5}};
    gope_estset_t *set;
    gope_result *res = run_all(o, 3, &set);
    for (size_t i = 0; i < res->count; i++)
        cr_expect(res->estimates[i].value_ok && res->estimates[i].se_ok, "estimate %zu", i);
    cr_expect(est(set, res, "snips")->value == 0 && est(set, res, "snips")->se == 0);
    cr_expect(res->diag.ess_ok && !res->diag.top10_ok);
    cr_expect(tu_close(res->diag.zero_w_frac, 1.0 / 3) && res->diag.max_w == 3);
    cr_expect_eq(res->warn_bits, GOPE_W_SUM_WR_ZERO);
    gope_result_free(res);
    gope_estset_free(set);
}

/* Constant terms: the variance is exactly 0, never a negative rounding
 * residue turned into NaN by sqrt. */
Test(estimators_undefined, zero_spread)
{
    gope_obs o[1000];
    for (size_t i = 0; i < 1000; i++)
        o[i] = (gope_obs){.w = 0.1, .r = 0.3, .q = 0.7, .v = 0.1};
    gope_estset_t *set;
    gope_result *res = run_all(o, 1000, &set);
    for (size_t i = 0; i < res->count; i++) {
        const gope_estimate *e = &res->estimates[i];
        cr_expect(e->se_ok && e->se >= 0 && e->se < 1e-15, "estimate %zu: se %g", i, e->se);
    }
    gope_result_free(res);
    gope_estset_free(set);
}

/* Weights and rewards near the top of the double range overflow the sums:
 * the affected quantities are undefined and flagged, never inf. */
Test(estimators_undefined, overflow_is_flagged)
{
    const gope_obs o[] = {{1e300, 1e300, 0, 0}, {1e300, 1e300, 0, 0}};
    gope_estset_t *set;
    gope_result *res = run_all(o, 2, &set);
    cr_expect(!est(set, res, "ips")->value_ok);
    cr_expect(!res->diag.ess_ok);
    cr_expect(res->warn_bits & GOPE_W_NONFINITE);
    cr_expect(est(set, res, "dm")->value_ok && est(set, res, "dm")->se_ok);
    cr_expect(strlen(gope_warning_text(GOPE_W_NONFINITE)) > 0);
    gope_result_free(res);
    gope_estset_free(set);
}

/* Random mixtures of zeros, tiny and huge magnitudes: nothing defined is
 * ever inf or NaN (estf_assert_finite inside run_all). */
Test(estimators_undefined, random_extremes_stay_finite)
{
    static const double scale[] = {0, 1e-300, 1e-8, 1, 1e8, 1e150, 1e300, 1.7e308};
    uint64_t st = 1;
    for (int round = 0; round < 200; round++) {
        gope_obs o[16];
        size_t n = (size_t)(round % 17);
        for (size_t i = 0; i < n; i++) {
            double x[4];
            for (int k = 0; k < 4; k++) {
                st = st * 6364136223846793005u + 1442695040888963407u;
                x[k] = scale[(st >> 33) % 8] * ((double)((st >> 40) % 1000) / 999.0);
            }
            o[i] = (gope_obs){.w = x[0], .r = x[1], .q = x[2], .v = x[3]};
        }
        gope_estset_t *set;
        gope_result *res = run_all(o, n, &set);
        gope_result_free(res);
        gope_estset_free(set);
    }
}

Test(estimators_undefined, warning_texts)
{
    const unsigned bits[] = {GOPE_W_SUM_W_ZERO, GOPE_W_N_LT_2, GOPE_W_SUM_W2_ZERO,
                             GOPE_W_SUM_WR_ZERO};
    for (size_t i = 0; i < 4; i++)
        cr_expect(strlen(gope_warning_text(bits[i])) > 10);
    cr_expect(strstr(gope_warning_text(GOPE_W_SUM_W_ZERO), "snips"));
    cr_expect(strstr(gope_warning_text(GOPE_W_SUM_WR_ZERO), "top10_share"));
}
