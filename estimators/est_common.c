/*
 * est_common.c — the last step shared by every estimator's `result`: turning a
 * value and a standard error into a gope_estimate with its 95% interval, and
 * guaranteeing that nothing marked defined is inf or NaN.
 */
#include "estimators_int.h"

double gope_est_sqrt0(double x) { return x > 0 ? sqrt(x) : 0.0; }

void gope_est_finish(gope_estimate *out, double value, bool value_ok, double se, bool se_ok,
                     unsigned *warn)
{
    *out = (gope_estimate){0};
    if (value_ok && !isfinite(value)) {
        value_ok = false;
        *warn |= GOPE_W_NONFINITE;
    }
    se_ok = se_ok && value_ok;
    double lo = value - GOPE_Z95 * se, hi = value + GOPE_Z95 * se;
    if (se_ok && !(isfinite(se) && isfinite(lo) && isfinite(hi))) {
        se_ok = false;
        *warn |= GOPE_W_NONFINITE;
    }
    if (value_ok) {
        out->value = value;
        out->value_ok = true;
    }
    if (se_ok) {
        out->se = se;
        out->ci_low = lo;
        out->ci_high = hi;
        out->se_ok = true;
    }
}
