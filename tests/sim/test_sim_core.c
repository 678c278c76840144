/*
 * test_sim_core.c — the simulator's random numbers, world, gift model and
 * engine (sim/gope_sim.h, docs/simulator.md): determinism, common random
 * numbers, the true EV against Monte Carlo, and the bookkeeping of a run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "failalloc.h"
#include "gope_sim.h"
#include "gope_stats.h"
#include "simworld.h"

/* ------------------------------------------------------------------ rng */

Test(sim_rng, pure_function_of_its_key)
{
    cr_expect_eq(gope_rng_bits(1, GOPE_RNG_GIFT, 7, 0), gope_rng_bits(1, GOPE_RNG_GIFT, 7, 0));
    const uint64_t base = gope_rng_bits(1, GOPE_RNG_GIFT, 7, 0);
    cr_expect_neq(base, gope_rng_bits(2, GOPE_RNG_GIFT, 7, 0), "seed");
    cr_expect_neq(base, gope_rng_bits(1, GOPE_RNG_AMOUNT, 7, 0), "purpose");
    cr_expect_neq(base, gope_rng_bits(1, GOPE_RNG_GIFT, 8, 0), "index");
    cr_expect_neq(base, gope_rng_bits(1, GOPE_RNG_GIFT, 7, 1), "draw");
}

/* 100 equal bins over 200,000 consecutive indices: chi-square fit, moments. */
/* The extreme bit patterns stay inside (0, 1), so no quantile is infinite
 * or NaN; the uniform is the one of gope_rng_bits(). */
Test(sim_rng, uniform_is_open_at_both_ends)
{
    static const uint64_t bits[] = {0, 1u << 11, UINT64_MAX >> 1, UINT64_MAX - (1u << 11), UINT64_MAX};
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        const double u = gope_rng_to_u01(bits[i]);
        cr_assert(u > 0 && u < 1, "bits %#llx: u = %.17g", (unsigned long long)bits[i], u);
    }
    cr_assert_lt(gope_rng_to_u01(UINT64_MAX - (1u << 11)), gope_rng_to_u01(UINT64_MAX));
    for (uint64_t d = 0; d < 100; d++)
        cr_assert_eq(gope_rng_u01(5, GOPE_RNG_GIFT, d, 1),
                     gope_rng_to_u01(gope_rng_bits(5, GOPE_RNG_GIFT, d, 1)));
}

Test(sim_rng, uniform_fills_bins_evenly)
{
    enum { N = 200000, BINS = 100 };
    static long bins[BINS];
    double sum = 0, sum2 = 0, lag = 0, prev = 0.5;
    for (uint64_t i = 0; i < N; i++) {
        const double u = gope_rng_u01(42, GOPE_RNG_ACTION, i, 0);
        cr_assert(u > 0 && u < 1);
        bins[(int)(u * BINS)]++;
        sum += u;
        sum2 += u * u;
        lag += (u - 0.5) * (prev - 0.5);
        prev = u;
    }
    double chi2 = 0, e = (double)N / BINS;
    for (int b = 0; b < BINS; b++)
        chi2 += (bins[b] - e) * (bins[b] - e) / e;
    cr_expect_gt(gope_chi2_sf(chi2, BINS - 1), 1e-4, "chi2 %g", chi2);
    cr_expect_lt(fabs(sum / N - 0.5), 0.004);
    cr_expect_lt(fabs(sum2 / N - sum * sum / N / N - 1.0 / 12), 0.002);
    cr_expect_lt(fabs(lag / N) * 12, 0.02, "neighbouring indices uncorrelated");
}

Test(sim_rng, normal_moments)
{
    enum { N = 200000 };
    double m1 = 0, m2 = 0, m4 = 0;
    for (uint64_t i = 0; i < N; i++) {
        const double z = gope_rng_normal(7, GOPE_RNG_EV_NOISE, i, 0);
        m1 += z;
        m2 += z * z;
        m4 += z * z * z * z;
    }
    cr_expect_lt(fabs(m1 / N), 0.01);
    cr_expect_lt(fabs(m2 / N - 1), 0.015);
    cr_expect_lt(fabs(m4 / N - 3), 0.1, "kurtosis of a normal");
}

