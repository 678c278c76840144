/*
 * calibrate_fit.c — a world fitted to a log (calibrate.h, docs/calibrate.md
 * "Fit").
 *
 * Two kinds of fields. What the log shows directly is set from the scan
 * (counts, shares, capacity tiers, candidates, the clock, sessions, the EV
 * model's stated noise). The gift model is not visible directly, because
 * what a log shows — gifts of the chosen streamers — depends on the policy
 * that chose them and on the rooms it filled; so it is fitted by simulating
 * the log's own logging policy in the world being fitted and moving three
 * parameters until the simulation shows what the log shows:
 *
 *   theta0       the simulated expected gift rate r(theta0) matches the
 *                logged one: Newton steps on log r, whose derivative is
 *                sum p(1 - p) / sum p (calibrate_sim.c), at most 3 a step;
 *   tier_base    the simulated shares of the tiers match the logged shares
 *                (smoothed with one pseudo-gift spread as the base's
 *                tier_base): proportional fitting, b_k <- b_k * logged_k /
 *                simulated_k, in its Richardson-Lucy form (tier_update),
 *                which undoes the externality's blurring of tiers into
 *                their neighbours; factor within [1/20, 20], renormalised;
 *                it starts at the logged shares;
 *   wealth_slope the tilt of the whales' tier shares against the others'
 *                (gope_calib_tilt) matches the logged tilt; the tilt is
 *                wealth_slope times the p-weighted mean difference of the
 *                clipped log-wealth term between whales and others, which
 *                gives the Newton step. Only with 100 gifts of each
 *                group: the tilt of 30 whale gifts has a standard error
 *                near 0.1, as large as giftlive-v2's slope itself.
 *
 * All three move after every simulation (a joint fixed-point iteration),
 * until the gift rate is within 0.2%, the tier shares within 0.002 in total
 * variation and the tilt within 0.01, or the iterations run out. Every
 * simulation uses the same seed, so the fit is deterministic and the
 * simulations differ only by the parameters (common random numbers).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "calibrate_int.h"

#define PSEUDO_GIFTS 1.0
#define SLOPE_MIN_GIFTS 100
#define RATE_TOL 0.002
#define TV_TOL 0.002
#define TILT_TOL 0.01
#define THETA_STEP_MAX 3.0
#define IPF_FACTOR_MAX 20.0

static void fitted(gope_calib_fit_info *info, const char *path)
{
    if (info->n_fitted < GOPE_CALIB_MAX_FITTED)
        info->fitted[info->n_fitted++] = path;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static uint32_t count_of(double est, uint32_t max)
{
    return est < 1 ? 1 : est > max ? max : (uint32_t)llround(est);
}

/* The mean stay W that makes a world starting empty show the logged mean
 * number of viewers L over a stretch T at rate lambda:
 * L = lambda W (1 - (W/T)(1 - e^(-T/W))), increasing in W (bisection on
 * log W; the largest W when even everyone staying shows fewer). */
static double dwell_mean(double viewers, double lambda, double span)
{
    double lo = log(1e-3), hi = log(1e9);
    for (int i = 0; i < 100; i++) {
        const double w = exp(0.5 * (lo + hi));
        const double shown = span > 0 ? lambda * w * (1 - w / span * -expm1(-span / w)) : lambda * w;
        if (shown < viewers)
            lo = 0.5 * (lo + hi);
        else
            hi = 0.5 * (lo + hi);
    }
    return exp(0.5 * (lo + hi));
}

static void set_time(const gope_calib_log *log, gope_world_conf *c, gope_calib_fit_info *info)
{
    c->start_ms = log->first_ts;
    fitted(info, "time.start_ms");
    if (log->time.rate_ok) {
        c->arrivals_per_s = log->time.arrivals_per_s;
        fitted(info, "time.arrivals_per_s");
    }
    c->peak_amplitude = log->time.shape_ok ? log->time.peak_amplitude : 0;
    fitted(info, "time.peak_amplitude");
    if (log->time.shape_ok) {
        c->peak_hour = log->time.peak_hour;
        c->peak_width_h = log->time.peak_width_h;
        fitted(info, "time.peak_hour");
        fitted(info, "time.peak_width_h");
    }
    if (log->session_known) {
        c->session = log->session;
        fitted(info, "time.session");
    }
    if (log->session_known && log->session == GOPE_SESSION_ROUND) {
        c->round_users = log->round_users;
        fitted(info, "time.round_users");
    } else if (log->session_known && log->time.rate_ok) {
        const double lambda = (double)log->accepted / log->exposure_s;
        c->dwell_mean_s = dwell_mean(log->mean_viewers, lambda,
                                     log->exposure_s / (double)log->segments);
        fitted(info, "time.dwell_mean_s");
    }
    if (c->round_users > c->n_users)
        c->round_users = c->n_users;
}

