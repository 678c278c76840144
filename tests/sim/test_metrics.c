/*
 * test_metrics.c — the per-run metrics accumulator (sim/sim_metrics.h,
 * docs/metrics.md).
 *
 * Expected values come from an independent numpy implementation of
 * docs/metrics.md (np.percentile linear, np.var ddof=1, math.fsum), run on the
 * same two outcome sequences: a hand-built one (hand_rows) and a generated
 * one (gen_outcome: 1050 decisions in 150 rounds, enough to grow both
 * internal arrays several times for the allocation-failure tests). The
 * literals below are its output; `NAN` marks an undefined value.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "failalloc.h"
#include "sim_metrics.h"
#include "testutil.h"

typedef struct {
    const char *name;
    double v; /* NAN: undefined */
} expect_row;

/* Every metric of `m` against `rows` (which must name every metric). */
static void expect_all(const gope_sim_metrics *m, const expect_row *rows, size_t n_rows)
{
    size_t n;
    const char *const *names = gope_metrics_names(&n);
    cr_assert_eq(n_rows, n, "expected %zu rows, the table has %zu metrics", n_rows, n);
    for (size_t r = 0; r < n_rows; r++) {
        size_t i = 0;
        while (i < n && strcmp(names[i], rows[r].name) != 0)
            i++;
        cr_assert_lt(i, n, "unknown metric %s", rows[r].name);
        bool def;
        double v = gope_metrics_value(m, i, &def);
        if (isnan(rows[r].v))
            cr_expect(!def, "%s: expected undefined, got %.17g", rows[r].name, v);
        else
            cr_expect(def && tu_close(v, rows[r].v), "%s: got %.17g (%s), want %.17g",
                      rows[r].name, v, def ? "defined" : "undefined", rows[r].v);
    }
}

/* One metric by name. */
static double value_of(const gope_sim_metrics *m, const char *name, bool *def)
{
    size_t n;
    const char *const *names = gope_metrics_names(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return gope_metrics_value(m, i, def);
    cr_assert_fail("unknown metric %s", name);
    return 0;
}

static void expect_undefined(const gope_sim_metrics *m, const char *name)
{
    bool def;
    value_of(m, name, &def);
    cr_expect(!def, "%s should be undefined", name);
}

static void expect_value(const gope_sim_metrics *m, const char *name, double want)
{
    bool def;
    double v = value_of(m, name, &def);
    cr_expect(def && tu_close(v, want), "%s: got %.17g (%s), want %.17g", name, v,
              def ? "defined" : "undefined", want);
}

static gope_sim_metrics finish_ok(gope_metrics_t *m)
{
    gope_sim_metrics out;
    gope_err err = {{0}};
    gope_status st = gope_metrics_finish(m, &out, &err);
    cr_assert_eq(st, GOPE_OK, "finish: %s: %s", gope_strerror(st), err.msg);
    return out;
}

/* ---- the hand-built sequence ------------------------------------------------ */

/* users 0..9: 0 in the top 0.1%, 0 and 1 in the top 1%;
 * streamers 0..4: 0 head, 3 and 4 cold start (4 never chosen). */
static const bool hand_top01[10] = {true};
static const bool hand_top1[10] = {true, true};
static const bool hand_cold[5] = {false, false, false, true, true};
static const bool hand_head[5] = {true};

static const struct {
    uint32_t round, user, streamer;
    int64_t load, capacity;
    double match, externality, reward, true_ev, v_static;
} hand_rows[] = {
    {0, 0, 0, 2, 3, 0.5, 1.0, 52, 3.5, 2.0},
    {0, 1, 0, 3, 3, 0.1, 0.8, 0, 1.25, 1.0},     /* overload: (0, s0) */
    {0, 2, 1, 0, 0, -0.2, 1.0, 2, 0.5, 0.75},    /* capacity 0: unlimited */
    {0, 0, 0, 4, 3, 0.7, 0.5, 10, 2.0, 1.5},     /* overload, same pair */
    {1, 3, 3, 0, 5, 0.3, 1.0, 0, 0.25, 0.5},     /* cold start, no gift */
    {1, 1, 0, 3, 3, 0.35, 0.85, 1, 1.0, 1.0},    /* overload: (1, s0) */
    {1, 4, 2, 1, 2, 0.0, 0.95, 0, 0.1, 0.2},     /* load + 1 == capacity: fine */
    {1, 2, 1, 1, 1, 0.4, 0.9, 100, 5.0, 4.0},    /* overload: (1, s1); 0.9 not crowded */
    {3, 5, 0, 0, 3, 0.9, 1.0, 0, 0.3, 0.4},      /* round 2 skipped */
    {3, 0, 1, 0, 1, -1.0, 1.0, 1314, 7.0, 6.0},
    {3, 6, 3, 2, 0, 0.2, 0.7, 0.5, 0.05, 0.125}, /* cold start gift */
};
#define N_HAND (sizeof hand_rows / sizeof hand_rows[0])

static gope_sim_outcome hand_outcome(size_t i)
{
    return (gope_sim_outcome){
        .decision = i,
        .round = hand_rows[i].round,
        .ts = 1735689600000 + (int64_t)i * 1000,
        .user = hand_rows[i].user,
        .streamer = hand_rows[i].streamer,
        .load = hand_rows[i].load,
        .capacity = hand_rows[i].capacity,
        .match = hand_rows[i].match,
        .externality = hand_rows[i].externality,
        .reward = hand_rows[i].reward,
        .true_ev = hand_rows[i].true_ev,
        .v_static = hand_rows[i].v_static,
    };
}

static gope_metrics_t *hand_new(void)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 10, 5);
    c.user_top01 = hand_top01;
    c.user_top1 = hand_top1;
    c.streamer_cold = hand_cold;
    c.streamer_head = hand_head;
    gope_metrics_t *m = gope_metrics_new(&c);
    cr_assert_not_null(m);
    return m;
}

