/*
 * est_snips.c — self-normalised IPS: V = sum(w r) / sum(w).
 *
 * Its delta-method stderr, sqrt(sum w_i^2 (r_i - V)^2) / sum w, needs V, which
 * is only known at the end; with x_i = w_i r_i it expands into power sums:
 *   sum (x - V w)^2 = sum x^2 - 2 V sum w x + V^2 sum w^2,
 * so the accumulator keeps sum w, sum x, sum w^2, sum w x, sum x^2 (the
 * quadratic ones added exactly, see estimators_int.h) and the expansion is
 * evaluated in double-double. Undefined when sum w = 0 (no weight on any
 * logged action).
 */
#include "estimators_int.h"

enum { SUM_W, SUM_X, SUM_WW, SUM_WX, SUM_XX, SNIPS_SUMS };

/* Every sum it keeps is shared (the accumulator adds them). */
static const uint8_t snips_layout[SNIPS_SUMS] = {GOPE_SUM_W, GOPE_SUM_X, GOPE_SUM_WW,
                                                 GOPE_SUM_WX, GOPE_SUM_XX};

static void snips_result(const gope_estimator_conf *conf, const gope_ksum *sums, uint64_t n,
                         gope_estimate *out, unsigned *warn)
{
    (void)conf;
    const gope_dd sw = gope_dd_ksum(&sums[SUM_W]);
    if (n < 2)
        *warn |= GOPE_W_N_LT_2;
    if (sw.hi == 0) {
        *warn |= GOPE_W_SUM_W_ZERO;
        gope_est_finish(out, 0, false, 0, false, warn);
        return;
    }
    const gope_dd v = gope_dd_div(gope_dd_ksum(&sums[SUM_X]), sw);
    const gope_dd vw = gope_dd_mul(v, gope_dd_ksum(&sums[SUM_WX]));
    gope_dd dev2 = gope_dd_sub(gope_dd_ksum(&sums[SUM_XX]), gope_dd_add(vw, vw));
    dev2 = gope_dd_add(dev2, gope_dd_mul(gope_dd_mul(v, v), gope_dd_ksum(&sums[SUM_WW])));
    gope_est_finish(out, v.hi, true, gope_est_sqrt0(dev2.hi) / sw.hi, n >= 2, warn);
}

const gope_estimator_ops gope_est_snips = {
    .name = "snips",
    .n_sums = SNIPS_SUMS,
    .layout = snips_layout,
    .has_lambda = false,
    .add = NULL,
    .result = snips_result,
};
