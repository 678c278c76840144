/*
 * calibrate.h — `giftope calibrate`: fit a world (world.v1) to alloc.v1
 * allocation logs, so that production logs get a simulator truth (internal
 * to the sim library and the CLI; docs/calibrate.md has every formula).
 *
 * Introduction
 *   Three steps, each a function here:
 *     scan    read every log line through the project's source and decoder
 *             (rejected lines are counted by reason and skipped, as replay
 *             does) and measure what a log reveals: arrivals by time of day,
 *             candidate counts, users and streamers, whales, capacities,
 *             cold-start and head shares, the EV model's stated noise, and
 *             the outcome statistics (gift rate, amounts, payer Gini, EV
 *             calibration) -> gope_calib_log, plain data.
 *     fit     start from a base world, set what was measured, then fit the
 *             gift model (theta0, tier_base, wealth_slope) by a few short
 *             simulations of the log's logging policy, deterministic (fixed
 *             seed) -> a gope_world_conf that passes gope_world_validate.
 *     report  simulate the fitted world on another seed and compare it with
 *             the log: gift rate, amount P50/P90/P99 and mean, payer Gini,
 *             whale amount P90, EV calibration; absolute and relative errors.
 *
 *   The outcome statistics of the log and of a simulation come from one
 *   accumulator (gope_calib_sample_t), so the two sides of every comparison
 *   are computed by the same code.
 *
 *   Nothing here prints; errors are a gope_status with gope_err naming the
 *   file and line. No global state.
 */
#ifndef GOPE_CALIBRATE_H
#define GOPE_CALIBRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"
#include "gope_ingest.h"
#include "gope_policy.h"
#include "gope_sim.h"
#include "jsonbuf.h"
#include "sim_metrics.h" /* gope_mval */

#define GOPE_CALIB_BINS_PER_HOUR 6 /* time-of-day bins: 10 minutes */
#define GOPE_CALIB_TIME_BINS (24 * GOPE_CALIB_BINS_PER_HOUR)
#define GOPE_CALIB_GAP_MS 60000 /* ts this far behind the segment's latest starts a new segment */
#define GOPE_CALIB_EV_BINS 322  /* EV calibration bins: 4 per octave + under/overflow */

/* --------------------------------------------------------------- samples */

/* Tier groups of the amount histograms. */
enum { GOPE_CALIB_ALL = 0, GOPE_CALIB_WHALE, GOPE_CALIB_OTHER, GOPE_CALIB_GROUPS };

/* The outcome statistics of a log or a simulation (docs/calibrate.md,
 * "The report"). A value that is undefined (no gifts, no whale gift, ...)
 * has ok = false. */
typedef struct {
    uint64_t decisions, gifts, whale_gifts;
    uint64_t users, payers;     /* users with a decision / with a gift */
    uint64_t whale_users;       /* users with a decision as a whale */
    uint64_t users_once, users_twice; /* seen in exactly 1 / 2 decisions (Chao1) */
    gope_mval gift_rate, amount_p50, amount_p90, amount_p99, amount_mean;
    gope_mval payer_gini, whale_p90;
    gope_mval ev_ratio; /* sum reward / sum ev of the chosen candidate */
    gope_mval ev_slope; /* slope of mean reward on mean chosen ev over ev deciles */
    /* gifts by nearest tier (in log space) of the amount: all, whales, others */
    uint64_t tier_counts[GOPE_CALIB_GROUPS][GOPE_SIM_TIERS];
} gope_calib_stats;

typedef struct gope_calib_sample_s gope_calib_sample_t;

/*! gope_calib_sample_new() : an empty accumulator; `tiers` (increasing,
 * > 0) are the amounts gifts are binned to. @return it, or NULL when out of
 * memory. */
gope_calib_sample_t *gope_calib_sample_new(const double tiers[GOPE_SIM_TIERS]);

/*! gope_calib_sample_free() : NULL does nothing. */
void gope_calib_sample_free(gope_calib_sample_t *s);

/*! gope_calib_sample_add() : one decision: the user (a dense index: users
 * are numbered 0, 1, 2, ... by whoever adds), whether the user is a whale,
 * the ev of the chosen candidate (>= 0) and the reward (>= 0).
 * @return GOPE_OK; GOPE_ERR_NOMEM (the sample is unchanged). */
gope_status gope_calib_sample_add(gope_calib_sample_t *s, uint32_t user, bool whale, double ev,
                                  double reward);

/*! gope_calib_sample_stats() : the statistics of everything added so far.
 * @return GOPE_OK; GOPE_ERR_NOMEM (sorting scratch), with err set. */
gope_status gope_calib_sample_stats(const gope_calib_sample_t *s, gope_calib_stats *out,
                                    gope_err *err);

/*! gope_calib_nearest_tier() : the index of the tier nearest to `amount`
 * (> 0) in log space: the boundaries are the geometric means of
 * neighbouring tiers. */
