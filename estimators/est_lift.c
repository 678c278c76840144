/*
 * est_lift.c — snips_lift: the lift of the target policy over the logging
 * policy on the same events,
 *   D = V - rbar,   V = sum(w r) / sum(w) (snips),   rbar = mean(r) (logged).
 *
 * Why its own estimator: the two values are computed on the same events, so
 * their errors are correlated, and the stderr of the difference is not
 * sqrt(se_snips^2 + se_logged^2). The delta method on the paired influence
 * function gives it directly. With x = w r, wbar = sum w / n, B = 1 / wbar:
 *   phi_i = B (x_i - V w_i) - (r_i - rbar),   stderr = sqrt(sum phi_i^2) / n.
 * Writing a_i = x_i - V w_i and b_i = r_i - rbar (both sum to 0 by the
 * choice of V and rbar, which removes the rbar part of the cross term):
 *   sum phi^2 = B^2 Caa - 2 B Cab + Cbb,
 *   Caa = sum x^2 - 2 V sum w x + V^2 sum w^2,
 *   Cab = sum x r - V sum x,
 *   Cbb = sum r^2 - (sum r)^2 / n.
 * The accumulator keeps the eight raw sums (w, x, r, w^2, w x, x^2, x r, r^2;
 * quadratic ones added exactly, see estimators_int.h) and the expansion and
 * the difference V - rbar run in double-double: for a policy close to the
 * logging one, V and rbar agree in most digits and the lift is what is left.
 * Undefined when sum w = 0 (value and stderr), stderr when n < 2.
 */
#include "estimators_int.h"

enum { SUM_W, SUM_X, SUM_R, SUM_WW, SUM_WX, SUM_XX, SUM_XR, SUM_RR, LIFT_SUMS };

/* All but x r are shared. */
static const uint8_t lift_layout[LIFT_SUMS] = {
    GOPE_SUM_W, GOPE_SUM_X, GOPE_SUM_R, GOPE_SUM_WW,
    GOPE_SUM_WX, GOPE_SUM_XX, GOPE_SUM_OWN, GOPE_SUM_RR,
};

GOPE_FMA_CLONES static void lift_add(const gope_estimator_conf *conf, gope_ksum *own, const gope_obs *o)
{
    (void)conf;
    const double r = o->r, x = o->w * r;
    gope_ksum_add_prod(&own[0], x, r);
}

/* sum phi^2 from the raw sums (see the top comment); v is the snips value. */
static double sum_phi2(const gope_ksum *sums, gope_dd n, gope_dd sw, gope_dd v)
{
    const gope_dd sx = gope_dd_ksum(&sums[SUM_X]), sr = gope_dd_ksum(&sums[SUM_R]);
    const gope_dd two = gope_dd_of(2.0), b = gope_dd_div(n, sw);
    gope_dd caa = gope_dd_submul(gope_dd_ksum(&sums[SUM_XX]), gope_dd_mul(two, v),
                          gope_dd_ksum(&sums[SUM_WX]));
    caa = gope_dd_add(caa, gope_dd_mul(gope_dd_mul(v, v), gope_dd_ksum(&sums[SUM_WW])));
    const gope_dd cab = gope_dd_submul(gope_dd_ksum(&sums[SUM_XR]), v, sx);
    const gope_dd cbb = gope_dd_submul(gope_dd_ksum(&sums[SUM_RR]), sr, gope_dd_div(sr, n));
    gope_dd total = gope_dd_submul(gope_dd_mul(gope_dd_mul(b, b), caa), gope_dd_mul(two, b), cab);
    return gope_dd_add(total, cbb).hi;
}

static void lift_result(const gope_estimator_conf *conf, const gope_ksum *sums, uint64_t n,
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
    const gope_dd v = gope_dd_div(gope_dd_ksum(&sums[SUM_X]), sw);
    const double value = gope_dd_sub(v, gope_dd_div(gope_dd_ksum(&sums[SUM_R]), nn)).hi;
    const double se = n >= 2 ? gope_est_sqrt0(sum_phi2(sums, nn, sw, v)) / (double)n : 0;
    gope_est_finish(out, value, true, se, n >= 2, warn);
}

const gope_estimator_ops gope_est_snips_lift = {
    .name = "snips_lift",
    .n_sums = LIFT_SUMS,
    .layout = lift_layout,
    .has_lambda = false,
    .add = lift_add,
    .result = lift_result,
};
