/*
 * test_allocators.c — the simulator's stateful allocators and their
 * registry (sim/alloc_*.c, docs/allocators.md): pi is a distribution and
 * is what the log carries; shadow prices follow the dual update and are
 * logged; whales follow an exact b-matching with at most k per streamer;
 * the frequency cap and cooldown hold; specs parse strictly; every
 * allocation failure is survived.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_int.h"
#include "bmatch.h"
#include "failalloc.h"
#include "gope_sim.h"
#include "simworld.h"

static gope_policy_set_t *default_set(void)
{
    gope_policy_set_t *set = NULL;
    gope_err err;
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK, "%s", err.msg);
    return set;
}

static gope_sim_allocator make_alloc(const char *spec, const gope_policy_set_t *set,
                                     const gope_sim_world_t *w)
{
    gope_sim_allocator a;
    gope_err err;
    cr_assert_eq(gope_sim_allocator_new(spec, set, w, &a, &err), GOPE_OK, "%s: %s", spec, err.msg);
    return a;
}

/* A world, the default policy set and one allocator over them. */
typedef struct {
    gope_sim_world_t *w;
    gope_policy_set_t *set;
    gope_sim_allocator a; /* all zero (none) when made with spec NULL */
} rig;

static rig rig_new(const gope_world_conf *c, uint64_t seed, const char *spec)
{
    rig r = {tu_make_world(c, seed), default_set(), {0}};
    if (spec)
        r.a = make_alloc(spec, r.set, r.w);
    return r;
}

static void rig_free(rig *r)
{
    gope_sim_allocator_free(&r->a);
    gope_policies_free(r->set);
    gope_sim_world_free(r->w);
}

/* pi is a distribution, the log carries it, and the propensity is pi[action] > 0. */
static void check_step(const gope_sim_step *st)
{
    const gope_event *ev = st->event;
    gope_ksum sum = {0, 0};
    for (size_t j = 0; j < ev->n_candidates; j++) {
        cr_assert(st->pi[j] >= 0 && st->pi[j] <= 1, "pi[%zu] = %g", j, st->pi[j]);
        gope_ksum_add(&sum, st->pi[j]);
    }
    cr_assert_lt(fabs(gope_ksum_value(&sum) - 1), 1e-12, "sum %.17g", gope_ksum_value(&sum));
    cr_assert(ev->action >= 0 && (size_t)ev->action < ev->n_candidates);
    cr_assert_eq(ev->propensity, st->pi[ev->action]);
    cr_assert_gt(ev->propensity, 0);
    cr_assert_eq(ev->probs, st->pi);
    cr_assert_eq(st->outcome->streamer, st->streamers[ev->action]);
}

typedef gope_status (*step_fn)(void *ctx, const gope_sim_step *st, gope_err *err);

