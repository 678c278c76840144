/*
 * test_calibrate.c — the measuring half of calibration on data whose
 * answers are known by hand: the outcome sample (quantiles, payer Gini, EV
 * calibration, tier counts), the id map, the tier tilt, the arrival fit on
 * exact counts, and a scan of a small hand-written log with rejects, two
 * time segments, five capacities and two policies; bad inputs; and every
 * allocation failure of the scan.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "failalloc.h"
#include "simworld.h"
#include "testutil.h"

static const double tiers[GOPE_SIM_TIERS] = {1, 2, 10, 52, 100, 520, 1000, 1314, 5200, 13140};

Test(sim_calibrate, sample_statistics)
{
    gope_calib_sample_t *s = gope_calib_sample_new(tiers);
    gope_calib_stats st;
    gope_err err;
    cr_assert(s);
    /* five gifts: whale 0 gives 52 and 1000, user 1 gives 2 and 10, user 2
     * gives 1 */
    static const double gift[5] = {52, 1000, 2, 10, 1};
    static const uint32_t giver[5] = {0, 0, 1, 1, 2};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(gope_calib_sample_add(s, giver[i], giver[i] == 0, 0, gift[i]), GOPE_OK);
    cr_assert_eq(gope_calib_sample_stats(s, &st, &err), GOPE_OK);
    cr_expect_eq(st.decisions, 5);
    cr_expect_eq(st.gifts, 5);
    cr_expect_eq(st.whale_gifts, 2);
    cr_expect_eq(st.users, 3);
    cr_expect_eq(st.whale_users, 1);
    cr_expect_eq(st.users_once, 1);
    cr_expect_eq(st.users_twice, 2);
    cr_expect_float_eq(st.amount_p50.v, 10, 1e-12);
    cr_expect_float_eq(st.amount_p90.v, 52 + 0.6 * 948, 1e-9);
    cr_expect_float_eq(st.amount_mean.v, 1065 / 5.0, 1e-12);
    cr_expect_float_eq(st.whale_p90.v, 52 + 0.9 * 948, 1e-9);
    /* payers 1, 12, 1052: G = (2 (1 + 24 + 3156) - 4 * 1065) / (3 * 1065) */
    cr_expect_float_eq(st.payer_gini.v, 2102.0 / 3195.0, 1e-12);
    cr_expect(!st.ev_ratio.ok && !st.ev_slope.ok, "no ev: undefined");
    const uint64_t all[GOPE_SIM_TIERS] = {1, 1, 1, 1, 0, 0, 1, 0, 0, 0};
    const uint64_t whale[GOPE_SIM_TIERS] = {0, 0, 0, 1, 0, 0, 1, 0, 0, 0};
    cr_expect_eq(memcmp(st.tier_counts[GOPE_CALIB_ALL], all, sizeof all), 0);
    cr_expect_eq(memcmp(st.tier_counts[GOPE_CALIB_WHALE], whale, sizeof whale), 0);
    gope_calib_sample_free(s);

    /* EV calibration: reward = 2 ev, ev spread over ten octaves */
    s = gope_calib_sample_new(tiers);
    cr_assert(s);
    for (int i = 0; i < 100; i++) {
        const double ev = pow(2, i / 10.0);
        cr_assert_eq(gope_calib_sample_add(s, 70 + (uint32_t)i, false, ev, 2 * ev), GOPE_OK);
    }
    cr_assert_eq(gope_calib_sample_stats(s, &st, &err), GOPE_OK);
    cr_expect_eq(st.users, 100, "indices 0..69 unused: not users");
    cr_expect(st.ev_slope.ok && st.ev_ratio.ok);
    cr_expect_float_eq(st.ev_slope.v, 2, 1e-9, "reward = 2 ev in every decile");
    cr_expect_float_eq(st.ev_ratio.v, 2, 1e-12);
    gope_calib_sample_free(s);
    gope_calib_sample_free(NULL);
}