static const expect_row hand_expected[] = {
    {"decisions", 11.0},
    {"total_revenue", 1479.5},
    {"revenue_per_decision", 134.5},
    {"users_seen", 7.0},
    {"revenue_per_user", 211.35714285714286},
    {"gifts", 7.0},
    {"gift_rate", 0.6363636363636364},
    {"amount_p50", 10.0},
    {"amount_p90", 585.6000000000004},
    {"amount_p99", 1241.1599999999994},
    {"amount_mean", 211.35714285714286},
    {"top01_capture", 0.9300439337614059},
    {"top1_capture", 0.9307198377830348},
    {"user_gini_payers", 0.714346062859074},
    {"top1_user_share", 0.9300439337614059},
    {"streamer_gini_all", 0.7826968570462994},
    {"streamer_gini_payers", 0.6378280950771658},
    {"head_share", 0.45454545454545453},
    {"head_revenue_share", 0.04258195336262251},
    {"cold_start_success_rate", 0.5},
    {"cold_start_coverage", 0.5},
    {"coverage", 0.6},
    {"streamers_without_gift_frac", 0.4},
    {"overload_rate", 0.36363636363636365},
    {"crowding_rate", 0.36363636363636365},
    {"capacity_violations", 3.0},
    {"rounds", 3.0},
    {"cvar05", 64.0},
    {"round_revenue_var", 506283.58333333326},
    {"dwell_proxy", 0.5194318181818182},
    {"return_proxy", 0.7142857142857143},
    {"v_static_mean", 1.5886363636363638},
    {"true_ev_mean", 1.9045454545454545},
};

Test(metrics_values, hand_sequence)
{
    gope_metrics_t *m = hand_new();
    for (size_t i = 0; i < N_HAND; i++) {
        gope_sim_outcome o = hand_outcome(i);
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK, "decision %zu", i);
    }
    gope_sim_metrics out = finish_ok(m);
    expect_all(&out, hand_expected, sizeof hand_expected / sizeof hand_expected[0]);
    gope_metrics_free(m);
}

/* ---- the generated sequence ------------------------------------------------- */

