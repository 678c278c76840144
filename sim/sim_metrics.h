/*
 * sim_metrics.h — the per-run metrics of the evaluation protocol (issue 3,
 * section 4), accumulated from the simulator's per-decision outcomes
 * (internal to the sim library).
 *
 * Introduction
 *   One accumulator per simulated run (one policy, one seed). The engine
 *   hands it every gope_sim_outcome (sim_outcome.h) in decision order;
 *   gope_metrics_finish() turns the sums into one gope_sim_metrics: revenue,
 *   concentration (Gini, top-share, whale capture), ecosystem (head share,
 *   cold start, coverage), constraints (overload, crowding, capacity
 *   violations), risk (CVaR@5% and variance of per-round revenue) and the
 *   experience proxies. docs/metrics.md defines every value exactly; the
 *   variation across seeds is the multi-seed aggregator's job, not this one.
 *
 *   Memory: O(n_users + n_streamers) allocated once in gope_metrics_new(),
 *   plus two arrays that grow geometrically (amortised O(1) per add): one
 *   revenue sum per round and one amount per gift (the amount percentiles
 *   are exact, so every positive reward is kept; gifts are ~1% of decisions).
 *
 *   Errors are sticky: the first failure in gope_metrics_add() (out of memory,
 *   an index outside the world, a decreasing round, a non-finite or negative
 *   value) is kept with its message, later adds are ignored, and
 *   gope_metrics_add() and gope_metrics_finish() both return it. So an
 *   outcome callback may stop the run at the first error, or ignore the
 *   return value and check once at the end.
 *
 *   Generic access: gope_metrics_names() / gope_metrics_value() enumerate
 *   every field of gope_sim_metrics in one fixed order (the JSON order), so
 *   the multi-seed aggregator needs no per-metric code.
 *
 * Usage
 *   gope_metrics_conf c; gope_metrics_conf_init(&c, n_users, n_streamers);
 *   c.user_top01 = ...; c.user_top1 = ...; c.streamer_cold = ...; ...
 *   gope_metrics_t *m = gope_metrics_new(&c);      (NULL: out of memory)
 *   for each decision: gope_metrics_add(m, &outcome);
 *   gope_sim_metrics out; gope_metrics_finish(m, &out, &err);
 *   gope_metrics_json(&out, &jbuf); gope_metrics_free(m);
 */
#ifndef GOPE_SIM_METRICS_H
#define GOPE_SIM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"
#include "jsonbuf.h"
#include "sim_outcome.h"

/* Defaults of the two thresholds (docs/metrics.md). */
#define GOPE_METRICS_CROWDED_BELOW 0.9 /* externality below this = crowded */
#define GOPE_METRICS_RETURN_MATCH 0.3  /* best match at least this = returns */

/* What the accumulator needs to know about the world. The arrays are read
 * only inside gope_metrics_new() (their flags are copied); NULL means "no
 * such users / streamers" (all false). */
typedef struct {
    uint32_t n_users, n_streamers;
    const bool *user_top01;    /* n_users: user in the top 0.1% by wealth */
    const bool *user_top1;     /* n_users: user in the top 1% by wealth */
    const bool *streamer_cold; /* n_streamers: cold-start (new) streamer */
    const bool *streamer_head; /* n_streamers: head streamer */
    double crowded_below;      /* a decision with externality < this is crowded */
    double return_match;       /* a user whose best match >= this returns */
} gope_metrics_conf;

/* One metric value; `ok` false = undefined (written as JSON null, v = 0). */
typedef struct {
    double v;
    bool ok;
} gope_mval;

/* The metrics of one run; docs/metrics.md has the exact definitions and
 * when each value is undefined. Counts are always defined; a value that
 * would be inf or NaN (a revenue sum overflowing) is undefined. */
