/*
 * alloc_whale.c — whale_matching: a round's whales placed first by exact
 * maximum-weight b-matching, everyone else greedily (docs/allocators.md).
 *
 * At the start of a round its users are known. Its whales (the world's
 * whale set) are the rows, every streamer a column with room for k whales,
 * and the weight of (whale u, streamer s) is the platform's MODEL ev of u
 * in s's room as the allocator knows it: N_s = the big gifts it has seen
 * (observe()), load 1 (the whale alone), i.e. gope_sim_model_ev of
 * gope_sim_true_ev at that room — the same noisy estimate the log shows,
 * never the truth itself. sim/bmatch.h solves it exactly. A whale whose
 * matched streamer is among its candidates goes there (pi one-hot);
 * everyone else, and a whale whose streamer the recall stage left out,
 * gets the policy library's greedy over the candidates whose room is below
 * capacity (load as the event shows it: in round sessions the round's
 * load), or over all candidates when every room is full.
 *
 * Should a round hold more whales than k * n_streamers places, a dummy
 * column of weight 0 takes exactly the excess, and those whales are
 * allocated like everyone else.
 *
 * The research WhaleMatchingPolicy differed: its "min_cost_flow_matching"
 * was a placeholder calling a greedy b-matching (edges sorted by EV), and
 * with whales = the top 1% of users (about 2 per round of 200) k never
 * bound, so every k gave the same result. Here the matching is exact, and
 * world.v1's users.whale_frac sets how many whales a round holds, which is
 * what makes k bind.
 *
 * Memory: the weight matrix is (whales per round) x (streamers + 1)
 * doubles, allocated once; a solve costs O(whales^2 * streamers) per round.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_int.h"
#include "bmatch.h"
#include "sim_int.h"

typedef struct {
    int64_t k;
} whale_conf;

_Static_assert(sizeof(whale_conf) <= GOPE_SIM__CONF_MAX, "conf buffer");

static const whale_conf whale_defaults = {.k = 2};

static const gope_sim__opt whale_opts[] = {
    {"k", GOPE_SIM__OPT_INT, offsetof(whale_conf, k), 1, 1000000},
};

typedef struct {
    int64_t k;
    uint32_t n_streamers;
    size_t max_rows;        /* whales a round can hold */
    int64_t *big_gifts;     /* n_streamers: N_s as observed */
    /* this round's whale layer */
    uint32_t *whale_user;   /* max_rows */
    int32_t *assign;        /* max_rows: column, n_streamers = the dummy */
    size_t n_whales;
    double *weight;         /* max_rows x (n_streamers + 1) */
    int64_t *cap;           /* n_streamers + 1 */
    gope_bmatch_t *bm;
    /* the normal layer */
    gope_policy_set_t *greedy;
    gope_sim__subset sub;
} whale_alloc;

/* Rows = the round's whales; weights = model ev at (N_s observed, load 1). */
static void match_round(whale_alloc *a, const gope_sim_world_t *w, const uint32_t *users,
                        uint32_t n_users)
{
    const uint32_t ns = a->n_streamers;
    const size_t cols = (size_t)ns + 1;
    a->n_whales = 0;
    for (uint32_t i = 0; i < n_users && a->n_whales < a->max_rows; i++)
        if (w->whale[users[i]])
            a->whale_user[a->n_whales++] = users[i];
    if (a->n_whales == 0)
        return;
    for (size_t r = 0; r < a->n_whales; r++) {
        double *row = a->weight + r * cols;
        for (uint32_t s = 0; s < ns; s++) {
            const gope_sim_room room = {a->big_gifts[s], 1};
            double sigma;
            row[s] = gope_sim_model_ev(w, a->whale_user[r], s,
                                       gope_sim_true_ev(w, a->whale_user[r], s, &room), &sigma);
        }
        row[ns] = 0;
    }
    for (uint32_t s = 0; s < ns; s++)
        a->cap[s] = a->k;
    /* the dummy column: only what k * ns places cannot hold (k <= 1e6) */
    const int64_t places = a->k * (int64_t)ns, whales = (int64_t)a->n_whales;
    a->cap[ns] = whales > places ? whales - places : 0;
    double total;
    gope_err err;
    if (gope_bmatch_solve(a->bm, a->n_whales, cols, a->weight, a->cap, a->assign, &total, &err) !=
        GOPE_OK)
        a->n_whales = 0; /* cannot happen: finite weights, enough room; no whale layer then */
}

static void whale_begin_round(void *state, const gope_sim_world_t *w, uint32_t round,
                              const uint32_t *users, uint32_t n_users)
{
    whale_alloc *a = state;
    if (round == 0) /* a new run: no big gifts seen yet */
        memset(a->big_gifts, 0, a->n_streamers * sizeof *a->big_gifts);
    match_round(a, w, users, n_users);
}

