/*
 * sim_int.h — the simulator's internal layout: the world's arrays and the
 * per-user / per-streamer / per-pair terms of the gift model, precomputed
 * once per world so that a decision costs a load and a few products per
 * candidate (docs/simulator.md, "Speed and memory").
 */
#ifndef GOPE_SIM_INT_H
#define GOPE_SIM_INT_H

#include "gope_sim.h"

/* Up to this many (user, streamer) pairs the EV model's error factors are
 * tabulated when the world is built (4 bytes a pair: 20 MB for giftlive-v2).
 * Every policy run on the world then reads them instead of drawing them for
 * every candidate of every decision, which was a quarter of a run's time. */
#define GOPE_SIM_NOISE_TABLE (1u << 25)

/* Up to this many pairs p(gift) E[tier] with N_s = 0 is tabulated too (8
 * bytes a pair: 40 MB for giftlive-v2): a candidate's true EV is then one
 * load and one product unless its streamer has big gifts, instead of a dot
 * product and two exp(). The table holds the same doubles the direct
 * computation gives, so results do not depend on it. */
#define GOPE_SIM_PAIR_TABLE (1u << 23)

/* What a pair needs when its streamer has big gifts: with them p(gift) =
 * 1 / (1 + exp(-z0) exp(-theta4 N_s)) and true EV = p E[tier] externality.
 * The odds come as that product (gift.c, prob_of), so a decision's big rooms
 * cost a multiplication each, not an exp(). */
typedef struct {
    double odds0; /* exp(-z0) */
    double tier;  /* E[tier] */
    double z0;    /* the gift logit with N_s = 0 */
} gope_sim__big_terms;

/* What a room's N_s big gifts do to every pair in it: the factor of the
 * gift odds, exp(-theta4 N) (1 for N = 0), and the crowding discount of
 * the externality, 1 / (1 + gamma N). */
typedef struct {
    double odds;
    double crowd;
} gope_sim__big_room;

gope_sim__big_room gope_sim__big_room_of(const gope_sim_world_t *w, int64_t big_gifts);

/* Memory for a table of `bytes` that a run reads a row at a time, on huge
 * pages where the system has them (bigalloc.c); free() releases it. NULL
 * when out of memory. */
void *gope_sim__big_alloc(size_t bytes);

/* A pair's p(gift) E[tier] with N_s = 0, computed directly. */
double gope_sim__pair_ev0(const gope_sim_world_t *w, uint32_t user, uint32_t streamer);

/* The big-gift terms of `streamer` for every user u, to col[u * stride]. */
void gope_sim__big_column(const gope_sim_world_t *w, uint32_t streamer, gope_sim__big_terms *col,
                          size_t stride);

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
    double *pair_ev0;       /* n_users x n_streamers: p(gift) E[tier], N_s = 0;
                             * NULL above GOPE_SIM_PAIR_TABLE pairs */
    double empty_externality; /* of a room without big gifts within capacity */
    double *content;        /* n_streamers x dim, unit rows */
    int64_t *capacity;
    bool *cold_start, *head;

    /* amount model: E[tier | a] = sum c_k x^k / sum b_k x^k, x = e^a */
    double tier_num[GOPE_SIM_TIERS], tier_den[GOPE_SIM_TIERS];
    double tier_logbase[GOPE_SIM_TIERS];

    /* arrivals: rate(t) = arrivals_per_s * shape(t) / mean_shape */
    double mean_shape;
};

/* The action for a pi from gope_policy_probs(), which answered `top`: top
 * itself (setting *certain) when pi is one-hot, else gope_sim_sample(pi, n,
 * u). Both give the same index for a one-hot pi. */
size_t gope_sim__sample_probs(const double *pi, size_t n, size_t top, double u, bool *certain);

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
    uint32_t *big;     /* the streamers with big gifts, n_big of them */
    size_t n_big;
    gope_sim_leave *heap;
    size_t heap_n, heap_cap;
} gope_sim_rooms;

gope_status gope_sim__rooms_init(gope_sim_rooms *r, uint32_t n_streamers);
void gope_sim__rooms_free(gope_sim_rooms *r);
/* round sessions: everyone leaves */
void gope_sim__rooms_clear(gope_sim_rooms *r);
/* dwell sessions: everyone due by time t leaves; returns how many left */
size_t gope_sim__rooms_advance(gope_sim_rooms *r, double t);
/* a viewer joins; in dwell sessions it is queued to leave at `leave_t`
 * (GOPE_ERR_NOMEM when the queue cannot grow) */