typedef struct {
    /* volume */
    uint64_t decisions, gifts, users_seen, rounds;
    gope_mval total_revenue; /* 0 without decisions; undefined only on overflow */
    gope_mval revenue_per_decision, revenue_per_user, gift_rate;
    /* gift amounts (positive rewards), numpy linear percentiles */
    gope_mval amount_p50, amount_p90, amount_p99, amount_mean;
    /* concentration over users */
    gope_mval top01_capture, top1_capture, user_gini_payers, top1_user_share;
    /* ecosystem */
    gope_mval streamer_gini_all, streamer_gini_payers, head_share, head_revenue_share;
    gope_mval cold_start_success_rate, cold_start_coverage, coverage,
        streamers_without_gift_frac;
    /* constraints */
    gope_mval overload_rate, crowding_rate;
    uint64_t capacity_violations;
    /* risk, over the per-round revenue series */
    gope_mval cvar05, round_revenue_var;
    /* experience proxies and checks */
    gope_mval dwell_proxy, return_proxy, v_static_mean, true_ev_mean;
} gope_sim_metrics;

typedef struct gope_metrics_s gope_metrics_t;

/*! gope_metrics_conf_init() : zero `c`, set the world sizes and the default
 * thresholds (GOPE_METRICS_CROWDED_BELOW, GOPE_METRICS_RETURN_MATCH). */
void gope_metrics_conf_init(gope_metrics_conf *c, uint32_t n_users, uint32_t n_streamers);

/*! gope_metrics_new() : an empty accumulator for one run in the world `conf`
 * describes. Copies what it needs; `conf` and its arrays may be freed after.
 * @return the accumulator, or NULL when out of memory. */
gope_metrics_t *gope_metrics_new(const gope_metrics_conf *conf);

/*! gope_metrics_add() : account one decision. Rounds must arrive in
 * non-decreasing order (decisions of a round together); `o->user` and
 * `o->streamer` must be inside the world; reward, match, externality,
 * true_ev and v_static must be finite, reward >= 0. O(1) amortised; allocates
 * only to grow the per-round and per-gift arrays.
 * @return GOPE_OK, or the run's first error, which is sticky (later adds do
 *         nothing and return it; gope_metrics_finish() reports it):
 *         GOPE_ERR_NOMEM, or GOPE_ERR_INPUT for a bad outcome. */
gope_status gope_metrics_add(gope_metrics_t *m, const gope_sim_outcome *o);

/*! gope_metrics_finish() : compute the metrics of everything added so far
 * into `*out`. Does not end the run: more adds and finishes may follow.
 * @return GOPE_OK; the sticky error of gope_metrics_add() with its message
 *         (naming the decision and field) in `err`; or GOPE_ERR_NOMEM when
 *         the scratch space for sorting cannot be allocated. `*out` is only
 *         written on GOPE_OK. */
gope_status gope_metrics_finish(gope_metrics_t *m, gope_sim_metrics *out, gope_err *err);

/*! gope_metrics_free() : release `m`; NULL does nothing. */
void gope_metrics_free(gope_metrics_t *m);

/*! gope_metrics_names() : the names of every gope_sim_metrics value, in the
 * JSON order; `*n` receives the count. The array is static. */
const char *const *gope_metrics_names(size_t *n);

/*! gope_metrics_value() : value `i` (index into gope_metrics_names()) of `m`;
 * counts are converted to double. `*defined` (may be NULL) receives whether
 * it is defined. @return the value, 0 when undefined or `i` out of range. */
double gope_metrics_value(const gope_sim_metrics *m, size_t i, bool *defined);

/*! gope_metrics_is_count() : is value `i` an integer count (always defined,
 * written as a JSON integer)? false when `i` is out of range. */
bool gope_metrics_is_count(size_t i);

/*! gope_metrics_json() : append `m` as one JSON object
 * {"decisions":N,...,"cvar05":x|null,...} to `b`, keys in the order of
 * gope_metrics_names(), numbers round-trip exact, undefined values null.
 * Allocation failure shows as b->oom (see jsonbuf.h). */
void gope_metrics_json(const gope_sim_metrics *m, gope_jbuf *b);

#endif /* GOPE_SIM_METRICS_H */
