/*
 * bias_bench.c — is the simulator's truth the expectation of what it
 * samples? (issue 3: coverage falling with N is the signature of a bias.)
 *
 * Runs the logging policy on many seeds and, per decision, compares
 *   - every candidate's true_ev with the gift model recomputed directly from
 *     the room state (p(gift) * E[amount | gift]; N_s tracked from the gifts
 *     seen), as the largest relative difference;
 *   - the reward with true_ev of the chosen streamer and with v_static, the
 *     gift indicator with p(gift), the amount of a gift with E[amount | gift],
 *     and each tier's count with its expected count, as z-scores of summed
 *     martingale differences (each term has mean 0 given the past, so
 *     z ~ N(0, 1) when the truth is unbiased).
 *
 * With --resample R, each seed's gifts are also redrawn R times with fresh
 * uniforms from the same per-decision distributions (actions, rooms and
 * truth held fixed): the coverage of the normal interval for independent
 * draws of exactly this reward distribution, with no feedback at all.
 *
 *   bias_bench [--world FILE|PRESET] [--logging eps_greedy] [--decisions N]
 *              [--seeds S] [--seed 1] [--resample R]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "gope_sim.h"

typedef struct {
    double sum, sq;
} mart; /* a sum of martingale differences and of their squares */

static void mart_add(mart *m, double x)
{
    m->sum += x;
    m->sq += x * x;
}

static double mart_z(const mart *m) { return m->sq > 0 ? m->sum / sqrt(m->sq) : 0; }

/* One decision's reward distribution: p(gift), the tiers' cumulative
 * probabilities and the externality. */
typedef struct {
    double p, cdf[GOPE_SIM_TIERS], ext, mean;
} reward_dist;

typedef struct {
    const gope_sim_world_t *w;
    int64_t *big;                /* N_s per streamer, as the engine counts it */
    mart reward_ev, reward_vs, gift, amount, tier[GOPE_SIM_TIERS];
    double max_rel, reward, v_static, gifts, p_gift;
    unsigned long long decisions;
    mart seed_r, seed_dev;       /* this seed's rewards, and reward - v_static */
    double seed_dev3, seed_dev4; /* sums of (reward - v_static)^3 and ^4 */
    double seed_vs;
    mart seed_gift, seed_action, seed_draw; /* this seed's gift - p, true_ev[a] - v_static, reward - true_ev[a] */
    reward_dist *draws;          /* --resample: the chosen streamer's distribution */
    size_t n_draws;
} bias_state;

/* Per seed, the on-policy 95% interval mean(r) +- 1.96 sd(r) / sqrt(n) (what
 * snips gives with w = 1) against mean(v_static): misses below and above,
 * and the same with the oracle stderr sqrt(sum (r - v_static)^2) / n. */
typedef struct {
    long low, high, oracle_low, oracle_high;
    mart z, z_gift, z_action, z_draw; /* per-seed z of the reward, the gift draws, the action draws */
    double skew, kurt; /* of the seed's sum of reward - v_static, summed over seeds */
} seed_cover;

static void cover_add(seed_cover *c, const bias_state *b, double n)
{
    const double mean = b->seed_r.sum / n, truth = b->seed_vs / n;
    const double se = sqrt(fmax(b->seed_r.sq / n - mean * mean, 0) * n / (n - 1) / n);
    const double oracle = sqrt(b->seed_dev.sq) / n, z = (mean - truth) / se;
    c->low += z < -1.959964;
    c->high += z > 1.959964;
    c->oracle_low += (mean - truth) / oracle < -1.959964;
    c->oracle_high += (mean - truth) / oracle > 1.959964;
    mart_add(&c->z, z);
    mart_add(&c->z_gift, mart_z(&b->seed_gift));
    mart_add(&c->z_action, mart_z(&b->seed_action));
    mart_add(&c->z_draw, mart_z(&b->seed_draw));
    c->skew += b->seed_dev3 / pow(b->seed_dev.sq, 1.5);
    c->kurt += b->seed_dev4 / (b->seed_dev.sq * b->seed_dev.sq);
}

static double tier_mean(const gope_world_conf *c, const double *probs)
{
    double m = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        m += probs[k] * c->tiers[k];
    return m;
}

/* The chosen streamer's gift and its tier index (-1: no gift, or an amount
 * no tier times the externality gives). */
static int tier_of(const gope_world_conf *c, double reward, double ext)
{
    for (int k = 0; reward > 0 && k < GOPE_SIM_TIERS; k++)
        if (fabs(reward - c->tiers[k] * ext) <= 1e-9 * reward)
            return k;
    return -1;
}