static void run(const gope_sim_world_t *w, gope_sim_allocator *a, uint64_t n, step_fn fn,
                void *ctx)
{
    gope_sim_run_conf rc = {.decisions = n, .on_step = fn, .ctx = ctx};
    gope_sim_summary sum;
    gope_err err;
    cr_assert_eq(gope_sim_run(w, a, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(sum.decisions, n);
}

static gope_status only_check(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    check_step(st);
    ++*(uint64_t *)ctx;
    return GOPE_OK;
}

/* ------------------------------------------------------------ every one */

Test(sim_alloc_dist, every_allocator_gives_a_distribution)
{
    static const char *const specs[] = {
        "shadow_price_online", "shadow_price_online:eta=0.5,beta=1,crowding_alpha=1",
        "whale_matching", "whale_matching:k=1", "frequency_cap",
        "frequency_cap:cap=1,cooldown=5,base=softmax", "frequency_cap:base=eps_greedy",
        "greedy", "softmax"};
    gope_policy_set_t *set = default_set();
    for (int variant = 0; variant < 3; variant++) {
        gope_world_conf c = tu_small_world();
        c.whale_frac = 0.1;
        c.capacity_top = 4, c.capacity_middle = 3, c.capacity_tail = 2;
        if (variant == 1)
            c.candidates = 10; /* recall: a whale's streamer may be missing */
        if (variant == 2)
            c.session = GOPE_SESSION_DWELL;
        gope_sim_world_t *w = tu_make_world(&c, 11 + (uint64_t)variant);
        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
            gope_sim_allocator a = make_alloc(specs[i], set, w);
            uint64_t n = 0;
            run(w, &a, 600, only_check, &n);
            cr_expect_eq(n, 600, "%s", specs[i]);
            gope_sim_allocator_free(&a);
        }
        gope_sim_world_free(w);
    }
    gope_policies_free(set);
}

/* -------------------------------------------------------------- shadow */

typedef struct {
    double eta, lambda_max, tau[GOPE_C_COUNT];
    double lambda[GOPE_C_COUNT]; /* the test's own prices */
    uint32_t round;
    uint64_t n, n_whale, hits[GOPE_C_COUNT];
    int rises, falls, at_max;    /* price moves seen */
    const gope_policy_set_t *ref; /* for the shadow_log comparison */
    size_t ref_index;
} shadow_check;

static double clipd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static void expect_step(shadow_check *s, int c, double v)
{
    const double next = clipd(s->lambda[c] + s->eta * v, 0, s->lambda_max);
    s->rises += next > s->lambda[c];
    s->falls += next < s->lambda[c];
    s->at_max += next == s->lambda_max;
    s->lambda[c] = next;
}

static gope_status shadow_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    shadow_check *s = ctx;
    const gope_event *ev = st->event;
    check_step(st);
    if (st->outcome->round != s->round) { /* the dual step of the round that ended */
        const double n = (double)s->n;
        expect_step(s, GOPE_C_CAPACITY, s->hits[GOPE_C_CAPACITY] / n - s->tau[GOPE_C_CAPACITY]);
        expect_step(s, GOPE_C_COLDSTART, s->tau[GOPE_C_COLDSTART] - s->hits[GOPE_C_COLDSTART] / n);
        expect_step(s, GOPE_C_HEAD, s->hits[GOPE_C_HEAD] / n - s->tau[GOPE_C_HEAD]);
        if (s->n_whale)
            expect_step(s, GOPE_C_WHALE,
                        s->hits[GOPE_C_WHALE] / (double)s->n_whale - s->tau[GOPE_C_WHALE]);
        s->round = st->outcome->round;
        s->n = s->n_whale = 0;
        memset(s->hits, 0, sizeof s->hits);
    }
    cr_assert(ev->has_lambda_values);
    for (int c = 0; c < GOPE_C_COUNT; c++) {
        cr_assert_lt(fabs(ev->lambda_values[c] - s->lambda[c]), 1e-12,
                     "round %u constraint %d: logged %.17g, expected %.17g", s->round, c,
                     ev->lambda_values[c], s->lambda[c]);
        cr_assert(ev->lambda_values[c] >= 0 && ev->lambda_values[c] <= s->lambda_max);
    }
    if (s->ref) { /* the OPE counterpart gives the same pi, bit for bit */
        double pi[GOPE_MAX_CANDIDATES], scratch[GOPE_MAX_CANDIDATES];
        gope_policy_probs(s->ref, s->ref_index, ev, pi, scratch);
        cr_assert_eq(memcmp(pi, st->pi, ev->n_candidates * sizeof *pi), 0);
    }
    const gope_candidate *c = &ev->candidates[ev->action];
    s->n++;
    s->hits[GOPE_C_CAPACITY] += c->capacity > 0 && c->load >= c->capacity;
    s->hits[GOPE_C_COLDSTART] += c->cold_start;
    s->hits[GOPE_C_HEAD] += c->head;
    if (ev->is_whale) {
        s->n_whale++;
        s->hits[GOPE_C_WHALE] += c->whales >= 1;
    }
    return GOPE_OK;
}

static gope_world_conf crowded_conf(void)
{
    gope_world_conf c = tu_small_world();
    c.whale_frac = 0.1;
    c.capacity_top = 3, c.capacity_middle = 2, c.capacity_tail = 1;
    return c;
}

static shadow_check shadow_expect(double eta, double lambda_max, const double init[4],
                                  const double tau[4])
{
    shadow_check s = {.eta = eta, .lambda_max = lambda_max};
    memcpy(s.lambda, init, sizeof s.lambda);
    memcpy(s.tau, tau, sizeof s.tau);
    return s;
}

static const double default_init[4] = {0.1, 0.5, 0.1, 0.2};
static const double default_tau[4] = {0.0, 0.2, 0.3, 0.0};

/* `spec` (a shadow_price_online spec) for `n` decisions on the crowded world
 * of `seed`, every step checked against `s`; with `vs_shadow_log` also that
 * pi is the shadow_log policy's on the logged prices, bit for bit. */
static void shadow_run(const char *spec, uint64_t seed, uint64_t n, shadow_check *s,
                       bool vs_shadow_log)
{
    const gope_world_conf conf = crowded_conf();
    rig r = rig_new(&conf, seed, spec);
    cr_expect_str_eq(r.a.name, "shadow_price_online", "%s", spec);
    cr_expect_str_eq(r.a.ops->kind, "shadow_price_online", "%s", spec);
    if (vs_shadow_log) {
        s->ref = r.set;
        cr_assert(gope_sim__policy_index(r.set, "shadow_log", &s->ref_index));
    }
    run(r.w, &r.a, n, shadow_step, s);
    s->ref = NULL;
    rig_free(&r);
}

