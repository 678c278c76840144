/*
 * test_agree.c — OPE-vs-simulator agreement on hand-made records: every path
 * of the verdict rules (a table of cases, boundaries included), the numbers
 * behind them (relative errors, coverage, the simulator lift and its V_online
 * fallback), the sentences, --rules parsing, and the session: records read
 * back from JSON lines with field-naming errors, per-window rankings passed
 * through from gope_stats, and the sink that annotates replay records.
 * The truth file reader and out-of-memory runs: test_agree_truth.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agree_int.h"
#include "gope_stats.h"
#include "testutil.h"

static gope_agree_est ci(double v, double lo, double hi)
{
    return (gope_agree_est){v, lo, hi, true, true};
}

/* The logging policy's truth in every case: V_static 10, V_online 10. */
static const gope_truth_policy logger = {
    .policy = "logger", .logging = true, .online_mean = 10, .online_ci_low = 9.8,
    .online_ci_high = 10.2, .online_ci_ok = true, .online_n = 20, .v_static = 10,
    .v_static_ok = true,
};

static gope_truth_policy truth_of(const char *policy, double v_static, double online)
{
    return (gope_truth_policy){.policy = policy, .online_mean = online, .online_ci_low = online - 0.5,
                               .online_ci_high = online + 0.5, .online_ci_ok = true,
                               .online_n = 20, .v_static = v_static, .v_static_ok = true};
}

typedef struct {
    const char *what;
    gope_agree_est snips, lift;
    double ess;
    bool ess_ok;
    bool in_truth;
    double v_static; /* the policy's; V_online is v_static - 0.1 */
    gope_verdict verdict;
    unsigned reasons;
} rule_case;

#define OK_ALL (GOPE_AR_SIGNS_AGREE | GOPE_AR_LIFT_CI_ABOVE | GOPE_AR_REL_OK | GOPE_AR_ESS_OK)

