/*
 * alloc_freqcap.c — frequency_cap: a policy of the set with a cap on how
 * often one user is sent to one streamer, and a cooldown between two such
 * allocations (docs/allocators.md).
 *
 * A candidate is masked for user u when the pair (u, s) has already been
 * allocated `cap` times in this run, or its last allocation is less than
 * `cooldown` seconds of event time ago. pi is the base policy's pi with the
 * masked candidates set to 0 and renormalised (compensated sum), so for a
 * softmax or uniform base it is the base policy on the allowed candidates.
 * Two edge cases:
 *   - every candidate masked: the base pi unchanged (nothing else to
 *     offer; counted as all_masked);
 *   - the base put no mass on the allowed candidates (a greedy base whose
 *     top candidate is capped): renormalising would be 0/0, so pi is the
 *     base policy evaluated on the allowed candidates alone (the next best,
 *     for greedy).
 * When nothing is masked pi is the base pi bit for bit.
 *
 * The pair history is an open-addressing hash table (linear probing, power
 * of two slots, doubled when more than half full) from (user, streamer) to
 * (count, last ts). The allocator interface gives observe() no way to
 * report an error, so a failed doubling does not stop the run: the table
 * keeps filling up to its last free slot (lookups stay finite), and
 * allocations it cannot record are counted as untracked
 * (gope_sim__freqcap_stats) — in that case a pair may exceed its cap.
 *
 * The research GreedyWithRules had a soft version (score - 0.3 once a pair
 * reached 3 allocations) and no cooldown. The OPE counterpart here is the
 * base policy: the cap depends on history the log does not carry.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_int.h"
#include "sim_int.h"

typedef struct {
    int64_t cap;
    double cooldown; /* seconds of event time */
    char base[GOPE_SIM__NAME_MAX + 1];
} freqcap_conf;

_Static_assert(sizeof(freqcap_conf) <= GOPE_SIM__CONF_MAX, "conf buffer");

static const freqcap_conf freqcap_defaults = {.cap = 3, .cooldown = 600, .base = "greedy"};

static const gope_sim__opt freqcap_opts[] = {
    {"cap", GOPE_SIM__OPT_INT, offsetof(freqcap_conf, cap), 1, 4294967295.0},
    {"cooldown", GOPE_SIM__OPT_NUM, offsetof(freqcap_conf, cooldown), 0, 1e12},
    {"base", GOPE_SIM__OPT_NAME, offsetof(freqcap_conf, base), 0, 0},
};

#define MIN_SLOTS 64

typedef struct {
    uint64_t key;    /* user << 32 | streamer */
    int64_t last_ts; /* epoch ms of the last allocation */
    uint32_t count;  /* allocations so far; 0 = empty slot */
} pair_slot;

typedef struct {
    int64_t cap;
    double cooldown_ms;
    const gope_policy_set_t *set;
    size_t base;
    pair_slot *slots;
    size_t n_slots, n_pairs;
    gope_sim__freqcap_stats_t stats;
    gope_sim__subset sub;
} freqcap_alloc;

/* The slot holding `key`, or the empty slot where it would go. There is
 * always an empty slot, so the probe ends. */
static pair_slot *find(pair_slot *slots, size_t n_slots, uint64_t key)
{
    size_t i = (size_t)gope_sim__mix64(key) & (n_slots - 1);
    while (slots[i].count != 0 && slots[i].key != key)
        i = (i + 1) & (n_slots - 1);
    return &slots[i];
}

static bool grow(freqcap_alloc *a)
{
    const size_t n = a->n_slots * 2;
    pair_slot *slots = n > SIZE_MAX / sizeof *slots ? NULL : calloc(n, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < a->n_slots; i++)
        if (a->slots[i].count != 0)
            *find(slots, n, a->slots[i].key) = a->slots[i];
    free(a->slots);
    a->slots = slots;
    a->n_slots = n;
    return true;
}

static uint64_t pair_key(uint32_t user, uint32_t streamer)
{
    return (uint64_t)user << 32 | streamer;
}

static void freqcap_begin_round(void *state, const gope_sim_world_t *w, uint32_t round,
                                const uint32_t *users, uint32_t n_users)
{
    (void)w, (void)users, (void)n_users;
    freqcap_alloc *a = state;
    if (round != 0)
        return;
    /* a new run: no history */
    memset(a->slots, 0, a->n_slots * sizeof *a->slots);
    a->n_pairs = 0;
    a->stats = (gope_sim__freqcap_stats_t){0};
}