static gope_status observe(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    bias_state *b = ctx;
    const gope_world_conf *c = gope_sim_world_conf(b->w);
    const gope_event *ev = st->event;
    const gope_sim_outcome *o = st->outcome;
    double probs[GOPE_SIM_TIERS];
    for (size_t j = 0; j < ev->n_candidates; j++) {
        const uint32_t s = st->streamers[j];
        const gope_sim_room room = {b->big[s], ev->candidates[j].load + 1};
        gope_sim_tier_probs(b->w, st->user, s, probs);
        const double direct = gope_sim_gift_prob(b->w, st->user, s, &room) * tier_mean(c, probs) *
                              gope_sim_externality(b->w, s, &room);
        if (direct > 0 || st->true_ev[j] > 0)
            b->max_rel = fmax(b->max_rel, fabs(st->true_ev[j] - direct) / fmax(direct, st->true_ev[j]));
    }
    const uint32_t s = o->streamer;
    const gope_sim_room room = {b->big[s], o->load + 1};
    const double p = gope_sim_gift_prob(b->w, st->user, s, &room);
    gope_sim_tier_probs(b->w, st->user, s, probs);
    const double e_amount = tier_mean(c, probs) * o->externality;
    const bool gift = o->reward > 0;
    if (b->draws) {
        reward_dist *dr = &b->draws[b->n_draws++];
        *dr = (reward_dist){.p = p, .ext = o->externality, .mean = o->true_ev};
        for (int k = 0; k < GOPE_SIM_TIERS; k++)
            dr->cdf[k] = (k ? dr->cdf[k - 1] : 0) + probs[k];
    }
    mart_add(&b->reward_ev, o->reward - o->true_ev);
    mart_add(&b->reward_vs, o->reward - o->v_static);
    mart_add(&b->gift, (gift ? 1.0 : 0.0) - p);
    mart_add(&b->seed_r, o->reward);
    mart_add(&b->seed_gift, (gift ? 1.0 : 0.0) - p);
    mart_add(&b->seed_action, o->true_ev - o->v_static);
    mart_add(&b->seed_draw, o->reward - o->true_ev);
    const double dev = o->reward - o->v_static;
    mart_add(&b->seed_dev, dev);
    b->seed_dev3 += dev * dev * dev;
    b->seed_dev4 += dev * dev * dev * dev;
    b->seed_vs += o->v_static;
    b->reward += o->reward;
    b->v_static += o->v_static;
    b->p_gift += p;
    b->decisions++;
    if (gift) {
        b->gifts++;
        mart_add(&b->amount, o->reward - e_amount);
        const int k = tier_of(c, o->reward, o->externality);
        for (int t = 0; t < GOPE_SIM_TIERS; t++)
            mart_add(&b->tier[t], (t == k ? 1.0 : 0.0) - probs[t]);
    }
    if (o->reward > c->big_gift)
        b->big[s]++;
    return GOPE_OK;
}

/* --resample: R fresh draws of the seed's rewards; misses of the normal
 * interval for the mean against the mean of the true expectations. */
static void resample(const bias_state *b, const gope_world_conf *c, uint64_t seed, long reps, long miss[2])
{
    const double n = (double)b->n_draws;
    for (long rep = 0; rep < reps; rep++) {
        double sum = 0, sq = 0, truth = 0;
        for (size_t d = 0; d < b->n_draws; d++) {
            const reward_dist *dr = &b->draws[d];
            const uint64_t i = (uint64_t)rep * b->n_draws + d;
            double r = 0;
            if (gope_rng_u01(seed, GOPE_RNG_GIFT, i, 1) < dr->p) {
                const double u = gope_rng_u01(seed, GOPE_RNG_AMOUNT, i, 1) * dr->cdf[GOPE_SIM_TIERS - 1];
                int k = 0;
                while (k + 1 < GOPE_SIM_TIERS && u >= dr->cdf[k])
                    k++;
                r = c->tiers[k] * dr->ext;
            }
            sum += r;
            sq += r * r;
            truth += dr->mean;
        }
        const double mean = sum / n, se = sqrt(fmax(sq / n - mean * mean, 0) / (n - 1));
        miss[0] += (truth / n - mean) / se > 1.959964;  /* the truth above the interval */
        miss[1] += (mean - truth / n) / se > 1.959964;
    }
}