static const double tiers[10] = {1, 2, 10, 52, 100, 520, 1000, 1314, 5200, 13140};
static const bool gen_top01[150] = {[7] = true};
static const bool gen_top1[150] = {[7] = true, [8] = true};
static const bool gen_cold[20] = {[17] = true, [18] = true, [19] = true}; /* 19 never chosen */
static const bool gen_head[20] = {[0] = true, [1] = true};
#define N_GEN 1050

static gope_sim_outcome gen_outcome(uint64_t i)
{
    const double ext = 1.0 / (1 + (double)(i % 3) * 0.25);
    const double match = ((double)((i * 37) % 201) - 100) / 100.0;
    const double reward = i % 5 == 0 ? tiers[(i / 5 * 3) % 10] * ext : 0.0;
    return (gope_sim_outcome){
        .decision = i,
        .round = (uint32_t)(i / 7),
        .ts = 1735689600000 + (int64_t)i,
        .user = (uint32_t)((i * 7 + 3) % 150),
        .streamer = (uint32_t)((i * 13) % 19),
        .load = (int64_t)(i % 5),
        .capacity = (int64_t)((i * 13) % 19 % 4),
        .match = match,
        .externality = ext,
        .reward = reward,
        .true_ev = reward * 0.5 + 0.1,
        .v_static = match + 1,
    };
}

static gope_metrics_t *gen_new(void)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 150, 20);
    c.user_top01 = gen_top01;
    c.user_top1 = gen_top1;
    c.streamer_cold = gen_cold;
    c.streamer_head = gen_head;
    c.crowded_below = 0.7;
    c.return_match = 0.95;
    return gope_metrics_new(&c);
}

static const expect_row gen_expected[] = {
    {"decisions", 1050.0},
    {"total_revenue", 368453.4},
    {"revenue_per_decision", 350.908},
    {"users_seen", 150.0},
    {"revenue_per_user", 2456.356},
    {"gifts", 210.0},
    {"gift_rate", 0.2},
    {"amount_p50", 223.33333333333331},
    {"amount_p90", 5555.99999999998},
    {"amount_p99", 13140.0},
    {"amount_mean", 1754.5400000000002},
    {"top01_capture", 0.0},
    {"top1_capture", 0.16642538785094668},
    {"user_gini_payers", 0.7796848303385628},
    {"top1_user_share", 0.449348547197556},
    {"streamer_gini_all", 0.14338678921133582},
    {"streamer_gini_payers", 0.09830188338035356},
    {"head_share", 0.10666666666666667},
    {"head_revenue_share", 0.10121931294432347},
    {"cold_start_success_rate", 0.6666666666666666},
    {"cold_start_coverage", 0.6666666666666666},
    {"coverage", 0.95},
    {"streamers_without_gift_frac", 0.05},
    {"overload_rate", 0.4533333333333333},
    {"crowding_rate", 0.3333333333333333},
    {"capacity_violations", 476.0},
    {"rounds", 150.0},
    {"cvar05", 0.8},
    {"round_revenue_var", 14645036.643032365},
    {"dwell_proxy", 0.4103679365079365},
    {"return_proxy", 0.21333333333333335},
    {"v_static_mean", 0.9997142857142858},
    {"true_ev_mean", 175.554},
};
#define N_GEN_EXPECTED (sizeof gen_expected / sizeof gen_expected[0])

/* Add gen_outcome(from..to-1); @return the first non-OK status. */
static gope_status gen_add(gope_metrics_t *m, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        gope_sim_outcome o = gen_outcome(i);
        gope_status st = gope_metrics_add(m, &o);
        if (st != GOPE_OK)
            return st;
    }
    return GOPE_OK;
}

Test(metrics_values, generated_sequence)
{
    gope_metrics_t *m = gen_new();
    cr_assert_not_null(m);
    cr_assert_eq(gen_add(m, 0, N_GEN), GOPE_OK);
    gope_sim_metrics out = finish_ok(m);
    expect_all(&out, gen_expected, N_GEN_EXPECTED);
    gope_metrics_free(m);
}

