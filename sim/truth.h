/*
 * truth.h — simulator ground truth for every policy: what `giftope truth`
 * computes (internal to the sim library and its CLI; docs/truth.md).
 *
 * Introduction
 *   Two truths per policy of a policy set, written as truth.v1 lines
 *   (schemas/truth.v1.schema.json) that `giftope agree` and `replay --truth`
 *   read back with gope_truth_load():
 *
 *   V_online  the mean reward per decision when the policy runs on-policy.
 *             For each seed the world is built once and every policy runs on
 *             it (gope_sim_run); the per-seed values give a mean and a 95% t
 *             interval over seeds, and so do the section-4 metrics of each run
 *             (sim_metrics.h). Policies on one seed share the seed's arrivals
 *             and uniforms (common random numbers), so the per-seed
 *             differences against the logging policy are paired: their
 *             interval ("vs_logging") is far narrower than the difference of
 *             two independent intervals.
 *   V_static  the exact expected reward per decision of the policy on the
 *             contexts of a log, mean over the log's decisions of
 *             sum_j pi_j(x_i) true_ev_ij, from the "true_ev" the simulator
 *             writes on every candidate (truth_log.c). No sampling noise: it
 *             is the quantity OPE estimates without bias.
 *
 *   Rows. Every policy of the set gets a line. The logging "policy" is a
 *   spec (gope_sim_allocator_new): a policy of the set, whose line then says
 *   "logging": true, or a stateful allocator ("whale_matching:k=2"), which
 *   gets a line of its own before the set's (policy = the spec's name part,
 *   as the log's logging_policy has it). Its V_online comes from running the
 *   allocator like the policies; its V_static on the log from the probs the
 *   log carries (the allocator's own pi), since no policy of the set has
 *   that distribution. More allocators (conf.allocators) get lines after
 *   the set's, named by their full spec: the simulator runs them, but OPE
 *   cannot evaluate a stateful allocator on a log, so their V_static is
 *   null.
 *
 *   The names are gope_simtruth_*: gope_truth_* is the agreement side's
 *   reader of the same files (ope/agree_truth.c).

 * Usage
 *   gope_simtruth_conf c = {...};             (world, policies, logging, seeds)
 *   gope_simtruth_new(&c, &t, &err);
 *   gope_simtruth_static(t, "log.jsonl.zst", &err);   (optional, --log)
 *   gope_simtruth_online(t, &err);
 *   gope_simtruth_write(t, &sink, &err);      (truth.v1 lines, truth_run.v1)
 *   gope_simtruth_free(t);
 *
 * Cost
 *   Simulation: seeds x lines runs of `decisions` decisions each (the
 *   world is built once per seed, plus once more by gope_simtruth_new() to
 *   check the specs). Memory: (2 + metrics) doubles per line and seed, plus
 *   one world and one run's state per job (conf.jobs seeds run at once). V_static: one pass over the
 *   log, the policy set's pi on every line plus a cJSON parse of the line.
 */
#ifndef GOPE_SIM_TRUTH_H
#define GOPE_SIM_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_ope.h"
#include "gope_sim.h"
#include "sim_metrics.h"

/* --------------------------------------------------------------- V_static */

/* What the V_static pass made of the log's lines: every line read is
 * accepted or rejected (lines_read = accepted + rejected), as in replay. */
typedef struct {
    uint64_t lines_read, accepted, rejected;
    uint64_t by_reason[GOPE_R_COUNT];
    uint64_t first_reject_line; /* 0 when nothing was rejected */
    gope_reason first_reject_reason;
    char first_reject_detail[256];
} gope_simtruth_log_stats;

/*! gope_simtruth_log_policy() : the "logging_policy" string of the first
 * line of the log at `path` (plain or zstd; "-" is stdin and is consumed).
 * `*name` receives a malloc'd copy, or NULL when the log is empty or its
 * first line is not a JSON object with a string "logging_policy".
 * @return GOPE_OK; GOPE_ERR_IO naming the file (cannot open, corrupt zstd);
 *         GOPE_ERR_NOMEM. */
gope_status gope_simtruth_log_policy(const char *path, char **name, gope_err *err);

/*! gope_simtruth_log_static() : V_static of every policy of `set` on the log
 * at `path`: v_static[i] = mean over the accepted lines of
 * sum_j pi_ij true_ev_j (compensated sums), pi_i = gope_policy_probs(set, i,
 * event). Lines are decoded and validated as replay does (rewards required);
 * a rejected line is counted in `*stats`, not an error. An accepted line
 * must carry "true_ev" (a number >= 0) on every candidate. When `v_logged`
 * is not NULL, *v_logged is the same mean with the line's own "probs" as
 * pi (the logging allocator's V_static), and every accepted line must carry
 * probs. `v_static` holds gope_policies_count(set) values; both are written
 * only on GOPE_OK.
 * @return GOPE_OK; GOPE_ERR_INPUT naming the file, line and candidate of a
 *         missing or bad true_ev, the file and line of missing probs, or
 *         the file when no line is accepted; GOPE_ERR_IO (cannot open, read
 *         error, corrupt or truncated zstd); GOPE_ERR_NOMEM. */
