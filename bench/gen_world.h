/*
 * gen_world.h — random numbers and the synthetic world of bench/gen_alloc.c.
 *
 * Included once, by gen_alloc.c only (CMake builds every .c file of bench/
 * into an executable of its own).
 *
 * Random numbers: xoshiro256** seeded through splitmix64, never rand(), so a
 * seed names the same stream on every machine; normals by Marsaglia's polar
 * method.
 *
 * The world, built once from the seed:
 * - users: wealth lognormal(0, 1), or for the top 1% (whales) a Pareto tail;
 *   wealth sets a user's taste for the gift tiers 1 .. 13140 (tau: the tier
 *   weights are exp(-i / tau)), so whales give the large gifts;
 * - established streamers ranked by a Zipf audience, with a gift rate, an ev
 *   noise level and a capacity tier (a quarter unlimited); the top 5% by
 *   audience are "head";
 * - a cold-start pool: small rooms, ev much noisier.
 */
#ifndef GEN_WORLD_H
#define GEN_WORLD_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint64_t s[4];
    double spare; /* the polar method makes normals in pairs */
    bool has_spare;
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03u);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = false;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static double rng_unit(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1p-53; }

/* Uniform in [0, n): the high half of a 64x64-bit product (Lemire). */
static uint64_t rng_below(rng_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

static double rng_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, q; /* Marsaglia's polar method: no trigonometry */
    do {
        u = 2.0 * rng_unit(r) - 1.0, v = 2.0 * rng_unit(r) - 1.0, q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f, r->has_spare = true;
    return u * f;
}

/* Lognormal with mean 1 and log-sd `sd`. */
static double rng_lognormal1(rng_t *r, double sd) { return exp(sd * rng_normal(r) - 0.5 * sd * sd); }

static int64_t rng_poisson(rng_t *r, double lambda)
{
    double u = rng_unit(r), p = exp(-lambda), cdf = p;
    int64_t k = 0;
    while (u > cdf && k < 1000)
        p *= lambda / (double)++k, cdf += p;
    return k;
}

#define N_USERS 100000
#define N_STREAMERS 20000 /* established, ranked by audience */
#define N_COLD 2000       /* cold-start pool */
#define N_TIERS 10
#define N_TAU 64 /* user tier-taste buckets */
#define TAU_MIN 0.9
#define TAU_MAX 6.0
#define DAY_MS 86400000.0

static const double tiers[N_TIERS] = {1, 2, 10, 52, 100, 520, 1000, 1314, 5200, 13140};
static const int32_t capacity_tiers[] = {20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
#define N_CAPACITY_TIERS (sizeof capacity_tiers / sizeof capacity_tiers[0])

typedef struct {
    uint8_t tau; /* bucket of the tier distribution */
    bool whale;
} user_t;

/* Small on purpose: the table is read at random, ten times an event. */
typedef struct {
    float audience, rate, noise_sd; /* mean viewers, gift probability, ev log-sd */
    int32_t capacity;               /* 0 = unlimited */
    bool cold, head;
} streamer_t;

typedef struct {
    user_t *users;
    streamer_t *streamers; /* N_STREAMERS established, then N_COLD cold-start */
    double tier_cdf[N_TAU][N_TIERS], tier_mean[N_TAU];
} world_t;

static void world_tiers(world_t *w)
{
    for (int b = 0; b < N_TAU; b++) {
        double tau = TAU_MIN + (TAU_MAX - TAU_MIN) * b / (N_TAU - 1), sum = 0, cdf = 0;
        w->tier_mean[b] = 0;
        for (int i = 0; i < N_TIERS; i++)
            sum += exp(-i / tau);
        for (int i = 0; i < N_TIERS; i++) {
            cdf += exp(-i / tau) / sum;
            w->tier_mean[b] += tiers[i] * exp(-i / tau) / sum;
            w->tier_cdf[b][i] = i + 1 < N_TIERS ? cdf : 1.0;
        }
    }
}

static void make_streamer(streamer_t *s, rng_t *r, double audience, bool cold, bool head)
{
    *s = (streamer_t){.audience = (float)audience, .cold = cold, .head = head};
    s->rate = (float)fmin(0.3, 0.016 * rng_lognormal1(r, 0.8));
    s->noise_sd = (float)(cold ? 0.6 : 0.15 + 0.15 * rng_unit(r));
    if (rng_unit(r) < 0.25)
        return; /* unlimited */
    double want = audience * (0.8 + 0.8 * rng_unit(r));
    size_t t = 0; /* the smallest tier above a noisy audience */
    while (t + 1 < N_CAPACITY_TIERS && capacity_tiers[t] < want)
        t++;
    s->capacity = capacity_tiers[t];
}

/* Wealth: lognormal(0, 1), or for the top 1% (whales) 20 x Pareto(1.5); richer
 * users favour bigger tiers (tau grows with log wealth). */
static void make_user(user_t *u, rng_t *r)
{
    u->whale = rng_unit(r) < 0.01;
    double wealth = u->whale ? 20.0 * pow(1.0 - rng_unit(r), -1.0 / 1.5) : exp(rng_normal(r));
    double tau = fmin(TAU_MAX, TAU_MIN + 0.4 * log1p(wealth));
    u->tau = (uint8_t)lround((tau - TAU_MIN) / (TAU_MAX - TAU_MIN) * (N_TAU - 1));
}

static int world_new(world_t *w, rng_t *r)
{
    w->users = malloc(N_USERS * sizeof *w->users);
    w->streamers = malloc((N_STREAMERS + N_COLD) * sizeof *w->streamers);
    if (!w->users || !w->streamers)
        return -1;
    world_tiers(w);
    for (size_t i = 0; i < N_USERS; i++)
        make_user(&w->users[i], r);
    for (size_t i = 0; i < N_STREAMERS; i++) /* Zipf audience: rank i */
        make_streamer(&w->streamers[i], r, 10.0 + 20000.0 * pow((double)i + 1.0, -0.9), false,
                      i < N_STREAMERS / 20);
    for (size_t i = 0; i < N_COLD; i++)
        make_streamer(&w->streamers[N_STREAMERS + i], r, 5.0 + 45.0 * rng_unit(r), true, false);
    return 0;
}

static void world_free(world_t *w)
{
    free(w->users), free(w->streamers);
}

/* A candidate slot: 10% exploration from the cold-start pool, else an
 * established streamer: uniform by rank, or for 10% of the slots biased to
 * the popular ranks (rank = N u^2), so the top 5% ("head") fill ~6%. */
static size_t pick_streamer(rng_t *r)
{
    double u = rng_unit(r);
    if (u < 0.1)
        return N_STREAMERS + rng_below(r, N_COLD);
    u = rng_unit(r);
    return (size_t)(N_STREAMERS * (u < 0.1 ? (u * 10) * (u * 10) : u));
}

#endif /* GEN_WORLD_H */