static void expect_identical(const gope_sim_metrics *a, const gope_sim_metrics *b)
{
    size_t n;
    const char *const *names = gope_metrics_names(&n);
    for (size_t i = 0; i < n; i++) {
        bool da, db;
        double va = gope_metrics_value(a, i, &da), vb = gope_metrics_value(b, i, &db);
        cr_expect(da == db && va == vb, "%s: %.17g vs %.17g", names[i], va, vb);
    }
}

/* finish() leaves the run open: finishing halfway and going on gives the
 * numbers of one pass, and finishing twice gives the same numbers. */
Test(metrics_values, finish_midway_then_continue)
{
    gope_metrics_t *one = gen_new(), *two = gen_new();
    cr_assert(one && two);
    cr_assert_eq(gen_add(one, 0, N_GEN), GOPE_OK);
    cr_assert_eq(gen_add(two, 0, 500), GOPE_OK);
    gope_sim_metrics half = finish_ok(two);
    cr_expect_eq(half.decisions, 500);
    cr_assert_eq(gen_add(two, 500, N_GEN), GOPE_OK);
    gope_sim_metrics a = finish_ok(one), b = finish_ok(two), c = finish_ok(two);
    expect_identical(&a, &b);
    expect_identical(&b, &c);
    gope_metrics_free(one);
    gope_metrics_free(two);
}

/* NULL world arrays: no whales, no head, no cold-start streamers. */
Test(metrics_values, null_world_arrays)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 10, 5);
    gope_metrics_t *m = gope_metrics_new(&c);
    cr_assert_not_null(m);
    for (size_t i = 0; i < N_HAND; i++) {
        gope_sim_outcome o = hand_outcome(i);
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
    }
    gope_sim_metrics out = finish_ok(m);
    expect_value(&out, "top01_capture", 0);
    expect_value(&out, "top1_capture", 0);
    expect_value(&out, "head_share", 0);
    expect_value(&out, "head_revenue_share", 0);
    expect_undefined(&out, "cold_start_success_rate");
    expect_undefined(&out, "cold_start_coverage");
    expect_value(&out, "total_revenue", 1479.5);
    gope_metrics_free(m);
}

Test(metrics_values, conf_defaults)
{
    gope_metrics_conf c;
    memset(&c, 0xff, sizeof c);
    gope_metrics_conf_init(&c, 3, 4);
    cr_expect(c.n_users == 3 && c.n_streamers == 4);
    cr_expect(c.crowded_below == 0.9 && c.return_match == 0.3);
    cr_expect(!c.user_top01 && !c.user_top1 && !c.streamer_cold && !c.streamer_head);
}

/* The thresholds are strict / inclusive as documented: externality exactly
 * crowded_below is not crowded; best match exactly return_match returns. */
Test(metrics_values, threshold_edges)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 2, 1);
    gope_metrics_t *m = gope_metrics_new(&c);
    cr_assert_not_null(m);
    const gope_sim_outcome o[] = {
        {.decision = 0, .user = 0, .externality = 0.9, .match = 0.3},
        {.decision = 1, .user = 1, .externality = 0.8999999999999999, .match = 0.29},
    };
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq(gope_metrics_add(m, &o[i]), GOPE_OK);
    gope_sim_metrics out = finish_ok(m);
    expect_value(&out, "crowding_rate", 0.5);
    expect_value(&out, "return_proxy", 0.5);
    expect_value(&out, "dwell_proxy", (0.9 * 1.3 / 2 + 0.8999999999999999 * 1.29 / 2) / 2);
    gope_metrics_free(m);
}

/* ---- undefined values -------------------------------------------------------- */

