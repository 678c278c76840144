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

#include "sim_int.h"

typedef struct {
    const gope_sim_world_t *w;
    gope_sim_allocator *alloc;
    gope_sim_rooms rooms;
    uint32_t *round_users, *stamp, *recall_scratch;
    uint32_t *streamers;        /* candidate -> streamer */
    double *all_true, *all_model, *all_sigma; /* per streamer, this decision */
    gope_candidate *cand;
    double *true_ev, *pi;
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
    free(r->all_model);
    free(r->all_sigma);
    free(r->cand);
    free(r->true_ev);
    free(r->pi);
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
    r->all_model = malloc(ns * sizeof *r->all_model);
    r->all_sigma = malloc(ns * sizeof *r->all_sigma);
    r->cand = malloc(k * sizeof *r->cand);
    r->true_ev = malloc(k * sizeof *r->true_ev);
    r->pi = malloc(k * sizeof *r->pi);
    if (r->round_users && r->stamp && r->recall_scratch && r->streamers && r->all_true &&
        r->all_model && r->all_sigma && r->cand && r->true_ev && r->pi)
        return GOPE_OK;
    run_free(r);
    return GOPE_ERR_NOMEM;
}

/* True and model EV of every streamer for `user` in the rooms as they are
 * now (the viewer counted in), then the candidate set and its log fields. */
static size_t build_candidates(run_state *r, uint64_t d, uint32_t user)
{
    const gope_sim_world_t *w = r->w;
    const gope_sim_rooms *rm = &r->rooms;
    const bool recall = w->conf.candidates != 0 && w->conf.candidates < w->n_streamers;
    for (uint32_t s = 0; s < w->n_streamers && recall; s++) {
        const gope_sim_room room = {rm->big_gifts[s], rm->load[s] + 1};
        r->all_true[s] = gope_sim_true_ev(w, user, s, &room);
        r->all_model[s] = gope_sim_model_ev(w, user, s, r->all_true[s], &r->all_sigma[s]);
    }
    const size_t n = gope_sim__recall(w, d, r->all_model, r->streamers, r->recall_scratch);
    for (size_t j = 0; j < n; j++) {
        const uint32_t s = r->streamers[j];
        double ev, sigma;
        if (recall) {
            r->true_ev[j] = r->all_true[s];
            ev = r->all_model[s];
            sigma = r->all_sigma[s];
        } else {
            const gope_sim_room room = {rm->big_gifts[s], rm->load[s] + 1};
            r->true_ev[j] = gope_sim_true_ev(w, user, s, &room);
            ev = gope_sim_model_ev(w, user, s, r->true_ev[j], &sigma);
        }
        r->cand[j] = (gope_candidate){
            .ev = ev,
            .sigma = sigma,
            .load = rm->load[s],
            .capacity = w->capacity[s],
            .whales = rm->whales[s],
            .cold_start = w->cold_start[s],
            .head = w->head[s],
        };
    }
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

/* One decision, from arrival to the room update. */
static gope_status step(run_state *r, uint64_t d, const gope_sim_run_conf *conf, gope_err *err)
{
    const gope_sim_world_t *w = r->w;
    const bool dwell = w->conf.session == GOPE_SESSION_DWELL;
    const uint32_t round = (uint32_t)(d / w->conf.round_users), pos = (uint32_t)(d % w->conf.round_users);
    if (pos == 0) {
        gope_sim__round_users(w, round, r->round_users, r->stamp);
        if (!dwell)
            gope_sim__rooms_clear(&r->rooms);
        if (r->alloc->ops->begin_round)
            r->alloc->ops->begin_round(r->alloc->state, w, round, r->round_users, w->conf.round_users);
    }
    const uint32_t user = r->round_users[pos];
    r->t = gope_sim__next_arrival(w, d, r->t);
    if (dwell)
        gope_sim__rooms_advance(&r->rooms, r->t);

    gope_event ev = {.ts = w->conf.start_ms + (int64_t)floor(r->t * 1000.0),
                     .has_reward = true, .is_whale = w->whale[user]};
    ev.event_id_len = (size_t)snprintf(ev.event_id, sizeof ev.event_id, "sim-%" PRIu64 "-%" PRIu64,
                                       w->seed, d);
    ev.n_candidates = build_candidates(r, d, user);
    ev.candidates = r->cand;
    ev.probs = r->pi;
    const gope_sim_decision dec = {w, w->seed, d, round, user, &ev, r->streamers,
                                   gope_rng_u01(w->seed, GOPE_RNG_ACTION, d, 0)};
    const size_t a = r->alloc->ops->decide(r->alloc->state, &dec, r->pi);
    const uint32_t s = r->streamers[a];
    ev.action = (int64_t)a;
    ev.propensity = r->pi[a];

    gope_ksum vs = {0, 0};
    for (size_t j = 0; j < ev.n_candidates; j++)
        gope_ksum_add(&vs, r->pi[j] * r->true_ev[j]);
    gope_sim_outcome o = {.decision = d, .round = round, .ts = ev.ts, .user = user, .streamer = s,
                          .user_is_whale = w->whale[user], .cold_start = w->cold_start[s],
                          .head = w->head[s], .load = r->rooms.load[s], .capacity = w->capacity[s],
                          .match = gope_sim_match(w, user, s), .true_ev = r->true_ev[a],
                          .v_static = gope_ksum_value(&vs)};
    o.reward = ev.reward = draw_gift(r, d, user, s, &o.externality);

    const gope_sim_step st = {&ev, r->streamers, r->true_ev, r->pi, user, r->alloc->name, &o};
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
    r->rooms.big_gifts[s] += o.reward > w->conf.big_gift;
    const double stay = -log(gope_rng_u01(w->seed, GOPE_RNG_DWELL, d, 0)) * w->conf.dwell_mean_s;
    if (gope_sim__rooms_enter(&r->rooms, s, w->whale[user], dwell, r->t + stay) != GOPE_OK)
        return gope_err_set(err, GOPE_ERR_NOMEM, "simulation: decision %" PRIu64 ": out of memory", d);
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