static const rule_case cases[] = {
    {"launch", {12, 11, 13, 1, 1}, {2, 1, 3, 1, 1}, 500, 1, 1, 11.5, GOPE_VERDICT_LAUNCH, OK_ALL},
    {"signs disagree", {11, 10, 12, 1, 1}, {1, 0.5, 1.5, 1, 1}, 500, 1, 1, 9,
     GOPE_VERDICT_BLOCK, GOPE_AR_SIGNS_DISAGREE},
    {"OPE lift exactly 0 vs a positive simulator lift", {10, 9, 11, 1, 1}, {0, -1, 1, 1, 1}, 500,
     1, 1, 11, GOPE_VERDICT_BLOCK, GOPE_AR_SIGNS_DISAGREE},
    {"lift CI below 0", {8, 7, 9, 1, 1}, {-2, -3, -1, 1, 1}, 500, 1, 1, 8, GOPE_VERDICT_BLOCK,
     GOPE_AR_LIFT_CI_BELOW},
    {"ESS just below the minimum", {12, 11, 13, 1, 1}, {2, 1, 3, 1, 1}, 99.999, 1, 1, 11.5,
     GOPE_VERDICT_BLOCK, GOPE_AR_ESS_LOW},
    {"ESS undefined counts as 0", {12, 11, 13, 1, 1}, {2, 1, 3, 1, 1}, 0, 0, 1, 11.5,
     GOPE_VERDICT_BLOCK, GOPE_AR_ESS_LOW},
    {"ESS exactly the minimum", {12, 11, 13, 1, 1}, {2, 1, 3, 1, 1}, 100, 1, 1, 11.5,
     GOPE_VERDICT_LAUNCH, OK_ALL},
    {"every block reason at once", {8, 7, 9, 1, 1}, {-2, -3, -1, 1, 1}, 5, 1, 1, 12,
     GOPE_VERDICT_BLOCK, GOPE_AR_SIGNS_DISAGREE | GOPE_AR_LIFT_CI_BELOW | GOPE_AR_ESS_LOW},
    {"lift CI includes 0", {11, 10, 12, 1, 1}, {1, -0.5, 2.5, 1, 1}, 500, 1, 1, 11,
     GOPE_VERDICT_REVIEW, GOPE_AR_LIFT_CI_ZERO},
    {"lift CI starts at 0: not entirely above", {11, 10, 12, 1, 1}, {1, 0, 2, 1, 1}, 500, 1, 1,
     11, GOPE_VERDICT_REVIEW, GOPE_AR_LIFT_CI_ZERO},
    {"lift CI ends at 0: not entirely below", {9, 8, 10, 1, 1}, {-1, -2, 0, 1, 1}, 500, 1, 1, 9,
     GOPE_VERDICT_REVIEW, GOPE_AR_LIFT_CI_ZERO},
    {"lift without a CI", {11, 10, 12, 1, 1}, {1, 0, 0, 1, 0}, 500, 1, 1, 11,
     GOPE_VERDICT_REVIEW, GOPE_AR_LIFT_CI_MISSING},
    {"no snips_lift at all", {11, 10, 12, 1, 1}, {0, 0, 0, 0, 0}, 500, 1, 1, 11,
     GOPE_VERDICT_REVIEW, GOPE_AR_SIGN_UNKNOWN | GOPE_AR_LIFT_CI_MISSING},
    {"relative error above the maximum", {14, 13, 15, 1, 1}, {4, 3, 5, 1, 1}, 500, 1, 1, 11,
     GOPE_VERDICT_REVIEW, GOPE_AR_REL_HIGH},
    {"relative error exactly the maximum", {15, 14, 16, 1, 1}, {5, 4, 6, 1, 1}, 500, 1, 1, 12.5,
     GOPE_VERDICT_LAUNCH, OK_ALL},
    {"snips undefined", {0, 0, 0, 0, 0}, {2, 1, 3, 1, 1}, 500, 1, 1, 11, GOPE_VERDICT_REVIEW,
     GOPE_AR_REL_UNKNOWN},
    {"simulator value 0", {1, 0.5, 1.5, 1, 1}, {-1, -2, 0.5, 1, 1}, 500, 1, 1, 0,
     GOPE_VERDICT_REVIEW, GOPE_AR_LIFT_CI_ZERO | GOPE_AR_REL_UNKNOWN},
    {"policy not in the truth file", {11, 10, 12, 1, 1}, {1, 0.5, 1.5, 1, 1}, 500, 1, 0, 0,
     GOPE_VERDICT_REVIEW, GOPE_AR_SIGN_UNKNOWN | GOPE_AR_REL_UNKNOWN | GOPE_AR_NO_TRUTH},
    {"no truth, but the lift CI is below 0", {8, 7, 9, 1, 1}, {-2, -3, -1, 1, 1}, 500, 1, 0, 0,
     GOPE_VERDICT_BLOCK, GOPE_AR_LIFT_CI_BELOW},
};

static gope_agree_rules default_rules(void)
{
    gope_agree_rules r;
    cr_assert_eq(gope_agree_rules_parse(NULL, &r, NULL), GOPE_OK);
    return r;
}

static void compare_case(const rule_case *c, const gope_agree_rules *rules, gope_agreement *out)
{
    gope_agree_ope ope = {.start = 0, .end = 1000, .policy = "p", .n = 1000, .snips = c->snips,
                          .dr = c->snips, .lift = c->lift, .ess = c->ess, .ess_ok = c->ess_ok};
    gope_truth_policy pt = truth_of("p", c->v_static, c->v_static - 0.1);
    gope_agree_compare(&ope, c->in_truth ? &pt : NULL, &logger, rules, out);
}

Test(agree_rules, every_rule_path)
{
    const gope_agree_rules rules = default_rules();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gope_agreement a;
        compare_case(&cases[i], &rules, &a);
        cr_expect_eq(a.verdict, cases[i].verdict, "%s: verdict %s, want %s", cases[i].what,
                     gope_verdict_name(a.verdict), gope_verdict_name(cases[i].verdict));
        cr_expect_eq(a.reasons, cases[i].reasons, "%s: reasons %#x, want %#x", cases[i].what,
                     a.reasons, cases[i].reasons);
    }
}