Test(metrics_undefined, no_decisions)
{
    gope_metrics_t *m = hand_new();
    gope_sim_metrics out = finish_ok(m);
    const expect_row want[] = {
        {"decisions", 0},
        {"total_revenue", 0},
        {"revenue_per_decision", NAN},
        {"users_seen", 0},
        {"revenue_per_user", NAN},
        {"gifts", 0},
        {"gift_rate", NAN},
        {"amount_p50", NAN},
        {"amount_p90", NAN},
        {"amount_p99", NAN},
        {"amount_mean", NAN},
        {"top01_capture", NAN},
        {"top1_capture", NAN},
        {"user_gini_payers", NAN},
        {"top1_user_share", NAN},
        {"streamer_gini_all", NAN},
        {"streamer_gini_payers", NAN},
        {"head_share", NAN},
        {"head_revenue_share", NAN},
        {"cold_start_success_rate", 0},
        {"cold_start_coverage", 0},
        {"coverage", 0},
        {"streamers_without_gift_frac", 1},
        {"overload_rate", NAN},
        {"crowding_rate", NAN},
        {"capacity_violations", 0},
        {"rounds", 0},
        {"cvar05", NAN},
        {"round_revenue_var", NAN},
        {"dwell_proxy", NAN},
        {"return_proxy", NAN},
        {"v_static_mean", NAN},
        {"true_ev_mean", NAN},
    };
    expect_all(&out, want, sizeof want / sizeof want[0]);
    gope_metrics_free(m);
}

/* Decisions but not a single gift: every share of revenue is undefined,
 * per-decision and per-round figures are 0. */
Test(metrics_undefined, no_revenue)
{
    gope_metrics_t *m = hand_new();
    for (size_t i = 0; i < N_HAND; i++) {
        gope_sim_outcome o = hand_outcome(i);
        o.reward = 0;
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
    }
    gope_sim_metrics out = finish_ok(m);
    const char *undefined[] = {"amount_p50", "amount_p90", "amount_p99", "amount_mean",
                               "top01_capture", "top1_capture", "user_gini_payers",
                               "top1_user_share", "streamer_gini_all", "streamer_gini_payers",
                               "head_revenue_share"};
    for (size_t i = 0; i < sizeof undefined / sizeof undefined[0]; i++)
        expect_undefined(&out, undefined[i]);
    expect_value(&out, "total_revenue", 0);
    expect_value(&out, "revenue_per_decision", 0);
    expect_value(&out, "revenue_per_user", 0);
    expect_value(&out, "gift_rate", 0);
    expect_value(&out, "gifts", 0);
    expect_value(&out, "cold_start_success_rate", 0);
    expect_value(&out, "cold_start_coverage", 0.5);
    expect_value(&out, "coverage", 0);
    expect_value(&out, "streamers_without_gift_frac", 1);
    expect_value(&out, "cvar05", 0);
    expect_value(&out, "round_revenue_var", 0);
    expect_value(&out, "head_share", 5.0 / 11);
    gope_metrics_free(m);
}

Test(metrics_undefined, no_cold_start_streamers)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 10, 5);
    static const bool none[5] = {false};
    c.streamer_cold = none;
    gope_metrics_t *m = gope_metrics_new(&c);
    cr_assert_not_null(m);
    gope_sim_outcome o = hand_outcome(0);
    cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
    gope_sim_metrics out = finish_ok(m);
    expect_undefined(&out, "cold_start_success_rate");
    expect_undefined(&out, "cold_start_coverage");
    expect_value(&out, "coverage", 0.2);
    gope_metrics_free(m);
}

/* One round: a CVaR (its revenue) but no sample variance; one payer: Gini 0. */
Test(metrics_undefined, one_round)
{
    gope_metrics_t *m = hand_new();
    for (size_t i = 0; i < 2; i++) {
        gope_sim_outcome o = hand_outcome(i);
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
    }
    gope_sim_metrics out = finish_ok(m);
    expect_value(&out, "rounds", 1);
    expect_value(&out, "cvar05", 52);
    expect_undefined(&out, "round_revenue_var");
    expect_value(&out, "user_gini_payers", 0);
    expect_value(&out, "streamer_gini_payers", 0);
    expect_value(&out, "top1_user_share", 1);
    gope_metrics_free(m);
}

/* An empty world: nothing can be added and every ratio over it is undefined. */
Test(metrics_undefined, empty_world)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 0, 0);
    gope_metrics_t *m = gope_metrics_new(&c);
    cr_assert_not_null(m);
    gope_sim_metrics out = finish_ok(m);
    expect_undefined(&out, "coverage");
    expect_undefined(&out, "streamers_without_gift_frac");
    expect_undefined(&out, "streamer_gini_all");
    const gope_sim_outcome o = {.externality = 1};
    cr_expect_eq(gope_metrics_add(m, &o), GOPE_ERR_INPUT);
    gope_metrics_free(m);
}

