/*
 * engine.c — the simulation loop (docs/simulator.md, "A decision").
 *
 * Per decision: the next arrival (user of the current round, time by the
 * daily-rate Poisson process); departures due by then; the candidate set
 * with each candidate's true EV and the model's noisy EV as the log will
 * show them; the allocator's pi and its action (sampled with the decision's
 * own uniform); the gift Bernoulli and tier draw, each with its own uniform;
 * the outcome to the callback; then the room state moves on.
 *
 * Random draws that do not depend on the policy's choices are keyed by the
 * decision (rng.c), so policies on one seed share them: common random numbers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

/* Streamers with big gifts a user row of the cache holds at first; rows
 * double when the list fills. A 10,000-decision run of giftlive-v2 under
 * Greedy (the research default) ends with a handful, 200,000 with ~40: short
 * rows keep a short run from paying for memory it never reads. The cache is
 * plain malloc(): on huge pages a run could stall for the kernel to compact
 * memory, which cost short runs more than the TLB misses it saves. */
enum { BIG_SLOTS = 8 };

typedef struct {
    const gope_sim_world_t *w;
    gope_sim_allocator *alloc;
    gope_sim_rooms rooms;
    uint32_t *round_users, *stamp, *recall_scratch;
    uint32_t *streamers;        /* candidate -> streamer */
    double *all_true;           /* per streamer, this decision */
    /* Per streamer, the candidate record the policies read: the flags and
     * capacity set once, load and whales kept in step with the rooms, ev and
     * sigma written for each decision. When every streamer is a candidate
     * the event points at these, so a decision copies no candidate. */
    gope_candidate *all_cand;
    gope_candidate *cand;       /* a recall stage's candidates */
    double *cand_true;          /* ... and their true EV */
    gope_candidate *event_cand;       /* the decision's: all_cand or cand */
    const double *true_ev;            /* all_true or cand_true */
    double *pi;
    gope_sim__big_cache big;    /* terms NULL when the world has no pair tables */
    bool recall;                /* a recall stage picks the candidates */
    double t;                   /* seconds since start */
    gope_ksum revenue, v_static;
    uint64_t gifts;
} run_state;

static void run_free(run_state *r)
{
    gope_sim__rooms_free(&r->rooms);
    free(r->round_users);
    free(r->stamp);
    free(r->recall_scratch);
    free(r->streamers);
    free(r->all_true);
    free(r->all_cand);
    free(r->cand);
    free(r->cand_true);
    free(r->pi);
    free(r->big.terms);
    free(r->big.room);
}

static gope_status run_init(run_state *r, const gope_sim_world_t *w, gope_sim_allocator *alloc)
{
    *r = (run_state){.w = w, .alloc = alloc};
    const uint32_t ns = w->n_streamers;
    const size_t k = w->conf.candidates ? w->conf.candidates : ns;
    if (gope_sim__rooms_init(&r->rooms, ns) != GOPE_OK)
        return GOPE_ERR_NOMEM;
    r->round_users = malloc(w->conf.round_users * sizeof *r->round_users);
    r->stamp = calloc(w->n_users, sizeof *r->stamp);
    r->recall_scratch = malloc(ns * sizeof *r->recall_scratch);
    r->streamers = malloc(ns * sizeof *r->streamers);
    r->all_true = malloc(ns * sizeof *r->all_true);
    r->all_cand = malloc(ns * sizeof *r->all_cand);
    r->cand = malloc(k * sizeof *r->cand);
    r->cand_true = malloc(k * sizeof *r->cand_true);
    r->pi = malloc(k * sizeof *r->pi);
    /* room for BIG_SLOTS streamers with big gifts per user row to start
     * with (big_cache_grow() doubles it) */
    r->big.stride = ns < BIG_SLOTS ? ns : BIG_SLOTS;
    if (w->pair_ev0)
        r->big.terms = malloc((size_t)w->n_users * r->big.stride * sizeof *r->big.terms);
    r->big.room = malloc(ns * sizeof *r->big.room);
    if (!(r->round_users && r->stamp && r->recall_scratch && r->streamers && r->all_true &&
          r->all_cand && r->cand && r->cand_true && r->pi && r->big.room &&
          (r->big.terms || !w->pair_ev0))) {
        run_free(r);
        return GOPE_ERR_NOMEM;
    }
    r->recall = k < ns;
    for (uint32_t s = 0; s < ns; s++) {
        r->streamers[s] = s; /* every streamer a candidate: gope_sim__recall() keeps these */
        r->all_cand[s] = (gope_candidate){
            .capacity = w->capacity[s], .cold_start = w->cold_start[s], .head = w->head[s]};
    }
    return GOPE_OK;
}