Test(agree_rules, the_logging_policy_is_the_baseline)
{
    const gope_agree_rules rules = default_rules();
    /* even with numbers that would block any other policy */
    gope_agree_ope ope = {.policy = "logger", .snips = ci(10, 9, 11), .lift = ci(-1, -2, -0.5),
                          .ess = 1, .ess_ok = true};
    gope_agreement a;
    gope_agree_compare(&ope, &logger, &logger, &rules, &a);
    cr_expect_eq(a.verdict, GOPE_VERDICT_BASELINE);
    cr_expect_eq(a.reasons, GOPE_AR_BASELINE);
    cr_expect(a.sim_lift_ok && a.sim_lift == 0);
}

Test(agree_rules, thresholds_come_from_the_rules)
{
    gope_agree_rules strict;
    cr_assert_eq(gope_agree_rules_parse("ess_min=1000, rel_max=0.01", &strict, NULL), GOPE_OK);
    cr_expect(strict.ess_min == 1000 && strict.rel_max == 0.01);
    gope_agreement a;
    compare_case(&cases[0], &strict, &a); /* launch under the defaults */
    cr_expect_eq(a.verdict, GOPE_VERDICT_BLOCK);
    cr_expect_eq(a.reasons, GOPE_AR_ESS_LOW);
    cr_assert_eq(gope_agree_rules_parse("ess_min=0,rel_max=0.01", &strict, NULL), GOPE_OK);
    compare_case(&cases[0], &strict, &a);
    cr_expect_eq(a.verdict, GOPE_VERDICT_REVIEW);
    cr_expect_eq(a.reasons, GOPE_AR_REL_HIGH);
    compare_case(&cases[5], &strict, &a); /* ESS undefined passes ess_min = 0 */
    cr_expect_neq(a.reasons & GOPE_AR_ESS_LOW, GOPE_AR_ESS_LOW);
}

Test(agree_rules, errors_coverage_and_lift_numbers)
{
    const gope_agree_rules rules = default_rules();
    gope_agree_ope ope = {.policy = "p", .snips = ci(12, 11, 13), .dr = ci(10.5, 10.4, 10.6),
                          .lift = ci(2, 1, 3), .ess = 500, .ess_ok = true};
    gope_truth_policy pt = truth_of("p", 11.5, 12.5);
    gope_agreement a;
    gope_agree_compare(&ope, &pt, &logger, &rules, &a);
    cr_expect(a.in_truth && a.truth_ok[GOPE_AGREE_STATIC] && a.truth_ok[GOPE_AGREE_ONLINE]);
    cr_expect(tu_close(a.rel_err[GOPE_AGREE_SNIPS][GOPE_AGREE_STATIC], 0.5 / 11.5));
    cr_expect(tu_close(a.rel_err[GOPE_AGREE_SNIPS][GOPE_AGREE_ONLINE], 0.5 / 12.5));
    cr_expect(tu_close(a.rel_err[GOPE_AGREE_DR][GOPE_AGREE_STATIC], 1 / 11.5));
    cr_expect(tu_close(a.rel_err[GOPE_AGREE_DR][GOPE_AGREE_ONLINE], 2 / 12.5));
    cr_expect_eq(a.covers[GOPE_AGREE_SNIPS][GOPE_AGREE_STATIC], 1);
    cr_expect_eq(a.covers[GOPE_AGREE_SNIPS][GOPE_AGREE_ONLINE], 1);
    cr_expect_eq(a.covers[GOPE_AGREE_DR][GOPE_AGREE_STATIC], 0);
    cr_expect_eq(a.covers[GOPE_AGREE_DR][GOPE_AGREE_ONLINE], 0);
    cr_expect(a.sim_lift_ok && tu_close(a.sim_lift, 1.5));
    cr_expect_eq(a.sim_lift_source, GOPE_AGREE_STATIC);
    cr_expect(a.ref_ok && a.ref == 11.5 && a.ref_source == GOPE_AGREE_STATIC);
    cr_expect_eq(a.signs_agree, 1);
    cr_expect_str_eq(a.logging_policy, "logger");

    ope.dr.ci_ok = false; /* no CI: coverage unknown, the error still defined */
    gope_agree_compare(&ope, &pt, &logger, &rules, &a);
    cr_expect_eq(a.covers[GOPE_AGREE_DR][GOPE_AGREE_STATIC], -1);
    cr_expect(a.rel_ok[GOPE_AGREE_DR][GOPE_AGREE_STATIC]);
}