Test(sim_alloc_shadow, prices_follow_the_dual_update_and_are_logged)
{
    shadow_check s = shadow_expect(0.3, 0.5, default_init, default_tau);
    shadow_run("shadow_price_online:eta=0.3,lambda_max=0.5", 5, 2000, &s, false);
    cr_expect_gt(s.rises, 0, "some price rose");
    cr_expect_gt(s.falls, 0, "some price fell");
    cr_expect_gt(s.at_max, 0, "some price reached lambda_max");
}

Test(sim_alloc_shadow, thresholds_and_initial_prices_are_settable)
{
    const double init[4] = {0, 2, 0.4, 1}, tau[4] = {0.1, 0.6, 0.05, 0.5};
    shadow_check s = shadow_expect(0.1, 3, init, tau);
    shadow_run("shadow_price_online:eta=0.1,capacity_init=0,coldstart_init=2,head_init=0.4,"
               "whale_init=1,capacity_threshold=0.1,coldstart_target=0.6,head_threshold=0.05,"
               "whale_threshold=0.5,lambda_max=3",
               6, 1500, &s, false);
    cr_expect_gt(s.rises, 0);
}

Test(sim_alloc_shadow, eta_zero_keeps_the_initial_prices)
{
    shadow_check s = shadow_expect(0, 10, default_init, default_tau);
    shadow_run("shadow_price_online:eta=0", 7, 800, &s, false);
    cr_expect_eq(s.rises + s.falls, 0);
    for (int c = 0; c < GOPE_C_COUNT; c++)
        cr_expect_eq(s.lambda[c], default_init[c]);
}

Test(sim_alloc_shadow, decisions_are_shadow_log_on_the_logged_prices)
{
    shadow_check s = shadow_expect(0.05, 10, default_init, default_tau);
    shadow_run("shadow_price_online", 8, 1000, &s, true);
}

/* Logged prices of every decision of a run. */
typedef struct {
    double (*lambda)[GOPE_C_COUNT];
    size_t n;
} price_log;

static gope_status record_prices(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    price_log *p = ctx;
    memcpy(p->lambda[p->n++], st->event->lambda_values, sizeof p->lambda[0]);
    return GOPE_OK;
}

Test(sim_alloc_shadow, a_second_run_starts_from_the_initial_prices)
{
    enum { N = 500 };
    const gope_world_conf conf = crowded_conf();
    rig r = rig_new(&conf, 9, "shadow_price_online:eta=0.5");
    static double first[N][GOPE_C_COUNT], second[N][GOPE_C_COUNT];
    price_log p1 = {first, 0}, p2 = {second, 0};
    run(r.w, &r.a, N, record_prices, &p1);
    run(r.w, &r.a, N, record_prices, &p2);
    cr_expect_eq(memcmp(first, second, sizeof first), 0);
    cr_expect_neq(memcmp(first[0], first[N - 1], sizeof first[0]), 0, "prices moved");
    rig_free(&r);
}

/* --------------------------------------------------------------- whale */

/* The test's own whale layer: the round's whales (decision order = the
 * allocator's row order) matched with bmatch on the model EV at the big
 * gifts seen before the round. */
typedef struct {
    const gope_sim_world_t *w;
    gope_sim_world_view v;
    int64_t k;
    int64_t *big_gifts, *round_big; /* as seen; snapshot at the round's start */
    uint32_t round, whales[64];
    uint32_t whale_streamer[64];    /* where each whale of the round went */
    size_t n_whales;
    int rounds_checked, binding_rounds;
    int64_t max_per_streamer;
} whale_check;

/* Checks the round just finished against an exact matching. */
static void check_round(whale_check *c)
{
    const uint32_t ns = c->v.n_streamers;
    if (c->n_whales == 0)
        return;
    double *weight = malloc(c->n_whales * ns * sizeof *weight);
    int64_t *cap = malloc(ns * sizeof *cap), *per = calloc(ns, sizeof *per);
    int32_t assign[64];
    cr_assert(weight && cap && per);
    bool shared_argmax = false;
    int32_t *argmax = calloc(ns, sizeof *argmax);
    for (size_t r = 0; r < c->n_whales; r++) {
        size_t best = 0;
        for (uint32_t s = 0; s < ns; s++) {
            const gope_sim_room room = {c->round_big[s], 1};
            double sigma;
            weight[r * ns + s] = gope_sim_model_ev(
                c->w, c->whales[r], s, gope_sim_true_ev(c->w, c->whales[r], s, &room), &sigma);
            if (weight[r * ns + s] > weight[r * ns + best])
                best = s;
        }
        shared_argmax |= ++argmax[best] > c->k;
    }
    for (uint32_t s = 0; s < ns; s++)
        cap[s] = c->k;
    gope_bmatch_t *m = gope_bmatch_new(c->n_whales, ns);
    double total;
    gope_err err;
    cr_assert_eq(gope_bmatch_solve(m, c->n_whales, ns, weight, cap, assign, &total, &err), GOPE_OK,
                 "%s", err.msg);
    for (size_t r = 0; r < c->n_whales; r++) {
        cr_assert_eq(c->whale_streamer[r], (uint32_t)assign[r], "round %u whale %zu", c->round, r);
        per[assign[r]]++;
        if (per[assign[r]] > c->max_per_streamer)
            c->max_per_streamer = per[assign[r]];
    }
    c->rounds_checked++;
    c->binding_rounds += shared_argmax;
    gope_bmatch_free(m);
    free(weight);
    free(cap);
    free(per);
    free(argmax);
}