static const gope_sim__big_cache *big_cache(const run_state *r)
{
    return r->big.terms ? &r->big : NULL;
}

/* Doubles the big-gift cache's row length, keeping each user's first `used`
 * terms. */
static gope_status big_cache_grow(run_state *r, size_t used)
{
    const uint32_t ns = r->w->n_streamers, stride = r->big.stride * 2 < ns ? r->big.stride * 2 : ns;
    gope_sim__big_terms *t = malloc((size_t)r->w->n_users * stride * sizeof *t);
    if (!t)
        return GOPE_ERR_NOMEM;
    for (uint32_t u = 0; u < r->w->n_users; u++)
        memcpy(t + (size_t)u * stride, r->big.terms + (size_t)u * r->big.stride, used * sizeof *t);
    free(r->big.terms);
    r->big.terms = t;
    r->big.stride = stride;
    return GOPE_OK;
}

/* A big gift in `s`'s room; on its first, s's column of the cache. */
static gope_status big_gift(run_state *r, uint32_t s)
{
    const size_t slot = r->rooms.n_big;
    gope_sim__rooms_big_gift(&r->rooms, s);
    r->big.room[s] = gope_sim__big_room_of(r->w, r->rooms.big_gifts[s]);
    if (r->rooms.n_big == slot || !r->big.terms)
        return GOPE_OK;
    if (slot == r->big.stride && big_cache_grow(r, slot) != GOPE_OK)
        return GOPE_ERR_NOMEM;
    gope_sim__big_column(r->w, s, r->big.terms + slot, r->big.stride);
    return GOPE_OK;
}

/* The candidate records' load and whales from the rooms: one streamer's
 * after a viewer joins, all of them after viewers left. */
static void sync_room(run_state *r, uint32_t s)
{
    r->all_cand[s].load = r->rooms.load[s];
    r->all_cand[s].whales = r->rooms.whales[s];
}

static void sync_rooms(run_state *r)
{
    for (uint32_t s = 0; s < r->w->n_streamers; s++)
        sync_room(r, s);
}

/* True and model EV of every streamer for `user` in the rooms as they are
 * now (the viewer counted in), then the candidate set. */
static size_t build_candidates(run_state *r, uint64_t d, uint32_t user, uint32_t next_user,
                               bool all_true)
{
    const gope_sim_world_t *w = r->w;
    gope_sim__evs(w, user, next_user, &r->rooms, big_cache(r), r->all_true, r->all_cand, all_true);
    const size_t n = gope_sim__recall(w, d, r->all_cand, r->streamers, r->recall_scratch);
    if (n == w->n_streamers) { /* every streamer, in order */
        r->event_cand = r->all_cand;
        r->true_ev = r->all_true;
        return n;
    }
    for (size_t j = 0; j < n; j++) {
        const uint32_t s = r->streamers[j];
        r->cand_true[j] = r->all_true[s];
        r->cand[j] = r->all_cand[s];
    }
    r->event_cand = r->cand;
    r->true_ev = r->cand_true;
    return n;
}

/* The realised gift of `user` in `s`'s room: 0, or a tier times the
 * externality, with the decision's own uniforms. */