/* Everything the scan measured directly. */
static void set_measured(const gope_calib_log *log, gope_world_conf *c, gope_calib_fit_info *info)
{
    strncpy(c->name, "calibrated", sizeof c->name); /* NUL-padded, as a parsed name */
    c->n_users = count_of(log->users_est, GOPE_SIM_MAX_USERS);
    c->whale_frac = (double)log->whale_users / (double)log->users_seen;
    c->n_streamers = count_of(log->streamers_est, GOPE_SIM_MAX_STREAMERS);
    c->new_frac = (double)log->cold_streamers / (double)log->streamers_seen;
    c->head_frac = (double)log->head_streamers / (double)log->streamers_seen;
    c->tier_top_frac = log->capacity_frac[0];
    c->tier_middle_frac = log->capacity_frac[1];
    c->capacity_top = log->capacity[0];
    c->capacity_middle = log->capacity[1];
    c->capacity_tail = log->capacity[2];
    c->candidates = log->all_streamers ? 0 : log->cand_median;
    if (c->candidates > c->n_streamers)
        c->candidates = c->n_streamers;
    static const char *const direct[] = {
        "users.count", "users.whale_frac", "streamers.count", "streamers.new_frac",
        "streamers.head_frac", "streamers.tier_top_frac", "streamers.tier_middle_frac",
        "streamers.capacity_top", "streamers.capacity_middle", "streamers.capacity_tail",
        "candidates.k"};
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        fitted(info, direct[i]);
    if (log->noise_ok) {
        c->ev_noise_sd = log->noise_sd;
        fitted(info, "ev_model.noise_sd");
    }
    if (log->noise_ok && log->cold_noise_ok && log->noise_sd > 0) {
        c->ev_noise_cold_mult = log->cold_noise_sd / log->noise_sd;
        fitted(info, "ev_model.cold_mult");
    }
    set_time(log, c, info);
}

/* The logged tier shares of group g, smoothed with PSEUDO_GIFTS spread as
 * the base's tier_base. */
static void logged_shares(const gope_calib_log *log, const gope_world_conf *base, int g,
                          double h[GOPE_SIM_TIERS])
{
    double n = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        n += (double)log->stats.tier_counts[g][k];
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        h[k] = ((double)log->stats.tier_counts[g][k] + PSEUDO_GIFTS * base->tier_base[k]) /
               (n + PSEUDO_GIFTS);
}

static void normalise(double h[GOPE_SIM_TIERS])
{
    double t = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        t += h[k];
    for (int k = 0; k < GOPE_SIM_TIERS && t > 0; k++)
        h[k] /= t;
}

/* The tilt of the whales' shares against the others'. */
static double tilt(const double whale[GOPE_SIM_TIERS], const double other[GOPE_SIM_TIERS])
{
    return gope_calib_tilt(other, gope_calib_mean_index(whale));
}

typedef struct {
    double rate, h[GOPE_CALIB_GROUPS][GOPE_SIM_TIERS], tilt;
} gift_target;

/* One Richardson-Lucy (EM) step for tier_base: split the logged share of
 * each shown tier j over the drawn tiers k as the simulation did
 * (m_kj / sum_k m_kj), sum that into the shares t_k the log implies for
 * the drawn tiers, and move b_k by t_k / s_k, s_k the simulation's own
 * share of tier k. Where the externality never blurs (m diagonal) this is
 * proportional fitting, b_k <- b_k logged_k / simulated_k; where it does,
 * a gift shown as tier j is credited to the tiers that produce it, so a
 * tier the simulation can only show shrunk into its neighbour does not
 * grow without bound chasing a share it cannot show. */
static void tier_update(const gope_calib_acc *a, const double logged[GOPE_SIM_TIERS],
                        double base[GOPE_SIM_TIERS])
{
    double implied[GOPE_SIM_TIERS] = {0}, own[GOPE_SIM_TIERS] = {0}, total = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        for (int j = 0; j < GOPE_SIM_TIERS; j++) {
            own[k] += a->drawn_shown[k][j];
            total += a->drawn_shown[k][j];
        }
    for (int j = 0; j < GOPE_SIM_TIERS; j++) {
        double shown = 0;
        for (int k = 0; k < GOPE_SIM_TIERS; k++)
            shown += a->drawn_shown[k][j];
        for (int k = 0; k < GOPE_SIM_TIERS && shown > 0; k++)
            implied[k] += logged[j] * a->drawn_shown[k][j] / shown;
    }
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        if (own[k] > 0)
            base[k] *= clampd(implied[k] / (own[k] / total), 1 / IPF_FACTOR_MAX, IPF_FACTOR_MAX);
    normalise(base);
}

