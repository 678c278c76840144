/*
 * alloc_int.h — internals shared by the stateful allocators
 * (alloc_shadow.c, alloc_whale.c, alloc_freqcap.c) and their registry
 * (alloc_registry.c); docs/allocators.md describes the allocators.
 *
 * Each allocator kind is a const table (Fluent Bit's plugin shape): its
 * name, the options its spec string accepts — a config table (key, type,
 * offset in the kind's conf struct, range) that drives the parsing of
 * "name:key=value,..." — its defaults, and a constructor taking the filled
 * conf. The registry parses a spec once against the table, so the three
 * allocators share one parser and one set of error messages.
 *
 * Running a policy on a subset of the candidates (the whale allocator's
 * normal layer: rooms with room left; the frequency cap's fallback) goes
 * through the policy library on a compacted copy of the event, so ties and
 * selection rules are the library's own, not a second implementation.
 */
#ifndef GOPE_SIM_ALLOC_INT_H
#define GOPE_SIM_ALLOC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_sim.h"

/* ------------------------------------------------------------- options */

typedef enum {
    GOPE_SIM__OPT_NUM,  /* double, finite, in [min, max] */
    GOPE_SIM__OPT_INT,  /* int64_t, an integer literal in [min, max] */
    GOPE_SIM__OPT_NAME, /* char[GOPE_SIM__NAME_MAX + 1], a policy name */
} gope_sim__opt_type;

#define GOPE_SIM__NAME_MAX 64 /* as the policy library's names */
#define GOPE_SIM__CONF_MAX 256 /* bytes: room for any kind's conf struct */

typedef struct {
    const char *key;
    gope_sim__opt_type type;
    size_t offset; /* offsetof the field in the kind's conf struct */
    double min, max; /* inclusive; ignored for names */
} gope_sim__opt;

/* One kind of stateful allocator. `create` receives a conf struct
 * (conf_size bytes, starting from `defaults`, then the spec's options) and
 * builds the allocator: GOPE_OK and *out; GOPE_ERR_USAGE naming the key
 * for a value the ranges cannot express (e.g. an initial price above
 * lambda_max, an unknown base policy); GOPE_ERR_NOMEM. */
typedef struct {
    const char *name;
    const gope_sim__opt *opts;
    size_t n_opts;
    const void *defaults;
    size_t conf_size;
    gope_status (*create)(const void *conf, const gope_policy_set_t *set,
                          const gope_sim_world_t *w, gope_sim_allocator *out, gope_err *err);
} gope_sim__alloc_kind;

extern const gope_sim__alloc_kind gope_sim__shadow_kind;
extern const gope_sim__alloc_kind gope_sim__whale_kind;
extern const gope_sim__alloc_kind gope_sim__freqcap_kind;

/* The most candidates a decision in `w` can have (the engine's recall k, or
 * every streamer). */
size_t gope_sim__max_candidates(const gope_sim_world_t *w);

/* Index of the policy called `name` in `set`; false when there is none. */
bool gope_sim__policy_index(const gope_policy_set_t *set, const char *name, size_t *index);

/* What frequency_cap counted in the current run (since its round 0). */
typedef struct {
    uint64_t all_masked; /* decisions where every candidate was masked */
    uint64_t untracked;  /* allocations not recorded: the pair table could not grow */
} gope_sim__freqcap_stats_t;

/* The counters of a frequency_cap allocator; zeros for any other. */
void gope_sim__freqcap_stats(const gope_sim_allocator *alloc, gope_sim__freqcap_stats_t *out);

/* ------------------------------------------------- a policy on a subset */

typedef struct {
    size_t cap;            /* candidates the arrays hold */
    bool *keep;            /* in: the caller marks the allowed candidates */
    gope_candidate *cand;  /* the compacted candidates */
    uint32_t *index;       /* compacted -> original index */
    double *pi, *scratch;  /* pi and score scratch on the subset */
} gope_sim__subset;

/* Arrays for up to `cap` candidates. @return GOPE_OK; GOPE_ERR_NOMEM (and
 * *s left freeable). */
gope_status gope_sim__subset_init(gope_sim__subset *s, size_t cap);
void gope_sim__subset_free(gope_sim__subset *s);

/* pi (ev->n_candidates entries) = policy `i` of `set` evaluated on the event
 * restricted to the candidates with s->keep[j], 0 elsewhere; with no
 * candidate kept, the policy on the whole event. Allocates nothing. */
void gope_sim__subset_probs(gope_sim__subset *s, const gope_policy_set_t *set, size_t i,
                            const gope_event *ev, double *pi);

#endif