/* Finite rewards whose sum overflows: the sums become undefined, never inf. */
Test(metrics_undefined, overflow)
{
    gope_metrics_t *m = hand_new();
    for (size_t i = 0; i < 2; i++) {
        gope_sim_outcome o = hand_outcome(i);
        o.reward = 1e308;
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
    }
    gope_sim_metrics out = finish_ok(m);
    size_t n;
    gope_metrics_names(&n);
    for (size_t i = 0; i < n; i++) {
        bool def;
        cr_expect(isfinite(gope_metrics_value(&out, i, &def)));
    }
    expect_undefined(&out, "total_revenue");
    expect_undefined(&out, "revenue_per_decision");
    expect_value(&out, "amount_p50", 1e308);
    expect_value(&out, "gift_rate", 1);
    gope_metrics_free(m);
}

/* ---- capacity ----------------------------------------------------------------- */

/* Overload is per decision; a violation is a distinct (round, streamer). */
Test(metrics_capacity, distinct_round_streamer_pairs)
{
    gope_metrics_conf c;
    gope_metrics_conf_init(&c, 1, 3);
    gope_metrics_t *m = gope_metrics_new(&c);
    cr_assert_not_null(m);
    const struct {
        uint32_t round, streamer;
        int64_t load, capacity;
    } rows[] = {
        {0, 0, 5, 5},         /* violation 1: (0, s0) */
        {0, 0, 6, 5},         /* same pair */
        {0, 1, 4, 5},         /* load + 1 == capacity: no */
        {0, 2, 1000000, 0},   /* capacity 0 = unlimited: no */
        {1, 0, 7, 5},         /* violation 2: (1, s0) */
        {1, 1, 5, 5},         /* violation 3: (1, s1) */
        {1, 0, 0, 5},         /* not overloaded */
        {1, 0, 9, 5},         /* (1, s0) again */
        {4, 0, 1, 1},         /* violation 4: (4, s0) */
        {4, 2, INT64_MAX, 3}, /* violation 5, no overflow */
    };
    const size_t n = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < n; i++) {
        const gope_sim_outcome o = {.decision = i, .round = rows[i].round,
                                    .streamer = rows[i].streamer, .load = rows[i].load,
                                    .capacity = rows[i].capacity, .externality = 1};
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK, "row %zu", i);
    }
    gope_sim_metrics out = finish_ok(m);
    cr_expect_eq(out.capacity_violations, 5);
    expect_value(&out, "overload_rate", 7.0 / 10);
    expect_value(&out, "rounds", 3);
    gope_metrics_free(m);
}

/* ---- errors ----------------------------------------------------------------- */

typedef struct {
    const char *what;
    void (*spoil)(gope_sim_outcome *o);
    const char *msg; /* substring of the message */
} bad_case;

static void bad_round(gope_sim_outcome *o) { o->round = 0; }
static void bad_user(gope_sim_outcome *o) { o->user = 10; }
static void bad_streamer(gope_sim_outcome *o) { o->streamer = 5; }
static void bad_load(gope_sim_outcome *o) { o->load = -1; }
static void bad_capacity(gope_sim_outcome *o) { o->capacity = -3; }
static void bad_reward_nan(gope_sim_outcome *o) { o->reward = NAN; }
static void bad_reward_neg(gope_sim_outcome *o) { o->reward = -1; }
static void bad_match(gope_sim_outcome *o) { o->match = INFINITY; }
static void bad_externality(gope_sim_outcome *o) { o->externality = NAN; }
static void bad_true_ev(gope_sim_outcome *o) { o->true_ev = -INFINITY; }
static void bad_v_static(gope_sim_outcome *o) { o->v_static = NAN; }

