/*
 * agree_rules.c — comparing one OPE record with the simulator's truth, and
 * the verdict rules (docs/agreement.md has them with their reasoning).
 *
 *   block   the OPE and simulator lifts have opposite signs, or the OPE lift
 *           CI lies entirely below 0, or ESS < ess_min (a null ESS counts as
 *           0: no weight on any logged action);
 *   launch  otherwise, when the signs agree, the OPE lift CI lies entirely
 *           above 0, snips is within rel_max (relative) of the simulator's
 *           value, and ESS >= ess_min;
 *   review  everything else; the logging policy itself is the "baseline".
 * Block needs only evidence against the policy, so it can fire without truth
 * (the OPE lift CI, the ESS); launch needs every check to pass, so anything
 * undefined ends in review. The simulator value used for the relative error,
 * the lift and the ranking is V_static when the truth run had the log (the
 * quantity OPE estimates without bias), else V_online.
 *
 * The comparison is a pure function of its inputs, so the rules are tested
 * on hand-made records without files.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agree_int.h"

/* ------------------------------------------------------------ thresholds */

/* One row per rule key: where it goes and its lower bound. */
static const struct {
    const char *key;
    size_t offset;
    double min;
    bool min_allowed; /* value == min is valid */
} rule_keys[] = {
    {"ess_min", offsetof(gope_agree_rules, ess_min), 0, true},
    {"rel_max", offsetof(gope_agree_rules, rel_max), 0, false},
};

#define N_KEYS (sizeof rule_keys / sizeof rule_keys[0])

/* Parses one "key=value" item (not NUL-terminated: [p, p + len)). */
static gope_status parse_rule(const char *p, size_t len, size_t idx, gope_agree_rules *rules,
                              gope_err *err)
{
    char item[128];
    while (len && isspace((unsigned char)*p))
        p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    if (len == 0 || len >= sizeof item)
        return gope_err_set(err, GOPE_ERR_USAGE, "--rules: item %zu is %s", idx,
                            len ? "too long" : "empty");
    memcpy(item, p, len);
    item[len] = '\0';
    char *eq = strchr(item, '=');
    size_t k = 0;
    for (; eq && k < N_KEYS; k++)
        if (strlen(rule_keys[k].key) == (size_t)(eq - item) &&
            memcmp(rule_keys[k].key, item, (size_t)(eq - item)) == 0)
            break;
    if (!eq || k == N_KEYS)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "--rules: item %zu \"%s\": expected KEY=VALUE with KEY one of "
                            "ess_min, rel_max",
                            idx, item);
    char *end;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end != '\0' || !isfinite(v) || v < rule_keys[k].min ||
        (v == rule_keys[k].min && !rule_keys[k].min_allowed))
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "--rules: item %zu \"%s\": %s must be a finite number %s %g", idx,
                            item, rule_keys[k].key, rule_keys[k].min_allowed ? ">=" : ">",
                            rule_keys[k].min);
    *(double *)(void *)((char *)rules + rule_keys[k].offset) = v;
    return GOPE_OK;
}

gope_status gope_agree_rules_parse(const char *spec, gope_agree_rules *rules, gope_err *err)
{
    *rules = (gope_agree_rules){.ess_min = GOPE_AGREE_ESS_MIN, .rel_max = GOPE_AGREE_REL_MAX};
    if (!spec || !*spec)
        return GOPE_OK;
    size_t idx = 1;
    for (const char *p = spec;; idx++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        gope_status st = parse_rule(p, len, idx, rules, err);
        if (st != GOPE_OK)
            return st;
        if (!comma)
            return GOPE_OK;
        p = comma + 1;
    }
}

/* ------------------------------------------------------------ names */

static const char *const verdict_names[GOPE_VERDICT_COUNT] = {"baseline", "launch", "review",
                                                              "block"};

const char *gope_verdict_name(gope_verdict v)
{
    return (unsigned)v < GOPE_VERDICT_COUNT ? verdict_names[v] : "unknown";
}

static const char *const reason_names[GOPE_AR_COUNT] = {
    "baseline",           "lift_signs_disagree",   "ope_lift_ci_below_zero",
    "ess_below_min",      "lift_signs_agree",      "ope_lift_ci_above_zero",
    "rel_error_within_max", "ess_at_least_min",    "lift_sign_unknown",
    "ope_lift_ci_includes_zero", "ope_lift_ci_undefined", "rel_error_above_max",
    "rel_error_undefined", "policy_not_in_truth",
};

const char *gope_agree_reason_name(unsigned bit)
{
    for (unsigned i = 0; i < GOPE_AR_COUNT; i++)
        if (bit == 1u << i)
            return reason_names[i];
    return "unknown";
}

/* ------------------------------------------------------------ comparison */

static int sign(double x) { return (x > 0) - (x < 0); }

