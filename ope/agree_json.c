/*
 * agree_json.c — writing agreements as JSON (schemas/agreement.v1.schema.json):
 * the per-policy object, the agreement.v1 line around it, and the run-level
 * fields of agreement_run.v1 and of replay's summary.
 *
 * One writer serves the "agreement" block of a replay record and the
 * agreement.v1 line, so the two can never drift apart: the line is the block
 * plus schema, window and policy. Undefined numbers are null, never NaN.
 */
#include <stdlib.h>
#include <string.h>

#include "agree_int.h"

static const char *const est_keys[GOPE_AGREE_N_EST] = {"snips", "dr"};
static const char *const truth_keys[GOPE_AGREE_N_TRUTH] = {"v_static", "v_online"};

static void num(gope_jbuf *b, const char *key, double v, bool ok)
{
    gope_jbuf_key(b, key);
    gope_jbuf_num(b, v, ok);
}

/* true, false, or null for -1. */
static void tristate(gope_jbuf *b, const char *key, int v)
{
    gope_jbuf_key(b, key);
    gope_jbuf_str(b, v < 0 ? "null" : v ? "true" : "false");
}

static void string(gope_jbuf *b, const char *key, const char *s)
{
    gope_jbuf_key(b, key);
    if (s)
        gope_jbuf_quote(b, s, strlen(s));
    else
        gope_jbuf_str(b, "null");
}

/* {"value","ci_low","ci_high"} of an OPE estimate. */
static void estimate(gope_jbuf *b, const char *key, const gope_agree_est *e)
{
    gope_jbuf_key(b, key);
    gope_jbuf_raw(b, "{", 1);
    num(b, "value", e->value, e->value_ok);
    num(b, "ci_low", e->ci_low, e->ci_ok);
    num(b, "ci_high", e->ci_high, e->ci_ok);
    gope_jbuf_raw(b, "}", 1);
}

static void truth(gope_jbuf *b, const gope_agreement *a)
{
    gope_jbuf_key(b, "truth");
    gope_jbuf_raw(b, "{", 1);
    num(b, "v_static", a->truth[GOPE_AGREE_STATIC], a->truth_ok[GOPE_AGREE_STATIC]);
    gope_jbuf_key(b, "v_online");
    if (a->in_truth) {
        gope_jbuf_raw(b, "{", 1);
        num(b, "mean", a->truth[GOPE_AGREE_ONLINE], true);
        num(b, "ci_low", a->online_ci_low, a->online_ci_ok);
        num(b, "ci_high", a->online_ci_high, a->online_ci_ok);
        gope_jbuf_raw(b, "}", 1);
    } else {
        gope_jbuf_str(b, "null");
    }
    string(b, "reference", a->ref_ok ? truth_keys[a->ref_source] : NULL);
    gope_jbuf_raw(b, "}", 1);
}

/* "rel_error" and "covers": {"snips":{"v_static":..,"v_online":..},"dr":{..}}. */
static void per_pair(gope_jbuf *b, const gope_agreement *a, bool covers)
{
    gope_jbuf_key(b, covers ? "covers" : "rel_error");
    gope_jbuf_raw(b, "{", 1);
    for (int e = 0; e < GOPE_AGREE_N_EST; e++) {
        gope_jbuf_key(b, est_keys[e]);
        gope_jbuf_raw(b, "{", 1);
        for (int t = 0; t < GOPE_AGREE_N_TRUTH; t++) {
            if (covers)
                tristate(b, truth_keys[t], a->covers[e][t]);
            else
                num(b, truth_keys[t], a->rel_err[e][t], a->rel_ok[e][t]);
        }
        gope_jbuf_raw(b, "}", 1);
    }
    gope_jbuf_raw(b, "}", 1);
}

static void lift(gope_jbuf *b, const gope_agreement *a)
{
    gope_jbuf_key(b, "lift");
    gope_jbuf_raw(b, "{", 1);
    estimate(b, "ope", &a->ope.lift);
    num(b, "sim", a->sim_lift, a->sim_lift_ok);
    string(b, "sim_source", a->sim_lift_ok ? truth_keys[a->sim_lift_source] : NULL);
    tristate(b, "signs_agree", a->signs_agree);
    gope_jbuf_raw(b, "}", 1);
}

/* The block's fields, appended to an open object. */
static void fields(gope_jbuf *b, const gope_agreement *a, const gope_agree_rules *rules)
{
    string(b, "logging_policy", a->logging_policy);
    string(b, "verdict", gope_verdict_name(a->verdict));
    gope_jbuf_key(b, "reasons");
    gope_jbuf_raw(b, "[", 1);
    for (unsigned i = 0; i < GOPE_AR_COUNT; i++) {
        if (!(a->reasons & (1u << i)))
            continue;
        if (b->len && b->data[b->len - 1] != '[')
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, gope_agree_reason_name(1u << i),
                        strlen(gope_agree_reason_name(1u << i)));
    }
    gope_jbuf_raw(b, "]", 1);
    char why[1024];
    gope_agree_explain(a, rules, why, sizeof why);
    string(b, "explanation", why);
    gope_jbuf_key(b, "n");
    gope_jbuf_u64(b, a->ope.n);
    num(b, "ess", a->ope.ess, a->ope.ess_ok);
    gope_jbuf_key(b, "ope");
    gope_jbuf_raw(b, "{", 1);
    estimate(b, "snips", &a->ope.snips);
    estimate(b, "dr", &a->ope.dr);
    gope_jbuf_raw(b, "}", 1);
    truth(b, a);
    per_pair(b, a, false);
    per_pair(b, a, true);
    lift(b, a);
}

