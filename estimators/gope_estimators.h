/*
 * gope_estimators.h — off-policy value estimators over mergeable sums.
 *
 * Introduction
 *   For one target policy and one logged event i the pipeline forms an
 *   observation (gope_obs): w = pi(action)/propensity, r = reward,
 *   q = ev of the logged action, v = sum_j pi_j ev_j. Each estimator
 *   (ips, ips_clip, snips, dm, dr, sndr, switch_dr, dr_os, logged, and
 *   snips_lift = snips - logged) is one
 *   type: a const table of operations that adds an observation to its
 *   slice of compensated sums (sums that several types need, such as sum w,
 *   are kept once and shared) and turns the sums into a value, a standard
 *   error and a 95% interval. Definitions follow Open Bandit Pipeline; the
 *   formulas are in docs/estimators.md.
 *
 *   Everything an estimator keeps is a sum, so accumulators are mergeable:
 *   merging the accumulators of two halves of a stream gives the estimates of
 *   one pass. The window engine keeps one accumulator per (pane, policy) and
 *   merges panes when a window closes.
 *
 * Usage
 *   gope_estset_t *set; gope_estset_parse("snips,ips_clip:lambda=50", &set, &err);
 *   gope_acc *a = malloc(gope_acc_size(set)); gope_acc_init(set, a);
 *   gope_acc_add(set, a, &obs); ...
 *   gope_result *res = gope_result_new(set); gope_acc_result(set, a, res);
 */
#ifndef GOPE_ESTIMATORS_H
#define GOPE_ESTIMATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"

/* 97.5% quantile of the standard normal: CI = value -/+ z * stderr. */
#define GOPE_Z95 1.959963984540054

/* Size of the heavy-tail diagnostic: share of sum(w r) in the top terms. */
#define GOPE_TOPK 10

/* One logged event as seen by one target policy. */
typedef struct {
    double w; /* importance weight pi(action) / propensity, >= 0 */
    double r; /* reward, >= 0 */
    double q; /* ev of the logged action */
    double v; /* sum_j pi_j * ev_j */
} gope_obs;

/* One estimate. `value_ok`/`se_ok` are false where the quantity is undefined
 * (then the number fields are 0 and must be written as JSON null). */
typedef struct {
    double value, se, ci_low, ci_high;
    bool value_ok, se_ok;
} gope_estimate;

typedef struct {
    uint64_t n;
    double sum_w, mean_w, ess, max_w, zero_w_frac, top10_share;
    bool mean_w_ok, ess_ok, top10_ok; /* n > 0, sum w^2 > 0, sum w r > 0 */
} gope_diagnostics;

/* Why an estimate is undefined; bits of gope_result.warn_bits. */
enum {
    GOPE_W_SUM_W_ZERO = 1u << 0,   /* sum w = 0: snips and sndr undefined */
    GOPE_W_N_LT_2 = 1u << 1,       /* n < 2: no stderr */
    GOPE_W_SUM_W2_ZERO = 1u << 2,  /* sum w^2 = 0: no ess */
    GOPE_W_SUM_WR_ZERO = 1u << 3,  /* sum w r = 0: no top10_share */
    GOPE_W_NONFINITE = 1u << 4,    /* a sum overflowed: affected values null */
};

/* ------------------------------------------------------------ estimator types */

struct gope_estimator_ops;

/* A configured estimator: its type plus its parameter. */
typedef struct {
    const struct gope_estimator_ops *ops;
    double lambda; /* clipping / switching / shrinkage threshold, if used */
} gope_estimator_conf;

/* The sums that several estimator types keep (and the diagnostics: w and
 * x always). An accumulator keeps each one its set needs once, and every
 * estimator whose slice lists it reads that copy; the quadratic ones are
 * added exactly (their products' rounding errors are kept). */
typedef enum {
    GOPE_SUM_W = 0, /* w */
    GOPE_SUM_X,     /* x = w r */
    GOPE_SUM_R,     /* r */
    GOPE_SUM_V,     /* v */
    GOPE_SUM_WW,    /* w^2 */
    GOPE_SUM_WX,    /* w x */
    GOPE_SUM_XX,    /* x^2 */
    GOPE_SUM_RR,    /* r^2 */
    GOPE_SUM_VV,    /* v^2 */
    GOPE_SUM_SHARED,               /* how many there are */
    GOPE_SUM_OWN = GOPE_SUM_SHARED /* a sum that only its estimator keeps */
} gope_sum_id;

/* The operations every estimator type provides. An estimator's slice is
 * n_sums compensated sums; layout[k] says which shared sum slice sum k is,
 * or GOPE_SUM_OWN. `add` adds an observation to the own sums only (`own`
 * holds them in slice order) and is NULL when there are none. `result` reads
 * the whole slice. Merging is the same for all types (sums add), so it is
 * not per type. */
