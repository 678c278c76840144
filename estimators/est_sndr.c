/*
 * est_sndr.c — self-normalised doubly robust:
 *   sndr = mean(v) + sum(w d) / sum(w),   d = r - q.
 *
 * Its stderr is sqrt(sum phi_i^2) / n with, writing y = w d,
 *   A = sum y / sum w,  wbar = sum w / n,  B = 1 / wbar,
 *   phi_i = (v_i - vbar) + B (y_i - A w_i).
 * Expanded into power sums (sum (y - A w) = 0 by the choice of A, which
 * removes the vbar part of the cross term):
 *   sum phi^2 = Cvv + 2 B Cvy + B^2 Cyy,
 *   Cvv = sum v^2 - (sum v)^2 / n,
 *   Cvy = sum v y - A sum v w,
 *   Cyy = sum y^2 - 2 A sum w y + A^2 sum w^2.
 * The accumulator keeps the nine raw sums (quadratic ones added exactly) and
 * the expansion runs in double-double. Value and stderr are undefined when
 * sum w = 0.
 */
#include "estimators_int.h"

enum { SUM_V, SUM_W, SUM_Y, SUM_VV, SUM_VW, SUM_VY, SUM_WW, SUM_WY, SUM_YY, SNDR_SUMS };

static const uint8_t sndr_layout[SNDR_SUMS] = {
    GOPE_SUM_V, GOPE_SUM_W, GOPE_SUM_OWN, GOPE_SUM_VV, GOPE_SUM_OWN,
    GOPE_SUM_OWN, GOPE_SUM_WW, GOPE_SUM_OWN, GOPE_SUM_OWN,
};

/* The own sums, in slice order: y, v w, v y, w y, y^2. */
enum { OWN_Y, OWN_VW, OWN_VY, OWN_WY, OWN_YY };

GOPE_FMA_CLONES static void sndr_add(const gope_estimator_conf *conf, gope_ksum *own, const gope_obs *o)
{
    (void)conf;
    const double v = o->v, w = o->w, y = w * (o->r - o->q);
    gope_ksum_add(&own[OWN_Y], y);
    gope_ksum_add_prod(&own[OWN_VW], v, w);
    gope_ksum_add_prod(&own[OWN_VY], v, y);
    gope_ksum_add_prod(&own[OWN_WY], w, y);
    gope_ksum_add_prod(&own[OWN_YY], y, y);
}

/* sum phi^2 from the raw sums (see the top comment). */
static double sum_phi2(const gope_ksum *sums, gope_dd n, gope_dd sw, gope_dd a)
{
    const gope_dd sv = gope_dd_ksum(&sums[SUM_V]), two = gope_dd_of(2.0);
    const gope_dd b = gope_dd_div(n, sw);
    const gope_dd cvv = gope_dd_submul(gope_dd_ksum(&sums[SUM_VV]), sv, gope_dd_div(sv, n));
    const gope_dd cvy = gope_dd_submul(gope_dd_ksum(&sums[SUM_VY]), a, gope_dd_ksum(&sums[SUM_VW]));
    gope_dd cyy = gope_dd_submul(gope_dd_ksum(&sums[SUM_YY]),
                          gope_dd_mul(two, a), gope_dd_ksum(&sums[SUM_WY]));
    cyy = gope_dd_add(cyy, gope_dd_mul(gope_dd_mul(a, a), gope_dd_ksum(&sums[SUM_WW])));
    gope_dd total = gope_dd_add(cvv, gope_dd_mul(gope_dd_mul(two, b), cvy));
    return gope_dd_add(total, gope_dd_mul(gope_dd_mul(b, b), cyy)).hi;
}

static void sndr_result(const gope_estimator_conf *conf, const gope_ksum *sums, uint64_t n,
                        gope_estimate *out, unsigned *warn)
{
    (void)conf;
    const gope_dd sw = gope_dd_ksum(&sums[SUM_W]), nn = gope_dd_of((double)n);
    if (n < 2)
        *warn |= GOPE_W_N_LT_2;
    if (sw.hi == 0) {
        *warn |= GOPE_W_SUM_W_ZERO;
        gope_est_finish(out, 0, false, 0, false, warn);
        return;
    }
    const gope_dd a = gope_dd_div(gope_dd_ksum(&sums[SUM_Y]), sw);
    const double value = gope_dd_add(gope_dd_div(gope_dd_ksum(&sums[SUM_V]), nn), a).hi;
    const double se = n >= 2 ? gope_est_sqrt0(sum_phi2(sums, nn, sw, a)) / (double)n : 0;
    gope_est_finish(out, value, true, se, n >= 2, warn);
}

const gope_estimator_ops gope_est_sndr = {
    .name = "sndr",
    .n_sums = SNDR_SUMS,
    .layout = sndr_layout,
    .has_lambda = false,
    .add = sndr_add,
    .result = sndr_result,
};