/* One simulation, its distance from the target, and (unless converged) the
 * next parameters. @return GOPE_OK and *done, or the run's error. */
static gope_status fit_step(const gope_calib_log *lg, const gope_calib_fit_conf *fc,
                            const gift_target *t, gope_world_conf *c, gope_calib_fit_info *info,
                            bool *done, gope_err *err)
{
    gope_calib_acc acc = {.rb = true};
    gope_status st = gope_calib__run(c, fc->seed, fc->decisions, fc->set, lg->policy, "greedy",
                                     info->policy, &acc, err);
    if (st != GOPE_OK)
        return st;
    info->policy_from_log = lg->policy[0] && strcmp(info->policy, lg->policy) == 0;
    info->iterations++;
    const double sum_p = gope_ksum_value(&acc.p);
    info->sim_gift_rate = sum_p / (double)acc.decisions;
    for (int g = 0; g < GOPE_CALIB_GROUPS; g++)
        normalise(acc.hist[g]);
    info->tier_tv = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        info->tier_tv += 0.5 * fabs(acc.hist[GOPE_CALIB_ALL][k] - t->h[GOPE_CALIB_ALL][k]);
    info->tilt_sim = tilt(acc.hist[GOPE_CALIB_WHALE], acc.hist[GOPE_CALIB_OTHER]);
    const double gap = sum_p > 0 ? log(t->rate / info->sim_gift_rate) : THETA_STEP_MAX;
    *done = info->converged = fabs(gap) < RATE_TOL && info->tier_tv < TV_TOL &&
                              (!info->slope_fitted || fabs(info->tilt_sim - t->tilt) < TILT_TOL);
    if (*done || info->iterations >= fc->max_iter)
        return GOPE_OK;
    const double slope = sum_p > 0 ? gope_ksum_value(&acc.pq) / sum_p : 1;
    c->theta[0] += clampd(gap / (slope > 0.01 ? slope : 0.01), -THETA_STEP_MAX, THETA_STEP_MAX);
    tier_update(&acc, t->h[GOPE_CALIB_ALL], c->tier_base);
    const double dz = acc.pw[0] > 0 && acc.pw[1] > 0
                          ? acc.zp[0] / acc.pw[0] - acc.zp[1] / acc.pw[1] : 0;
    if (info->slope_fitted && fabs(dz) > 0.05)
        c->wealth_slope += (t->tilt - info->tilt_sim) / dz;
    return GOPE_OK;
}

/* The gift model: theta0, tier_base, wealth_slope (see the top). */
static gope_status fit_gifts(const gope_calib_log *log, const gope_calib_fit_conf *fc,
                             gope_world_conf *c, gope_calib_fit_info *info, gope_err *err)
{
    const gope_calib_stats *s = &log->stats;
    gift_target t = {.rate = (double)s->gifts / (double)s->decisions};
    for (int g = 0; g < GOPE_CALIB_GROUPS; g++)
        logged_shares(log, &fc->base, g, t.h[g]);
    info->gift_fitted = true;
    info->slope_fitted = s->whale_gifts >= SLOPE_MIN_GIFTS &&
                         s->gifts - s->whale_gifts >= SLOPE_MIN_GIFTS;
    t.tilt = info->tilt_log = tilt(t.h[GOPE_CALIB_WHALE], t.h[GOPE_CALIB_OTHER]);
    memcpy(c->tier_base, t.h[GOPE_CALIB_ALL], sizeof c->tier_base);
    fitted(info, "gift.theta");
    fitted(info, "amount.tier_base");
    if (info->slope_fitted)
        fitted(info, "amount.wealth_slope");
    bool done = false;
    gope_status st = GOPE_OK;
    while (st == GOPE_OK && !done && info->iterations < fc->max_iter)
        st = fit_step(log, fc, &t, c, info, &done, err);
    return st;
}

gope_status gope_calib_fit(const gope_calib_log *log, const gope_calib_fit_conf *fc,
                           gope_world_conf *out, gope_calib_fit_info *info, gope_err *err)
{
    memset(info, 0, sizeof *info);
    gope_status st = gope_world_validate(&fc->base, err);
    if (st != GOPE_OK)
        return st;
    *out = fc->base;
    set_measured(log, out, info);
    if ((st = gope_world_validate(out, err)) != GOPE_OK)
        return st;
    if (log->stats.gifts > 0)
        st = fit_gifts(log, fc, out, info, err);
    return st == GOPE_OK ? gope_world_validate(out, err) : st;
}
