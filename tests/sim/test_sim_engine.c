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
static gope_world_conf case_conf(const engine_case *ec)
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
    return c;
}

/* The case's policy of the default set as an allocator. */
static gope_sim_allocator case_allocator(const gope_policy_set_t *set, const engine_case *ec)
{
    size_t i = 0;
    while (strcmp(gope_policy_name(set, i), ec->policy) != 0)
        i++;
    gope_sim_allocator a;
    gope_err err;
    cr_assert_eq(gope_sim_policy_allocator(set, i, &a, &err), GOPE_OK);
    return a;
}

/* The case's world (seed 77) and the default policy set. */
static gope_sim_world_t *case_world(const engine_case *ec, gope_policy_set_t **set)
{
    const gope_world_conf c = case_conf(ec);
    gope_err err;
    cr_assert_eq(gope_policies_default(set, &err), GOPE_OK);
    return tu_make_world(&c, 77);
}

ParameterizedTest(engine_case *ec, sim_engine, candidates_are_the_model)
{
    gope_policy_set_t *set;
    gope_sim_world_t *w = case_world(ec, &set);
    gope_sim_allocator a = case_allocator(set, ec);
    checker *k = calloc(1, sizeof *k);
    cr_assert(k);
    k->w = w;
    k->big_gift = gope_sim_world_conf(w)->big_gift;
    gope_sim_world_get(w, &k->v);
    const gope_sim_run_conf rc = {.decisions = 3000, .on_step = check_step, .ctx = k};
    gope_sim_summary sum;
    gope_err err;
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

/* ------------------------------------------- runs that read outcomes only */

enum { RUN = 3000 };

typedef struct {
    bool outcome_only;
    size_t n;
    gope_sim_outcome o[RUN];
} outcome_log;

static gope_status keep_outcome(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    outcome_log *l = ctx;
    cr_assert_eq(st->true_ev == NULL, l->outcome_only, "step->true_ev given to the wrong kind of run");
    cr_assert_lt(l->n, RUN);
    l->o[l->n++] = *st->outcome;
    return GOPE_OK;
}

static gope_sim_summary run_with(const gope_sim_world_t *w, const gope_policy_set_t *set,
                                 const engine_case *ec, gope_sim_step_fn fn, outcome_log *l)
{
    gope_sim_allocator a = case_allocator(set, ec);
    const gope_sim_run_conf rc = {.decisions = RUN, .on_step = fn, .ctx = l,
                                  .outcome_only = l && l->outcome_only};
    gope_sim_summary sum;
    gope_err err;
    cr_assert_eq(gope_sim_run(w, &a, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
    gope_sim_allocator_free(&a);
    return sum;
}

ParameterizedTestParameters(sim_engine, outcome_only_runs_give_the_same_outcomes)
{
    return sim_engine_candidates_are_the_model_param();
}

/* A run whose callback reads outcomes only (truth's metrics), and one without
 * a callback (the bench), skip the candidates' true EVs where pi is one-hot
 * and fill them in where it is not: every outcome (the chosen true EV, V_static,
 * the reward) and the summary must be those of a run that computes them all. */
ParameterizedTest(engine_case *ec, sim_engine, outcome_only_runs_give_the_same_outcomes)
{
    gope_policy_set_t *set;
    gope_sim_world_t *w = case_world(ec, &set);
    outcome_log *full = calloc(1, sizeof *full), *only = calloc(1, sizeof *only);
    cr_assert(full && only);
    only->outcome_only = true;
    const gope_sim_summary a = run_with(w, set, ec, keep_outcome, full);
    const gope_sim_summary b = run_with(w, set, ec, keep_outcome, only);
    const gope_sim_summary none = run_with(w, set, ec, NULL, NULL);
    cr_assert_eq(full->n, RUN);
    cr_assert_eq(only->n, RUN);
    for (size_t d = 0; d < RUN; d++) {
        const gope_sim_outcome *x = &full->o[d], *y = &only->o[d];
        cr_assert(x->streamer == y->streamer && x->true_ev == y->true_ev &&
                      x->v_static == y->v_static && x->reward == y->reward,
                  "decision %zu: streamer %u/%u, true EV %.17g/%.17g, V_static %.17g/%.17g", d,
                  x->streamer, y->streamer, x->true_ev, y->true_ev, x->v_static, y->v_static);
    }
    for (int i = 0; i < 2; i++) {
        const gope_sim_summary *s = i ? &none : &b;
        cr_assert(s->v_static == a.v_static && s->revenue == a.revenue && s->gifts == a.gifts,
                  "summary %d: V_static %.17g against %.17g", i, s->v_static, a.v_static);
    }
    free(full);
    free(only);
    gope_policies_free(set);
    gope_sim_world_free(w);
}
