/*
 * test_sim_engine.c — the engine's fast paths give exactly the model's
 * numbers (sim/engine.c, sim/gift.c): every candidate of every decision
 * carries the true EV, model EV and sigma that gope_sim_true_ev() and
 * gope_sim_model_ev() give for the room as the decision found it, bit for
 * bit. The engine takes them from the pair tables, the run's cache of
 * big-gift terms (filled as streamers get their first big gift) and its
 * per-streamer candidate records (kept in step with the rooms); the test
 * recomputes them from the public functions and its own account of the
 * rooms, and checks that the exceptions (big gifts, rooms over capacity)
 * did occur, so it cannot pass without exercising them. A wider world
 * makes more streamers get big gifts than the cache's rows first hold, so
 * the cache grows mid-run. Each decision's V_static (sum_j pi_j true_ev_j,
 * which the engine takes from the chosen term alone when the allocator says
 * pi is one-hot) must equal the full compensated sum.
 *
 * It also redraws each decision's gift from the decision's own uniforms
 * with the public gift model in that same room: the reward must be that
 * draw exactly. So the truth and the sampler read one room state (with
 * test_sim_core.c's check of the formula against the sampler's mean, the
 * truth is the exact expectation of every logged reward: issue 3's coverage
 * rests on it).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "gope_sim.h"
#include "simworld.h"

enum { STREAMERS = 40, WIDE = 200 };

typedef struct {
    const gope_sim_world_t *w;
    gope_sim_world_view v;
    double big_gift;
    int64_t big[WIDE];       /* big gifts per streamer, from the outcomes */
    uint64_t checked, with_big, over_capacity, decisions, gifts;
} checker;

/* sum_j pi_j true_ev_j over every term, compensated, as the truth adds it. */
static double full_v_static(const gope_sim_step *st)
{
    gope_ksum v = {0, 0};
    for (size_t j = 0; j < st->event->n_candidates; j++)
        if (st->pi[j] * st->true_ev[j] != 0)
            gope_ksum_add(&v, st->pi[j] * st->true_ev[j]);
    return gope_ksum_value(&v);
}

/* How many streamers have had a big gift. */
static size_t streamers_with_big(const checker *k, uint32_t n)
{
    size_t m = 0;
    for (uint32_t s = 0; s < n; s++)
        m += k->big[s] > 0;
    return m;
}

/* The reward the chosen streamer's room gives with decision d's uniforms,
 * drawn as the engine's gift model says: the Bernoulli, then the tier. */
static double redraw(const gope_sim_world_t *w, uint64_t d, uint32_t user, uint32_t s,
                     const gope_sim_room *room)
{
    const uint64_t seed = gope_sim_world_seed(w);
    if (gope_rng_u01(seed, GOPE_RNG_GIFT, d, 0) >= gope_sim_gift_prob(w, user, s, room))
        return 0;
    double probs[GOPE_SIM_TIERS];
    gope_sim_tier_probs(w, user, s, probs);
    const size_t k = gope_sim_sample(probs, GOPE_SIM_TIERS, gope_rng_u01(seed, GOPE_RNG_AMOUNT, d, 0));
    return gope_sim_world_conf(w)->tiers[k] * gope_sim_externality(w, s, room);
}