/* ---------------------------------------------------------------- world */

Test(sim_world, exact_set_sizes_and_ranges)
{
    gope_world_conf c = tu_small_world();
    gope_sim_world_t *w = tu_make_world(&c, 3);
    gope_sim_world_view v;
    gope_sim_world_get(w, &v);
    size_t whales = 0, cold = 0, head = 0, cap[3] = {0};
    double max_pop = 0;
    for (uint32_t u = 0; u < v.n_users; u++) {
        whales += v.whale[u];
        cr_assert(v.wealth[u] > 0 && isfinite(v.wealth[u]));
    }
    for (uint32_t s = 0; s < v.n_streamers; s++) {
        cold += v.cold_start[s];
        head += v.head[s];
        max_pop = fmax(max_pop, v.popularity[s]);
        cr_assert(v.popularity[s] > 0 && v.popularity[s] <= 1);
        cap[0] += v.capacity[s] == c.capacity_top;
        cap[1] += v.capacity[s] == c.capacity_middle;
        cap[2] += v.capacity[s] == c.capacity_tail;
        for (uint32_t u = 0; u < 5; u++) {
            const double m = gope_sim_match(w, u, s);
            cr_assert(m >= -1 - 1e-12 && m <= 1 + 1e-12);
        }
    }
    cr_expect_eq(whales, 4, "1%% of 400");
    cr_expect_eq(cold, 8, "20%% of 40");
    cr_expect_eq(head, 4, "10%% of 40");
    cr_expect_eq(cap[0], 4);
    cr_expect_eq(cap[1], 20);
    cr_expect_eq(cap[2], 16);
    cr_expect_eq(max_pop, 1.0);
    /* the whales are the richest users */
    double poorest_whale = INFINITY, richest_other = 0;
    for (uint32_t u = 0; u < v.n_users; u++) {
        if (v.whale[u])
            poorest_whale = fmin(poorest_whale, v.wealth[u]);
        else
            richest_other = fmax(richest_other, v.wealth[u]);
    }
    cr_expect_geq(poorest_whale, richest_other);
    gope_sim_world_free(w);
}

Test(sim_world, seed_decides_everything)
{
    gope_world_conf c = tu_small_world();
    gope_sim_world_t *a = tu_make_world(&c, 5), *b = tu_make_world(&c, 5);
    gope_sim_world_t *d = tu_make_world(&c, 6);
    gope_sim_world_view va, vb, vd;
    gope_sim_world_get(a, &va);
    gope_sim_world_get(b, &vb);
    gope_sim_world_get(d, &vd);
    cr_expect_eq(memcmp(va.wealth, vb.wealth, va.n_users * sizeof(double)), 0);
    cr_expect_eq(memcmp(va.popularity, vb.popularity, va.n_streamers * sizeof(double)), 0);
    cr_expect_eq(gope_sim_match(a, 17, 3), gope_sim_match(b, 17, 3));
    cr_expect_neq(memcmp(va.wealth, vd.wealth, va.n_users * sizeof(double)), 0);
    gope_sim_world_free(a);
    gope_sim_world_free(b);
    gope_sim_world_free(d);
}

Test(sim_world, invalid_conf_is_a_usage_error)
{
    gope_world_conf c = tu_small_world();
    c.n_users = 0;
    gope_sim_world_t *w = (gope_sim_world_t *)1;
    gope_err err;
    cr_expect_eq(gope_sim_world_new(&c, 1, &w, &err), GOPE_ERR_USAGE);
    cr_expect_null(w);
}

/* ----------------------------------------------------------------- gifts */