Test(sim_calibrate, empty_sample_is_undefined)
{
    gope_calib_sample_t *s = gope_calib_sample_new(tiers);
    gope_calib_stats st;
    gope_err err;
    cr_assert_eq(gope_calib_sample_stats(s, &st, &err), GOPE_OK);
    cr_expect(!st.gift_rate.ok && !st.amount_p50.ok && !st.payer_gini.ok && !st.whale_p90.ok);
    cr_expect(!st.amount_mean.ok && !st.ev_ratio.ok && !st.ev_slope.ok);
    gope_calib_sample_free(s);
}

Test(sim_calibrate, ids_are_dense_in_order_of_first_sight)
{
    gope_calib_ids_t *m = gope_calib_ids_new();
    char id[32];
    bool is_new;
    cr_assert(m);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 5000; i++) {
            const int n = snprintf(id, sizeof id, "user-%d", i);
            cr_assert_eq(gope_calib_ids_get(m, id, (size_t)n, &is_new), i);
            cr_assert_eq(is_new, pass == 0);
        }
    cr_expect_eq(gope_calib_ids_count(m), 5000);
    cr_expect_eq(gope_calib_ids_get(m, "", 0, &is_new), 5000);
    cr_expect_eq(gope_calib_ids_get(m, "user-1\0", 7, &is_new), 5001, "the length counts");
    gope_calib_ids_free(m);
    gope_calib_ids_free(NULL);
}

Test(sim_calibrate, tilt_and_nearest_tier)
{
    const gope_world_conf c = tu_world_preset("giftlive-v2");
    double tilted[GOPE_SIM_TIERS];
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        tilted[k] = c.tier_base[k] * exp(0.3 * k);
    const double m = gope_calib_mean_index(tilted);
    cr_expect_float_eq(gope_calib_tilt(c.tier_base, m), 0.3, 1e-9);
    cr_expect_float_eq(gope_calib_tilt(c.tier_base, gope_calib_mean_index(c.tier_base)), 0, 1e-9);
    cr_expect_float_eq(gope_calib_tilt(c.tier_base, 100), 10, 1e-9, "clamped");
    const double zero[GOPE_SIM_TIERS] = {0};
    cr_expect_eq(gope_calib_tilt(zero, 2), 0);
    cr_expect_eq(gope_calib_mean_index(zero), 0);
    cr_expect_eq(gope_calib_nearest_tier(tiers, 0.5), 0);
    cr_expect_eq(gope_calib_nearest_tier(tiers, 22.7), 2, "below sqrt(10 * 52)");
    cr_expect_eq(gope_calib_nearest_tier(tiers, 22.9), 3);
    cr_expect_eq(gope_calib_nearest_tier(tiers, 52 * 0.5), 3);
    cr_expect_eq(gope_calib_nearest_tier(tiers, 1e9), 9);
}

/* The world's daily shape, written out independently of the simulator. */
static double shape(double hour, double peak, double amp, double width)
{
    double d = fabs(fmod(hour, 24) - peak);
    d = fmin(d, 24 - d);
    return 1 + amp * exp(-d * d / (2 * width * width));
}