static const bad_case bad_cases[] = {
    {"decreasing round", bad_round, "decision 4: round 0 after round 1"},
    {"user", bad_user, "decision 4: user 10 outside the world (10 users)"},
    {"streamer", bad_streamer, "decision 4: streamer 5 outside the world (5 streamers)"},
    {"load", bad_load, "decision 4: load -1, capacity 5: must be >= 0"},
    {"capacity", bad_capacity, "capacity -3"},
    {"reward nan", bad_reward_nan, "decision 4: reward: not finite"},
    {"reward negative", bad_reward_neg, "decision 4: reward -1: negative"},
    {"match", bad_match, "match: not finite"},
    {"externality", bad_externality, "externality: not finite"},
    {"true_ev", bad_true_ev, "true_ev: not finite"},
    {"v_static", bad_v_static, "v_static: not finite"},
};

/* Decisions 0..3 (round 0) are fine, then a spoiled decision 4 (round 1):
 * the error names it, and it sticks to later good outcomes and to finish. */
Test(metrics_errors, bad_outcome_is_sticky)
{
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        const bad_case *bc = &bad_cases[k];
        gope_metrics_t *m = hand_new();
        for (size_t i = 0; i < 4; i++) {
            gope_sim_outcome o = hand_outcome(i);
            cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
        }
        gope_sim_outcome o = hand_outcome(4);
        if (bc->spoil == bad_round) /* round 1 must have been seen */
            cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
        bc->spoil(&o);
        cr_expect_eq(gope_metrics_add(m, &o), GOPE_ERR_INPUT, "%s", bc->what);
        gope_sim_outcome good = hand_outcome(5);
        cr_expect_eq(gope_metrics_add(m, &good), GOPE_ERR_INPUT, "%s: not sticky", bc->what);
        gope_sim_metrics out;
        memset(&out, 0x5a, sizeof out);
        gope_err err = {{0}};
        cr_expect_eq(gope_metrics_finish(m, &out, &err), GOPE_ERR_INPUT, "%s", bc->what);
        cr_expect(strstr(err.msg, bc->msg), "%s: message \"%s\" lacks \"%s\"", bc->what, err.msg,
                  bc->msg);
        cr_expect_eq(out.decisions, 0x5a5a5a5a5a5a5a5aULL, "%s: out written on error", bc->what);
        gope_metrics_free(m);
    }
}

Test(metrics_errors, finish_err_may_be_null)
{
    gope_metrics_t *m = hand_new();
    gope_sim_outcome o = hand_outcome(0);
    o.user = 99;
    cr_assert_eq(gope_metrics_add(m, &o), GOPE_ERR_INPUT);
    gope_sim_metrics out;
    cr_expect_eq(gope_metrics_finish(m, &out, NULL), GOPE_ERR_INPUT);
    gope_metrics_free(m);
    gope_metrics_free(NULL);
}

/* ---- out of memory ------------------------------------------------------------ */

/* Fail the n-th allocation for n = 0, 1, ... (new, the growth of both arrays,
 * finish's scratch) until the whole run succeeds; each failure must be a
 * clean NULL / GOPE_ERR_NOMEM, and the final run must give the expected
 * numbers. `persistent`: every later allocation fails too. */
static void oom_loop(bool persistent)
{
    long n;
    for (n = 0; n < 1000; n++) {
        fa_fail_after(n, persistent);
        gope_metrics_t *m = gen_new();
        if (!m) {
            fa_off();
            cr_assert(fa_triggered(), "new returned NULL without a failure (n=%ld)", n);
            continue;
        }
        gope_status st = gen_add(m, 0, N_GEN);
        gope_sim_metrics out;
        gope_err err = {{0}};
        gope_status fst = gope_metrics_finish(m, &out, &err);
        fa_off();
        gope_metrics_free(m);
        if (st == GOPE_OK && fst == GOPE_OK) {
            cr_assert(!fa_triggered() || !persistent, "success despite a failure (n=%ld)", n);
            expect_all(&out, gen_expected, N_GEN_EXPECTED);
            break;
        }
        cr_assert(fa_triggered(), "n=%ld: error without a failure", n);
        cr_assert_eq(fst, GOPE_ERR_NOMEM, "n=%ld: %s", n, err.msg);
        cr_assert(st == GOPE_OK || st == GOPE_ERR_NOMEM, "n=%ld", n);
        cr_assert(strstr(err.msg, "out of memory"), "n=%ld: %s", n, err.msg);
    }
    /* new: 3 allocations; rounds grow 64 -> 256: 3; amounts 64 -> 256: 3;
     * finish: 1 */
    cr_expect_eq(n, 10, "succeeded after %ld failure points", n);
}