static double draw_gift(const run_state *r, uint64_t d, uint32_t user, uint32_t s, double *ext)
{
    const gope_sim_world_t *w = r->w;
    const gope_sim_room room = {r->rooms.big_gifts[s], r->rooms.load[s] + 1};
    *ext = gope_sim_externality(w, s, &room);
    if (gope_rng_u01(w->seed, GOPE_RNG_GIFT, d, 0) >= gope_sim_gift_prob(w, user, s, &room))
        return 0;
    double probs[GOPE_SIM_TIERS];
    gope_sim_tier_probs(w, user, s, probs);
    const size_t k = gope_sim_sample(probs, GOPE_SIM_TIERS, gope_rng_u01(w->seed, GOPE_RNG_AMOUNT, d, 0));
    return w->conf.tiers[k] * *ext;
}

/* sum_j pi_j true_ev_j into `vs`, in candidate order. The terms are finite
 * and >= +0, and so are the sums: adding a +0 changes neither sum nor
 * compensation, and under greedy most pi_j are 0. So the terms are looked
 * at four at a time, and only a group with a non-zero term (a non-zero sum:
 * a test only, the sum is not used) adds its non-zero terms one by one. */
static void v_static_add(gope_ksum *vs, const double *pi, const double *true_ev, size_t n)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const double x[4] = {pi[j] * true_ev[j], pi[j + 1] * true_ev[j + 1],
                             pi[j + 2] * true_ev[j + 2], pi[j + 3] * true_ev[j + 3]};
        if ((x[0] + x[1]) + (x[2] + x[3]) == 0)
            continue;
        for (size_t l = 0; l < 4; l++)
            if (x[l] != 0)
                gope_ksum_add(vs, x[l]);
    }
    for (; j < n; j++)
        if (pi[j] * true_ev[j] != 0)
            gope_ksum_add(vs, pi[j] * true_ev[j]);
}

/* The chosen candidate's true EV, and V_static = sum_j pi_j true_ev_j into
 * `vs`. When the pass left the tabulated true EVs unwritten (`all_true`
 * false), a one-hot pi needs the chosen one only; any other pi has them
 * filled first. */
static double chosen_truth(run_state *r, uint32_t user, size_t a, size_t n, bool certain,
                           bool all_true, gope_ksum *vs)
{
    if (!certain && !all_true)
        gope_sim__evs_fill(r->w, user, &r->rooms, big_cache(r), r->all_true);
    const double t = certain && !all_true
                         ? gope_sim__evs_one(r->w, user, r->streamers[a], &r->rooms, big_cache(r),
                                             r->all_true)
                         : r->true_ev[a];
    if (!certain)
        v_static_add(vs, r->pi, r->true_ev, n);
    else if (t != 0) /* the one non-zero term, 1 * true_ev */
        gope_ksum_add(vs, t);
    return t;
}

