/*
 * calibrate_measure.c — the end of the scan: what needs the whole log
 * (calibrate.h, docs/calibrate.md "What is measured").
 *
 *   users, streamers   distinct ids, plus Chao1's estimate of the ones a log
 *                      of this length has not seen yet: S + f1(f1-1)/(2(f2+1))
 *                      with f1, f2 the ids seen exactly once and twice, at
 *                      most 10 S; streamers offered all in every decision
 *                      are all there are.
 *   candidates         min, median and max per decision; "all streamers"
 *                      when every decision offers every streamer seen.
 *   capacity tiers     the streamers by capacity (unlimited first): with at
 *                      most three distinct values each is a tier with its
 *                      share; with more, the base world's tier shares cut
 *                      the ranking and each tier takes its median.
 *   sessions           only with all streamers offered, when the sum of the
 *                      loads is the number of viewers present: "round" when
 *                      it rises by one or falls to zero between consecutive
 *                      decisions (99% of pairs; Simulator V2's batches),
 *                      else "dwell" with its mean.
 *   EV noise           per streamer the mean of sqrt(log1p((sigma/ev)^2)),
 *                      the lognormal sd that sigma states; the medians over
 *                      the other and the cold-start streamers.
 *   exposure           the union of the time segments, spread over the
 *                      10-minute bins of the day.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate_int.h"
#include "gope_stats.h"

#define ROUND_PAIRS_MIN 0.99
#define CHAO1_MAX_FACTOR 10.0

/* Chao1, at most CHAO1_MAX_FACTOR times the ids seen: with few ids seen
 * twice (f2 -> 0) the estimate grows like f1^2 and says more about the
 * log's length than about the population. */
static double chao1(uint64_t seen, uint64_t f1, uint64_t f2)
{
    const double n = (double)seen + (double)f1 * ((double)f1 - 1) / (2.0 * ((double)f2 + 1));
    return n < CHAO1_MAX_FACTOR * (double)seen ? n : CHAO1_MAX_FACTOR * (double)seen;
}

static int by_i64_desc(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int by_seg_lo(const void *a, const void *b)
{
    const gope_calib_segment *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : 0;
}

static int64_t unlimited_back(int64_t c) { return c == INT64_MAX ? 0 : c; }

/* Capacity tiers from the streamers' capacities (`cap` is n scratch). */
static void capacity_tiers(gope_calib_scan_state *s, int64_t *cap, size_t n)
{
    gope_calib_log *log = s->log;
    for (size_t i = 0; i < n; i++)
        cap[i] = s->srec[i].capacity ? s->srec[i].capacity : INT64_MAX;
    qsort(cap, n, sizeof *cap, by_i64_desc);
    int64_t value[3];
    size_t count[3] = {0}, d = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cap[i] != cap[i - 1]) {
            log->capacity_values++;
            if (d < 3)
                value[d++] = cap[i];
        }
        if (log->capacity_values <= 3)
            count[d - 1]++;
    }
    if (log->capacity_values <= 3) {
        for (size_t t = 0; t < 3; t++)
            log->capacity[t] = unlimited_back(value[t < d ? t : d - 1]);
        log->capacity_frac[0] = (double)count[0] / (double)n;
        log->capacity_frac[1] = (double)count[1] / (double)n;
        return;
    }
    const size_t top = (size_t)llround(s->base->tier_top_frac * (double)n);
    const size_t mid = top + (size_t)llround(s->base->tier_middle_frac * (double)n);
    const size_t lo[3] = {0, top, mid}, hi[3] = {top, mid < n ? mid : n, n};
    for (size_t t = 0; t < 3; t++) /* an empty tier takes the next one's value */
        log->capacity[t] = unlimited_back(
            hi[t] > lo[t] ? cap[(lo[t] + hi[t] - 1) / 2] : cap[lo[t] < n ? lo[t] : n - 1]);
    log->capacity_frac[0] = s->base->tier_top_frac;
    log->capacity_frac[1] = s->base->tier_middle_frac;
}

/* The stated EV noise: medians over streamers (`sd` is n scratch). */
static void noise(gope_calib_scan_state *s, double *sd, size_t n)
{
    gope_calib_log *log = s->log;
    for (int cold = 0; cold < 2; cold++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (s->srec[i].sd_n && s->srec[i].cold == cold)
                sd[m++] = s->srec[i].sd_sum / s->srec[i].sd_n;
        gope_sort_doubles(sd, m);
        if (m && cold) {
            log->cold_noise_ok = true;
            log->cold_noise_sd = gope_quantile_sorted(sd, m, 0.5);
        } else if (m) {
            log->noise_ok = true;
            log->noise_sd = gope_quantile_sorted(sd, m, 0.5);
        }
    }
}