static gope_status whale_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    whale_check *c = ctx;
    const gope_sim_outcome *o = st->outcome;
    check_step(st);
    if (o->round != c->round) {
        check_round(c);
        c->round = o->round;
        c->n_whales = 0;
        memcpy(c->round_big, c->big_gifts, c->v.n_streamers * sizeof *c->big_gifts);
    }
    if (c->v.whale[st->user]) {
        cr_assert_lt(c->n_whales, 64);
        c->whales[c->n_whales] = st->user;
        c->whale_streamer[c->n_whales++] = o->streamer;
        cr_assert_eq(st->pi[st->event->action], 1.0, "a matched whale is one-hot");
    }
    c->big_gifts[o->streamer] += o->reward > gope_sim_world_conf(c->w)->big_gift;
    return GOPE_OK;
}

static void whale_run(int64_t k, uint64_t seed)
{
    gope_world_conf conf = tu_small_world();
    conf.whale_frac = 0.25; /* about 6 whales per round of 25 */
    char spec[64];
    snprintf(spec, sizeof spec, "whale_matching:k=%lld", (long long)k);
    rig r = rig_new(&conf, seed, spec);
    cr_expect_str_eq(r.a.name, "whale_matching");
    whale_check c = {.w = r.w, .k = k};
    gope_sim_world_get(r.w, &c.v);
    c.big_gifts = calloc(conf.n_streamers, sizeof *c.big_gifts);
    c.round_big = calloc(conf.n_streamers, sizeof *c.round_big);
    run(r.w, &r.a, 1000, whale_step, &c);
    check_round(&c);
    cr_expect_eq(c.rounds_checked, 40);
    cr_expect_leq(c.max_per_streamer, k);
    cr_expect_gt(c.binding_rounds, 0, "k=%lld binds in some round", (long long)k);
    free(c.big_gifts);
    free(c.round_big);
    rig_free(&r);
}

Test(sim_alloc_whale, whales_follow_an_exact_matching_k1) { whale_run(1, 21); }
Test(sim_alloc_whale, whales_follow_an_exact_matching_k2) { whale_run(2, 22); }

/* A hand-made decision on streamers 0..n-1, every ev equal (so greedy
 * would split evenly and a one-hot pi can only come from the whale layer). */
typedef struct {
    gope_event ev;
    gope_candidate cand[8];
    uint32_t streamers[8];
    double pi[8];
} fake_decision;

static size_t decide_fake(gope_sim_allocator *a, const gope_sim_world_t *w, fake_decision *f,
                          uint32_t user, size_t n, const double *ev)
{
    f->ev = (gope_event){.n_candidates = n, .candidates = f->cand, .ts = 1000};
    f->ev.is_whale = true;
    for (size_t j = 0; j < n; j++) {
        f->cand[j] = (gope_candidate){.ev = ev ? ev[j] : 1.0};
        f->streamers[j] = (uint32_t)j;
    }
    const gope_sim_decision d = {w, 1, 0, 0, user, &f->ev, f->streamers, 0.5};
    bool certain = false;
    const size_t j = a->ops->decide(a->state, &d, f->pi, &certain);
    for (size_t i = 0; certain && i < n; i++) /* a claim of one-hot must be true */
        cr_assert_eq(f->pi[i], i == j ? 1.0 : 0.0);
    return j;
}

/* The best total over every placement of `n` whales on 3 streamers (or
 * none, at most `excess` times) with at most k per streamer. */
static double brute_force(const double *weight, size_t n, int64_t k, size_t excess)
{
    double best = -INFINITY;
    size_t combos = 1;
    for (size_t r = 0; r < n; r++)
        combos *= 4;
    for (size_t code = 0; code < combos; code++) {
        int64_t per[4] = {0};
        double total = 0;
        size_t c = code;
        for (size_t r = 0; r < n; r++, c /= 4) {
            per[c % 4]++;
            total += c % 4 < 3 ? weight[r * 3 + c % 4] : 0;
        }
        if (per[0] <= k && per[1] <= k && per[2] <= k && (size_t)per[3] <= excess && total > best)
            best = total;
    }
    return best;
}