Test(sim_calibrate, arrival_fit_on_exact_counts)
{
    gope_calib_log *log = calloc(1, sizeof *log);
    cr_assert(log);
    double mean = 0;
    for (int s = 0; s < 86400; s++)
        mean += shape((s + 0.5) / 3600, 20.5, 2, 1.5) / 86400;
    for (int b = 0; b < GOPE_CALIB_TIME_BINS; b++) {
        const double hour = (b + 0.5) / GOPE_CALIB_BINS_PER_HOUR, e = 10 * 600;
        log->bin_exposure_s[b] = e;
        log->bin_count[b] = (uint64_t)llround(3.0 * shape(hour, 20.5, 2, 1.5) / mean * e);
        log->accepted += log->bin_count[b];
        log->exposure_s += e;
    }
    gope_calib_fit_time(log);
    const gope_calib_time *t = &log->time;
    cr_expect(t->rate_ok && t->shape_ok);
    cr_expect(fabs(t->peak_hour - 20.5) < 0.02, "peak %g", t->peak_hour);
    cr_expect(fabs(t->peak_amplitude - 2) < 0.05, "amplitude %g", t->peak_amplitude);
    cr_expect(fabs(t->peak_width_h - 1.5) < 0.03, "width %g", t->peak_width_h);
    cr_expect(fabs(t->arrivals_per_s / 3 - 1) < 0.005, "rate %g", t->arrivals_per_s);
    cr_expect(t->hour_ok[0] && t->rate_by_hour[20] > t->rate_by_hour[8]);

    /* half a day: the rate is flat at the log's mean */
    for (int b = GOPE_CALIB_TIME_BINS / 2; b < GOPE_CALIB_TIME_BINS; b++) {
        log->accepted -= log->bin_count[b];
        log->exposure_s -= log->bin_exposure_s[b];
        log->bin_count[b] = 0;
        log->bin_exposure_s[b] = 0;
    }
    gope_calib_fit_time(log);
    cr_expect(t->rate_ok && !t->shape_ok);
    cr_expect_float_eq(t->arrivals_per_s, (double)log->accepted / log->exposure_s, 1e-12);
    cr_expect(t->hour_ok[11] && !t->hour_ok[12]);
    free(log);
}

/* ------------------------------------------------------- a scanned log */

/* One decision of the hand-written log: candidates a, b, c (and d, e when
 * `five`), every one with ev 1 and load `load`; a is cold-start with
 * stated noise sd 0.6, the others 0.3; capacities a 10, b 20, c 30, d
 * unlimited, e 5; b is a head streamer. */
typedef struct {
    int user;
    bool whale, five;
    int action, load, reward;
    const char *policy;
    int ts_s;
} decision;

static const decision decisions[12] = {
    {1, true, true, 4, 5, 52, "softmax", 1000},  {1, true, false, 0, 0, 0, "softmax", 1010},
    {2, false, false, 1, 0, 2, "softmax", 1020}, {2, false, true, 3, 5, 0, "greedy", 1030},
    {1, true, true, 4, 7, 1000, "softmax", 1040}, {3, false, false, 2, 0, 1, "greedy", 1050},
    {2, false, false, 0, 0, 10, "softmax", 1060}, {1, true, false, 1, 0, 0, "greedy", 1070},
    /* the clock goes back 370 s: a second segment */
    {4, false, true, 0, 0, 0, "softmax", 700},   {1, true, false, 2, 0, 0, "greedy", 710},
    {5, false, false, 1, 0, 0, "softmax", 720},  {2, false, false, 0, 0, 0, NULL, 730},
};

static size_t put_line(char *out, size_t size, int i, const decision *d, bool reward)
{
    static const char *const extra[5] = {",\"capacity\":10,\"cold_start\":true",
                                         ",\"capacity\":20,\"head\":true", ",\"capacity\":30", "",
                                         ",\"capacity\":5"};
    const double sd[2] = {sqrt(expm1(0.09)), sqrt(expm1(0.36))};
    size_t n = (size_t)snprintf(out, size, "{\"event_id\":\"e%d\",\"ts\":%d000,\"user_id\":\"u%d\","
                                           "\"candidates\":[",
                                i, d->ts_s, d->user);
    for (int j = 0; j < (d->five ? 5 : 3); j++)
        n += (size_t)snprintf(out + n, size - n,
                              "%s{\"streamer_id\":\"%c\",\"ev\":1,\"sigma\":%.17g,\"load\":%d%s}",
                              j ? "," : "", 'a' + j, sd[j == 0], d->load, extra[j]);
    n += (size_t)snprintf(out + n, size - n, "],\"action\":%d,\"propensity\":0.5,\"is_whale\":%s",
                          d->action, d->whale ? "true" : "false");
    if (reward)
        n += (size_t)snprintf(out + n, size - n, ",\"reward\":%d", d->reward);
    if (d->policy)
        n += (size_t)snprintf(out + n, size - n, ",\"logging_policy\":\"%s\"", d->policy);
    return n + (size_t)snprintf(out + n, size - n, "}\n");
}