static void streamers(gope_calib_scan_state *s, size_t n)
{
    gope_calib_log *log = s->log;
    log->streamers_seen = n;
    for (size_t i = 0; i < n; i++) {
        log->streamers_once += s->srec[i].appearances == 1;
        log->streamers_twice += s->srec[i].appearances == 2;
        log->cold_streamers += s->srec[i].cold;
        log->head_streamers += s->srec[i].head;
    }
}
static void candidates(gope_calib_scan_state *s)
{
    gope_calib_log *log = s->log;
    uint64_t below = 0;
    bool median = false;
    for (uint32_t k = 0; k <= GOPE_MAX_CANDIDATES; k++) {
        if (!s->cand_hist[k])
            continue;
        if (!log->cand_min)
            log->cand_min = k;
        log->cand_max = k;
        below += s->cand_hist[k];
        if (!median && 2 * below >= log->accepted) {
            log->cand_median = k;
            median = true;
        }
    }
    log->all_streamers = log->cand_min == log->cand_max && log->cand_max == log->streamers_seen;
}

static void sessions(gope_calib_scan_state *s)
{
    gope_calib_log *log = s->log;
    if (!log->all_streamers || !s->viewer_pairs || s->max_viewers < 1)
        return;
    log->session_known = true;
    log->round_pairs_frac = (double)s->round_pairs / (double)s->viewer_pairs;
    log->mean_viewers = gope_ksum_value(&s->viewers) / (double)log->accepted;
    if (log->round_pairs_frac >= ROUND_PAIRS_MIN) {
        log->session = GOPE_SESSION_ROUND;
        log->round_users = s->max_viewers >= UINT32_MAX ? UINT32_MAX : (uint32_t)s->max_viewers + 1;
    } else
        log->session = GOPE_SESSION_DWELL;
}

/* The union of the segments, and each stretch spread over the day's bins. */
static void exposure(gope_calib_scan_state *s)
{
    const int64_t day = 86400000, bin = day / GOPE_CALIB_TIME_BINS;
    gope_calib_log *log = s->log;
    qsort(s->segs, s->n_segs, sizeof *s->segs, by_seg_lo);
    size_t m = 0;
    for (size_t i = 0; i < s->n_segs; i++) {
        if (m && s->segs[i].lo <= s->segs[m - 1].hi) {
            if (s->segs[i].hi > s->segs[m - 1].hi)
                s->segs[m - 1].hi = s->segs[i].hi;
        } else
            s->segs[m++] = s->segs[i];
    }
    log->segments = m;
    for (size_t i = 0; i < m; i++) {
        log->exposure_s += (double)(s->segs[i].hi - s->segs[i].lo) / 1000.0;
        for (int64_t t = s->segs[i].lo; t < s->segs[i].hi;) {
            const int64_t next = t - t % bin + bin, end = next < s->segs[i].hi ? next : s->segs[i].hi;
            log->bin_exposure_s[(t % day) / bin] += (double)(end - t) / 1000.0;
            t = end;
        }
    }
}

gope_status gope_calib__measure(gope_calib_scan_state *s, gope_err *err)
{
    gope_calib_log *log = s->log;
    const size_t n = gope_calib_ids_count(s->streamers);
    void *scratch = malloc((n ? n : 1) * sizeof(double));
    gope_status st = gope_calib_sample_stats(s->sample, &log->stats, err);
    if (st == GOPE_OK && !scratch)
        st = gope_err_set(err, GOPE_ERR_NOMEM, "calibrate: out of memory");
    if (st != GOPE_OK) {
        free(scratch);
        return st;
    }
    log->users_seen = log->stats.users;
    log->whale_users = log->stats.whale_users;
    log->users_est = chao1(log->users_seen, log->stats.users_once, log->stats.users_twice);
    streamers(s, n);
    candidates(s);
    log->streamers_est = log->all_streamers ? (double)n
                                            : chao1(n, log->streamers_once, log->streamers_twice);
    capacity_tiers(s, scratch, n);
    noise(s, scratch, n);
    sessions(s);
    exposure(s);
    size_t best = 0;
    for (size_t i = 1; i < s->n_pol; i++)
        if (s->pol[i].n > s->pol[best].n)
            best = i;
    if (s->n_pol) {
        memcpy(log->policy, s->pol[best].name, sizeof log->policy);
        log->policy_lines = s->pol[best].n;
    }
    gope_calib_fit_time(log);
    free(scratch);
    return GOPE_OK;
}