Test(sim_alloc_whale, matching_is_optimal_against_brute_force)
{
    gope_policy_set_t *set = default_set();
    for (uint64_t seed = 1; seed <= 6; seed++) {
        gope_world_conf conf = tu_small_world();
        conf.n_streamers = 3;
        conf.whale_frac = 0.01; /* 4 whales */
        gope_sim_world_t *w = tu_make_world(&conf, seed);
        gope_sim_world_view v;
        gope_sim_world_get(w, &v);
        uint32_t whales[4];
        size_t n = 0;
        for (uint32_t u = 0; u < v.n_users; u++)
            if (v.whale[u])
                whales[n++] = u;
        cr_assert_eq(n, 4);
        double weight[12];
        for (size_t r = 0; r < 4; r++)
            for (uint32_t s = 0; s < 3; s++) {
                const gope_sim_room room = {0, 1};
                double sigma;
                weight[r * 3 + s] = gope_sim_model_ev(
                    w, whales[r], s, gope_sim_true_ev(w, whales[r], s, &room), &sigma);
            }
        for (int64_t k = 1; k <= 2; k++) {
            char spec[32];
            snprintf(spec, sizeof spec, "whale_matching:k=%lld", (long long)k);
            gope_sim_allocator a = make_alloc(spec, set, w);
            a.ops->begin_round(a.state, w, 0, whales, 4);
            double total = 0;
            size_t placed = 0;
            int64_t per[3] = {0};
            for (size_t r = 0; r < 4; r++) {
                fake_decision f;
                const size_t j = decide_fake(&a, w, &f, whales[r], 3, NULL);
                if (f.pi[j] == 1.0) {
                    total += weight[r * 3 + j];
                    placed++;
                    per[j]++;
                } else { /* on the dummy column: the normal layer, evenly */
                    for (size_t i = 0; i < 3; i++)
                        cr_expect_float_eq(f.pi[i], 1.0 / 3, 1e-15);
                }
            }
            const size_t excess = k == 1 ? 1 : 0;
            cr_expect_eq(placed, 4 - excess, "seed %llu k %lld", (unsigned long long)seed,
                         (long long)k);
            for (int s = 0; s < 3; s++)
                cr_expect_leq(per[s], k);
            const double best = brute_force(weight, 4, k, excess);
            cr_expect_leq(fabs(total - best), 1e-9 * fmax(1, best), "seed %llu k %lld: %.17g vs %.17g",
                          (unsigned long long)seed, (long long)k, total, best);
            gope_sim_allocator_free(&a);
        }
        gope_sim_world_free(w);
    }
    gope_policies_free(set);
}

typedef struct {
    uint64_t open_rooms, all_full;
} layer_check;

/* Non-whales: greedy over the candidates with room left, else over all. */
static gope_status normal_layer_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    layer_check *c = ctx;
    const gope_event *ev = st->event;
    check_step(st);
    bool any = false;
    for (size_t j = 0; j < ev->n_candidates; j++)
        any |= ev->candidates[j].load < ev->candidates[j].capacity;
    double max = -INFINITY;
    for (size_t j = 0; j < ev->n_candidates; j++)
        if (!any || ev->candidates[j].load < ev->candidates[j].capacity)
            max = fmax(max, ev->candidates[j].ev);
    const double cut = max - 1e-9 * fmax(1, fabs(max));
    double top = 0;
    for (size_t j = 0; j < ev->n_candidates; j++) {
        const gope_candidate *cj = &ev->candidates[j];
        const bool in = (!any || cj->load < cj->capacity) && cj->ev >= cut;
        if (!in) {
            cr_assert_eq(st->pi[j], 0, "candidate %zu outside the greedy set", j);
        } else {
            if (top == 0)
                top = st->pi[j];
            cr_assert_eq(st->pi[j], top, "ties split evenly");
        }
    }
    c->open_rooms += any;
    c->all_full += !any;
    return GOPE_OK;
}

Test(sim_alloc_whale, others_get_greedy_over_rooms_below_capacity)
{
    gope_world_conf conf = tu_small_world();
    conf.n_streamers = 10;
    conf.whale_frac = 0; /* the normal layer only */
    conf.capacity_top = conf.capacity_middle = conf.capacity_tail = 2;
    rig r = rig_new(&conf, 31, "whale_matching");
    layer_check c = {0};
    run(r.w, &r.a, 500, normal_layer_step, &c);
    cr_expect_gt(c.open_rooms, 0);
    cr_expect_gt(c.all_full, 0);
    rig_free(&r);
}

/* ------------------------------------------------------------- freqcap */

typedef struct {
    const gope_policy_set_t *set;
    size_t base;
    int64_t cap;
    double cooldown_ms;
    uint32_t ns;
    uint32_t *count;
    int64_t *last;
    uint64_t all_masked, some_masked, fallback;
} cap_check;