/* The candidate index of this whale's matched streamer, or SIZE_MAX. */
static size_t matched(const whale_alloc *a, const gope_sim_decision *d)
{
    for (size_t r = 0; r < a->n_whales; r++) {
        if (a->whale_user[r] != d->user)
            continue;
        for (size_t j = 0; j < d->event->n_candidates; j++)
            if ((int64_t)d->streamers[j] == a->assign[r])
                return j;
        return SIZE_MAX; /* on the dummy column, or left out by recall */
    }
    return SIZE_MAX;
}

static size_t whale_decide(void *state, const gope_sim_decision *d, double *pi, bool *certain)
{
    whale_alloc *a = state;
    const gope_event *ev = d->event;
    const size_t n = ev->n_candidates;
    const size_t m = d->world->whale[d->user] ? matched(a, d) : SIZE_MAX;
    if (m != SIZE_MAX) {
        for (size_t j = 0; j < n; j++)
            pi[j] = j == m;
        *certain = true;
        return m;
    }
    for (size_t j = 0; j < n; j++) {
        const gope_candidate *c = &ev->candidates[j];
        a->sub.keep[j] = c->capacity == 0 || c->load < c->capacity;
    }
    gope_sim__subset_probs(&a->sub, a->greedy, 0, ev, pi);
    return gope_sim_sample(pi, n, d->u_action);
}

static void whale_observe(void *state, const gope_sim_decision *d, const gope_sim_outcome *o)
{
    whale_alloc *a = state;
    a->big_gifts[o->streamer] += o->reward > d->world->conf.big_gift;
}

static void whale_free(void *state)
{
    whale_alloc *a = state;
    if (!a)
        return;
    free(a->big_gifts);
    free(a->whale_user);
    free(a->assign);
    free(a->weight);
    free(a->cap);
    gope_bmatch_free(a->bm);
    gope_policies_free(a->greedy);
    gope_sim__subset_free(&a->sub);
    free(a);
}

static const gope_sim_allocator_ops whale_ops = {
    .kind = "whale_matching",
    .begin_round = whale_begin_round,
    .decide = whale_decide,
    .observe = whale_observe,
    .free = whale_free,
};

static gope_status whale_create(const void *conf, const gope_policy_set_t *set,
                                const gope_sim_world_t *w, gope_sim_allocator *out,
                                gope_err *err)
{
    (void)set;
    static const char greedy_json[] = "[{\"name\": \"greedy\", \"select\": \"greedy\"}]";
    const uint32_t ns = w->n_streamers;
    const size_t cols = (size_t)ns + 1;
    whale_alloc *a = calloc(1, sizeof *a);
    if (!a)
        goto nomem;
    a->k = ((const whale_conf *)conf)->k;
    a->n_streamers = ns;
    size_t whales = 0;
    for (uint32_t u = 0; u < w->n_users; u++)
        whales += w->whale[u];
    a->max_rows = whales < w->conf.round_users ? whales : w->conf.round_users;
    const size_t rows = a->max_rows ? a->max_rows : 1;
    if (rows > SIZE_MAX / sizeof(double) / cols)
        goto nomem;
    a->big_gifts = calloc(ns, sizeof *a->big_gifts);
    a->whale_user = malloc(rows * sizeof *a->whale_user);
    a->assign = malloc(rows * sizeof *a->assign);
    a->weight = malloc(rows * cols * sizeof *a->weight);
    a->cap = malloc(cols * sizeof *a->cap);
    a->bm = gope_bmatch_new(a->max_rows, cols);
    if (!a->big_gifts || !a->whale_user || !a->assign || !a->weight || !a->cap || !a->bm ||
        gope_sim__subset_init(&a->sub, gope_sim__max_candidates(w)) != GOPE_OK)
        goto nomem;
    gope_status st =
        gope_policies_parse(greedy_json, sizeof greedy_json - 1, "whale_matching", &a->greedy, err);
    if (st != GOPE_OK) { /* the JSON is ours and valid: only NOMEM is possible */
        whale_free(a);
        return st;
    }
    *out = (gope_sim_allocator){&whale_ops, a, whale_ops.kind};
    return GOPE_OK;
nomem:
    whale_free(a);
    return gope_err_set(err, GOPE_ERR_NOMEM,
                        "allocator whale_matching: out of memory (%u streamers)", ns);
}

const gope_sim__alloc_kind gope_sim__whale_kind = {
    .name = "whale_matching",
    .opts = whale_opts,
    .n_opts = sizeof whale_opts / sizeof whale_opts[0],
    .defaults = &whale_defaults,
    .conf_size = sizeof(whale_conf),
    .create = whale_create,
};
