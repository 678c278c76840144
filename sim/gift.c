/*
 * gift.c — the gift model: who gives, how much, and what the platform's model
 * thinks they will give (docs/simulator.md, "Gifts" and "EV model").
 *
 * true_ev is computed from exactly the distributions the engine samples from:
 * the research code ranked V2+ worlds with its V1 amount formula, so its
 * "expected value" was not the expectation of anything it simulated. Here
 * E[tier] is the mean of the same softmax the tier draw uses, evaluated as a
 * ratio of two degree-9 polynomials in x = e^a (one exp instead of ten).
 */
#include <math.h>
#include <stdlib.h>

#include "sim_int.h"

/* Four partial sums: without them the 16 adds form one dependency chain
 * (the compiler may not reassociate), which made this the hottest line. */
double gope_sim_match(const gope_sim_world_t *w, uint32_t user, uint32_t streamer)
{
    const double *p = w->pref + (size_t)user * w->dim, *q = w->content + (size_t)streamer * w->dim;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t k = 0;
    for (; k + 4 <= w->dim; k += 4) {
        s0 += p[k] * q[k];
        s1 += p[k + 1] * q[k + 1];
        s2 += p[k + 2] * q[k + 2];
        s3 += p[k + 3] * q[k + 3];
    }
    for (; k < w->dim; k++)
        s0 += p[k] * q[k];
    return (s0 + s1) + (s2 + s3);
}

static double tier_a(const gope_sim_world_t *w, uint32_t user, double match)
{
    return w->user_tier_a[user] + w->conf.match_slope * match;
}

static double gift_prob(const gope_sim_world_t *w, uint32_t user, uint32_t streamer, double match,
                        int64_t big_gifts)
{
    const double z = w->user_logit[user] + w->conf.theta[2] * match + w->streamer_logit[streamer] +
                     w->conf.theta[4] * (double)big_gifts;
    return 1.0 / (1.0 + exp(-z));
}

double gope_sim_gift_prob(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                          const gope_sim_room *room)
{
    return gift_prob(w, user, streamer, gope_sim_match(w, user, streamer), room->big_gifts);
}

/* softmax_k(log b_k + a k), the max-shifted way (any a, zero bases allowed) */
static void tier_probs(const gope_sim_world_t *w, double a, double probs[GOPE_SIM_TIERS])
{
    double hi = -INFINITY, sum = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++) {
        probs[k] = w->tier_logbase[k] + a * k;
        hi = fmax(hi, probs[k]);
    }
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        sum += probs[k] = exp(probs[k] - hi);
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        probs[k] /= sum;
}

void gope_sim_tier_probs(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                         double probs[GOPE_SIM_TIERS])
{
    tier_probs(w, tier_a(w, user, gope_sim_match(w, user, streamer)), probs);
}

/* c0 + c1 x + ... + c9 x^9 by Estrin's scheme: four levels of independent
 * multiply-adds instead of Horner's chain of nine. */
static double estrin9(const double *c, double x)
{
    const double x2 = x * x, x4 = x2 * x2, x8 = x4 * x4;
    const double r0 = (c[0] + c[1] * x) + (c[2] + c[3] * x) * x2;
    const double r1 = (c[4] + c[5] * x) + (c[6] + c[7] * x) * x2;
    return (r0 + r1 * x4) + (c[8] + c[9] * x) * x8;
}

/* E[tier | a], as a ratio of polynomials in x = e^a while x^9 stays far
 * from overflow. */
static double tier_mean(const gope_sim_world_t *w, double a)
{
    if (fabs(a) > 60) {
        double p[GOPE_SIM_TIERS], m = 0;
        tier_probs(w, a, p);
        for (int k = 0; k < GOPE_SIM_TIERS; k++)
            m += p[k] * w->conf.tiers[k];
        return m;
    }
    const double x = exp(a);
    return estrin9(w->tier_num, x) / estrin9(w->tier_den, x);
}

double gope_sim_externality(const gope_sim_world_t *w, uint32_t streamer, const gope_sim_room *room)
{
    double m = 1.0 / (1.0 + w->conf.gamma * (double)room->big_gifts);
    const int64_t cap = w->capacity[streamer];
    if (w->conf.capacity_externality && cap > 0 && room->load > cap)
        m /= 1.0 + w->conf.capacity_alpha * (double)(room->load - cap) / (double)cap;
    return m;
}

void gope_sim__pair_static(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                           double *p0, double *tier)
{
    const double match = gope_sim_match(w, user, streamer);
    *p0 = gift_prob(w, user, streamer, match, 0);
    *tier = tier_mean(w, tier_a(w, user, match));
}

double gope_sim_true_ev(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                        const gope_sim_room *room)
{
    double p, tier;
    if (w->pair_p0) {
        const size_t i = (size_t)user * w->n_streamers + streamer;
        tier = w->pair_tier[i];
        p = room->big_gifts == 0 ? w->pair_p0[i]
                                 : gift_prob(w, user, streamer, gope_sim_match(w, user, streamer),
                                             room->big_gifts);
    } else {
        const double match = gope_sim_match(w, user, streamer);
        p = gift_prob(w, user, streamer, match, room->big_gifts);
        tier = tier_mean(w, tier_a(w, user, match));
    }
    return p * tier * gope_sim_externality(w, streamer, room);
}

/* Unbiased multiplicative lognormal error, fixed per (user, streamer) pair:
 * a model's error is systematic, it does not change from one visit to the
 * next. sigma is the standard deviation that error implies. */
float gope_sim__noise_factor(const gope_sim_world_t *w, uint32_t user, uint32_t streamer)
{
    const double sd = w->noise_sd[streamer];
    if (sd == 0)
        return 1.0f;
    const uint64_t pair = (uint64_t)user * w->n_streamers + streamer;
    return (float)exp(sd * gope_rng_normal(w->seed, GOPE_RNG_EV_NOISE, pair, 0) + w->noise_bias[streamer]);
}

double gope_sim_model_ev(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                         double true_ev, double *sigma)
{
    const double f = w->noise_mult ? w->noise_mult[(size_t)user * w->n_streamers + streamer]
                                   : gope_sim__noise_factor(w, user, streamer);
    const double ev = true_ev * f;
    *sigma = ev * w->sigma_ratio[streamer];
    return ev;
}

double gope_sim__rate_shape(const gope_world_conf *c, double t_s)
{
    double h = fmod(t_s / 3600.0 + (double)(c->start_ms % 86400000) / 3.6e6, 24.0);
    double d = fabs(h - c->peak_hour);
    d = fmin(d, 24.0 - d); /* circular distance in hours */
    return 1.0 + c->peak_amplitude * exp(-0.5 * d * d / (c->peak_width_h * c->peak_width_h));
}