Test(sim_gift, tier_probabilities_sum_to_one)
{
    gope_world_conf c = tu_small_world();
    gope_sim_world_t *w = tu_make_world(&c, 1);
    for (uint32_t u = 0; u < 50; u++) {
        double p[GOPE_SIM_TIERS], sum = 0;
        gope_sim_tier_probs(w, u, u % 40, p);
        for (int k = 0; k < GOPE_SIM_TIERS; k++) {
            cr_assert(p[k] >= 0);
            sum += p[k];
        }
        cr_expect_lt(fabs(sum - 1), 1e-12);
    }
    gope_sim_world_free(w);
}

/* true_ev is the mean of what the world samples: a Monte Carlo of the gift
 * draw (Bernoulli then tier, as the engine does) agrees within 4 standard
 * errors, for a crowded room with the capacity penalty on. */
Test(sim_gift, true_ev_is_the_sampling_mean)
{
    gope_world_conf c = tu_small_world();
    c.capacity_externality = true;
    c.theta[0] = -2; /* frequent gifts: a tight Monte Carlo */
    gope_sim_world_t *w = tu_make_world(&c, 9);
    gope_sim_world_view v;
    gope_sim_world_get(w, &v);
    const uint32_t user = 11, s = 2;
    const gope_sim_room room = {.big_gifts = 3, .load = v.capacity[s] + 7};
    const double p = gope_sim_gift_prob(w, user, s, &room), ext = gope_sim_externality(w, s, &room);
    cr_assert(ext < 1.0 / (1 + c.gamma * 3), "capacity penalty applies");
    double probs[GOPE_SIM_TIERS];
    gope_sim_tier_probs(w, user, s, probs);
    enum { N = 400000 };
    double sum = 0, sum2 = 0;
    for (uint64_t i = 0; i < N; i++) {
        double x = 0;
        if (gope_rng_u01(1, GOPE_RNG_GIFT, i, 0) < p)
            x = c.tiers[gope_sim_sample(probs, GOPE_SIM_TIERS, gope_rng_u01(1, GOPE_RNG_AMOUNT, i, 0))] * ext;
        sum += x;
        sum2 += x * x;
    }
    const double mean = sum / N, se = sqrt((sum2 / N - mean * mean) / N);
    const double ev = gope_sim_true_ev(w, user, s, &room);
    cr_expect_lt(fabs(mean - ev), 4 * se, "MC %g +- %g, true_ev %g", mean, se, ev);
    gope_sim_world_free(w);
}

/* The tabulated static part (small worlds) gives the formula's value, with
 * and without big gifts in the room (the second path recomputes p(gift)). */
Test(sim_gift, true_ev_is_the_formula)
{
    gope_world_conf c = tu_small_world();
    c.capacity_externality = true;
    gope_sim_world_t *w = tu_make_world(&c, 21);
    for (uint32_t u = 0; u < 60; u++)
        for (uint32_t s = 0; s < c.n_streamers; s += 7) {
            const gope_sim_room room = {.big_gifts = u % 3 ? 0 : 4, .load = 1 + u % 90};
            double probs[GOPE_SIM_TIERS], tier = 0;
            gope_sim_tier_probs(w, u, s, probs);
            for (int k = 0; k < GOPE_SIM_TIERS; k++)
                tier += probs[k] * c.tiers[k];
            const double want = gope_sim_gift_prob(w, u, s, &room) * tier * gope_sim_externality(w, s, &room);
            const double got = gope_sim_true_ev(w, u, s, &room);
            cr_assert_lt(fabs(got - want), 1e-12 * want, "user %u streamer %u: %.17g vs %.17g", u, s, got, want);
        }
    gope_sim_world_free(w);
}

/* The gift odds are exp(-z0) times exp(-theta4 N). Where one factor
 * overflows and the other underflows (0 * inf), the logit itself is modest
 * and p(gift) must be its logistic, not NaN: z = -796 + 1000 ~ 204 gives
 * p = 1, and z = +796 - 1000 gives p = e^-204 > 0. */