typedef struct gope_estimator_ops {
    const char *name;      /* "snips", stable, used in output */
    size_t n_sums;         /* sums in its slice (and in the saved form) */
    const uint8_t *layout; /* n_sums gope_sum_id */
    bool has_lambda;       /* accepts ":lambda=X" */
    double default_lambda; /* when has_lambda */
    void (*add)(const gope_estimator_conf *conf, gope_ksum *own, const gope_obs *o);
    /* `n` events were added; fills `out` (value, se, CI and the _ok flags) and
     * ORs GOPE_W_* bits explaining undefined parts into *warn. */
    void (*result)(const gope_estimator_conf *conf, const gope_ksum *sums,
                   uint64_t n, gope_estimate *out, unsigned *warn);
} gope_estimator_ops;

/*! gope_estimator_find() : the type named `name`, or NULL. */
const gope_estimator_ops *gope_estimator_find(const char *name);

/*! gope_estimator_all() : every type, in output order; *count receives the
 * number. ips, ips_clip, snips, dm, dr, sndr, switch_dr, dr_os, logged,
 * snips_lift. */
const gope_estimator_ops *const *gope_estimator_all(size_t *count);

/* ------------------------------------------------------------ estimator sets */

typedef struct gope_estset_s gope_estset_t;

/*! gope_estset_parse() : build a set from a spec such as
 * "snips,dr,ips_clip:lambda=50" (NULL or "all" = every type with defaults).
 * `logged` is always included (every record reports the baseline).
 * @return GOPE_OK and *out; GOPE_ERR_USAGE naming the bad item (unknown name,
 *         bad or non-positive lambda, lambda on a type without one, a
 *         duplicate); GOPE_ERR_NOMEM. */
gope_status gope_estset_parse(const char *spec, gope_estset_t **out, gope_err *err);

/*! gope_estset_free() : NULL does nothing. */
void gope_estset_free(gope_estset_t *set);

/*! gope_estset_count() / gope_estset_get() : the configured estimators in
 * output order. */
size_t gope_estset_count(const gope_estset_t *set);
const gope_estimator_conf *gope_estset_get(const gope_estset_t *set, size_t i);

/*! gope_estset_describe() : "ips,ips_clip:lambda=100,..." for run summaries.
 * @return the length that was needed (like snprintf). */
size_t gope_estset_describe(const gope_estset_t *set, char *buf, size_t size);

/* ------------------------------------------------------------ accumulators */

/* A mergeable accumulator for one (window pane, policy). Its size depends on
 * the set (gope_acc_size); treat the contents as private. */
typedef struct gope_acc gope_acc;

/*! gope_acc_size() : bytes of one accumulator for `set`. */
size_t gope_acc_size(const gope_estset_t *set);

/*! gope_acc_init() : empty accumulator (n = 0) in caller memory of
 * gope_acc_size(set) bytes, aligned for double. */
void gope_acc_init(const gope_estset_t *set, gope_acc *acc);

/*! gope_acc_add() : add one observation. */
void gope_acc_add(const gope_estset_t *set, gope_acc *acc, const gope_obs *o);

/*! gope_acc_merge() : into += from (both of the same set). Exact up to
 * compensated-summation rounding; associative and commutative in effect. */
void gope_acc_merge(const gope_estset_t *set, gope_acc *into, const gope_acc *from);

/*! gope_acc_n() : events added so far. */
uint64_t gope_acc_n(const gope_acc *acc);

/*! gope_acc_words() : length, in 64-bit words, of an accumulator's saved form
 * for `set` (gope_acc_save). */
size_t gope_acc_words(const gope_estset_t *set);

/*! gope_acc_save() : write `acc` into `words` (gope_acc_words(set) of them):
 * counts as integers, every double as its IEEE-754 bits, so that
 * gope_acc_load gives back the same accumulator bit for bit (checkpoints).
 * Turning the words into bytes (endianness) is the caller's job. */
void gope_acc_save(const gope_estset_t *set, const gope_acc *acc, uint64_t *words);

/*! gope_acc_load() : the accumulator saved by gope_acc_save with the same
 * set, into caller memory as for gope_acc_init.
 * @return true; false when the words cannot come from gope_acc_save (more
 *         zero-weight events than events, a top list that is too long, not
 *         positive or not descending, a negative or NaN max_w): `acc` is then
 *         not usable. */
bool gope_acc_load(const gope_estset_t *set, gope_acc *acc, const uint64_t *words);

/* Results of one accumulator: estimates[i] for gope_estset_get(set, i). */
typedef struct {
    size_t count;
    gope_estimate *estimates;
    gope_diagnostics diag;
    unsigned warn_bits; /* GOPE_W_* */
} gope_result;

/*! gope_result_new() : room for the estimates of `set`; NULL when out of
 * memory. gope_result_free(NULL) does nothing. */
gope_result *gope_result_new(const gope_estset_t *set);
void gope_result_free(gope_result *res);

/*! gope_acc_result() : compute every estimate and the diagnostics. */
void gope_acc_result(const gope_estset_t *set, const gope_acc *acc, gope_result *res);

/*! gope_warning_text() : a sentence for one GOPE_W_* bit, for output. */
const char *gope_warning_text(unsigned bit);

#endif /* GOPE_ESTIMATORS_H */
