/*
 * test_calibrate_fit.c — calibration end to end in the library: a log
 * simulated from a known small world is scanned and fitted, and the fit
 * must recover the world (counts exactly, the clock, the gift rate and the
 * tier shares within their sampling error); the log and a simulation of
 * the same world, seed and policy are summarised identically; the logging
 * policy falls back to greedy when the world has no such allocator; and
 * every allocation failure in fit and report is handled.
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

/* The known world: giftlive-v2 shrunk, with a day-long clock (0.065
 * arrivals a second: 6,000 decisions cover 25 hours), its peak moved, a
 * gift rate ten times higher and other tier shares. */
static const char known_json[] =
    "{\"base\":\"giftlive-v2\",\"name\":\"known\",\"users\":{\"count\":500},"
    "\"streamers\":{\"count\":30},"
    "\"time\":{\"round_users\":50,\"arrivals_per_s\":0.065,\"peak_hour\":14,"
    "\"peak_amplitude\":1.5,\"peak_width_h\":3},"
    "\"gift\":{\"theta\":[-3.5,0.4,0.8,0.2,-0.05]},"
    "\"amount\":{\"tier_base\":[0.3,0.3,0.2,0.1,0.05,0.03,0.01,0.005,0.004,0.001]}}";

static gope_world_conf known_world(void)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(gope_world_parse(known_json, strlen(known_json), "known", &c, &err), GOPE_OK,
                 "%s", err.msg);
    return c;
}

/* `decisions` of `policy` in `conf` on `seed`, logged to `path` by the
 * simulator's own writer. */