Test(sim_gift, odds_beyond_exp_range_stay_a_probability)
{
    static const double sign[2] = {1, -1};
    for (int i = 0; i < 2; i++) {
        gope_world_conf c = tu_small_world();
        c.theta[0] = -800 * sign[i];
        c.theta[4] = 10 * sign[i];
        gope_sim_world_t *w = tu_make_world(&c, 5);
        const gope_sim_room room = {.big_gifts = 100, .load = 1};
        for (uint32_t u = 0; u < 20; u++) {
            const double p = gope_sim_gift_prob(w, u, 3, &room);
            const double t = gope_sim_true_ev(w, u, 3, &room);
            if (i == 0)
                cr_assert_eq(p, 1.0, "user %u: p = %.17g", u, p);
            else
                cr_assert(p > 0 && p < 1e-80, "user %u: p = %.17g", u, p);
            cr_assert(t >= 0 && isfinite(t), "user %u: true EV %.17g", u, t);
        }
        gope_sim_world_free(w);
    }
}

Test(sim_gift, model_ev_without_noise_is_the_truth)
{
    gope_world_conf c = tu_small_world();
    c.ev_noise_sd = 0;
    gope_sim_world_t *w = tu_make_world(&c, 2);
    double sigma;
    cr_expect_eq(gope_sim_model_ev(w, 1, 1, 3.5, &sigma), 3.5);
    cr_expect_eq(sigma, 0);
    gope_err err;
    cr_expect_eq(gope_sim_ev_recall(w, 0.01, 0, &err), 1.0);
    gope_sim_world_free(w);
}

Test(sim_gift, noisier_model_recalls_less)
{
    gope_world_conf c = tu_small_world();
    gope_err err;
    c.ev_noise_sd = 0.3;
    gope_sim_world_t *w = tu_make_world(&c, 2);
    const double good = gope_sim_ev_recall(w, 0.01, 0, &err);
    gope_sim_world_free(w);
    c.ev_noise_sd = 2.0;
    w = tu_make_world(&c, 2);
    const double bad = gope_sim_ev_recall(w, 0.01, 0, &err);
    gope_sim_world_free(w);
    cr_expect(good > bad && bad >= 0 && good < 1, "recall %g vs %g", good, bad);
}

Test(sim_gift, sample_edges)
{
    const double pi[] = {0, 0.25, 0, 0.75, 0};
    cr_expect_eq(gope_sim_sample(pi, 5, 0.1), 1);
    cr_expect_eq(gope_sim_sample(pi, 5, 0.25), 3, "cdf(j-1) <= u < cdf(j)");
    cr_expect_eq(gope_sim_sample(pi, 5, 0.9999999999999999), 3);
    const double short_sum[] = {0.3, 0.3, 0.3999999999999};
    cr_expect_eq(gope_sim_sample(short_sum, 3, 0.99999999999999), 2, "rounding: the last possible");
}

/* ----------------------------------------------------------------- runs */

typedef struct {
    size_t n, cap;
    uint32_t *user, *streamer;
    int64_t *ts, *load;
    double *reward;
    gope_ksum v_static;
    bool bad_propensity;
} trace;

static gope_status record(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    trace *t = ctx;
    cr_assert_lt(t->n, t->cap);
    const gope_event *ev = st->event;
    t->user[t->n] = st->user;
    t->streamer[t->n] = st->outcome->streamer;
    t->ts[t->n] = ev->ts;
    t->load[t->n] = st->outcome->load;
    t->reward[t->n] = ev->reward;
    gope_ksum_add(&t->v_static, st->outcome->v_static);
    t->bad_propensity |= ev->propensity != st->pi[ev->action] || ev->propensity <= 0 ||
                         st->streamers[ev->action] != st->outcome->streamer;
    t->n++;
    return GOPE_OK;
}