static gope_status cap_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    cap_check *c = ctx;
    const gope_event *ev = st->event;
    const size_t n = ev->n_candidates;
    check_step(st);
    double base[GOPE_MAX_CANDIDATES], scratch[GOPE_MAX_CANDIDATES];
    bool masked[GOPE_MAX_CANDIDATES];
    gope_policy_probs(c->set, c->base, ev, base, scratch);
    size_t n_masked = 0;
    gope_ksum mass = {0, 0};
    for (size_t j = 0; j < n; j++) {
        const size_t p = (size_t)st->user * c->ns + st->streamers[j];
        masked[j] = c->count[p] > 0 &&
                    (c->count[p] >= c->cap || (double)(ev->ts - c->last[p]) < c->cooldown_ms);
        n_masked += masked[j];
        if (!masked[j])
            gope_ksum_add(&mass, base[j]);
    }
    if (n_masked == n || n_masked == 0) {
        c->all_masked += n_masked == n;
        cr_assert_eq(memcmp(base, st->pi, n * sizeof *base), 0, "the base pi unchanged");
    } else {
        c->some_masked++;
        const double total = gope_ksum_value(&mass);
        c->fallback += total == 0;
        for (size_t j = 0; j < n; j++) {
            if (masked[j])
                cr_assert_eq(st->pi[j], 0, "masked candidate %zu", j);
            else if (total > 0)
                cr_assert_eq(st->pi[j], base[j] / total);
        }
        const size_t p = (size_t)st->user * c->ns + st->outcome->streamer;
        cr_assert_lt(c->count[p], c->cap, "cap");
        cr_assert(c->count[p] == 0 || (double)(ev->ts - c->last[p]) >= c->cooldown_ms, "cooldown");
    }
    const size_t p = (size_t)st->user * c->ns + st->outcome->streamer;
    c->count[p]++;
    c->last[p] = ev->ts;
    return GOPE_OK;
}

static void cap_run(uint32_t n_streamers, const char *spec, const char *base, int64_t cap,
                    double cooldown_s, cap_check *out)
{
    gope_world_conf conf = tu_small_world();
    conf.n_users = 50;
    conf.n_streamers = n_streamers;
    rig r = rig_new(&conf, 41, spec);
    cr_expect_str_eq(r.a.name, "frequency_cap");
    cap_check c = {.set = r.set, .cap = cap, .cooldown_ms = cooldown_s * 1000, .ns = n_streamers};
    cr_assert(gope_sim__policy_index(r.set, base, &c.base));
    c.count = calloc((size_t)conf.n_users * n_streamers, sizeof *c.count);
    c.last = calloc((size_t)conf.n_users * n_streamers, sizeof *c.last);
    run(r.w, &r.a, 2000, cap_step, &c);
    gope_sim__freqcap_stats_t stats;
    gope_sim__freqcap_stats(&r.a, &stats);
    cr_expect_eq(stats.all_masked, c.all_masked);
    cr_expect_eq(stats.untracked, 0);
    *out = c;
    free(c.count);
    free(c.last);
    rig_free(&r);
}

Test(sim_alloc_freqcap, cap_and_cooldown_hold_with_greedy)
{
    cap_check c;
    cap_run(40, "frequency_cap:cap=2,cooldown=60", "greedy", 2, 60, &c);
    cr_expect_gt(c.some_masked, 0);
    cr_expect_gt(c.fallback, 0, "greedy's top capped: the next best");
}

Test(sim_alloc_freqcap, cap_and_cooldown_hold_with_softmax_until_all_masked)
{
    cap_check c;
    cap_run(5, "frequency_cap:base=softmax,cap=3,cooldown=30", "softmax", 3, 30, &c);
    cr_expect_gt(c.some_masked, 0);
    cr_expect_gt(c.all_masked, 0);
}

Test(sim_alloc_freqcap, default_options)
{
    cap_check c;
    cap_run(8, "frequency_cap", "greedy", 3, 600, &c);
    cr_expect_gt(c.some_masked, 0);
    cr_expect_gt(c.all_masked, 0);
}

typedef struct {
    double (*pi)[40];
    int64_t *action;
    size_t n;
} decision_log;

static gope_status record_decision(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    decision_log *l = ctx;
    cr_assert_eq(st->event->n_candidates, 40);
    memcpy(l->pi[l->n], st->pi, sizeof l->pi[0]);
    l->action[l->n++] = st->event->action;
    return GOPE_OK;
}

