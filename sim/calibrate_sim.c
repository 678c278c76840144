/*
 * calibrate_sim.c — the calibration's simulations: the fit's short runs and
 * the report's run (calibrate.h, docs/calibrate.md "Fit" and "The report").
 *
 * A fit run does not count the gifts it happened to draw: for each decision
 * it adds the gift probability p of the chosen candidate, and p times the
 * tier probabilities (binned by the nearest tier of tier x externality, the
 * way a logged amount is binned; and by tier drawn and nearest tier, which
 * tells the fit how the externality blurs tiers into their neighbours). Those are the expectations of the draws
 * given the run's path, so the fit sees the gift rate and the tier shares
 * without Bernoulli and multinomial noise, and the gift rate is a smooth
 * function of theta0 whose slope, sum p(1 - p) / sum p, is known.
 *
 * p itself is not handed to a step callback; it is recovered from what is:
 * true_ev = p E[tier | a] ext, so p = true_ev / (E[tier | a] ext), with the
 * tier probabilities from gope_sim_tier_probs() and ext the outcome's
 * externality (both for the room as the decision saw it).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "calibrate_int.h"

/* The clipped, centred log wealth that multiplies wealth_slope. */
static double wealth_z(const gope_world_conf *c, double wealth)
{
    const double z = (log1p(wealth) - c->wealth_center) / c->wealth_scale;
    return z < c->wealth_lo ? c->wealth_lo : z > c->wealth_hi ? c->wealth_hi : z;
}

static void add_expected(gope_calib_acc *a, const gope_sim_outcome *o)
{
    const gope_world_conf *c = gope_sim_world_conf(a->w);
    double probs[GOPE_SIM_TIERS], mean = 0;
    gope_sim_tier_probs(a->w, o->user, o->streamer, probs);
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        mean += probs[k] * c->tiers[k];
    double p = o->true_ev / (mean * o->externality);
    p = p > 1 ? 1 : p;
    gope_ksum_add(&a->p, p);
    gope_ksum_add(&a->pq, p * (1 - p));
    const int g = o->user_is_whale ? GOPE_CALIB_WHALE : GOPE_CALIB_OTHER;
    for (int k = 0; k < GOPE_SIM_TIERS; k++) {
        const size_t t = gope_calib_nearest_tier(c->tiers, c->tiers[k] * o->externality);
        a->hist[GOPE_CALIB_ALL][t] += p * probs[k];
        a->hist[g][t] += p * probs[k];
        a->drawn_shown[k][t] += p * probs[k];
    }
    a->zp[g == GOPE_CALIB_OTHER] += p * wealth_z(c, a->view.wealth[o->user]);
    a->pw[g == GOPE_CALIB_OTHER] += p;
}

static gope_status on_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    gope_calib_acc *a = ctx;
    a->decisions++;
    if (a->rb)
        add_expected(a, st->outcome);
    if (a->sample &&
        gope_calib_sample_add(a->sample, st->user, st->outcome->user_is_whale,
                              st->event->candidates[st->event->action].ev, st->event->reward))
        return gope_err_set(err, GOPE_ERR_NOMEM, "calibration simulation: out of memory");
    return GOPE_OK;
}

gope_status gope_calib__run(const gope_world_conf *conf, uint64_t seed, uint64_t decisions,
                            const gope_policy_set_t *set, const char *policy,
                            const char *fallback, char used[64], gope_calib_acc *acc,
                            gope_err *err)
{
    gope_sim_world_t *w = NULL;
    gope_sim_allocator alloc = {0};
    gope_sim_summary sum;
    gope_status st = gope_sim_world_new(conf, seed, &w, err);
    if (st == GOPE_OK) {
        st = gope_sim_allocator_new(policy, set, w, &alloc, err);
        if (st == GOPE_ERR_USAGE && fallback) {
            policy = fallback;
            st = gope_sim_allocator_new(policy, set, w, &alloc, err);
        }
    }
    if (st == GOPE_OK) {
        snprintf(used, 64, "%s", policy);
        acc->w = w;
        gope_sim_world_get(w, &acc->view);
        const gope_sim_run_conf rc = {.decisions = decisions, .on_step = on_step, .ctx = acc};
        st = gope_sim_run(w, &alloc, &rc, &sum, err);
        acc->w = NULL;
    }
    gope_sim_allocator_free(&alloc);
    gope_sim_world_free(w);
    return st;
}

gope_status gope_calib_simulate(const gope_world_conf *conf, uint64_t seed, uint64_t decisions,
                                const gope_policy_set_t *set, const char *policy, char used[64],
                                gope_calib_stats *out, gope_err *err)
{
    gope_calib_acc acc = {.sample = gope_calib_sample_new(conf->tiers)};
    if (!acc.sample)
        return gope_err_set(err, GOPE_ERR_NOMEM, "calibration simulation: out of memory");
    gope_status st =
        gope_calib__run(conf, seed, decisions, set, policy, "greedy", used, &acc, err);
    if (st == GOPE_OK)
        st = gope_calib_sample_stats(acc.sample, out, err);
    gope_calib_sample_free(acc.sample);
    return st;
}

/* The report's rows: name and where the value sits in gope_calib_stats. */
static const struct {
    const char *name;
    size_t offset;
} rows[GOPE_CALIB_ROWS] = {
    {"gift_rate", offsetof(gope_calib_stats, gift_rate)},
    {"amount_p50", offsetof(gope_calib_stats, amount_p50)},
    {"amount_p90", offsetof(gope_calib_stats, amount_p90)},
    {"amount_p99", offsetof(gope_calib_stats, amount_p99)},
    {"amount_mean", offsetof(gope_calib_stats, amount_mean)},
    {"payer_gini", offsetof(gope_calib_stats, payer_gini)},
    {"whale_amount_p90", offsetof(gope_calib_stats, whale_p90)},
    {"ev_ratio", offsetof(gope_calib_stats, ev_ratio)},
    {"ev_slope", offsetof(gope_calib_stats, ev_slope)},
};

void gope_calib_rows(const gope_calib_stats *log, const gope_calib_stats *sim,
                     gope_calib_row out[GOPE_CALIB_ROWS])
{
    for (size_t i = 0; i < GOPE_CALIB_ROWS; i++) {
        const gope_mval l = *(const gope_mval *)((const char *)log + rows[i].offset);
        const gope_mval s = *(const gope_mval *)((const char *)sim + rows[i].offset);
        const bool both = l.ok && s.ok;
        out[i] = (gope_calib_row){
            .metric = rows[i].name,
            .log = l,
            .sim = s,
            .abs_err = {both ? s.v - l.v : 0, both},
            .rel_err = {both && l.v != 0 ? (s.v - l.v) / fabs(l.v) : 0, both && l.v != 0},
        };
    }
}