/* One decision, from arrival to the room update. */
static gope_status step(run_state *r, uint64_t d, const gope_sim_run_conf *conf, gope_err *err)
{
    const gope_sim_world_t *w = r->w;
    const bool dwell = w->conf.session == GOPE_SESSION_DWELL;
    const uint32_t round = (uint32_t)(d / w->conf.round_users), pos = (uint32_t)(d % w->conf.round_users);
    if (pos == 0) {
        gope_sim__round_users(w, round, r->round_users, r->stamp);
        if (!dwell) {
            gope_sim__rooms_clear(&r->rooms);
            sync_rooms(r);
        }
        if (r->alloc->ops->begin_round)
            r->alloc->ops->begin_round(r->alloc->state, w, round, r->round_users, w->conf.round_users);
    }
    const uint32_t user = r->round_users[pos];
    /* the next decision's user, when this round has one: its rows of the
     * pair tables are fetched while this decision runs */
    const uint32_t next = pos + 1 < w->conf.round_users ? r->round_users[pos + 1] : UINT32_MAX;
    r->t = gope_sim__next_arrival(w, d, r->t);
    if (dwell && gope_sim__rooms_advance(&r->rooms, r->t) > 0)
        sync_rooms(r);

    gope_event ev = {.ts = w->conf.start_ms + (int64_t)floor(r->t * 1000.0),
                     .has_reward = true, .is_whale = w->whale[user]};
    if (conf->on_step) /* a string per decision that only a callback (the log) reads */
        ev.event_id_len = (size_t)snprintf(ev.event_id, sizeof ev.event_id,
                                           "sim-%" PRIu64 "-%" PRIu64, w->seed, d);
    /* every candidate's true EV, or (no recall stage, a callback that reads
     * the outcome only) just the chosen one's */
    const bool all_true = r->recall || (conf->on_step && !conf->outcome_only);
    ev.n_candidates = build_candidates(r, d, user, next, all_true);
    ev.candidates = r->event_cand;
    ev.probs = r->pi;
    const gope_sim_decision dec = {w, w->seed, d, round, user, &ev, r->streamers,
                                   gope_rng_u01(w->seed, GOPE_RNG_ACTION, d, 0)};
    bool certain = false;
    const size_t a = r->alloc->ops->decide(r->alloc->state, &dec, r->pi, &certain);
    const uint32_t s = r->streamers[a];
    ev.action = (int64_t)a;
    ev.propensity = r->pi[a];

    gope_ksum vs = {0, 0};
    const double true_a = chosen_truth(r, user, a, ev.n_candidates, certain, all_true, &vs);
    gope_sim_outcome o = {.decision = d, .round = round, .ts = ev.ts, .user = user, .streamer = s,
                          .user_is_whale = w->whale[user], .cold_start = w->cold_start[s],
                          .head = w->head[s], .load = r->rooms.load[s], .capacity = w->capacity[s],
                          .match = gope_sim_match(w, user, s), .true_ev = true_a,
                          .v_static = gope_ksum_value(&vs)};
    o.reward = ev.reward = draw_gift(r, d, user, s, &o.externality);

    const gope_sim_step st = {&ev, r->streamers, conf->outcome_only ? NULL : r->true_ev, r->pi,
                              user, r->alloc->name, &o};
    if (conf->on_step) {
        gope_status cs = conf->on_step(conf->ctx, &st, err);
        if (cs != GOPE_OK)
            return cs;
    }
    if (r->alloc->ops->observe)
        r->alloc->ops->observe(r->alloc->state, &dec, &o);
    gope_ksum_add(&r->revenue, o.reward);
    r->gifts += o.reward > 0;
    gope_ksum_add(&r->v_static, o.v_static);
    const double stay = -log(gope_rng_u01(w->seed, GOPE_RNG_DWELL, d, 0)) * w->conf.dwell_mean_s;
    if ((o.reward > w->conf.big_gift && big_gift(r, s) != GOPE_OK) ||
        gope_sim__rooms_enter(&r->rooms, s, w->whale[user], dwell, r->t + stay) != GOPE_OK)
        return gope_err_set(err, GOPE_ERR_NOMEM, "simulation: decision %" PRIu64 ": out of memory", d);
    sync_room(r, s);
    return GOPE_OK;
}

gope_status gope_sim_run(const gope_sim_world_t *w, gope_sim_allocator *alloc,
                         const gope_sim_run_conf *conf, gope_sim_summary *sum, gope_err *err)
{
    run_state r;
    *sum = (gope_sim_summary){0};
    if (run_init(&r, w, alloc) != GOPE_OK)
        return gope_err_set(err, GOPE_ERR_NOMEM, "simulation in world %s: out of memory", w->conf.name);
    gope_status st = GOPE_OK;
    for (uint64_t d = 0; d < conf->decisions; d++) {
        st = step(&r, d, conf, err);
        if (st != GOPE_OK)
            break;
        const int64_t ts = w->conf.start_ms + (int64_t)floor(r.t * 1000.0);
        if (d == 0)
            sum->first_ts = ts;
        sum->last_ts = ts;
        sum->decisions = d + 1;
    }
    sum->rounds = sum->decisions ? (sum->decisions - 1) / w->conf.round_users + 1 : 0;
    sum->gifts = r.gifts;
    sum->revenue = gope_ksum_value(&r.revenue);
    sum->v_static = sum->decisions ? gope_ksum_value(&r.v_static) / (double)sum->decisions : 0;
    run_free(&r);
    return st;
}
