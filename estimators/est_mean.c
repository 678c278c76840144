/*
 * est_mean.c — the estimators that are a plain mean of per-event terms t_i:
 * ips, ips_clip, dm, dr, switch_dr, dr_os and logged.
 *
 * They differ only in the term, so each type is one small term function plus
 * an ops table (MEAN_TYPE below); they share `add` (sum t, sum t^2) and
 * `result`: value = mean t, stderr = sqrt(sum (t - mean t)^2 / (n - 1)) / sqrt(n).
 * Three terms are quantities whose sums the accumulator keeps for other
 * estimators too (ips: x = w r, dm: v, logged: r), so those types only name
 * the shared sums (SHARED_MEAN_TYPE) and add nothing themselves.
 * The sum of squared deviations is expanded as sum t^2 - (sum t)^2 / n. Both
 * sums are kept exactly enough (t^2 enters with its fma rounding error) and
 * combined as double-doubles, so the expansion keeps full precision even when
 * the mean is many orders of magnitude larger than the spread.
 *
 * The terms follow Open Bandit Pipeline expression for expression (so the
 * per-term rounding matches the reference): w = pi/propensity, d = r - q.
 */
#include "estimators_int.h"

enum { SUM_T, SUM_T2, MEAN_SUMS };

/* min(w, lambda) r: weights above lambda are clipped to lambda. */
static double ips_clip_term(const gope_estimator_conf *conf, const gope_obs *o)
{
    return (o->w < conf->lambda ? o->w : conf->lambda) * o->r;
}

static double dr_term(const gope_estimator_conf *conf, const gope_obs *o)
{
    (void)conf;
    return o->v + o->w * (o->r - o->q);
}

/* The correction is used only where w <= lambda; beyond it, the model alone. */
static double switch_dr_term(const gope_estimator_conf *conf, const gope_obs *o)
{
    return o->w <= conf->lambda ? o->v + o->w * (o->r - o->q) : o->v;
}

/* The weight shrunk to lambda w / (w^2 + lambda) (Su et al., DRos). */
static double dr_os_term(const gope_estimator_conf *conf, const gope_obs *o)
{
    double shrunk = conf->lambda * o->w / (o->w * o->w + conf->lambda);
    return o->v + shrunk * (o->r - o->q);
}

static inline void add_term(gope_ksum *sums, double t)
{
    gope_ksum_add(&sums[SUM_T], t);
    gope_ksum_add_prod(&sums[SUM_T2], t, t);
}

static void mean_result(const gope_estimator_conf *conf, const gope_ksum *sums, uint64_t n,
                        gope_estimate *out, unsigned *warn)
{
    (void)conf;
    if (n < 2)
        *warn |= GOPE_W_N_LT_2;
    if (n == 0) {
        gope_est_finish(out, 0, false, 0, false, warn);
        return;
    }
    const gope_dd nn = gope_dd_of((double)n);
    const gope_dd st = gope_dd_ksum(&sums[SUM_T]);
    double value = gope_dd_div(st, nn).hi, se = 0;
    if (n >= 2) {
        gope_dd dev2 = gope_dd_sub(gope_dd_ksum(&sums[SUM_T2]),
                                   gope_dd_div(gope_dd_mul(st, st), nn));
        se = gope_est_sqrt0(dev2.hi / (double)(n - 1)) / sqrt((double)n);
    }
    gope_est_finish(out, value, true, se, n >= 2, warn);
}

static const uint8_t own_layout[MEAN_SUMS] = {GOPE_SUM_OWN, GOPE_SUM_OWN};

/* One mean-type estimator: `add` feeds id_term into its own pair of sums. */
#define MEAN_TYPE(id, lambda_default)                                                    \
    GOPE_FMA_CLONES static void id##_add(const gope_estimator_conf *conf,               \
                                         gope_ksum *own, const gope_obs *o)             \
    {                                                                                    \
        add_term(own, id##_term(conf, o));                                               \
    }                                                                                    \
    const gope_estimator_ops gope_est_##id = {                                           \
        .name = #id,                                                                     \
        .n_sums = MEAN_SUMS,                                                             \
        .layout = own_layout,                                                            \
        .has_lambda = (lambda_default) > 0,                                              \
        .default_lambda = (lambda_default),                                              \
        .add = id##_add,                                                                 \
        .result = mean_result,                                                           \
    }

/* One whose term t is a shared sum (sum t) with its exact square (sum t^2). */
#define SHARED_MEAN_TYPE(id, sum_t, sum_t2)                                              \
    static const uint8_t id##_layout[MEAN_SUMS] = {sum_t, sum_t2};                      \
    const gope_estimator_ops gope_est_##id = {                                           \
        .name = #id,                                                                     \
        .n_sums = MEAN_SUMS,                                                             \
        .layout = id##_layout,                                                           \
        .add = NULL,                                                                     \
        .result = mean_result,                                                           \
    }

SHARED_MEAN_TYPE(ips, GOPE_SUM_X, GOPE_SUM_XX);
MEAN_TYPE(ips_clip, 100);
SHARED_MEAN_TYPE(dm, GOPE_SUM_V, GOPE_SUM_VV);
MEAN_TYPE(dr, 0);
MEAN_TYPE(switch_dr, 100);
MEAN_TYPE(dr_os, 100);
SHARED_MEAN_TYPE(logged, GOPE_SUM_R, GOPE_SUM_RR);