size_t gope_calib_nearest_tier(const double tiers[GOPE_SIM_TIERS], double amount);

/*! gope_calib_tilt() : the exponential tilt d such that the distribution
 * proportional to h[k] e^(d k) has mean tier index `mean_index` — how much
 * further up the tiers one group gives than another (the ML estimate of the
 * tier-logit shift). Clamped to [-10, 10]; 0 when h is all zero. */
double gope_calib_tilt(const double h[GOPE_SIM_TIERS], double mean_index);

/*! gope_calib_mean_index() : sum k h[k] / sum h[k]; 0 when h is all zero. */
double gope_calib_mean_index(const double h[GOPE_SIM_TIERS]);

/* -------------------------------------------------------------- id maps */

/* Dense numbers for id strings (calibrate_ids.c): the first id seen is 0,
 * the next new one 1, ... Ids are kept as 64-bit hashes (see there). */
typedef struct gope_calib_ids_s gope_calib_ids_t;

/*! gope_calib_ids_new() : an empty map. @return it, or NULL (out of memory). */
gope_calib_ids_t *gope_calib_ids_new(void);

/*! gope_calib_ids_free() : NULL does nothing. */
void gope_calib_ids_free(gope_calib_ids_t *m);

/*! gope_calib_ids_get() : the index of the `len` bytes at `s`, a new one
 * (*is_new) when the id was not seen before. @return the index; -1 when out
 * of memory (or past 2^32 - 1 ids); the map is then unchanged. */
int64_t gope_calib_ids_get(gope_calib_ids_t *m, const char *s, size_t len, bool *is_new);

/*! gope_calib_ids_count() : ids seen so far. */
size_t gope_calib_ids_count(const gope_calib_ids_t *m);

/* ------------------------------------------------------------------ scan */

/* The arrival process as fitted to the log (docs/calibrate.md, "Time"). */
typedef struct {
    bool rate_ok;         /* the log covers some time: arrivals_per_s is set */
    bool shape_ok;        /* every hour of the day is covered: the peak is fitted */
    double arrivals_per_s, peak_hour, peak_amplitude, peak_width_h;
    double rate_by_hour[24]; /* decisions per second in each UTC hour */
    bool hour_ok[24];        /* the hour has exposure */
} gope_calib_time;

/* What the logs reveal. Plain data: no heap. */
typedef struct {
    /* lines, as replay counts them */
    uint64_t lines_read, accepted, rejected;
    uint64_t by_reason[GOPE_R_COUNT];
    uint64_t files;

    /* time: accepted events per time-of-day bin, the seconds of each bin
     * the logs cover (the union of their segments), the fitted process */
    int64_t first_ts, last_ts;
    uint64_t segments;
    double exposure_s;
    uint64_t bin_count[GOPE_CALIB_TIME_BINS];
    double bin_exposure_s[GOPE_CALIB_TIME_BINS];
    gope_calib_time time;

    /* candidates per decision */
    uint32_t cand_min, cand_median, cand_max;
    bool all_streamers; /* every decision offers every streamer seen */

    /* users and streamers (distinct ids; *_est adds Chao1's unseen, at
     * most 10 times the seen; streamers offered all in every decision are
     * all there are) */
    uint64_t users_seen, whale_users, streamers_seen, cold_streamers, head_streamers;
    uint64_t streamers_once, streamers_twice;
    double users_est, streamers_est;

    /* capacity tiers of the streamers (0 = unlimited), by capacity rank */
    int64_t capacity[3];         /* top, middle, tail */
    double capacity_frac[2];     /* shares of the top and middle tiers */
    uint64_t capacity_values;    /* distinct capacities among streamers */
    uint64_t over_capacity;      /* decisions whose chosen room is full (load >= capacity) */

    /* sessions, identified only when every decision offers every streamer:
     * the sum of the loads is then the number of viewers present */
    bool session_known;
    gope_session_mode session;
    uint32_t round_users;        /* round sessions: 1 + the largest sum */
    double mean_viewers;         /* dwell sessions: mean of the sums */
    double round_pairs_frac;     /* consecutive sums that went +1 or to 0 */

    /* the EV model's stated noise: sd = sqrt(log1p((sigma/ev)^2)) */
    bool noise_ok, cold_noise_ok;
    double noise_sd, cold_noise_sd; /* medians over (cold-start) streamers */

    /* the most frequent logging_policy ("" when no line has one) */
    char policy[64];
    uint64_t policy_lines;

    gope_calib_stats stats;
} gope_calib_log;

/*! gope_calib_scan() : read the `n` logs at `paths` (plain, zstd, "-" for
 * stdin) and measure them into *out. From the base world it takes the
 * tiers gift amounts are binned to, and the tier shares used when the logs
 * show more than three distinct capacities. Lines the decoder rejects
 * (rewards required, as in replay) are counted and skipped.
 * @return GOPE_OK; GOPE_ERR_IO (a log cannot be opened or read: err names
 *         it); GOPE_ERR_INPUT (no valid line in any log: err says how many
 *         were read and the first reject reason); GOPE_ERR_NOMEM. */