Test(sim_alloc_freqcap, no_cap_no_cooldown_is_the_base_policy)
{
    enum { N = 1000 };
    gope_world_conf conf = tu_small_world();
    conf.n_users = 50;
    rig r = rig_new(&conf, 42, "frequency_cap:cap=4294967295,cooldown=0,base=softmax");
    static double pi1[N][40], pi2[N][40];
    static int64_t act1[N], act2[N];
    decision_log l1 = {pi1, act1, 0}, l2 = {pi2, act2, 0};
    gope_sim_allocator b = make_alloc("softmax", r.set, r.w);
    cr_expect_str_eq(b.ops->kind, "policy");
    run(r.w, &r.a, N, record_decision, &l1);
    run(r.w, &b, N, record_decision, &l2);
    cr_expect_eq(memcmp(pi1, pi2, sizeof pi1), 0);
    cr_expect_eq(memcmp(act1, act2, sizeof act1), 0);
    gope_sim_allocator_free(&b);
    rig_free(&r);
}

/* A pair table that cannot grow keeps what fits and counts the rest. */
Test(sim_alloc_freqcap, a_table_that_cannot_grow_degrades_and_counts)
{
    const gope_world_conf conf = tu_small_world();
    rig r = rig_new(&conf, 43, "frequency_cap:cap=1,cooldown=0");
    gope_sim_allocator *a = &r.a;
    const gope_sim_world_t *w = r.w;
    a->ops->begin_round(a->state, w, 0, NULL, 0);
    fake_decision f;
    const gope_sim_decision none = {0};
    fa_fail_after(0, true);
    for (uint32_t u = 0; u < 100; u++) {
        const gope_sim_outcome o = {.user = u, .streamer = 0, .ts = 1000};
        a->ops->observe(a->state, &none, &o);
    }
    cr_expect(fa_triggered(), "the table tried to grow");
    fa_off();
    gope_sim__freqcap_stats_t stats;
    gope_sim__freqcap_stats(a, &stats);
    cr_expect_eq(stats.untracked, 100 - 63, "64 slots keep 63 pairs");
    const double ev[2] = {2, 1};
    cr_expect_eq(decide_fake(a, w, &f, 5, 2, ev), 1, "user 5 capped on streamer 0");
    cr_expect(f.pi[0] == 0 && f.pi[1] == 1);
    cr_expect_eq(decide_fake(a, w, &f, 80, 2, ev), 0, "user 80 was not recorded");
    const gope_sim_outcome o = {.user = 200, .streamer = 0, .ts = 2000};
    a->ops->observe(a->state, &none, &o); /* the table grows again */
    cr_expect_eq(decide_fake(a, w, &f, 200, 2, ev), 1);
    gope_sim__freqcap_stats(a, &stats);
    cr_expect_eq(stats.untracked, 37);
    rig_free(&r);
}

/* ------------------------------------------------------------ registry */