void gope_agree_write_block(gope_jbuf *b, const gope_agreement *a, const gope_agree_rules *rules)
{
    gope_jbuf_raw(b, "{", 1);
    fields(b, a, rules);
    gope_jbuf_raw(b, "}", 1);
}

static void window(gope_jbuf *b, int64_t start, int64_t end)
{
    gope_jbuf_key(b, "window");
    gope_jbuf_str(b, "{\"start\":");
    gope_jbuf_i64(b, start);
    gope_jbuf_str(b, ",\"end\":");
    gope_jbuf_i64(b, end);
    gope_jbuf_raw(b, "}", 1);
}

void gope_agree_write_record(gope_jbuf *b, const gope_agreement *a,
                             const gope_agree_rules *rules)
{
    gope_jbuf_str(b, "{\"schema\":\"agreement.v1\"");
    window(b, a->ope.start, a->ope.end);
    string(b, "policy", a->ope.policy);
    fields(b, a, rules);
    gope_jbuf_raw(b, "}", 1);
}

static void rankings(gope_jbuf *b, const gope_agree_rank *ranks, size_t n_ranks)
{
    gope_jbuf_key(b, "rankings");
    gope_jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n_ranks; i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_raw(b, "{", 1);
        window(b, ranks[i].start, ranks[i].end);
        gope_jbuf_key(b, "policies");
        gope_jbuf_u64(b, ranks[i].policies);
        num(b, "kendall_tau", ranks[i].tau, ranks[i].tau_ok);
        num(b, "spearman_rho", ranks[i].rho, ranks[i].rho_ok);
        gope_jbuf_raw(b, "}", 1);
    }
    gope_jbuf_raw(b, "]", 1);
    double v;
    bool ok = gope_agree_run_rank(ranks, n_ranks, true, &v);
    num(b, "kendall_tau", v, ok);
    ok = gope_agree_run_rank(ranks, n_ranks, false, &v);
    num(b, "spearman_rho", v, ok);
}

void gope_agree_write_run_fields(gope_jbuf *b, const gope_agree_t *a, const char *truth_path,
                                 const gope_agree_rank *ranks, size_t n_ranks)
{
    const gope_truth_meta *m = gope_truth_meta_get(gope_agree_truth(a));
    const gope_agree_rules *r = gope_agree_rules_get(a);
    string(b, "truth_file", truth_path);
    string(b, "logging_policy", gope_truth_logging(gope_agree_truth(a))->policy);
    gope_jbuf_key(b, "simulator");
    gope_jbuf_raw(b, "{", 1);
    string(b, "world", m->world);
    num(b, "seeds", (double)m->seeds, m->seeds > 0); /* 0: not in the truth file */
    num(b, "decisions", (double)m->decisions, m->decisions > 0);
    string(b, "log", m->log);
    gope_jbuf_raw(b, "}", 1);
    gope_jbuf_key(b, "rules");
    gope_jbuf_raw(b, "{", 1);
    num(b, "ess_min", r->ess_min, true);
    num(b, "rel_max", r->rel_max, true);
    gope_jbuf_raw(b, "}", 1);
    gope_jbuf_key(b, "records");
    gope_jbuf_u64(b, gope_agree_count(a));
    gope_jbuf_key(b, "windows");
    gope_jbuf_u64(b, n_ranks);
    rankings(b, ranks, n_ranks);
    size_t counts[GOPE_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < gope_agree_count(a); i++)
        counts[gope_agree_get(a, i)->verdict]++;
    gope_jbuf_key(b, "verdicts");
    gope_jbuf_raw(b, "{", 1);
    for (int v = 0; v < GOPE_VERDICT_COUNT; v++) {
        gope_jbuf_key(b, gope_verdict_name((gope_verdict)v));
        gope_jbuf_u64(b, counts[v]);
    }
    gope_jbuf_raw(b, "}", 1);
}

gope_status gope_agree_write_summary(gope_jbuf *b, const gope_agree_t *a, const char *truth_path,
                                     gope_err *err)
{
    gope_agree_rank *ranks;
    size_t n_ranks;
    gope_status st = gope_agree_rankings(a, &ranks, &n_ranks, err);
    if (st != GOPE_OK)
        return st;
    gope_jbuf_key(b, "agreement");
    gope_jbuf_raw(b, "{", 1);
    gope_agree_write_run_fields(b, a, truth_path, ranks, n_ranks);
    gope_jbuf_raw(b, "}", 1);
    free(ranks);
    return GOPE_OK;
}
