/*
 * calibrate_int.h — the calibration's internals shared by its files: the
 * scan's state (calibrate_scan.c reads lines into it, calibrate_measure.c
 * turns it into the gope_calib_log) and a growth helper.
 */
#ifndef GOPE_CALIBRATE_INT_H
#define GOPE_CALIBRATE_INT_H

#include "calibrate.h"

#define GOPE_CALIB_POLICIES 8 /* distinct logging_policy names counted */

/* What the scan keeps per streamer (by dense index). */
typedef struct {
    uint64_t appearances; /* candidate lists it was in */
    int64_t capacity;     /* the last one logged; 0 = unlimited */
    double sd_sum;        /* sum of the stated noise sd, over candidates with sigma > 0 */
    uint32_t sd_n;
    bool cold, head;      /* flagged so at least once */
} gope_calib_streamer;

/* A stretch of time a log covers, [lo, hi] in epoch ms. */
typedef struct {
    int64_t lo, hi;
} gope_calib_segment;

typedef struct {
    gope_calib_log *log;
    const gope_world_conf *base;
    gope_decoder_t *dec;
    gope_calib_ids_t *users, *streamers;
    gope_calib_sample_t *sample;
    gope_calib_streamer *srec;
    size_t cap_srec;
    uint64_t *cand_hist; /* GOPE_MAX_CANDIDATES + 1: decisions by candidate count */
    gope_calib_segment *segs;
    size_t n_segs, cap_segs;
    /* viewers present (sum of the loads) at consecutive decisions */
    bool have_prev_viewers;
    int64_t prev_viewers, max_viewers;
    uint64_t viewer_pairs, round_pairs;
    gope_ksum viewers;
    struct {
        char name[64];
        uint64_t n;
    } pol[GOPE_CALIB_POLICIES];
    size_t n_pol;
    char first_reject[512];
} gope_calib_scan_state;

/* `p` grown (doubling, from 64) to hold `need` elements of `size` bytes.
 * @return the new pointer; `p` itself when it is large enough, when *ok is
 * already false (so calls chain) or when the allocation fails (*ok = false,
 * `p` and *cap untouched). */
void *gope_calib__grow(void *p, size_t *cap, size_t need, size_t size, bool *ok);

/* The end of the scan: counts, medians, capacity tiers, sessions, Chao1,
 * the outcome statistics and the arrival fit into s->log.
 * @return GOPE_OK or GOPE_ERR_NOMEM. */
gope_status gope_calib__measure(gope_calib_scan_state *s, gope_err *err);

/* What a calibration simulation accumulates (calibrate_sim.c): with `rb`,
 * the expected gift terms of each decision (Rao-Blackwellised: the gift
 * probability and the tier probabilities of the chosen candidate, not the
 * draws), and with `sample` the outcome sample a log would give. */
typedef struct {
    bool rb;
    gope_calib_sample_t *sample;
    const gope_sim_world_t *w;  /* set by the run */
    gope_sim_world_view view;
    uint64_t decisions;
    gope_ksum p, pq;            /* sum of p(gift), of p(1 - p) */
    double hist[GOPE_CALIB_GROUPS][GOPE_SIM_TIERS]; /* expected gifts by nearest tier */
    double drawn_shown[GOPE_SIM_TIERS][GOPE_SIM_TIERS]; /* ... by tier drawn, nearest tier */
    double zp[2], pw[2];        /* whales [0], others [1]: sum p z, sum p */
} gope_calib_acc;

/* Build the world of `conf` for `seed` and run `policy` (else `fallback`,
 * when the world has no such allocator; NULL: none) for `decisions`,
 * accumulating into `acc`; the allocator's name goes to used[64].
 * @return GOPE_OK; GOPE_ERR_USAGE (bad conf, unknown policy);
 *         GOPE_ERR_NOMEM. */
gope_status gope_calib__run(const gope_world_conf *conf, uint64_t seed, uint64_t decisions,
                            const gope_policy_set_t *set, const char *policy,
                            const char *fallback, char used[64], gope_calib_acc *acc,
                            gope_err *err);

#endif