static void write_log(const char *path, const gope_world_conf *conf, uint64_t seed,
                      const char *policy, uint64_t decisions)
{
    gope_err err;
    gope_policy_set_t *set;
    gope_sim_allocator alloc;
    gope_sim_log_t *log;
    gope_sim_summary sum;
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK);
    gope_sim_world_t *w = tu_make_world(conf, seed);
    cr_assert_eq(gope_sim_allocator_new(policy, set, w, &alloc, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sim_log_open(path, &log, &err), GOPE_OK, "%s", err.msg);
    const gope_sim_run_conf rc = {.decisions = decisions, .on_step = gope_sim_log_write, .ctx = log};
    cr_assert_eq(gope_sim_run(w, &alloc, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sim_log_close(log, &err), GOPE_OK, "%s", err.msg);
    gope_sim_allocator_free(&alloc);
    gope_sim_world_free(w);
    gope_policies_free(set);
}

static void scan_one(const char *path, const gope_world_conf *base, gope_calib_log *log)
{
    gope_err err;
    const char *paths[] = {path};
    cr_assert_eq(gope_calib_scan(paths, 1, base, log, &err), GOPE_OK, "%s", err.msg);
}

static double tier_tv(const double *a, const double *b)
{
    double tv = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        tv += 0.5 * fabs(a[k] - b[k]);
    return tv;
}

Test(sim_calibrate_fit, round_trip_recovers_the_known_world)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/known.jsonl", dir);
    const gope_world_conf known = known_world(), base = tu_world_preset("giftlive-v2");
    write_log(path, &known, 7, "softmax", 6000);
    gope_calib_log *log = malloc(sizeof *log);
    cr_assert(log);
    scan_one(path, &base, log);

    gope_policy_set_t *set;
    gope_err err;
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK);
    const gope_calib_fit_conf fc = {.base = base, .seed = 42, .decisions = 6000, .max_iter = 8,
                                    .set = set};
    gope_world_conf fit;
    gope_calib_fit_info info;
    cr_assert_eq(gope_calib_fit(log, &fc, &fit, &info, &err), GOPE_OK, "%s", err.msg);
    cr_expect(info.converged, "fit converged in %u iterations", info.iterations);
    cr_expect_str_eq(info.policy, "softmax");
    cr_expect(info.policy_from_log);

    /* what the log shows directly: exactly */
    cr_expect_eq(fit.n_users, 500);
    cr_expect_eq(fit.n_streamers, 30);
    cr_expect_eq(fit.candidates, 0);
    cr_expect_eq(fit.session, GOPE_SESSION_ROUND);
    cr_expect_eq(fit.round_users, 50);
    cr_expect_float_eq(fit.whale_frac, 0.01, 1e-12);
    cr_expect_float_eq(fit.new_frac, 0.2, 1e-12);
    cr_expect_float_eq(fit.head_frac, 0.1, 1e-12);
    cr_expect_eq(fit.capacity_top, 100);
    cr_expect_eq(fit.capacity_middle, 50);
    cr_expect_eq(fit.capacity_tail, 20);
    cr_expect_float_eq(fit.tier_top_frac, 0.1, 1e-12);
    cr_expect_float_eq(fit.tier_middle_frac, 0.5, 1e-12);
    cr_expect_float_eq(fit.ev_noise_sd, 0.39, 1e-6);
    cr_expect_float_eq(fit.ev_noise_cold_mult, 2, 1e-6);
    cr_expect_eq(fit.start_ms, log->first_ts);

    /* the clock: 6,000 arrivals, some 5% of Poisson noise per hour */
    cr_expect(log->time.shape_ok);
    cr_expect(fabs(fit.arrivals_per_s / 0.065 - 1) < 0.03, "arrivals_per_s %g",
              fit.arrivals_per_s);
    cr_expect(fabs(fit.peak_hour - 14) < 0.4, "peak_hour %g", fit.peak_hour);
    cr_expect(fabs(fit.peak_amplitude - 1.5) < 0.3, "peak_amplitude %g", fit.peak_amplitude);
    cr_expect(fabs(fit.peak_width_h - 3) < 0.5, "peak_width_h %g", fit.peak_width_h);

    /* the gift model: the simulated gift rate is the logged one; theta0 and
     * the tier shares are the known ones within the sampling error of ~700
     * gifts (theta0 +-0.04 one sd, total variation ~0.04 expected) */
    const double rate = (double)log->stats.gifts / (double)log->stats.decisions;
    cr_expect(fabs(info.sim_gift_rate / rate - 1) < 0.0021, /* the fit's tolerance */ "sim %g log %g",
              info.sim_gift_rate, rate);
    cr_expect(fabs(fit.theta[0] - known.theta[0]) < 0.2, "theta0 %g", fit.theta[0]);
    cr_expect(tier_tv(fit.tier_base, known.tier_base) < 0.08, "tier_base TV %g",
              tier_tv(fit.tier_base, known.tier_base));
    cr_expect_eq(memcmp(fit.theta + 1, known.theta + 1, 4 * sizeof(double)), 0);

    /* the world written out reads back as the same world */
    gope_jbuf b = {0};
    gope_world_json(&fit, &b);
    gope_world_conf back;
    cr_assert(!b.oom);
    cr_expect_eq(gope_world_parse(b.data, b.len, "fit", &back, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(memcmp(&back, &fit, sizeof back), 0);
    gope_jbuf_free(&b);

    /* the report, on another seed: errors within sampling noise */
    gope_calib_stats sim;
    char used[64];
    cr_assert_eq(gope_calib_simulate(&fit, 43, 6000, set, log->policy, used, &sim, &err),
                 GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(used, "softmax");
    gope_calib_row rows[GOPE_CALIB_ROWS];
    gope_calib_rows(&log->stats, &sim, rows);
    cr_expect_str_eq(rows[0].metric, "gift_rate");
    cr_expect(rows[0].rel_err.ok && fabs(rows[0].rel_err.v) < 0.12, "gift rate rel err %g",
              rows[0].rel_err.v);
    cr_expect_str_eq(rows[1].metric, "amount_p50");
    cr_expect(rows[1].abs_err.ok && rows[1].abs_err.v == 0);
    cr_expect_str_eq(rows[5].metric, "payer_gini");
    cr_expect(rows[5].abs_err.ok && fabs(rows[5].abs_err.v) < 0.05, "gini err %g",
              rows[5].abs_err.v);
    gope_policies_free(set);
    free(log);
    tu_rmtree(dir);
}

/* A log and a simulation of the same world, seed and policy are the same
 * decisions, so the one summary code must give the same statistics. */
Test(sim_calibrate_fit, log_and_simulation_summarised_alike)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/same.jsonl", dir);
    const gope_world_conf known = known_world();
    write_log(path, &known, 11, "eps_greedy", 3000);
    gope_calib_log *log = malloc(sizeof *log);
    cr_assert(log);
    scan_one(path, &known, log);
    gope_policy_set_t *set;
    gope_err err;
    gope_calib_stats sim;
    char used[64];
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK);
    cr_assert_eq(gope_calib_simulate(&known, 11, 3000, set, log->policy, used, &sim, &err),
                 GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(used, "eps_greedy");
    const gope_calib_stats *l = &log->stats;
    cr_expect_eq(l->decisions, sim.decisions);
    cr_expect_eq(l->gifts, sim.gifts);
    cr_expect_gt(l->gifts, 50);
    cr_expect_eq(l->whale_gifts, sim.whale_gifts);
    cr_expect_eq(l->users, sim.users);
    cr_expect_eq(l->payers, sim.payers);
    cr_expect_eq(l->whale_users, sim.whale_users);
    cr_expect_eq(memcmp(l->tier_counts, sim.tier_counts, sizeof sim.tier_counts), 0);
    gope_calib_row rows[GOPE_CALIB_ROWS];
    gope_calib_rows(l, &sim, rows);
    for (size_t i = 0; i < GOPE_CALIB_ROWS; i++) {
        cr_expect(rows[i].log.ok && rows[i].sim.ok, "%s defined", rows[i].metric);
        cr_expect(tu_close(rows[i].sim.v, rows[i].log.v), "%s: sim %.17g log %.17g",
                  rows[i].metric, rows[i].sim.v, rows[i].log.v);
    }
    gope_policies_free(set);
    free(log);
    tu_rmtree(dir);
}

/* `lines` decisions of a production policy the simulator does not know. */
static void write_prod_log(const char *path, int lines, bool gifts)
{
    char text[2048];
    size_t len = 0;
    for (int i = 0; i < lines; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "{\"event_id\":\"e%d\",\"ts\":%d,\"user_id\":\"u%d\","
                                "\"candidates\":[{\"streamer_id\":\"a\",\"ev\":2},"
                                "{\"streamer_id\":\"b\",\"ev\":1}],\"action\":0,"
                                "\"propensity\":1,\"reward\":%d,\"logging_policy\":\"prod_v7\"}\n",
                                i, 1000 * i, i % 3, gifts && i % 2 ? 10 : 0);
    cr_assert(tu_write_file(path, text, len));
}

static void fit_prod(bool gifts, gope_world_conf *fit, gope_calib_fit_info *info)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/prod.jsonl", dir);
    write_prod_log(path, 4, gifts);
    const gope_world_conf base = tu_world_preset("giftlive-v2");
    gope_calib_log *log = malloc(sizeof *log);
    gope_policy_set_t *set;
    gope_err err;
    cr_assert(log);
    scan_one(path, &base, log);
    cr_expect_str_eq(log->policy, "prod_v7");
    cr_expect_eq(log->policy_lines, 4);
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK);
    const gope_calib_fit_conf fc = {.base = base, .seed = 1, .decisions = 200, .max_iter = 2,
                                    .set = set};
    cr_assert_eq(gope_calib_fit(log, &fc, fit, info, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_world_validate(fit, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(fit->n_users, 4); /* Chao1: 3 seen, f1 = 2, f2 = 1: 3 + 2/4, rounded */
    cr_expect_eq(fit->n_streamers, 2);
    cr_expect_eq(fit->candidates, 0);
    cr_expect_eq(fit->round_users, 4); /* the base's 200, at most users.count */
    gope_calib_stats sim;
    char used[64];
    cr_expect_eq(gope_calib_simulate(fit, 2, 50, set, log->policy, used, &sim, &err), GOPE_OK,
                 "%s", err.msg);
    cr_expect_str_eq(used, "greedy");
    gope_policies_free(set);
    free(log);
    tu_rmtree(dir);
}

Test(sim_calibrate_fit, unknown_policy_falls_back_to_greedy)
{
    gope_world_conf fit;
    gope_calib_fit_info info;
    fit_prod(true, &fit, &info);
    cr_expect_str_eq(info.policy, "greedy");
    cr_expect(!info.policy_from_log);
    cr_expect(info.gift_fitted && !info.slope_fitted);
    cr_expect_eq(info.iterations, 2);
    cr_expect_gt(fit.tier_base[2], 0.6, "the two gifts of 10 dominate the tier shares");
}

Test(sim_calibrate_fit, no_gifts_keeps_the_gift_model)
{
    gope_world_conf fit;
    gope_calib_fit_info info;
    const gope_world_conf base = tu_world_preset("giftlive-v2");
    fit_prod(false, &fit, &info);
    cr_expect(!info.gift_fitted);
    cr_expect_eq(info.iterations, 0);
    cr_expect_eq(memcmp(fit.theta, base.theta, sizeof fit.theta), 0);
    cr_expect_eq(memcmp(fit.tier_base, base.tier_base, sizeof fit.tier_base), 0);
}

/* One decision: every id seen once, which Chao1 alone would blow up. */
Test(sim_calibrate_fit, single_decision_fits_a_valid_world)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/one.jsonl", dir);
    write_prod_log(path, 1, false);
    const gope_world_conf base = tu_world_preset("giftlive-v2");
    gope_calib_log *log = malloc(sizeof *log);
    gope_calib_fit_info info;
    gope_world_conf fit;
    gope_err err;
    cr_assert(log);
    scan_one(path, &base, log);
    const gope_calib_fit_conf fc = {.base = base, .decisions = 10, .max_iter = 1};
    cr_assert_eq(gope_calib_fit(log, &fc, &fit, &info, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(fit.n_users, 1);
    cr_expect_eq(fit.n_streamers, 2, "both offered: all there are");
    cr_expect_eq(fit.round_users, 1);
    cr_expect(!log->time.rate_ok, "one instant covers no time");
    cr_expect_eq(fit.arrivals_per_s, base.arrivals_per_s);
    free(log);
    tu_rmtree(dir);
}

Test(sim_calibrate_fit, bad_base_is_a_usage_error)
{
    gope_calib_log log = {0};
    gope_calib_fit_conf fc = {.base = tu_world_preset("giftlive-v2"), .decisions = 1,
                              .max_iter = 1};
    gope_world_conf out;
    gope_calib_fit_info info;
    gope_err err;
    fc.base.n_users = 0;
    cr_expect_eq(gope_calib_fit(&log, &fc, &out, &info, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "users.count"), "%s", err.msg);
}

/* Every allocation of a fit and a report simulation, on a small log. */
static gope_calib_log *nomem_log;
static gope_policy_set_t *nomem_set;

static gope_status op_fit_and_report(void)
{
    const gope_calib_fit_conf fc = {.base = tu_world_preset("giftlive-v2"), .seed = 3,
                                    .decisions = 60, .max_iter = 1, .set = nomem_set};
    gope_world_conf fit;
    gope_calib_fit_info info;
    gope_calib_stats sim;
    gope_err err;
    char used[64];
    gope_status st = gope_calib_fit(nomem_log, &fc, &fit, &info, &err);
    if (st == GOPE_OK)
        st = gope_calib_simulate(&fit, 4, 60, nomem_set, nomem_log->policy, used, &sim, &err);
    return st;
}

Test(sim_calibrate_nomem, fit_and_report)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/small.jsonl", dir);
    gope_world_conf small = tu_small_world();
    gope_err err;
    small.n_users = 60;
    small.n_streamers = 8;
    small.round_users = 10;
    small.theta[0] = -3; /* gifts in a short log */
    write_log(path, &small, 5, "greedy", 200);
    nomem_log = malloc(sizeof *nomem_log);
    cr_assert(nomem_log);
    scan_one(path, &small, nomem_log);
    cr_assert_gt(nomem_log->stats.gifts, 0);
    cr_assert_eq(gope_policies_default(&nomem_set, &err), GOPE_OK);
    fa_exhaust(op_fit_and_report, "fit and report");
    gope_policies_free(nomem_set);
    free(nomem_log);
    tu_rmtree(dir);
}