Test(sim_alloc_registry, specs_name_the_allocator)
{
    const gope_world_conf conf = tu_small_world();
    rig r = rig_new(&conf, 51, NULL);
    static const struct {
        const char *spec, *name, *kind;
    } ok[] = {
        {"whale_matching:k=3", "whale_matching", "whale_matching"},
        {"frequency_cap:cap=2,cooldown=300,base=softmax", "frequency_cap", "frequency_cap"},
        {"shadow_price_online:eta=0.1,coldstart_target=0.3", "shadow_price_online",
         "shadow_price_online"},
        {"shadow_price_online:beta=-1.5,crowding_threshold=0.8,whale_k=2,lambda_max=1e3",
         "shadow_price_online", "shadow_price_online"},
        {"frequency_cap:cooldown=0.5,cap=10", "frequency_cap", "frequency_cap"},
        {"greedy", "greedy", "policy"},
        {"shadow_log", "shadow_log", "policy"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        gope_sim_allocator a = make_alloc(ok[i].spec, r.set, r.w);
        cr_expect_str_eq(a.name, ok[i].name);
        cr_expect_str_eq(a.ops->kind, ok[i].kind);
        gope_sim_allocator_free(&a);
    }
    const char *const *kinds = gope_sim_allocator_kinds();
    size_t n = 0;
    for (; kinds[n]; n++) {
        gope_sim_allocator a = make_alloc(kinds[n], r.set, r.w);
        cr_expect_str_eq(a.name, kinds[n]);
        cr_expect_str_eq(a.ops->kind, kinds[n]);
        gope_sim_allocator_free(&a);
    }
    cr_expect_eq(n, 3);
    rig_free(&r);
}

Test(sim_alloc_registry, every_error_names_what_is_wrong)
{
    const gope_world_conf conf = tu_small_world();
    rig r = rig_new(&conf, 52, NULL);
    static const struct {
        const char *spec, *want[3];
    } bad[] = {
        {"nope", {"\"nope\"", "greedy, ucb", "whale_matching"}},
        {"", {"\"\"", "shadow_price_online", "frequency_cap"}},
        {"Whale_matching", {"unknown", "Whale_matching", NULL}},
        {"greedy:beta=1", {"policy greedy", "no options", "beta=1"}},
        {"whale_matching:kk=3", {"kk", "unknown key", "known: k"}},
        {"whale_matching:k=0", {"k", "outside [1, 1e+06]", NULL}},
        {"whale_matching:k=2.5", {"k", "not an integer", NULL}},
        {"whale_matching:k=abc", {"k", "\"abc\"", NULL}},
        {"whale_matching:k=", {"k", "not an integer", NULL}},
        {"whale_matching:k=99999999999999999999", {"k", "not an integer", NULL}},
        {"whale_matching:k", {"\"k\"", "expected key=value", NULL}},
        {"whale_matching:", {"expected key=value", NULL, NULL}},
        {"whale_matching:=3", {"\"=3\"", "expected key=value", NULL}},
        {"whale_matching:k=1,", {"expected key=value", NULL, NULL}},
        {"whale_matching:k=1,k=2", {"k", "given twice", NULL}},
        {"shadow_price_online:eta=-1", {"eta", "outside", NULL}},
        {"shadow_price_online:eta=nan", {"eta", "finite number", NULL}},
        {"shadow_price_online:eta=inf", {"eta", "finite number", NULL}},
        {"shadow_price_online:eta=1e999", {"eta", "finite number", NULL}},
        {"shadow_price_online:eta=0.1x", {"eta", "\"0.1x\"", NULL}},
        {"shadow_price_online:eta= 1", {"eta", "finite number", NULL}},
        {"shadow_price_online:coldstart_target=1.5", {"coldstart_target", "outside [0, 1]", NULL}},
        {"shadow_price_online:capacity_init=20", {"capacity_init", "above lambda_max 10", NULL}},
        {"shadow_price_online:lambda_max=0.3", {"coldstart_init", "above lambda_max 0.3", NULL}},
        {"shadow_price_online:whale_k=-1", {"whale_k", "outside", NULL}},
        {"shadow_price_online:temperature=1", {"temperature", "unknown key", "eta"}},
        {"frequency_cap:base=nope", {"base", "no policy \"nope\"", NULL}},
        {"frequency_cap:base=", {"base", "not a policy name", NULL}},
        {"frequency_cap:base=shadow_price_online", {"base", "no policy", NULL}},
        {"frequency_cap:cap=0", {"cap", "outside", NULL}},
        {"frequency_cap:cooldown=-5", {"cooldown", "outside", NULL}},
        {"frequency_cap:cap=4294967296", {"cap", "outside", NULL}},
        {"frequency_cap:cooldown=1,cap=2,cooldown=3", {"cooldown", "given twice", NULL}},
        {"frequency_cap:base=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         {"base", "1..64 bytes", NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gope_sim_allocator a = {(const gope_sim_allocator_ops *)1, NULL, "x"};
        gope_err err = {{0}};
        cr_expect_eq(gope_sim_allocator_new(bad[i].spec, r.set, r.w, &a, &err), GOPE_ERR_USAGE,
                     "%s", bad[i].spec);
        cr_expect_null(a.ops, "%s: *out cleared", bad[i].spec);
        for (int k = 0; k < 3 && bad[i].want[k]; k++)
            cr_expect(strstr(err.msg, bad[i].want[k]), "%s: \"%s\" lacks \"%s\"", bad[i].spec,
                      err.msg, bad[i].want[k]);
        gope_sim_allocator_free(&a);
    }
    rig_free(&r);
}

/* --------------------------------------------------------- out of memory */

static gope_sim_world_t *nomem_world;
static gope_policy_set_t *nomem_set;
static const char *nomem_spec;

static gope_status op_alloc_and_run(void)
{
    gope_sim_allocator a;
    gope_err err;
    gope_status st = gope_sim_allocator_new(nomem_spec, nomem_set, nomem_world, &a, &err);
    if (st != GOPE_OK)
        return st;
    gope_sim_run_conf rc = {.decisions = 120};
    gope_sim_summary sum;
    st = gope_sim_run(nomem_world, &a, &rc, &sum, &err);
    gope_sim_allocator_free(&a);
    return st;
}

static void nomem_setup(void)
{
    gope_world_conf conf = tu_small_world();
    conf.n_users = 60;
    conf.n_streamers = 8;
    conf.round_users = 10;
    conf.whale_frac = 0.2;
    nomem_world = tu_make_world(&conf, 61);
    nomem_set = default_set();
}

static void nomem_teardown(void)
{
    gope_sim_world_free(nomem_world);
    gope_policies_free(nomem_set);
}

Test(sim_alloc_nomem, every_kind, .init = nomem_setup, .fini = nomem_teardown)
{
    static const char *const specs[] = {"shadow_price_online", "whale_matching:k=1",
                                        "frequency_cap:cap=1,cooldown=0", "ucb"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        nomem_spec = specs[i];
        fa_exhaust(op_alloc_and_run, nomem_spec);
    }
}