/* The OPE estimates compared with the truths, by index GOPE_AGREE_SNIPS/_DR. */
static const gope_agree_est *ope_est(const gope_agree_ope *o, int i)
{
    return i == GOPE_AGREE_SNIPS ? &o->snips : &o->dr;
}

/* Relative errors and coverage of each OPE estimate against each truth. */
static void compare_values(gope_agreement *a)
{
    for (int e = 0; e < GOPE_AGREE_N_EST; e++) {
        const gope_agree_est *est = ope_est(&a->ope, e);
        for (int t = 0; t < GOPE_AGREE_N_TRUTH; t++) {
            const double truth = a->truth[t];
            a->covers[e][t] = -1;
            if (!a->truth_ok[t])
                continue;
            if (est->value_ok && truth != 0) {
                a->rel_err[e][t] = fabs(est->value - truth) / fabs(truth);
                a->rel_ok[e][t] = isfinite(a->rel_err[e][t]);
            }
            if (est->ci_ok)
                a->covers[e][t] = est->ci_low <= truth && truth <= est->ci_high;
        }
    }
}

/* The simulator's lift: V_static(policy) - V_static(logging), else V_online. */
static void sim_lift(gope_agreement *a, const gope_truth_policy *pt, const gope_truth_policy *lt)
{
    if (pt->v_static_ok && lt->v_static_ok) {
        a->sim_lift = pt->v_static - lt->v_static;
        a->sim_lift_source = GOPE_AGREE_STATIC;
    } else {
        a->sim_lift = pt->online_mean - lt->online_mean;
        a->sim_lift_source = GOPE_AGREE_ONLINE;
    }
    a->sim_lift_ok = isfinite(a->sim_lift);
}

/* The relative error the launch rule uses: snips against the reference truth. */
static bool rule_rel(const gope_agreement *a, double *rel)
{
    *rel = a->ref_ok ? a->rel_err[GOPE_AGREE_SNIPS][a->ref_source] : 0;
    return a->ref_ok && a->rel_ok[GOPE_AGREE_SNIPS][a->ref_source];
}

static void verdict(gope_agreement *a, const gope_agree_rules *rules)
{
    const gope_agree_est *lift = &a->ope.lift;
    const double ess = a->ope.ess_ok ? a->ope.ess : 0;
    if (a->in_truth && strcmp(a->ope.policy, a->logging_policy) == 0) {
        a->verdict = GOPE_VERDICT_BASELINE;
        a->reasons = GOPE_AR_BASELINE;
        return;
    }
    unsigned block = 0, ok = GOPE_AR_ESS_OK, fail = 0;
    block |= a->signs_agree == 0 ? GOPE_AR_SIGNS_DISAGREE : 0;
    block |= lift->ci_ok && lift->ci_high < 0 ? GOPE_AR_LIFT_CI_BELOW : 0;
    block |= !(ess >= rules->ess_min) ? GOPE_AR_ESS_LOW : 0;
    if (block) {
        a->verdict = GOPE_VERDICT_BLOCK;
        a->reasons = block;
        return;
    }
    if (a->signs_agree == 1)
        ok |= GOPE_AR_SIGNS_AGREE;
    else
        fail |= GOPE_AR_SIGN_UNKNOWN;
    if (!lift->ci_ok)
        fail |= GOPE_AR_LIFT_CI_MISSING;
    else if (lift->ci_low > 0)
        ok |= GOPE_AR_LIFT_CI_ABOVE;
    else
        fail |= GOPE_AR_LIFT_CI_ZERO;
    double rel;
    if (!rule_rel(a, &rel))
        fail |= GOPE_AR_REL_UNKNOWN;
    else if (rel <= rules->rel_max)
        ok |= GOPE_AR_REL_OK;
    else
        fail |= GOPE_AR_REL_HIGH;
    fail |= a->in_truth ? 0 : GOPE_AR_NO_TRUTH;
    a->verdict = fail ? GOPE_VERDICT_REVIEW : GOPE_VERDICT_LAUNCH;
    a->reasons = fail ? fail : ok;
}

void gope_agree_compare(const gope_agree_ope *ope, const gope_truth_policy *pt,
                        const gope_truth_policy *lt, const gope_agree_rules *rules,
                        gope_agreement *out)
{
    *out = (gope_agreement){.ope = *ope, .logging_policy = lt->policy, .in_truth = pt != NULL};
    gope_agreement *a = out;
    if (pt) {
        a->truth[GOPE_AGREE_STATIC] = pt->v_static;
        a->truth_ok[GOPE_AGREE_STATIC] = pt->v_static_ok;
        a->truth[GOPE_AGREE_ONLINE] = pt->online_mean;
        a->truth_ok[GOPE_AGREE_ONLINE] = true;
        a->online_ci_low = pt->online_ci_low;
        a->online_ci_high = pt->online_ci_high;
        a->online_ci_ok = pt->online_ci_ok;
        a->ref_source = pt->v_static_ok ? GOPE_AGREE_STATIC : GOPE_AGREE_ONLINE;
        a->ref = a->truth[a->ref_source];
        a->ref_ok = true;
        sim_lift(a, pt, lt);
    }
    compare_values(a);
    a->signs_agree = -1;
    if (a->sim_lift_ok && ope->lift.value_ok)
        a->signs_agree = sign(ope->lift.value) == sign(a->sim_lift);
    verdict(a, rules);
}