int main(int argc, char **argv)
{
    const uint64_t decisions = strtoull(bench_arg(argc, argv, "--decisions", "1000000"), NULL, 10);
    const long seeds = atol(bench_arg(argc, argv, "--seeds", "10"));
    const uint64_t base = strtoull(bench_arg(argc, argv, "--seed", "1"), NULL, 10);
    const char *logging = bench_arg(argc, argv, "--logging", "eps_greedy");
    gope_err err;
    gope_world_conf conf;
    gope_policy_set_t *set = NULL;
    if (gope_world_load(bench_arg(argc, argv, "--world", "bench/world_coverage.json"), &conf, &err) != GOPE_OK ||
        gope_policies_default(&set, &err) != GOPE_OK)
        bench_die("bias_bench", &err);
    size_t li = 0;
    while (li < gope_policies_count(set) && strcmp(gope_policy_name(set, li), logging) != 0)
        li++;
    if (li == gope_policies_count(set)) {
        fprintf(stderr, "bias_bench: unknown --logging policy %s\n", logging);
        return 2;
    }
    bias_state b = {0};
    seed_cover cov = {0};
    const long resamples = atol(bench_arg(argc, argv, "--resample", "0"));
    long resample_miss[2] = {0, 0};
    if (resamples > 0 && !(b.draws = malloc(decisions * sizeof *b.draws)))
        return 1;
    if (!(b.big = calloc(conf.n_streamers, sizeof *b.big)))
        return 1;
    for (long i = 0; i < seeds; i++) {
        gope_sim_world_t *w = NULL;
        gope_sim_allocator a;
        gope_sim_summary sum;
        memset(b.big, 0, conf.n_streamers * sizeof *b.big);
        b.seed_r = b.seed_dev = b.seed_gift = b.seed_action = b.seed_draw = (mart){0, 0};
        b.seed_vs = b.seed_dev3 = b.seed_dev4 = 0;
        b.n_draws = 0;
        const gope_sim_run_conf rc = {.decisions = decisions, .on_step = observe, .ctx = &b};
        if (gope_sim_world_new(&conf, base + (uint64_t)i, &w, &err) != GOPE_OK ||
            gope_sim_policy_allocator(set, li, &a, &err) != GOPE_OK)
            bench_die("bias_bench", &err);
        b.w = w;
        if (gope_sim_run(w, &a, &rc, &sum, &err) != GOPE_OK)
            bench_die("bias_bench", &err);
        gope_sim_allocator_free(&a);
        gope_sim_world_free(w);
        cover_add(&cov, &b, (double)decisions);
        if (resamples > 0)
            resample(&b, &conf, base + (uint64_t)i, resamples, resample_miss);
    }
    const double n = (double)b.decisions;
    printf("world %s, logging %s, %ld seeds x %llu decisions\n", conf.name, logging, seeds,
           (unsigned long long)decisions);
    printf("max |true_ev - direct| / true_ev over all candidates: %.3g\n", b.max_rel);
    printf("mean reward %.6g, mean v_static %.6g (%+.3f%% +- %.3f%%)\n", b.reward / n, b.v_static / n,
           100 * (b.reward - b.v_static) / b.v_static, 100 * sqrt(b.reward_vs.sq) / b.v_static);
    printf("gift rate %.6g, mean p(gift) %.6g, %.0f gifts\n", b.gifts / n, b.p_gift / n, b.gifts);
    printf("z: reward - true_ev %+.2f, reward - v_static %+.2f, gift - p %+.2f, amount - E[amount] %+.2f\n",
           mart_z(&b.reward_ev), mart_z(&b.reward_vs), mart_z(&b.gift), mart_z(&b.amount));
    printf("z per tier (tier: observed - expected count, z):");
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        printf(" %g: %+.1f %+.2f;", conf.tiers[k], b.tier[k].sum, mart_z(&b.tier[k]));
    printf("\n");
    printf("per seed, on-policy 95%% interval: truth below it %ld, above it %ld of %ld (coverage %.1f%%); "
           "with the oracle stderr %ld, %ld; z mean %+.3f, sd %.3f; "
           "mean skewness of the sum %.3f, kurtosis sum d^4 / (sum d^2)^2 %.3g\n",
           cov.high, cov.low, seeds, 100.0 * (double)(seeds - cov.low - cov.high) / (double)seeds,
           cov.oracle_high, cov.oracle_low, cov.z.sum / (double)seeds,
           sqrt(cov.z.sq / (double)seeds - (cov.z.sum / (double)seeds) * (cov.z.sum / (double)seeds)),
           cov.skew / (double)seeds, cov.kurt / (double)seeds);
    printf("per-seed z sd: gift - p %.3f, true_ev[action] - v_static %.3f, reward - true_ev[action] %.3f\n",
           sqrt(cov.z_gift.sq / (double)seeds), sqrt(cov.z_action.sq / (double)seeds),
           sqrt(cov.z_draw.sq / (double)seeds));
    if (resamples > 0)
        printf("resampled (independent draws, fixed distributions): truth above %ld, below %ld of %ld "
               "(coverage %.1f%%)\n", resample_miss[0], resample_miss[1], resamples * seeds,
               100.0 - 100.0 * (double)(resample_miss[0] + resample_miss[1]) / (double)(resamples * seeds));
    free(b.draws);
    free(b.big);
    gope_policies_free(set);
    return 0;
}