gope_status gope_calib_scan(const char *const *paths, size_t n, const gope_world_conf *base,
                            gope_calib_log *out, gope_err *err);

/*! gope_calib_fit_time() : the arrival process of `log`'s time bins into
 * log->time (called by gope_calib_scan; exposed for tests). */
void gope_calib_fit_time(gope_calib_log *log);

/* ------------------------------------------------------------------- fit */

typedef struct {
    gope_world_conf base;          /* what is not measured comes from here */
    uint64_t seed;                 /* of the fit's simulations */
    uint64_t decisions;            /* per fit simulation (>= 1) */
    unsigned max_iter;             /* simulations at most (>= 1) */
    const gope_policy_set_t *set;  /* where the logging policy is looked up */
} gope_calib_fit_conf;

#define GOPE_CALIB_MAX_FITTED 40

typedef struct {
    char policy[64];      /* the allocator the fit simulated ("" without gifts) */
    bool policy_from_log; /* the log's logging_policy (else greedy) */
    unsigned iterations;
    bool converged;
    bool gift_fitted;           /* theta0 and tier_base (the log has gifts) */
    bool slope_fitted;          /* wealth_slope (100 gifts of whales and of others) */
    double sim_gift_rate;       /* expected gift rate of the last fit simulation */
    double tier_tv;             /* total variation, simulated vs logged tiers */
    double tilt_log, tilt_sim;  /* whale-vs-other tier tilt, log and simulation */
    const char *fitted[GOPE_CALIB_MAX_FITTED]; /* world.v1 paths set by calibrate */
    size_t n_fitted;
} gope_calib_fit_info;

/*! gope_calib_fit() : the world fitted to `log`: fc->base with the measured
 * fields set and the gift model fitted (docs/calibrate.md, "Fit").
 * Deterministic for a given conf. *out passes gope_world_validate.
 * @return GOPE_OK; GOPE_ERR_USAGE (a base that does not validate);
 *         GOPE_ERR_NOMEM. */
gope_status gope_calib_fit(const gope_calib_log *log, const gope_calib_fit_conf *fc,
                           gope_world_conf *out, gope_calib_fit_info *info, gope_err *err);

/* ---------------------------------------------------------------- report */

/*! gope_calib_simulate() : run `policy` (a spec of gope_sim_allocator_new
 * over `set`; "greedy" when the world has no such allocator, e.g. a
 * production policy's name) for `decisions` decisions in a world of `conf`
 * built with `seed`, and summarise it as a log would be. The allocator
 * run goes to used[64].
 * @return GOPE_OK; GOPE_ERR_USAGE (bad conf); GOPE_ERR_NOMEM. */
gope_status gope_calib_simulate(const gope_world_conf *conf, uint64_t seed, uint64_t decisions,
                                const gope_policy_set_t *set, const char *policy, char used[64],
                                gope_calib_stats *out, gope_err *err);

/* One row of the report: a statistic of the log and of the simulation. */
typedef struct {
    const char *metric;
    gope_mval log, sim, abs_err, rel_err; /* sim - log, (sim - log) / |log| */
} gope_calib_row;

#define GOPE_CALIB_ROWS 9

/*! gope_calib_rows() : the report's rows: gift_rate, amount_p50, amount_p90,
 * amount_p99, amount_mean, payer_gini, whale_amount_p90, ev_ratio, ev_slope. */
void gope_calib_rows(const gope_calib_stats *log, const gope_calib_stats *sim,
                     gope_calib_row rows[GOPE_CALIB_ROWS]);

/* Everything the calibration.v1 line reports. */
typedef struct {
    const char *const *inputs;
    size_t n_inputs;
    const char *base, *out;          /* --base and --out as given */
    const gope_calib_log *log;
    const gope_calib_fit_conf *fit;  /* its seed and decisions */
    const gope_calib_fit_info *info;
    const gope_world_conf *world;    /* the fitted world */
    const char *report_policy;
    uint64_t report_seed, report_decisions;
    const gope_calib_stats *sim;     /* the report's simulation */
} gope_calib_report;

/*! gope_calib_json() : the calibration.v1 line (schemas/
 * calibration.v1.schema.json) without the newline. Allocation failure shows
 * as b->oom. */
void gope_calib_json(const gope_calib_report *r, gope_jbuf *b);

/*! gope_calib_field_text() : the value of world.v1 field `path`
 * ("users.count", "amount.tier_base") of `c` as text ("%.6g" numbers,
 * arrays in brackets) into buf. @return buf ("?" for an unknown path). */
const char *gope_calib_field_text(const gope_world_conf *c, const char *path, char *buf,
                                  size_t size);

#endif /* GOPE_CALIBRATE_H */