static bool allowed(const freqcap_alloc *a, uint32_t user, uint32_t streamer, int64_t ts)
{
    const pair_slot *p = find(a->slots, a->n_slots, pair_key(user, streamer));
    return p->count == 0 ||
           (p->count < a->cap && (double)(ts - p->last_ts) >= a->cooldown_ms);
}

static size_t freqcap_decide(void *state, const gope_sim_decision *d, double *pi, bool *certain)
{
    freqcap_alloc *a = state;
    const gope_event *ev = d->event;
    const size_t n = ev->n_candidates;
    const size_t top = gope_policy_probs(a->set, a->base, ev, pi, a->sub.scratch);
    size_t masked = 0;
    for (size_t j = 0; j < n; j++) {
        a->sub.keep[j] = allowed(a, d->user, d->streamers[j], ev->ts);
        masked += !a->sub.keep[j];
    }
    if (masked == n)
        a->stats.all_masked++;
    if (masked == 0 || masked == n)
        return gope_sim__sample_probs(pi, n, top, d->u_action, certain);
    gope_ksum sum = {0, 0};
    for (size_t j = 0; j < n; j++) {
        if (a->sub.keep[j])
            gope_ksum_add(&sum, pi[j]);
        else
            pi[j] = 0;
    }
    const double total = gope_ksum_value(&sum);
    if (total > 0)
        for (size_t j = 0; j < n; j++)
            pi[j] /= total;
    else
        gope_sim__subset_probs(&a->sub, a->set, a->base, ev, pi);
    return gope_sim_sample(pi, n, d->u_action);
}

/* Records the allocation; see the top comment for a table that cannot grow. */
static void freqcap_observe(void *state, const gope_sim_decision *d, const gope_sim_outcome *o)
{
    (void)d;
    freqcap_alloc *a = state;
    const uint64_t key = pair_key(o->user, o->streamer);
    pair_slot *p = find(a->slots, a->n_slots, key);
    if (p->count == 0) {
        if ((a->n_pairs + 1) * 2 > a->n_slots && grow(a))
            p = find(a->slots, a->n_slots, key);
        if (a->n_pairs + 1 >= a->n_slots) {
            a->stats.untracked++;
            return;
        }
        a->n_pairs++;
        p->key = key;
    }
    if (p->count < UINT32_MAX)
        p->count++;
    p->last_ts = o->ts;
}

static void freqcap_free(void *state)
{
    freqcap_alloc *a = state;
    if (!a)
        return;
    free(a->slots);
    gope_sim__subset_free(&a->sub);
    free(a);
}

static const gope_sim_allocator_ops freqcap_ops = {
    .kind = "frequency_cap",
    .begin_round = freqcap_begin_round,
    .decide = freqcap_decide,
    .observe = freqcap_observe,
    .free = freqcap_free,
};

void gope_sim__freqcap_stats(const gope_sim_allocator *alloc, gope_sim__freqcap_stats_t *out)
{
    *out = alloc->ops == &freqcap_ops ? ((const freqcap_alloc *)alloc->state)->stats
                                      : (gope_sim__freqcap_stats_t){0};
}

static gope_status freqcap_create(const void *conf, const gope_policy_set_t *set,
                                  const gope_sim_world_t *w, gope_sim_allocator *out,
                                  gope_err *err)
{
    const freqcap_conf *c = conf;
    size_t base;
    if (!gope_sim__policy_index(set, c->base, &base))
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "allocator frequency_cap: base: no policy \"%s\" in the policy set",
                            c->base);
    freqcap_alloc *a = calloc(1, sizeof *a);
    if (!a)
        goto nomem;
    a->cap = c->cap;
    a->cooldown_ms = c->cooldown * 1000.0;
    a->set = set;
    a->base = base;
    a->n_slots = MIN_SLOTS;
    a->slots = calloc(MIN_SLOTS, sizeof *a->slots);
    if (!a->slots || gope_sim__subset_init(&a->sub, gope_sim__max_candidates(w)) != GOPE_OK)
        goto nomem;
    *out = (gope_sim_allocator){&freqcap_ops, a, freqcap_ops.kind};
    return GOPE_OK;
nomem:
    freqcap_free(a);
    return gope_err_set(err, GOPE_ERR_NOMEM, "allocator frequency_cap: out of memory");
}

const gope_sim__alloc_kind gope_sim__freqcap_kind = {
    .name = "frequency_cap",
    .opts = freqcap_opts,
    .n_opts = sizeof freqcap_opts / sizeof freqcap_opts[0],
    .defaults = &freqcap_defaults,
    .conf_size = sizeof(freqcap_conf),
    .create = freqcap_create,
};