Test(metrics_oom, persistent) { oom_loop(true); }
Test(metrics_oom, transient) { oom_loop(false); }

/* ---- names and JSON ----------------------------------------------------------- */

/* Every field of gope_sim_metrics is in the name table exactly once. */
Test(metrics_names, table_covers_the_struct)
{
    size_t n, size = 0;
    const char *const *names = gope_metrics_names(&n);
    for (size_t i = 0; i < n; i++) {
        size += gope_metrics_is_count(i) ? sizeof(uint64_t) : sizeof(gope_mval);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(names[i], names[j]);
    }
    cr_expect_eq(size, sizeof(gope_sim_metrics));
    cr_expect(!gope_metrics_is_count(n));
    bool def = true;
    gope_sim_metrics m = {.decisions = 3};
    cr_expect_eq(gope_metrics_value(&m, n, &def), 0);
    cr_expect(!def);
    cr_expect_eq(gope_metrics_value(&m, 0, NULL), 3);
    cr_expect_str_eq(names[0], "decisions");
}

/* The JSON object: keys in table order, counts as integers, undefined as
 * null, every number read back bit-exact. */
static void check_json(const gope_sim_metrics *m)
{
    gope_jbuf b = {0};
    gope_jbuf_str(&b, "{\"metrics\":");
    gope_metrics_json(m, &b);
    gope_jbuf_str(&b, "}");
    cr_assert(!b.oom);
    cJSON *root = cJSON_Parse(b.data);
    cr_assert_not_null(root, "does not parse: %s", b.data);
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    cr_assert(cJSON_IsObject(obj));
    size_t n;
    const char *const *names = gope_metrics_names(&n);
    const cJSON *it = obj->child;
    for (size_t i = 0; i < n; i++, it = it->next) {
        cr_assert_not_null(it, "missing %s", names[i]);
        cr_expect_str_eq(it->string, names[i]);
        bool def;
        double v = gope_metrics_value(m, i, &def);
        if (!def) {
            cr_expect(cJSON_IsNull(it), "%s should be null", names[i]);
        } else {
            cr_expect(cJSON_IsNumber(it) && it->valuedouble == v, "%s: %.17g vs %.17g",
                      names[i], it->valuedouble, v);
            if (gope_metrics_is_count(i)) {
                char want[128];
                snprintf(want, sizeof want, "\"%s\":%.0f", names[i], v);
                const char *at = strstr(b.data, want);
                cr_expect(at && (at[strlen(want)] == ',' || at[strlen(want)] == '}'),
                          "%s: not an integer in %s", names[i], b.data);
            }
        }
    }
    cr_expect_null(it, "extra key %s", it ? it->string : "");
    cJSON_Delete(root);
    gope_jbuf_free(&b);
}

Test(metrics_json, values_and_nulls)
{
    gope_metrics_t *m = hand_new();
    gope_sim_metrics empty = finish_ok(m);
    check_json(&empty);
    for (size_t i = 0; i < N_HAND; i++) {
        gope_sim_outcome o = hand_outcome(i);
        cr_assert_eq(gope_metrics_add(m, &o), GOPE_OK);
    }
    gope_sim_metrics full = finish_ok(m);
    check_json(&full);
    gope_metrics_free(m);
}

Test(metrics_json, oom_is_flagged)
{
    gope_metrics_t *m = hand_new();
    gope_sim_metrics out = finish_ok(m);
    gope_metrics_free(m);
    gope_jbuf b = {0};
    fa_fail_after(0, true);
    gope_metrics_json(&out, &b);
    fa_off();
    cr_expect(b.oom);
    gope_jbuf_free(&b);
}