/* The twelve decisions, with an invalid line and a line without reward
 * among them (file lines 5 and 10). */
static void write_hand_log(const char *path)
{
    char text[16384];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        if (i == 4)
            n += (size_t)snprintf(text + n, sizeof text - n, "not json\n");
        if (i == 8)
            n += put_line(text + n, sizeof text - n, 99, &decisions[0], false);
        n += put_line(text + n, sizeof text - n, i, &decisions[i], true);
    }
    cr_assert(tu_write_file(path, text, n));
}

static gope_status scan(const char *const *paths, size_t n, gope_calib_log *log, gope_err *err)
{
    const gope_world_conf base = tu_world_preset("giftlive-v2");
    return gope_calib_scan(paths, n, &base, log, err);
}

Test(sim_calibrate, scan_hand_written_log)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/hand.jsonl", dir);
    write_hand_log(path);
    gope_calib_log *log = malloc(sizeof *log);
    gope_err err;
    const char *paths[] = {path, path};
    cr_assert(log);
    cr_assert_eq(scan(paths, 1, log, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(log->files, 1);
    cr_expect_eq(log->lines_read, 14);
    cr_expect_eq(log->accepted, 12);
    cr_expect_eq(log->rejected, 2);
    cr_expect_eq(log->by_reason[GOPE_R_INVALID_JSON], 1);
    cr_expect_eq(log->by_reason[GOPE_R_MISSING_FIELD], 1);
    cr_expect_eq(log->first_ts, 700000);
    cr_expect_eq(log->last_ts, 1070000);
    cr_expect_eq(log->segments, 2);
    cr_expect_float_eq(log->exposure_s, 70 + 30, 1e-12);
    cr_expect(log->time.rate_ok && !log->time.shape_ok);
    cr_expect_float_eq(log->time.arrivals_per_s, 0.12, 1e-12);
    cr_expect(log->time.hour_ok[0] && !log->time.hour_ok[1]);
    cr_expect_eq(log->cand_min, 3);
    cr_expect_eq(log->cand_median, 3);
    cr_expect_eq(log->cand_max, 5);
    cr_expect(!log->all_streamers && !log->session_known);
    cr_expect_eq(log->users_seen, 5);
    cr_expect_eq(log->whale_users, 1);
    cr_expect_float_eq(log->users_est, 5 + 3.0 * 2 / 2, 1e-12, "Chao1, f1 = 3, f2 = 0");
    cr_expect_eq(log->streamers_seen, 5);
    cr_expect_float_eq(log->streamers_est, 5, 1e-12);
    cr_expect_eq(log->cold_streamers, 1);
    cr_expect_eq(log->head_streamers, 1);
    /* five capacities: the base's shares cut the ranking (unlimited | 30
     * 20 10 | 5), each tier takes its median */
    cr_expect_eq(log->capacity_values, 5);
    cr_expect_eq(log->capacity[0], 0);
    cr_expect_eq(log->capacity[1], 20);
    cr_expect_eq(log->capacity[2], 5);
    cr_expect_float_eq(log->capacity_frac[0], 0.1, 1e-12);
    cr_expect_eq(log->over_capacity, 2);
    cr_expect(log->noise_ok && log->cold_noise_ok);
    cr_expect_float_eq(log->noise_sd, 0.3, 1e-12);
    cr_expect_float_eq(log->cold_noise_sd, 0.6, 1e-12);
    cr_expect_str_eq(log->policy, "softmax");
    cr_expect_eq(log->policy_lines, 7);
    cr_expect_eq(log->stats.gifts, 5);
    cr_expect_eq(log->stats.whale_gifts, 2);
    cr_expect_eq(log->stats.payers, 3);
    cr_expect_float_eq(log->stats.ev_ratio.v, 1065 / 12.0, 1e-12);
    cr_expect_float_eq(log->stats.payer_gini.v, 2102.0 / 3195.0, 1e-12);

    /* the same log twice: twice the decisions in the same time (the union
     * of the segments), every user seen at least twice */
    cr_assert_eq(scan(paths, 2, log, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(log->files, 2);
    cr_expect_eq(log->accepted, 24);
    cr_expect_eq(log->segments, 2);
    cr_expect_float_eq(log->exposure_s, 100, 1e-12);
    cr_expect_float_eq(log->users_est, 5, 1e-12);
    cr_expect_float_eq(log->time.arrivals_per_s, 0.24, 1e-12);
    free(log);
    tu_rmtree(dir);
}

/* Every decision offers every streamer: the sum of the loads is the
 * number of viewers, and a sum that keeps rising is no round. */
Test(sim_calibrate, scan_identifies_dwell_sessions)
{
    char *dir = tu_tmpdir(), path[600], text[8192];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/dwell.jsonl", dir);
    static const int loads[8] = {0, 1, 3, 2, 0, 4, 5, 3}; /* viewers 0, 2, 6, 4, 0, 8, 10, 6 */
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "{\"event_id\":\"e%d\",\"ts\":%d,\"user_id\":\"u%d\",\"candidates\":["
                              "{\"streamer_id\":\"a\",\"ev\":1,\"load\":%d},"
                              "{\"streamer_id\":\"b\",\"ev\":1,\"load\":%d}],"
                              "\"action\":0,\"propensity\":1,\"reward\":0}\n",
                              i, 1000 * i, i, loads[i], loads[i]);
    cr_assert(tu_write_file(path, text, n));
    gope_calib_log *log = malloc(sizeof *log);
    gope_err err;
    const char *paths[] = {path};
    cr_assert(log);
    cr_assert_eq(scan(paths, 1, log, &err), GOPE_OK, "%s", err.msg);
    cr_expect(log->all_streamers && log->session_known);
    cr_expect_eq(log->session, GOPE_SESSION_DWELL);
    cr_expect_float_eq(log->mean_viewers, 36.0 / 8, 1e-12);
    cr_expect_float_eq(log->round_pairs_frac, 1.0 / 7, 1e-12, "only 4 -> 0 is a round's step");
    cr_expect(!log->noise_ok, "no sigma: no stated noise");
    cr_expect_eq(log->capacity_values, 1);
    cr_expect_eq(log->capacity[0], 0);
    cr_expect_float_eq(log->capacity_frac[0], 1, 1e-12);
    free(log);
    tu_rmtree(dir);
}

Test(sim_calibrate, scan_errors)
{
    char *dir = tu_tmpdir(), path[600], missing[600];
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
    cr_assert(tu_write_file(path, "not json\n{\"event_id\":\"x\"}\n", 26));
    gope_calib_log *log = malloc(sizeof *log);
    gope_err err;
    cr_assert(log);
    const char *bad[] = {path}, *gone[] = {missing};
    cr_expect_eq(scan(bad, 1, log, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "no valid decision") && strstr(err.msg, "2 lines read") &&
                  strstr(err.msg, ":1: invalid_json"),
              "%s", err.msg);
    cr_expect_eq(scan(gone, 1, log, &err), GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "none.jsonl"), "%s", err.msg);
    cr_expect_eq(scan(bad, 0, log, &err), GOPE_ERR_INPUT, "no logs: no decision");
    free(log);
    tu_rmtree(dir);
}

static char nomem_path[600];

static gope_status op_scan(void)
{
    gope_calib_log *log = malloc(sizeof *log);
    gope_err err;
    const char *paths[] = {nomem_path, nomem_path};
    if (!log)
        return GOPE_ERR_NOMEM;
    gope_status st = scan(paths, 2, log, &err);
    free(log);
    return st;
}

Test(sim_calibrate_nomem, scan)
{
    char *dir = tu_tmpdir();
    snprintf(nomem_path, sizeof nomem_path, "%s/hand.jsonl", dir);
    write_hand_log(nomem_path);
    fa_exhaust(op_scan, "scan");
    tu_rmtree(dir);
}