static trace run_policy(const gope_sim_world_t *w, const char *name, uint64_t n, gope_sim_summary *sum)
{
    trace t = {.cap = n};
    t.user = calloc(n, sizeof *t.user);
    t.streamer = calloc(n, sizeof *t.streamer);
    t.ts = calloc(n, sizeof *t.ts);
    t.load = calloc(n, sizeof *t.load);
    t.reward = calloc(n, sizeof *t.reward);
    gope_policy_set_t *set = NULL;
    gope_err err;
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK);
    size_t i = 0;
    while (strcmp(gope_policy_name(set, i), name) != 0)
        i++;
    gope_sim_allocator a;
    cr_assert_eq(gope_sim_policy_allocator(set, i, &a, &err), GOPE_OK);
    const gope_sim_run_conf rc = {.decisions = n, .on_step = record, .ctx = &t};
    cr_assert_eq(gope_sim_run(w, &a, &rc, sum, &err), GOPE_OK, "%s", err.msg);
    gope_sim_allocator_free(&a);
    gope_policies_free(set);
    return t;
}

static void trace_free(trace *t)
{
    free(t->user);
    free(t->streamer);
    free(t->ts);
    free(t->load);
    free(t->reward);
}

/* Two runs of `n` decisions on one small world of `seed`: policy pa, then
 * pb (the same world object: a run must not change it). */
typedef struct {
    trace a, b;
    gope_sim_summary sa, sb;
} run_pair;

static run_pair run_two(uint64_t seed, const char *pa, const char *pb, uint64_t n)
{
    const gope_world_conf c = tu_small_world();
    gope_sim_world_t *w = tu_make_world(&c, seed);
    run_pair p;
    p.a = run_policy(w, pa, n, &p.sa);
    p.b = run_policy(w, pb, n, &p.sb);
    gope_sim_world_free(w);
    return p;
}

static void run_pair_free(run_pair *p)
{
    trace_free(&p->a);
    trace_free(&p->b);
}

Test(sim_run, same_seed_same_run)
{
    run_pair p = run_two(4, "softmax", "softmax", 600);
    cr_expect_eq(memcmp(p.a.streamer, p.b.streamer, 600 * sizeof *p.a.streamer), 0);
    cr_expect_eq(memcmp(p.a.reward, p.b.reward, 600 * sizeof *p.a.reward), 0);
    cr_expect_eq(p.sa.revenue, p.sb.revenue);
    cr_expect(!p.a.bad_propensity, "propensity = pi[action] > 0, streamer = candidate's");
    run_pair_free(&p);
}

/* Common random numbers: the same users at the same times whatever the
 * policy; only the chosen streamers (and so the gifts) differ. */
Test(sim_run, policies_share_arrivals)
{
    run_pair p = run_two(8, "greedy", "eps_greedy", 500);
    cr_expect_eq(memcmp(p.a.user, p.b.user, 500 * sizeof *p.a.user), 0);
    cr_expect_eq(memcmp(p.a.ts, p.b.ts, 500 * sizeof *p.a.ts), 0);
    cr_expect_neq(memcmp(p.a.streamer, p.b.streamer, 500 * sizeof *p.a.streamer), 0);
    run_pair_free(&p);
}

/* Rounds: distinct users within a round, ts non-decreasing, the room load
 * is the count of earlier viewers in the round (round sessions), and the
 * summary is the sum of the steps. */
Test(sim_run, round_bookkeeping)
{
    gope_world_conf c = tu_small_world();
    gope_sim_world_t *w = tu_make_world(&c, 12);
    gope_sim_summary sum;
    enum { N = 250 };
    trace t = run_policy(w, "softmax", N, &sum);
    int64_t load[40] = {0};
    gope_ksum rev = {0, 0};
    for (size_t d = 0; d < N; d++) {
        if (d % c.round_users == 0)
            memset(load, 0, sizeof load);
        for (size_t e = d - d % c.round_users; e < d; e++)
            cr_assert_neq(t.user[e], t.user[d], "user twice in one round (decision %zu)", d);
        if (d > 0)
            cr_assert_geq(t.ts[d], t.ts[d - 1]);
        cr_assert_eq(t.load[d], load[t.streamer[d]], "decision %zu", d);
        load[t.streamer[d]]++;
        gope_ksum_add(&rev, t.reward[d]);
    }
    cr_expect_eq(sum.decisions, N);
    cr_expect_eq(sum.rounds, 10);
    cr_expect_eq(sum.revenue, gope_ksum_value(&rev));
    cr_expect_eq(sum.v_static, gope_ksum_value(&t.v_static) / N);
    cr_expect_eq(sum.first_ts, t.ts[0]);
    cr_expect_eq(sum.last_ts, t.ts[N - 1]);
    trace_free(&t);
    gope_sim_world_free(w);
}