/* Without V_static (a truth run without --log), V_online stands in for the
 * lift, the ranking and the relative-error rule, and the output says so. */
Test(agree_rules, v_online_when_there_is_no_v_static)
{
    const gope_agree_rules rules = default_rules();
    gope_agree_ope ope = {.policy = "p", .snips = ci(11.5, 11, 12), .lift = ci(1.5, 1, 2),
                          .ess = 500, .ess_ok = true};
    gope_truth_policy pt = truth_of("p", 0, 11);
    pt.v_static_ok = false;
    gope_agreement a;
    gope_agree_compare(&ope, &pt, &logger, &rules, &a);
    cr_expect(!a.truth_ok[GOPE_AGREE_STATIC] && !a.rel_ok[GOPE_AGREE_SNIPS][GOPE_AGREE_STATIC]);
    cr_expect_eq(a.covers[GOPE_AGREE_SNIPS][GOPE_AGREE_STATIC], -1);
    cr_expect(a.sim_lift_ok && tu_close(a.sim_lift, 1.0));
    cr_expect_eq(a.sim_lift_source, GOPE_AGREE_ONLINE);
    cr_expect(a.ref_ok && a.ref == 11 && a.ref_source == GOPE_AGREE_ONLINE);
    cr_expect_eq(a.verdict, GOPE_VERDICT_LAUNCH, "%s", gope_verdict_name(a.verdict));

    /* the policy has V_static but the logging policy not: the lift must
     * compare like with like, so it falls back to V_online too */
    gope_truth_policy lt = logger;
    lt.v_static_ok = false;
    pt = truth_of("p", 11.7, 11);
    gope_agree_compare(&ope, &pt, &lt, &rules, &a);
    cr_expect_eq(a.sim_lift_source, GOPE_AGREE_ONLINE);
    cr_expect(tu_close(a.sim_lift, 1.0));
    cr_expect_eq(a.ref_source, GOPE_AGREE_STATIC);
}

Test(agree_rules, sentences_carry_the_numbers)
{
    const gope_agree_rules rules = default_rules();
    gope_agreement a;
    char buf[1024];
    compare_case(&cases[0], &rules, &a);
    size_t len = gope_agree_explain(&a, &rules, buf, sizeof buf);
    cr_expect_eq(len, strlen(buf));
    cr_expect(strncmp(buf, "Launch: OPE and the simulator agree", 35) == 0, "%s", buf);
    cr_expect(strstr(buf, "(OPE +2, simulator +1.5 from V_static)"), "%s", buf);
    cr_expect(strstr(buf, "CI [1, 3] lies entirely above 0"), "%s", buf);
    cr_expect(strstr(buf, "ESS 500 >= 100."), "%s", buf);
    compare_case(&cases[7], &rules, &a);
    gope_agree_explain(&a, &rules, buf, sizeof buf);
    cr_expect(strstr(buf, "Block: OPE and the simulator disagree") && strstr(buf, "below 0; ESS 5 "),
              "%s", buf);
    compare_case(&cases[5], &rules, &a);
    gope_agree_explain(&a, &rules, buf, sizeof buf);
    cr_expect(strstr(buf, "ESS is undefined"), "%s", buf);
    compare_case(&cases[17], &rules, &a);
    gope_agree_explain(&a, &rules, buf, sizeof buf);
    cr_expect(strstr(buf, "Review: ") && strstr(buf, "no line for this policy."), "%s", buf);

    char small[16];
    size_t need = gope_agree_explain(&a, &rules, small, sizeof small);
    cr_expect_eq(need, strlen(buf), "the length needed, like snprintf");
    cr_expect_str_eq(small, "Review: the lif");
    cr_expect_eq(gope_agree_explain(&a, &rules, NULL, 0), need);
}

