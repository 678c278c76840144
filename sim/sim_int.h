/*
 * sim_int.h — the simulator's internal layout: the world's arrays and the
 * per-user / per-streamer terms of the gift model, precomputed once per world
 * so that a decision costs one dot product and two exp() per candidate.
 */
#ifndef GOPE_SIM_INT_H
#define GOPE_SIM_INT_H

#include "gope_sim.h"

/* Up to this many (user, streamer) pairs the EV model's error factors are
 * tabulated when the world is built (4 bytes a pair: 20 MB for giftlive-v2).
 * Every policy run on the world then reads them instead of drawing them for
 * every candidate of every decision, which was a quarter of a run's time. */
#define GOPE_SIM_NOISE_TABLE (1u << 25)

/* Up to this many pairs the static part of the gift model is tabulated too
 * (16 bytes a pair: 80 MB for giftlive-v2): a candidate's true EV is then two
 * loads and two products unless its streamer has big gifts, instead of a dot
 * product and two exp(). The table holds the same doubles the direct
 * computation gives, so results do not depend on it. */
#define GOPE_SIM_PAIR_TABLE (1u << 23)

/* p(gift) with N_s = 0 and E[tier] of a pair, computed directly. */
void gope_sim__pair_static(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                           double *p0, double *tier);

/* The EV model's error factor of a pair, exp(sd z - sd^2/2) rounded to float
 * (so tabulated and computed factors are the same numbers). */
float gope_sim__noise_factor(const gope_sim_world_t *w, uint32_t user, uint32_t streamer);

/* SplitMix64's finaliser: a bijection on 64 bits in which every input bit
 * moves every output bit. The counter-based RNG (rng.c) and the simulator's
 * hash tables mix their keys with it. */
static inline uint64_t gope_sim__mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct gope_sim_world_s {
    gope_world_conf conf;
    uint64_t seed;
    uint32_t n_users, n_streamers, dim;

    /* users */
    double *wealth;
    double *user_logit;   /* theta0 + theta1 log1p(wealth) */
    double *user_tier_a;  /* wealth_slope * clip((log1p w - center)/scale, lo, hi) */
    double *pref;         /* n_users x dim, unit rows */
    bool *whale, *top01, *top1;

    /* streamers */
    double *popularity;
    double *streamer_logit; /* theta3 * popularity */
    double *noise_sd;       /* ev_noise_sd, times cold_mult when cold-start */
    double *noise_bias;     /* -noise_sd^2 / 2: the lognormal error has mean 1 */
    double *sigma_ratio;    /* sigma / ev = sqrt(exp(noise_sd^2) - 1) */
    float *noise_mult;      /* n_users x n_streamers EV error factors; NULL when
                             * the world has more than GOPE_SIM_NOISE_TABLE pairs */
    double *pair_p0;        /* n_users x n_streamers: p(gift) with N_s = 0 */
    double *pair_tier;      /* n_users x n_streamers: E[tier]; both NULL above
                             * GOPE_SIM_PAIR_TABLE pairs */
    double *content;        /* n_streamers x dim, unit rows */
    int64_t *capacity;
    bool *cold_start, *head;

    /* amount model: E[tier | a] = sum c_k x^k / sum b_k x^k, x = e^a */
    double tier_num[GOPE_SIM_TIERS], tier_den[GOPE_SIM_TIERS];
    double tier_logbase[GOPE_SIM_TIERS];

    /* arrivals: rate(t) = arrivals_per_s * shape(t) / mean_shape */
    double mean_shape;
};

/* Arrival-rate shape at `t_s` seconds after start (1 + peak bump). */
double gope_sim__rate_shape(const gope_world_conf *c, double t_s);

/* ----------------------------------------------------------- run pieces */

/* Rooms: load, whales and big gifts per streamer. In round sessions a room
 * empties when the round ends; in dwell sessions each viewer leaves at its
 * own time (a min-heap of departures). */
typedef struct {
    double t;          /* departure, seconds after start */
    uint32_t streamer;
    bool whale;
} gope_sim_leave;

typedef struct {
    uint32_t n;
    int64_t *load, *whales, *big_gifts;
    gope_sim_leave *heap;
    size_t heap_n, heap_cap;
} gope_sim_rooms;

gope_status gope_sim__rooms_init(gope_sim_rooms *r, uint32_t n_streamers);
void gope_sim__rooms_free(gope_sim_rooms *r);
/* round sessions: everyone leaves */
void gope_sim__rooms_clear(gope_sim_rooms *r);
/* dwell sessions: everyone due by time t leaves */
void gope_sim__rooms_advance(gope_sim_rooms *r, double t);
/* a viewer joins; in dwell sessions it is queued to leave at `leave_t`
 * (GOPE_ERR_NOMEM when the queue cannot grow) */
gope_status gope_sim__rooms_enter(gope_sim_rooms *r, uint32_t streamer, bool whale,
                                  bool dwell, double leave_t);

/* Arrivals: the users of round `round` (distinct; `stamp` is n_users of
 * scratch, all 0 at the start of a run) and the next arrival time. */
void gope_sim__round_users(const gope_sim_world_t *w, uint32_t round, uint32_t *users,
                           uint32_t *stamp);
double gope_sim__next_arrival(const gope_sim_world_t *w, uint64_t decision, double t);

/* The candidate set of a decision: every streamer (k = 0) or the recall
 * stage's k. Writes the streamer indices to `out` and returns how many;
 * `model_ev` (n_streamers) holds every streamer's model EV for this user,
 * `scratch` n_streamers uint32 values. */
size_t gope_sim__recall(const gope_sim_world_t *w, uint64_t decision, const double *model_ev,
                        uint32_t *out, uint32_t *scratch);

#endif