/* ------------------------------------------------------------ sentences */

static const char *truth_name(int t) { return t == GOPE_AGREE_STATIC ? "V_static" : "V_online"; }

/* The clause for one reason bit. */
static int phrase(const gope_agreement *a, const gope_agree_rules *r, unsigned bit, char *buf,
                  size_t size)
{
    const gope_agree_est *l = &a->ope.lift;
    double rel;
    rule_rel(a, &rel);
    switch (bit) {
    case GOPE_AR_BASELINE:
        return snprintf(buf, size, "this is the logging policy, which every other policy is "
                                   "compared with");
    case GOPE_AR_SIGNS_DISAGREE:
    case GOPE_AR_SIGNS_AGREE:
        return snprintf(buf, size, "OPE and the simulator %s on the sign of the lift (OPE %+.4g, "
                        "simulator %+.4g from %s)", bit == GOPE_AR_SIGNS_AGREE ? "agree" : "disagree",
                        l->value, a->sim_lift, truth_name(a->sim_lift_source));
    case GOPE_AR_LIFT_CI_BELOW:
    case GOPE_AR_LIFT_CI_ABOVE:
    case GOPE_AR_LIFT_CI_ZERO:
        return snprintf(buf, size, "the OPE lift CI [%.4g, %.4g] %s", l->ci_low, l->ci_high,
                        bit == GOPE_AR_LIFT_CI_ZERO ? "includes 0"
                        : bit == GOPE_AR_LIFT_CI_BELOW ? "lies entirely below 0"
                                                       : "lies entirely above 0");
    case GOPE_AR_ESS_LOW:
        if (!a->ope.ess_ok)
            return snprintf(buf, size, "ESS is undefined (no weight on any logged action), "
                                       "counted as 0 < %g", r->ess_min);
        return snprintf(buf, size, "ESS %.4g is below %g", a->ope.ess, r->ess_min);
    case GOPE_AR_ESS_OK:
        return snprintf(buf, size, "ESS %.4g >= %g", a->ope.ess, r->ess_min);
    case GOPE_AR_REL_OK:
    case GOPE_AR_REL_HIGH:
        return snprintf(buf, size, "snips is off %s by %.3g relative (%s %g)",
                        truth_name(a->ref_source), rel,
                        bit == GOPE_AR_REL_OK ? "at most" : "more than", r->rel_max);
    case GOPE_AR_SIGN_UNKNOWN:
        return snprintf(buf, size, "the lift signs cannot be compared (the OPE snips_lift or "
                                   "the simulator lift is undefined)");
    case GOPE_AR_LIFT_CI_MISSING:
        return snprintf(buf, size, "the OPE lift has no CI (snips_lift missing or undefined)");
    case GOPE_AR_REL_UNKNOWN:
        return snprintf(buf, size, "the relative error of snips is undefined (snips or the "
                                   "simulator value is missing, or the simulator value is 0)");
    default: /* GOPE_AR_NO_TRUTH */
        return snprintf(buf, size, "the truth file has no line for this policy");
    }
}

size_t gope_agree_explain(const gope_agreement *a, const gope_agree_rules *rules, char *buf,
                          size_t size)
{
    static const char *const heads[GOPE_VERDICT_COUNT] = {"Baseline", "Launch", "Review",
                                                          "Block"};
    size_t need = 0;
    int k = snprintf(buf, size, "%s: ", heads[a->verdict]);
    need += k > 0 ? (size_t)k : 0;
    for (unsigned i = 0, first = 1; i < GOPE_AR_COUNT; i++) {
        if (!(a->reasons & (1u << i)))
            continue;
        if (!first) {
            k = snprintf(need < size ? buf + need : NULL, need < size ? size - need : 0, "; ");
            need += k > 0 ? (size_t)k : 0;
        }
        first = 0;
        k = phrase(a, rules, 1u << i, need < size ? buf + need : NULL,
                   need < size ? size - need : 0);
        need += k > 0 ? (size_t)k : 0;
    }
    k = snprintf(need < size ? buf + need : NULL, need < size ? size - need : 0, ".");
    return need + (k > 0 ? (size_t)k : 0);
}