Test(agree_rules, names)
{
    cr_expect_str_eq(gope_verdict_name(GOPE_VERDICT_LAUNCH), "launch");
    cr_expect_str_eq(gope_verdict_name(GOPE_VERDICT_BASELINE), "baseline");
    cr_expect_str_eq(gope_verdict_name(GOPE_VERDICT_COUNT), "unknown");
    cr_expect_str_eq(gope_agree_reason_name(GOPE_AR_SIGNS_DISAGREE), "lift_signs_disagree");
    cr_expect_str_eq(gope_agree_reason_name(GOPE_AR_NO_TRUTH), "policy_not_in_truth");
    cr_expect_str_eq(gope_agree_reason_name(3), "unknown");
    for (unsigned i = 0; i < GOPE_AR_COUNT; i++)
        cr_expect_str_neq(gope_agree_reason_name(1u << i), "unknown", "bit %u", i);
}

static void expect_bad_rules(const char *spec, const char *needle)
{
    gope_agree_rules r;
    gope_err err = {{0}};
    cr_expect_eq(gope_agree_rules_parse(spec, &r, &err), GOPE_ERR_USAGE, "\"%s\"", spec);
    cr_expect(strstr(err.msg, needle), "\"%s\": message \"%s\" lacks \"%s\"", spec, err.msg,
              needle);
}

Test(agree_rules, bad_rules_name_the_item)
{
    gope_agree_rules r;
    cr_expect_eq(gope_agree_rules_parse("", &r, NULL), GOPE_OK);
    cr_expect(r.ess_min == GOPE_AGREE_ESS_MIN && r.rel_max == GOPE_AGREE_REL_MAX);
    cr_expect_eq(gope_agree_rules_parse("rel_max=1e-3", &r, NULL), GOPE_OK);
    cr_expect(r.rel_max == 1e-3 && r.ess_min == GOPE_AGREE_ESS_MIN);
    expect_bad_rules("foo=1", "item 1 \"foo=1\": expected KEY=VALUE with KEY one of ess_min");
    expect_bad_rules("ess_min", "item 1 \"ess_min\": expected KEY=VALUE");
    expect_bad_rules("ess_min=10,rel_max=abc", "item 2 \"rel_max=abc\": rel_max must be a finite number > 0");
    expect_bad_rules("rel_max=0", "rel_max must be a finite number > 0");
    expect_bad_rules("ess_min=-1", "ess_min must be a finite number >= 0");
    expect_bad_rules("ess_min=inf", "ess_min must be");
    expect_bad_rules("ess_min=5x", "ess_min must be");
    expect_bad_rules("ess_min=1,", "item 2 is empty");
    char long_item[200];
    memset(long_item, 'a', sizeof long_item - 1);
    long_item[sizeof long_item - 1] = '\0';
    expect_bad_rules(long_item, "item 1 is too long");
}

/* ------------------------------------------------------------ session */

static gope_truth_t *fixture_truth(const char *name)
{
    char path[512];
    gope_truth_t *t;
    gope_err err = {{0}};
    snprintf(path, sizeof path, GOPE_TEST_DATA "/agree/%s", name);
    cr_assert_eq(gope_truth_load(path, &t, &err), GOPE_OK, "%s", err.msg);
    return t;
}