gope_status gope_sim__rooms_enter(gope_sim_rooms *r, uint32_t streamer, bool whale,
                                  bool dwell, double leave_t);
/* a big gift in `streamer`'s room (N_s + 1) */
void gope_sim__rooms_big_gift(gope_sim_rooms *r, uint32_t streamer);

/* The big-gift terms of the streamers with big gifts, for every user, in
 * the order they got their first (rooms->big): a decision reads its user's
 * n_big of them side by side instead of one cache line each in a table of
 * every pair. A run fills a streamer's column when it joins the list
 * (n_users terms). `terms` is n_users x stride (user-major), stride the
 * list's room: rows as short as the list keep the cache small (~10 MB for
 * 200,000 decisions of giftlive-v2, where rows of every streamer took 80),
 * and the run doubles them when the list fills. */
typedef struct {
    gope_sim__big_terms *terms;
    uint32_t stride; /* <= n_streamers */
    gope_sim__big_room *room; /* per streamer, for its N_s */
} gope_sim__big_cache;

/* True EV (to `true_ev`), model EV and sigma (to `cand[s].ev`, `.sigma`) of
 * every streamer s for `user` in `rooms` as they are (the viewer counted in
 * on top of their load): the values gope_sim_true_ev() and
 * gope_sim_model_ev() give. With the pair tables, one branch-free pass takes
 * every streamer's tabulated value for a room without big gifts within
 * capacity, then the exceptions (rooms->big, from `cache`; rooms over
 * capacity when the world has that externality) are computed in full: a
 * test per streamer in the pass would mispredict at every one of them.
 * `cache` may be NULL only when the world has no pair tables.
 *
 * A decision's rows are ~6 KB read once in 60 MB: waiting for them was
 * half a decision's time. The engine knows the next decision's user, so the
 * pass also asks the cache for `next_user`'s rows (UINT32_MAX: none), a
 * line every few streamers, and the fetch overlaps the rest of this
 * decision. Prefetches are hints only: no effect on results.
 *
 * `all_true` false: the pass leaves true_ev of the streamers it covers
 * unwritten (only the exceptions are), which saves a store per streamer when
 * the run needs one true EV, the chosen one's; gope_sim__evs_one() gives any
 * single value, gope_sim__evs_fill() the rest of them. */
void gope_sim__evs(const gope_sim_world_t *w, uint32_t user, uint32_t next_user,
                   const gope_sim_rooms *rooms, const gope_sim__big_cache *cache,
                   double *true_ev, gope_candidate *cand, bool all_true);

/* After gope_sim__evs(..., false) for the same user and rooms: every true EV
 * the pass left unwritten, to true_ev (the same values all_true writes). */
void gope_sim__evs_fill(const gope_sim_world_t *w, uint32_t user, const gope_sim_rooms *rooms,
                        const gope_sim__big_cache *cache, double *true_ev);

/* After gope_sim__evs(..., false): streamer s's true EV. */
double gope_sim__evs_one(const gope_sim_world_t *w, uint32_t user, uint32_t s,
                         const gope_sim_rooms *rooms, const gope_sim__big_cache *cache,
                         const double *true_ev);

/* Arrivals: the users of round `round` (distinct; `stamp` is n_users of
 * scratch, all 0 at the start of a run) and the next arrival time. */
void gope_sim__round_users(const gope_sim_world_t *w, uint32_t round, uint32_t *users,
                           uint32_t *stamp);
double gope_sim__next_arrival(const gope_sim_world_t *w, uint64_t decision, double t);

/* The candidate set of a decision: every streamer (k = 0), in order, or the
 * recall stage's k. Writes the streamer indices to `out` and returns how many
 * (every streamer: `out` must already hold 0 .. n_streamers - 1, which the
 * engine writes once instead of at every decision);
 * `all[s].ev` (n_streamers) is every streamer's model EV for this user,
 * `scratch` n_streamers uint32 values. */
size_t gope_sim__recall(const gope_sim_world_t *w, uint64_t decision, const gope_candidate *all,
                        uint32_t *out, uint32_t *scratch);

#endif