gope_status gope_simtruth_log_static(const char *path, const gope_policy_set_t *set,
                                     double *v_static, double *v_logged,
                                     gope_simtruth_log_stats *stats, gope_err *err);

/*! gope_simtruth_metrics_conf() : the metrics configuration of a run in
 * `w`: its users and streamers, the top-0.1% / top-1% users and the
 * cold-start and head streamers (borrowed from the world, which must
 * outlive the accumulator's creation), default thresholds. */
void gope_simtruth_metrics_conf(const gope_sim_world_t *w, gope_metrics_conf *mc);

/* ------------------------------------------------------------- the truth */

/* Called after each seed's runs: `done` of `total` seeds finished, the last
 * one being `seed`. With conf.jobs > 1 the seeds finish out of order, but
 * the calls come one at a time with `done` counting up. */
typedef void (*gope_simtruth_progress_fn)(void *ctx, uint64_t done, uint64_t total,
                                          uint64_t seed);

typedef struct {
    const gope_world_conf *world;      /* the world every seed builds */
    const char *world_name;            /* written as "world": preset or file */
    const gope_policy_set_t *policies; /* every policy gets a truth.v1 line */
    const char *logging;               /* the logging spec: a policy of `policies`,
                                          or an allocator spec (gope_sim_allocator_new) */
    uint64_t seed;                     /* the first seed */
    uint64_t seeds;                    /* seeds seed .. seed + seeds - 1, >= 1 */
    uint64_t decisions;                /* per seed and line, >= 1 */
    gope_simtruth_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    const char *const *allocators;     /* n_allocators stateful allocator specs, each
                                          simulated on a line of its own (no V_static) */
    size_t n_allocators;
    unsigned jobs;                     /* seeds run at once, each on a thread with its
                                          own world (0 and 1: one at a time) */
} gope_simtruth_conf;

typedef struct gope_simtruth_s gope_simtruth_t;

/*! gope_simtruth_new() : an empty truth for `conf`, which is copied; the
 * world configuration, names, specs and policy set it points to are
 * borrowed and must outlive the truth. Checks the configuration: builds the
 * first seed's world and an allocator for every spec on it, so a bad spec
 * fails here, before any log is read or run simulated; allocates the
 * per-seed tables.
 * @return GOPE_OK and *out; GOPE_ERR_USAGE (no seeds or decisions, seeds
 *         beyond 2^64 - 1, an invalid world, no logging spec, a spec
 *         gope_sim_allocator_new() rejects — "truth: logging: ..." or
 *         "truth: allocators[i]: ..." with its message, e.g. listing the
 *         policies and allocators for an unknown name —, a policy of the set
 *         among the allocators, two lines of one name); GOPE_ERR_NOMEM. */
gope_status gope_simtruth_new(const gope_simtruth_conf *conf, gope_simtruth_t **out,
                              gope_err *err);

/*! gope_simtruth_lines() : how many truth.v1 lines the truth writes: the
 * set's policies, plus one for a logging allocator, plus the allocators. */
size_t gope_simtruth_lines(const gope_simtruth_t *t);

/*! gope_simtruth_free() : NULL does nothing. */
void gope_simtruth_free(gope_simtruth_t *t);

/*! gope_simtruth_online() : run every line's policy or allocator on every
 * seed, keeping each run's V_online (revenue / decisions), revenue and section-4 metrics.
 * Calls the progress callback after each seed. Deterministic: the same
 * configuration gives the same numbers, bit for bit, whatever conf.jobs
 * (which costs one world and one run's state per job). On an error no new
 * seed starts, and the error is the lowest failing seed's, as with one job.
 * @return GOPE_OK; GOPE_ERR_USAGE (the world configuration is invalid);
 *         GOPE_ERR_NOMEM; an error of the metrics accumulator (named by
 *         policy and seed). */
gope_status gope_simtruth_online(gope_simtruth_t *t, gope_err *err);

/*! gope_simtruth_static() : V_static of every policy on the log at `path`
 * (gope_simtruth_log_static()), and of a logging allocator from the log's
 * probs; `path` is borrowed and written as the run's "log". Without this
 * call every truth.v1 line has "v_static": null; the allocators' lines
 * always have.
 * @return as gope_simtruth_log_static(). */
gope_status gope_simtruth_static(gope_simtruth_t *t, const char *path, gope_err *err);

/*! gope_simtruth_log_stats_get() : the line counts of the V_static pass
 * (all zero before gope_simtruth_static()). */
const gope_simtruth_log_stats *gope_simtruth_log_stats_get(const gope_simtruth_t *t);

/*! gope_simtruth_write() : the truth.v1 lines — a logging allocator's, the
 * set's policies in order, the allocators' in order — then the
 * truth_run.v1 line, to `out`. Needs gope_simtruth_online()
 * first (GOPE_ERR_USAGE otherwise).
 * @return GOPE_OK; GOPE_ERR_USAGE; GOPE_ERR_NOMEM; the sink's error. */
gope_status gope_simtruth_write(const gope_simtruth_t *t, gope_sink *out, gope_err *err);

#endif /* GOPE_SIM_TRUTH_H */