/* An ope_metrics.v1 line as replay writes it (the fields agreement reads). */
static const char *record(char *buf, size_t size, const char *policy, long long start,
                          double snips, double lift, double ess)
{
    snprintf(buf, size,
             "{\"schema\":\"ope_metrics.v1\",\"window\":{\"start\":%lld,\"end\":%lld},"
             "\"policy\":\"%s\",\"n\":100,\"estimates\":{\"snips\":{\"value\":%.17g,"
             "\"stderr\":1,\"ci_low\":%.17g,\"ci_high\":%.17g},\"snips_lift\":{\"value\":%.17g,"
             "\"stderr\":0.25,\"ci_low\":%.17g,\"ci_high\":%.17g}},\"diagnostics\":{\"n\":100,"
             "\"ess\":%.17g},\"warnings\":[]}",
             start, start + 1000, policy, snips, snips - 1, snips + 1, lift, lift - 0.5,
             lift + 0.5, ess);
    return buf;
}

static const gope_agreement *feed(gope_agree_t *a, const char *line)
{
    const gope_agreement *out;
    gope_err err = {{0}};
    cr_assert_eq(gope_agree_line(a, "t", 1, line, strlen(line), &out, &err), GOPE_OK, "%s",
                 err.msg);
    return out;
}

Test(agree_session, records_are_read_back_and_compared)
{
    gope_truth_t *t = fixture_truth("truth.jsonl");
    gope_agree_rules rules = default_rules();
    gope_agree_t *a;
    char buf[1024];
    cr_assert_eq(gope_agree_new(t, &rules, &a, NULL), GOPE_OK);
    const gope_agreement *g = feed(a, record(buf, sizeof buf, "winner", 0, 12, 2, 800));
    cr_assert(g);
    cr_expect_str_eq(g->ope.policy, "winner");
    cr_expect(g->ope.snips.value == 12 && g->ope.snips.ci_low == 11 && g->ope.snips.ci_ok);
    cr_expect(!g->ope.dr.value_ok && !g->ope.dr.ci_ok, "dr absent: undefined");
    cr_expect(g->ope.lift.value == 2 && g->ope.lift.ci_low == 1.5 && g->ope.n == 100);
    cr_expect(g->ope.ess_ok && g->ope.ess == 800 && g->ope.end == 1000);
    cr_expect_eq(g->verdict, GOPE_VERDICT_LAUNCH);
    cr_expect_null(feed(a, "{\"schema\":\"ope_run.v1\",\"records\":1}"), "summary skipped");
    cr_expect_null(feed(a, "  \r"), "blank line skipped");
    g = feed(a, record(buf, sizeof buf, "ghost", 0, 11, 1, 500));
    cr_expect_eq(g->verdict, GOPE_VERDICT_REVIEW);
    cr_expect(g->reasons & GOPE_AR_NO_TRUTH);
    cr_expect_eq(gope_agree_count(a), 2);
    cr_expect_str_eq(gope_agree_get(a, 0)->ope.policy, "winner", "earlier pointers stay valid");
    cr_expect_null(gope_agree_get(a, 2));
    gope_agree_free(a);
    gope_agree_free(NULL);
    gope_truth_free(t);
}