static gope_status check_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    checker *k = ctx;
    const gope_sim_world_view v = k->v;
    const gope_event *ev = st->event;
    for (size_t j = 0; j < ev->n_candidates; j++) {
        const uint32_t s = st->streamers[j];
        const gope_candidate *c = &ev->candidates[j];
        const gope_sim_room room = {k->big[s], c->load + 1};
        const double t = gope_sim_true_ev(k->w, st->user, s, &room);
        double sigma;
        const double m = gope_sim_model_ev(k->w, st->user, s, t, &sigma);
        cr_assert_eq(st->true_ev[j], t, "decision %llu streamer %u: true EV %.17g, want %.17g",
                     (unsigned long long)k->decisions, s, st->true_ev[j], t);
        cr_assert_eq(c->ev, m, "decision %llu streamer %u: model EV", (unsigned long long)k->decisions, s);
        cr_assert_eq(c->sigma, sigma, "decision %llu streamer %u: sigma", (unsigned long long)k->decisions, s);
        cr_assert_eq(c->capacity, v.capacity[s]);
        cr_assert_eq(c->cold_start, v.cold_start[s]);
        cr_assert_eq(c->head, v.head[s]);
        k->checked++;
        k->with_big += room.big_gifts > 0;
        k->over_capacity += v.capacity[s] > 0 && room.load > v.capacity[s];
    }
    const gope_sim_outcome *o = st->outcome;
    cr_assert_eq(ev->candidates[ev->action].load, o->load, "the chosen room's load");
    cr_assert_eq(st->streamers[ev->action], o->streamer);
    const gope_sim_room room = {k->big[o->streamer], o->load + 1};
    cr_assert_eq(o->reward, redraw(k->w, o->decision, st->user, o->streamer, &room),
                 "decision %llu: the reward is not the gift model's draw in the room of its true EV",
                 (unsigned long long)k->decisions);
    cr_assert_eq(o->true_ev, st->true_ev[ev->action]);
    cr_assert_eq(o->v_static, full_v_static(st), "decision %llu: V_static %.17g, want %.17g",
                 (unsigned long long)k->decisions, o->v_static, full_v_static(st));
    k->gifts += o->reward > 0;
    k->big[o->streamer] += o->reward > k->big_gift;
    k->decisions++;
    return GOPE_OK;
}

typedef struct {
    gope_session_mode session;
    uint32_t candidates; /* 0: every streamer */
    char policy[16]; /* inline: the parameters are copied to the test's process */
    uint32_t streamers;
} engine_case;

ParameterizedTestParameters(sim_engine, candidates_are_the_model)
{
    static engine_case cases[] = {
        {GOPE_SESSION_ROUND, 0, "greedy", STREAMERS},
        {GOPE_SESSION_ROUND, 0, "softmax", STREAMERS},
        {GOPE_SESSION_DWELL, 0, "eps_greedy", STREAMERS},
        {GOPE_SESSION_DWELL, 10, "greedy", STREAMERS},
        {GOPE_SESSION_ROUND, 0, "softmax", WIDE},
    };
    return cr_make_param_array(engine_case, cases, sizeof cases / sizeof cases[0]);
}

/* Gifts frequent and big from the second tier on, capacities of one or two
 * viewers with the capacity externality: the fast path's exceptions occur
 * in most decisions. */
ParameterizedTest(engine_case *ec, sim_engine, candidates_are_the_model)
{
    gope_world_conf c = tu_small_world();
    c.theta[0] = -2;
    c.big_gift = 1;
    c.capacity_externality = true;
    c.capacity_top = 2;
    c.capacity_middle = 2;
    c.capacity_tail = 1;
    c.session = ec->session;
    c.dwell_mean_s = 30;
    c.candidates = ec->candidates;
    c.n_streamers = ec->streamers;
    gope_sim_world_t *w = tu_make_world(&c, 77);
    gope_policy_set_t *set = NULL;
    gope_err err;
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK);
    size_t i = 0;
    while (strcmp(gope_policy_name(set, i), ec->policy) != 0)
        i++;
    gope_sim_allocator a;
    cr_assert_eq(gope_sim_policy_allocator(set, i, &a, &err), GOPE_OK);
    checker *k = calloc(1, sizeof *k);
    cr_assert(k);
    k->w = w;
    k->big_gift = c.big_gift;
    gope_sim_world_get(w, &k->v);
    const gope_sim_run_conf rc = {.decisions = 3000, .on_step = check_step, .ctx = k};
    gope_sim_summary sum;
    cr_assert_eq(gope_sim_run(w, &a, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(k->decisions, 3000);
    cr_expect_gt(k->with_big, k->checked / 10, "candidates with big gifts: %llu of %llu",
                 (unsigned long long)k->with_big, (unsigned long long)k->checked);
    cr_expect_gt(k->gifts, 300, "gifts: %llu", (unsigned long long)k->gifts);
    cr_expect_gt(k->over_capacity, k->checked / 100, "candidates over capacity: %llu of %llu",
                 (unsigned long long)k->over_capacity, (unsigned long long)k->checked);
    if (ec->streamers == WIDE) /* rows of 8 doubled at least four times */
        cr_expect_gt(streamers_with_big(k, WIDE), 64, "streamers with big gifts: %zu",
                     streamers_with_big(k, WIDE));
    free(k);
    gope_sim_allocator_free(&a);
    gope_policies_free(set);
    gope_sim_world_free(w);
}
