/*
 * world.c — build a world's users and streamers from its configuration and
 * seed (docs/simulator.md, "The world").
 *
 * Every attribute is drawn from its own counter-based stream keyed by the
 * entity's index, so the world is a pure function of (conf, seed) and adding
 * a user does not shift anyone else's draws. Whale, head and capacity sets
 * are exact ranks (the top round(frac * n)), not random labels, so their
 * sizes are what the configuration says.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

typedef struct {
    double key;
    uint32_t idx;
} ranked;

/* descending key, then ascending index: a total order, so ranks are stable */
static int by_key_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->idx < y->idx ? -1 : 1;
}

/* flags[i] = i among the top round(frac * n) by key; `order` is scratch. */
static void mark_top(const double *key, uint32_t n, double frac, ranked *order, bool *flags)
{
    for (uint32_t i = 0; i < n; i++)
        order[i] = (ranked){key[i], i};
    qsort(order, n, sizeof *order, by_key_desc);
    const uint32_t top = (uint32_t)llround(frac * n);
    memset(flags, 0, n * sizeof *flags);
    for (uint32_t r = 0; r < top && r < n; r++)
        flags[order[r].idx] = true;
}

/* n unit vectors of dimension dim, one normal stream per row. */
static void unit_vectors(uint64_t seed, gope_rng_purpose p, uint32_t n, uint32_t dim, double *out)
{
    for (uint32_t i = 0; i < n; i++) {
        double *v = out + (size_t)i * dim, norm = 0;
        for (uint32_t k = 0; k < dim; k++) {
            v[k] = gope_rng_normal(seed, p, i, k);
            norm += v[k] * v[k];
        }
        norm = sqrt(norm);
        for (uint32_t k = 0; k < dim; k++)
            v[k] /= norm;
    }
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Wealth: lognormal body, Pareto tail (numpy's (pareto(a) + 1) * xm). */
static void build_users(gope_sim_world_t *w, ranked *order)
{
    const gope_world_conf *c = &w->conf;
    for (uint32_t i = 0; i < w->n_users; i++) {
        const double u = gope_rng_u01(w->seed, GOPE_RNG_USER_WEALTH, i, 0);
        const double v = gope_rng_u01(w->seed, GOPE_RNG_USER_WEALTH, i, 1);
        w->wealth[i] = u < c->pareto_share
                           ? c->pareto_xm * pow(v, -1.0 / c->pareto_alpha)
                           : exp(c->wealth_mu + c->wealth_sigma *
                                                    gope_rng_normal(w->seed, GOPE_RNG_USER_WEALTH, i, 1));
        const double lw = log1p(w->wealth[i]);
        w->user_logit[i] = c->theta[0] + c->theta[1] * lw;
        w->user_tier_a[i] = c->wealth_slope *
                            clampd((lw - c->wealth_center) / c->wealth_scale, c->wealth_lo, c->wealth_hi);
    }
    unit_vectors(w->seed, GOPE_RNG_USER_PREF, w->n_users, w->dim, w->pref);
    mark_top(w->wealth, w->n_users, c->whale_frac, order, w->whale);
    mark_top(w->wealth, w->n_users, 0.001, order, w->top01);
    mark_top(w->wealth, w->n_users, 0.01, order, w->top1);
}

/* Popularity (pareto(a) + 1) / max; capacity tiers and head by popularity
 * rank; cold start an exact random share (ranked by a uniform key). */
static void build_streamers(gope_sim_world_t *w, ranked *order, double *key)
{
    const gope_world_conf *c = &w->conf;
    const uint32_t n = w->n_streamers;
    double max = 0;
    for (uint32_t s = 0; s < n; s++) {
        const double u = gope_rng_u01(w->seed, GOPE_RNG_STREAMER_POP, s, 0);
        w->popularity[s] = pow(u, -1.0 / c->popularity_alpha);
        max = fmax(max, w->popularity[s]);
    }
    for (uint32_t s = 0; s < n; s++)
        w->popularity[s] /= max;
    mark_top(w->popularity, n, c->head_frac, order, w->head); /* order: by popularity */
    const uint32_t top = (uint32_t)llround(c->tier_top_frac * n);
    const uint32_t mid = top + (uint32_t)llround(c->tier_middle_frac * n);
    for (uint32_t r = 0; r < n; r++)
        w->capacity[order[r].idx] = r < top ? c->capacity_top
                                    : r < mid ? c->capacity_middle
                                              : c->capacity_tail;
    for (uint32_t s = 0; s < n; s++)
        key[s] = gope_rng_u01(w->seed, GOPE_RNG_STREAMER_NEW, s, 0);
    mark_top(key, n, c->new_frac, order, w->cold_start);
    for (uint32_t s = 0; s < n; s++) {
        w->streamer_logit[s] = c->theta[3] * w->popularity[s];
        const double sd = c->ev_noise_sd * (w->cold_start[s] ? c->ev_noise_cold_mult : 1.0);
        w->noise_sd[s] = sd;
        w->noise_bias[s] = -0.5 * sd * sd;
        w->sigma_ratio[s] = sqrt(expm1(sd * sd));
    }
    unit_vectors(w->seed, GOPE_RNG_STREAMER_CONTENT, n, w->dim, w->content);
}

/* The per-pair tables (sim_int.h says why), when the world is small enough. */
static bool build_pair_tables(gope_sim_world_t *w)
{
    const uint64_t pairs = (uint64_t)w->n_users * w->n_streamers;
    if (pairs <= GOPE_SIM_NOISE_TABLE && !(w->noise_mult = gope_sim__big_alloc(pairs * sizeof *w->noise_mult)))
        return false;
    if (pairs <= GOPE_SIM_PAIR_TABLE && !(w->pair_ev0 = gope_sim__big_alloc(pairs * sizeof *w->pair_ev0)))
        return false;
    for (uint32_t u = 0; u < w->n_users && (w->noise_mult || w->pair_ev0); u++)
        for (uint32_t s = 0; s < w->n_streamers; s++) {
            const size_t i = (size_t)u * w->n_streamers + s;
            if (w->noise_mult)
                w->noise_mult[i] = gope_sim__noise_factor(w, u, s);
            if (w->pair_ev0)
                w->pair_ev0[i] = gope_sim__pair_ev0(w, u, s);
        }
    return true;
}

/* The tier polynomials, the arrival-rate normaliser and the externality of
 * a room without big gifts (load 0 is within any capacity). */
static void build_tables(gope_sim_world_t *w)
{
    const gope_world_conf *c = &w->conf;
    w->empty_externality = gope_sim_externality(w, 0, &(gope_sim_room){.big_gifts = 0, .load = 0});
    for (int k = 0; k < GOPE_SIM_TIERS; k++) {
        w->tier_den[k] = c->tier_base[k];
        w->tier_num[k] = c->tier_base[k] * c->tiers[k];
        w->tier_logbase[k] = log(c->tier_base[k]);
    }
    /* the mean of the daily shape, by the midpoint rule on 1-second steps */
    gope_ksum sum = {0, 0};
    for (int i = 0; i < 86400; i++)
        gope_ksum_add(&sum, gope_sim__rate_shape(c, i + 0.5));
    w->mean_shape = gope_ksum_value(&sum) / 86400.0;
}

#define ALLOC(ptr, n)                                     \
    do {                                                  \
        (ptr) = calloc((size_t)(n), sizeof *(ptr));           \
        if (!(ptr))                                       \
            goto nomem;                                   \
    } while (0)

gope_status gope_sim_world_new(const gope_world_conf *conf, uint64_t seed,
                               gope_sim_world_t **out, gope_err *err)
{
    *out = NULL;
    gope_status st = gope_world_validate(conf, err);
    if (st != GOPE_OK)
        return st;
    gope_sim_world_t *w = calloc(1, sizeof *w);
    ranked *order = NULL;
    double *key = NULL;
    if (!w)
        return gope_err_set(err, GOPE_ERR_NOMEM, "world %s: out of memory", conf->name);
    w->conf = *conf;
    w->seed = seed;
    w->n_users = conf->n_users;
    w->n_streamers = conf->n_streamers;
    w->dim = conf->dim;
    const uint32_t nu = w->n_users, ns = w->n_streamers;
    ALLOC(w->wealth, nu);
    ALLOC(w->user_logit, nu);
    ALLOC(w->user_tier_a, nu);
    ALLOC(w->pref, (size_t)nu * w->dim);
    ALLOC(w->whale, nu);
    ALLOC(w->top01, nu);
    ALLOC(w->top1, nu);
    ALLOC(w->popularity, ns);
    ALLOC(w->streamer_logit, ns);
    ALLOC(w->noise_sd, ns);
    ALLOC(w->noise_bias, ns);
    ALLOC(w->sigma_ratio, ns);
    ALLOC(w->content, (size_t)ns * w->dim);
    ALLOC(w->capacity, ns);
    ALLOC(w->cold_start, ns);
    ALLOC(w->head, ns);
    ALLOC(order, nu > ns ? nu : ns);
    ALLOC(key, ns);
    build_users(w, order);
    build_streamers(w, order, key);
    build_tables(w);
    if (!build_pair_tables(w))
        goto nomem;
    free(order);
    free(key);
    *out = w;
    return GOPE_OK;
nomem:
    free(order);
    free(key);
    gope_sim_world_free(w);
    return gope_err_set(err, GOPE_ERR_NOMEM, "world %s: out of memory (%u users, %u streamers)",
                        conf->name, conf->n_users, conf->n_streamers);
}

void gope_sim_world_free(gope_sim_world_t *w)
{
    if (!w)
        return;
    free(w->wealth);
    free(w->user_logit);
    free(w->user_tier_a);
    free(w->pref);
    free(w->whale);
    free(w->top01);
    free(w->top1);
    free(w->popularity);
    free(w->streamer_logit);
    free(w->noise_sd);
    free(w->noise_bias);
    free(w->sigma_ratio);
    free(w->noise_mult);
    free(w->pair_ev0);
    free(w->content);
    free(w->capacity);
    free(w->cold_start);
    free(w->head);
    free(w);
}

const gope_world_conf *gope_sim_world_conf(const gope_sim_world_t *w) { return &w->conf; }

uint64_t gope_sim_world_seed(const gope_sim_world_t *w) { return w->seed; }

void gope_sim_world_get(const gope_sim_world_t *w, gope_sim_world_view *v)
{
    *v = (gope_sim_world_view){
        .n_users = w->n_users,
        .n_streamers = w->n_streamers,
        .wealth = w->wealth,
        .whale = w->whale,
        .top01 = w->top01,
        .top1 = w->top1,
        .popularity = w->popularity,
        .capacity = w->capacity,
        .cold_start = w->cold_start,
        .head = w->head,
    };
}
