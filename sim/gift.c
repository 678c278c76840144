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

/* The gift logit without the big-gift term: z = z0 + theta4 N_s, the same
 * additions in the same order as the formula written out. */
static double logit0(const gope_sim_world_t *w, uint32_t user, uint32_t streamer, double match)
{
    return w->user_logit[user] + w->conf.theta[2] * match + w->streamer_logit[streamer];
}

static double odds_factor(const gope_sim_world_t *w, int64_t big_gifts)
{
    return big_gifts == 0 ? 1.0 : exp(-(w->conf.theta[4] * (double)big_gifts));
}

static double crowd_of(const gope_sim_world_t *w, int64_t big_gifts)
{
    return 1.0 / (1.0 + w->conf.gamma * (double)big_gifts);
}

gope_sim__big_room gope_sim__big_room_of(const gope_sim_world_t *w, int64_t big_gifts)
{
    return (gope_sim__big_room){odds_factor(w, big_gifts), crowd_of(w, big_gifts)};
}

/* 1 / (1 + exp(-z)), z = z0 + theta4 N, with exp(-z) formed as the product
 * of the pair's exp(-z0) and the room's exp(-theta4 N): both are reused
 * across decisions, so p costs no exp(). With N = 0 the factor is exactly 1,
 * the odds exactly exp(-z0). Only where both factors leave exp's range in
 * opposite directions (0 times inf) is exp(-z) taken whole. */
static double prob_of(const gope_sim_world_t *w, const gope_sim__big_terms *t, double factor,
                      int64_t big_gifts)
{
    double odds = t->odds0 * factor;
    if (odds != odds)
        odds = exp(-(t->z0 + w->conf.theta[4] * (double)big_gifts));
    return 1.0 / (1.0 + odds);
}