static void expect_bad_line(gope_agree_t *a, const char *line, const char *needle)
{
    const gope_agreement *out = (const gope_agreement *)&out;
    gope_err err = {{0}};
    cr_expect_eq(gope_agree_line(a, "m.jsonl", 7, line, strlen(line), &out, &err),
                 GOPE_ERR_INPUT, "%s", line);
    cr_expect_null(out);
    cr_expect(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

Test(agree_session, bad_records_name_file_line_and_field)
{
    gope_truth_t *t = fixture_truth("truth.jsonl");
    gope_agree_rules rules = default_rules();
    gope_agree_t *a;
    char buf[1024];
    cr_assert_eq(gope_agree_new(t, &rules, &a, NULL), GOPE_OK);
    expect_bad_line(a, "{\"schema\":", "m.jsonl:7: not a JSON object");
    expect_bad_line(a, "[1,2]", "m.jsonl:7: not a JSON object");
    expect_bad_line(a, "{\"policy\":\"x\"}", "m.jsonl:7: schema: expected a string, got nothing");
    expect_bad_line(a, "{\"schema\":\"agreement.v1\"}",
                    "m.jsonl:7: schema \"agreement.v1\": expected ope_metrics.v1 records");
    record(buf, sizeof buf, "winner", 0, 12, 2, 800);
    char bad[1200];
    const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"\"window\":{\"start\":0,", "\"window\":{", "window.start: expected an integer"},
        {"\"window\":{", "\"win\":{", "window: expected an object, got nothing"},
        {"\"policy\":\"winner\"", "\"policy\":7", "policy: expected a string, got a number"},
        {"\"n\":100,\"estimates\"", "\"n\":-1,\"estimates\"", "n: expected an integer >= 0, got -1"},
        {"\"n\":100,\"estimates\"", "\"n\":1.5,\"estimates\"", "n: expected an integer >= 0"},
        {"\"snips\":{\"value\":12", "\"snips\":{\"value\":\"12\"",
         "estimates.snips.value: expected a number or null, got a string"},
        {"\"snips_lift\":{", "\"snips_lift\":[],\"x\":{", "estimates.snips_lift: expected an object, got an array"},
        {"\"ess\":800", "\"ess\":true", "diagnostics.ess: expected a number or null, got a boolean"},
        {"\"diagnostics\":", "\"diag\":", "diagnostics: expected an object, got nothing"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        const char *at = strstr(buf, edits[i].from);
        cr_assert(at, "edit %zu", i);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - buf), buf, edits[i].to,
                 at + strlen(edits[i].from));
        expect_bad_line(a, bad, edits[i].needle);
    }
    cr_expect_eq(gope_agree_count(a), 0);
    gope_agree_free(a);
    gope_truth_free(t);
}

/* The rankings are gope_stats' tau-b and rho of (snips, truth) per window,
 * over the policies with both; the fixture's values worked out by hand:
 * 3 discordant pairs of 21 (tau 15/21), sum d^2 = 8 (rho 1 - 48/336). */
Test(agree_session, rankings_per_window_pass_through)
{
    gope_truth_t *t = fixture_truth("truth.jsonl");
    gope_agree_rules rules = default_rules();
    gope_agree_t *a;
    char buf[1024];
    static const struct {
        const char *policy;
        double snips, v_static;
    } w1[] = {{"logger", 10, 10.2}, {"winner", 12, 11.5}, {"loser", 7, 7.5},
              {"flipper", 11, 9.0}, {"unsure", 10.5, 10.6}, {"thin", 15, 14},
              {"offbyfar", 14, 11}};
    cr_assert_eq(gope_agree_new(t, &rules, &a, NULL), GOPE_OK);
    double x[7], y[7];
    for (size_t i = 0; i < 7; i++) {
        feed(a, record(buf, sizeof buf, w1[i].policy, 0, w1[i].snips, 1, 500));
        x[i] = w1[i].snips;
        y[i] = w1[i].v_static;
    }
    feed(a, record(buf, sizeof buf, "ghost", 0, 3, 1, 500)); /* no truth: not ranked */
    feed(a, record(buf, sizeof buf, "winner", 5000, 12, 1, 500)); /* a second window */
    gope_agree_rank *ranks;
    size_t n;
    cr_assert_eq(gope_agree_rankings(a, &ranks, &n, NULL), GOPE_OK);
    cr_assert_eq(n, 2);
    cr_expect(ranks[0].start == 0 && ranks[0].end == 1000 && ranks[0].policies == 7);
    double tau, rho, scratch[4 * 7];
    cr_assert(gope_kendall_tau_b(x, y, 7, &tau) && gope_spearman_rho(x, y, 7, scratch, &rho));
    cr_expect(ranks[0].tau_ok && ranks[0].tau == tau);
    cr_expect(ranks[0].rho_ok && ranks[0].rho == rho);
    cr_expect(tu_close(tau, 15.0 / 21) && tu_close(rho, 1 - 48.0 / 336), "tau %g rho %g", tau, rho);
    cr_expect(ranks[1].start == 5000 && ranks[1].policies == 1);
    cr_expect(!ranks[1].tau_ok && !ranks[1].rho_ok, "one policy: undefined");
    double v;
    cr_expect(!gope_agree_run_rank(ranks, n, true, &v), "several windows: no run-level tau");
    cr_expect(gope_agree_run_rank(ranks, 1, true, &v) && v == tau);
    cr_expect(gope_agree_run_rank(ranks, 1, false, &v) && v == rho);
    free(ranks);
    gope_agree_free(a);
    gope_truth_free(t);
}