/* Dwell sessions: viewers leave, so loads stay bounded and never negative;
 * a recall stage gives k candidates. */
Test(sim_run, dwell_sessions_and_recall)
{
    gope_world_conf c = tu_small_world();
    c.session = GOPE_SESSION_DWELL;
    c.dwell_mean_s = 30;
    c.arrivals_per_s = 2;
    c.candidates = 10;
    gope_sim_world_t *w = tu_make_world(&c, 12);
    gope_sim_summary sum;
    enum { N = 3000 };
    trace t = run_policy(w, "greedy", N, &sum);
    int64_t max_load = 0;
    for (size_t d = 0; d < N; d++) {
        cr_assert_geq(t.load[d], 0);
        max_load = t.load[d] > max_load ? t.load[d] : max_load;
    }
    /* about 60 viewers present at a time (rate 2/s x 30 s, more at the peak) */
    cr_expect_lt(max_load, 200, "viewers leave");
    cr_expect_gt(max_load, 2);
    const double span_s = (double)(t.ts[N - 1] - t.ts[0]) / 1000;
    cr_expect(span_s > 3000 / 2 / 3.0 && span_s < 3000 / 2 * 3.0, "%g s for 3000 arrivals at 2/s", span_s);
    trace_free(&t);
    gope_sim_world_free(w);
}

/* ------------------------------------------------------- out of memory */

/* World `c` (seed 1), policy `policy` of the default set, `decisions`
 * decisions: OK, or NOMEM after an injected failure. */
static gope_status world_and_run(const gope_world_conf *c, size_t policy, uint64_t decisions,
                                 gope_sim_summary *sum)
{
    gope_sim_world_t *w = NULL;
    gope_err err;
    gope_status st = gope_sim_world_new(c, 1, &w, &err);
    if (st != GOPE_OK)
        return st;
    gope_policy_set_t *set = NULL;
    st = gope_policies_default(&set, &err);
    gope_sim_allocator a = {0};
    if (st == GOPE_OK)
        st = gope_sim_policy_allocator(set, policy, &a, &err);
    const gope_sim_run_conf rc = {.decisions = decisions};
    if (st == GOPE_OK)
        st = gope_sim_run(w, &a, &rc, sum, &err);
    gope_sim_allocator_free(&a);
    gope_policies_free(set);
    gope_sim_world_free(w);
    return st;
}

static gope_status op_world_and_run(void)
{
    gope_world_conf c = tu_small_world();
    c.session = GOPE_SESSION_DWELL;
    c.candidates = 10;
    gope_sim_summary sum;
    return world_and_run(&c, 0, 400, &sum);
}

Test(sim_nomem, world_and_run) { fa_exhaust(op_world_and_run, "world and run"); }

/* A world whose pair table passes 2 MB (memory on huge pages: aligned_alloc)
 * and a run with big gifts in more rooms than the cache's first rows hold
 * (the cache grows). */
static gope_status op_big_world_and_growing_cache(void)
{
    gope_world_conf c = tu_small_world();
    c.n_users = 1100;
    c.n_streamers = 250;
    c.theta[0] = -2;
    c.big_gift = 1;
    gope_sim_summary sum = {0};
    const gope_status st = world_and_run(&c, 3, 300, &sum); /* softmax: many rooms */
    if (st == GOPE_OK) /* the path under test was taken */
        cr_assert_gt(sum.gifts, 20, "gifts: %llu", (unsigned long long)sum.gifts);
    return st;
}

Test(sim_nomem, big_world_and_growing_cache, .timeout = 120)
{
    fa_exhaust(op_big_world_and_growing_cache, "big world and growing cache");
}