static double gift_prob(const gope_sim_world_t *w, uint32_t user, uint32_t streamer, double match,
                        int64_t big_gifts)
{
    const double z0 = logit0(w, user, streamer, match);
    const gope_sim__big_terms t = {exp(-z0), 0, z0};
    return prob_of(w, &t, odds_factor(w, big_gifts), big_gifts);
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

/* The capacity term of the externality applies: the room is over capacity. */
static bool over_capacity(const gope_sim_world_t *w, uint32_t streamer, int64_t load)
{
    const int64_t cap = w->capacity[streamer];
    return w->conf.capacity_externality && cap > 0 && load > cap;
}

/* The externality from the room's crowding discount `crowd`. */
static double externality_of(const gope_sim_world_t *w, uint32_t streamer, double crowd,
                             const gope_sim_room *room)
{
    double m = crowd;
    if (over_capacity(w, streamer, room->load)) {
        const int64_t cap = w->capacity[streamer];
        m /= 1.0 + w->conf.capacity_alpha * (double)(room->load - cap) / (double)cap;
    }
    return m;
}

double gope_sim_externality(const gope_sim_world_t *w, uint32_t streamer, const gope_sim_room *room)
{
    return externality_of(w, streamer, crowd_of(w, room->big_gifts), room);
}

/* A pair's big-gift terms, computed directly. */
static gope_sim__big_terms big_terms(const gope_sim_world_t *w, uint32_t user, uint32_t streamer)
{
    const double match = gope_sim_match(w, user, streamer);
    const double z0 = logit0(w, user, streamer, match);
    return (gope_sim__big_terms){exp(-z0), tier_mean(w, tier_a(w, user, match)), z0};
}

/* p * E[tier] * externality from a pair's terms and the room's */
static double true_ev_of(const gope_sim_world_t *w, uint32_t streamer, const gope_sim__big_terms *t,
                         gope_sim__big_room big, const gope_sim_room *room)
{
    return prob_of(w, t, big.odds, room->big_gifts) * t->tier *
           externality_of(w, streamer, big.crowd, room);
}

double gope_sim__pair_ev0(const gope_sim_world_t *w, uint32_t user, uint32_t streamer)
{
    const gope_sim__big_terms t = big_terms(w, user, streamer);
    return prob_of(w, &t, odds_factor(w, 0), 0) * t.tier;
}

void gope_sim__big_column(const gope_sim_world_t *w, uint32_t streamer, gope_sim__big_terms *col,
                          size_t stride)
{
    for (uint32_t u = 0; u < w->n_users; u++)
        col[u * stride] = big_terms(w, u, streamer);
}

double gope_sim_true_ev(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                        const gope_sim_room *room)
{
    if (w->pair_ev0 && room->big_gifts == 0) /* (p0 * tier) * externality, as below */
        return w->pair_ev0[(size_t)user * w->n_streamers + streamer] *
               gope_sim_externality(w, streamer, room);
    const gope_sim__big_terms t = big_terms(w, user, streamer);
    return true_ev_of(w, streamer, &t, gope_sim__big_room_of(w, room->big_gifts), room);
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

/* The model's EV from the true one, the pair's error factor `f` and the
 * streamer's sigma / ev `ratio`. */
static double model_of(double true_ev, double f, double ratio, double *sigma)
{
    const double ev = true_ev * f;
    *sigma = ev * ratio;
    return ev;
}

double gope_sim_model_ev(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                         double true_ev, double *sigma)
{
    const double f = w->noise_mult ? w->noise_mult[(size_t)user * w->n_streamers + streamer]
                                   : gope_sim__noise_factor(w, user, streamer);
    return model_of(true_ev, f, w->sigma_ratio[streamer], sigma);
}

/* One streamer's values in full. */
static void streamer_evs(const gope_sim_world_t *w, uint32_t user, uint32_t s,
                         const gope_sim_rooms *rooms, double *true_ev, gope_candidate *cand)
{
    const gope_sim_room room = {rooms->big_gifts[s], rooms->load[s] + 1};
    true_ev[s] = gope_sim_true_ev(w, user, s, &room);
    cand[s].ev = gope_sim_model_ev(w, user, s, true_ev[s], &cand[s].sigma);
}

/* Streamers per block of the pass: at each block's start the lines of the
 * next user's rows for the same streamers are requested (8 + 4 lines of 64
 * bytes, a burst the cache's fill buffers take), and a block is long enough
 * for the vectorised loop to pay its set-up. The requests are non-temporal:
 * a row is read once, and 6 KB a decision would otherwise push out of the
 * caches what every decision reads again (+2% decisions/s, steadier). */
enum { BLOCK = 64 };

/* The streamers [s0, end) of the tabulated pass. */
static inline void tabulated_block(uint32_t s0, uint32_t end, double ext0,
                                   const double *restrict ev0, const float *restrict noise,
                                   const double *restrict ratio, double *restrict true_ev,
                                   gope_candidate *restrict cand, int store_true)
{
    for (uint32_t s = s0; s < end; s++) {
        const double t = ev0[s] * ext0;
        if (store_true)
            true_ev[s] = t;
        cand[s].ev = model_of(t, noise[s], ratio[s], &cand[s].sigma);
    }
}

/* Every streamer as if its room had no big gifts and were within capacity:
 * the tabulated p0 E[tier] times the empty room's externality, the product
 * gope_sim_true_ev() forms. */
static void tabulated_evs(const gope_sim_world_t *w, uint32_t user, uint32_t next_user,
                          double *true_ev, gope_candidate *cand, bool all_true)
{
    const uint32_t n = w->n_streamers;
    const bool ahead = next_user != UINT32_MAX;
    const size_t row = (size_t)user * n, next = (size_t)(ahead ? next_user : user) * n;
    for (uint32_t s0 = 0; s0 < n; s0 += BLOCK) {
        const uint32_t end = n - s0 > BLOCK ? s0 + BLOCK : n;
        for (uint32_t s = s0; ahead && s < end; s += 64 / sizeof *w->pair_ev0)
            __builtin_prefetch(w->pair_ev0 + next + s, 0, 0);
        for (uint32_t s = s0; ahead && s < end; s += 64 / sizeof *w->noise_mult)
            __builtin_prefetch(w->noise_mult + next + s, 0, 0);
        if (all_true)
            tabulated_block(s0, end, w->empty_externality, w->pair_ev0 + row, w->noise_mult + row,
                            w->sigma_ratio, true_ev, cand, 1);
        else
            tabulated_block(s0, end, w->empty_externality, w->pair_ev0 + row, w->noise_mult + row,
                            w->sigma_ratio, true_ev, cand, 0);
    }
}

/* The next user's scattered values: its preference row and its entries in
 * the per-user arrays, each a cache miss when the decision reads it (match,
 * the gift's logit and tier, the whale flag). */
static void prefetch_user(const gope_sim_world_t *w, uint32_t user)
{
    const double *pref = w->pref + (size_t)user * w->dim;
    for (size_t b = 0; b < w->dim * sizeof *pref; b += 64)
        __builtin_prefetch((const char *)pref + b);
    __builtin_prefetch(w->user_logit + user);
    __builtin_prefetch(w->user_tier_a + user);
    __builtin_prefetch(w->whale + user);
}

/* The tabulated pass covered streamer s: its room has no big gifts and
 * is within capacity (with this viewer). */
static bool tabulated(const gope_sim_world_t *w, uint32_t s, const gope_sim_rooms *rooms)
{
    return rooms->big_gifts[s] == 0 && !over_capacity(w, s, rooms->load[s] + 1);
}

static bool has_tables(const gope_sim_world_t *w, const gope_sim__big_cache *cache)
{
    return w->pair_ev0 && w->noise_mult && cache;
}

void gope_sim__evs(const gope_sim_world_t *w, uint32_t user, uint32_t next_user,
                   const gope_sim_rooms *rooms, const gope_sim__big_cache *cache,
                   double *true_ev, gope_candidate *cand, bool all_true)
{
    if (next_user != UINT32_MAX)
        prefetch_user(w, next_user);
    if (!has_tables(w, cache)) { /* a world too large for the tables */
        for (uint32_t s = 0; s < w->n_streamers; s++)
            streamer_evs(w, user, s, rooms, true_ev, cand);
        return;
    }
    tabulated_evs(w, user, next_user, true_ev, cand, all_true);
    const gope_sim__big_terms *row = cache->terms + (size_t)user * cache->stride;
    if (next_user != UINT32_MAX)
        for (size_t b = 0; b < rooms->n_big * sizeof *row; b += 64)
            __builtin_prefetch((const char *)(cache->terms + (size_t)next_user * cache->stride) + b);
    for (size_t i = 0; i < rooms->n_big; i++) {
        const uint32_t s = rooms->big[i];
        const gope_sim_room room = {rooms->big_gifts[s], rooms->load[s] + 1};
        true_ev[s] = true_ev_of(w, s, &row[i], cache->room[s], &room);
        cand[s].ev = gope_sim_model_ev(w, user, s, true_ev[s], &cand[s].sigma);
    }
    for (uint32_t s = 0; w->conf.capacity_externality && s < w->n_streamers; s++)
        if (rooms->big_gifts[s] == 0 && over_capacity(w, s, rooms->load[s] + 1))
            streamer_evs(w, user, s, rooms, true_ev, cand);
}

void gope_sim__evs_fill(const gope_sim_world_t *w, uint32_t user, const gope_sim_rooms *rooms,
                        const gope_sim__big_cache *cache, double *true_ev)
{
    if (!has_tables(w, cache))
        return;
    const double *ev0 = w->pair_ev0 + (size_t)user * w->n_streamers;
    for (uint32_t s = 0; s < w->n_streamers; s++)
        if (tabulated(w, s, rooms))
            true_ev[s] = ev0[s] * w->empty_externality;
}

double gope_sim__evs_one(const gope_sim_world_t *w, uint32_t user, uint32_t s,
                         const gope_sim_rooms *rooms, const gope_sim__big_cache *cache,
                         const double *true_ev)
{
    if (!has_tables(w, cache) || !tabulated(w, s, rooms))
        return true_ev[s];
    return w->pair_ev0[(size_t)user * w->n_streamers + s] * w->empty_externality;
}

double gope_sim__rate_shape(const gope_world_conf *c, double t_s)
{
    double h = fmod(t_s / 3600.0 + (double)(c->start_ms % 86400000) / 3.6e6, 24.0);
    double d = fabs(h - c->peak_hour);
    d = fmin(d, 24.0 - d); /* circular distance in hours */
    return 1.0 + c->peak_amplitude * exp(-0.5 * d * d / (c->peak_width_h * c->peak_width_h));
}