/* ------------------------------------------------------------ sink */

typedef struct {
    char lines[4][8192];
    size_t n;
} capture;

static gope_status cap_write(void *ctx, const char *key, const char *line, size_t len,
                             gope_err *err)
{
    (void)key;
    (void)err;
    capture *c = ctx;
    cr_assert_lt(c->n, 4);
    cr_assert_lt(len, sizeof c->lines[0]);
    memcpy(c->lines[c->n], line, len);
    c->lines[c->n++][len] = '\0';
    return GOPE_OK;
}

static gope_status cap_close(void *ctx, gope_err *err)
{
    (void)ctx;
    (void)err;
    return GOPE_OK;
}

static const gope_sink_ops cap_ops = {.name = "capture", .write = cap_write, .close = cap_close};

Test(agree_session, sink_adds_the_block_to_records_only)
{
    gope_truth_t *t = fixture_truth("truth.jsonl");
    gope_agree_rules rules = default_rules();
    gope_agree_t *a;
    capture cap = {.n = 0};
    gope_sink inner = {&cap_ops, &cap}, out;
    char buf[1024];
    gope_err err = {{0}};
    cr_assert_eq(gope_agree_new(t, &rules, &a, NULL), GOPE_OK);
    gope_agree_sink(a, &inner, &out);
    record(buf, sizeof buf, "winner", 0, 12, 2, 800);
    cr_assert_eq(out.ops->write(out.ctx, "winner", buf, strlen(buf), &err), GOPE_OK, "%s", err.msg);
    const char *summary = "{\"schema\":\"ope_run.v1\",\"records\":1}";
    cr_assert_eq(out.ops->write(out.ctx, "summary", summary, strlen(summary), &err), GOPE_OK);
    cr_assert_eq(cap.n, 2);
    cr_expect_str_eq(cap.lines[1], summary);
    cr_expect(strncmp(cap.lines[0], buf, strlen(buf) - 1) == 0, "the record is kept as is");
    cJSON *j = cJSON_Parse(cap.lines[0]);
    cr_assert(j, "annotated line is JSON: %s", cap.lines[0]);
    const cJSON *blk = cJSON_GetObjectItem(j, "agreement");
    cr_assert(cJSON_IsObject(blk));
    cr_expect_str_eq(cJSON_GetObjectItem(blk, "verdict")->valuestring, "launch");
    cr_expect_null(cJSON_GetObjectItem(blk, "schema"), "a block, not an agreement.v1 line");

    gope_jbuf line = {0};
    gope_agree_write_record(&line, gope_agree_get(a, 0), &rules);
    cJSON *rec = cJSON_Parse(line.data);
    cr_assert(rec);
    cJSON_DeleteItemFromObject(rec, "schema");
    cJSON_DeleteItemFromObject(rec, "window");
    cJSON_DeleteItemFromObject(rec, "policy");
    cr_expect(cJSON_Compare(rec, blk, true), "agreement.v1 = block + schema, window, policy");
    cr_expect_eq(gope_sink_close(&out, &err), GOPE_OK);
    cJSON_Delete(rec);
    cJSON_Delete(j);
    gope_jbuf_free(&line);
    gope_agree_free(a);
    gope_truth_free(t);
}
