/*
 * cmd_agree.c — `giftope agree`: compare replay's OPE estimates with the
 * simulator's truth and give a verdict per policy (docs/agreement.md).
 *
 * The work is the library's agreement session (ope/agree*.c), shared with
 * `replay --truth`; this file reads the inputs, and writes either JSON lines
 * (agreement.v1 per window x policy, then agreement_run.v1) or, for a person
 * at a terminal, an aligned table with each verdict's reason below it. JSON
 * is the default whenever stdout is not a terminal, so pipes and files get
 * the machine format without asking.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agree_int.h"
#include "commands.h"
#include "options.h"

typedef struct {
    const char *metrics, *truth, *out, *rules;
    bool json, table;
} agree_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(agree_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(agree_opts, f), NULL, h}
static const gope_opt agree_table[] = {
    OPT("--metrics", "FILE", metrics, NULL, "replay output: ope_metrics.v1 lines (plain or zstd)"),
    OPT("--truth", "FILE", truth, NULL, "simulator truth: truth.v1 lines from `giftope truth`"),
    OPT("--out", "FILE", out, "-", "where the output goes"),
    OPT("--rules", "LIST", rules, NULL, "verdict thresholds, e.g. ess_min=100,rel_max=0.2"),
    FLAG("--json", json, "JSON lines (the default unless stdout is a terminal)"),
    FLAG("--table", table, "the readable table, even when not on a terminal"),
};

static const gope_cmd_spec agree_spec = {
    .command = "agree",
    .synopsis = "--metrics OPE.jsonl --truth truth.jsonl [options]",
    .about = "Compare off-policy estimates (replay output) with the simulator's truth:\n"
             "per window and policy the errors, CI coverage, lift over the logging policy\n"
             "and a verdict (launch, review, block; baseline for the logging policy);\n"
             "across policies Kendall tau-b and Spearman rho of the rankings. Writes\n"
             "agreement.v1 lines and an agreement_run.v1 summary, or a table on a terminal.\n"
             "Exit status: 0 success, 1 input fault, 2 usage error.",
    .opts = agree_table,
    .n_opts = sizeof agree_table / sizeof agree_table[0],
};

static int fail(int rc, const char *msg)
{
    fprintf(stderr, "giftope agree: %s\n", msg);
    return rc;
}

/* Every ope_metrics.v1 line of `path` into the session. @return 0 or 1. */
static int read_metrics(gope_agree_t *a, const char *path)
{
    gope_err err = {{0}};
    gope_source_t *src;
    gope_line line;
    gope_status st = gope_source_open(path, &src, &err);
    const gope_agreement *agr;
    while (st == GOPE_OK && (st = gope_source_next(src, &line, &err)) == GOPE_OK) {
        if (line.too_long)
            st = gope_err_set(&err, GOPE_ERR_INPUT, "%s:%llu: line longer than %u bytes", path,
                              (unsigned long long)line.lineno, GOPE_MAX_LINE);
        else
            st = gope_agree_line(a, gope_source_name(src), line.lineno, line.data, line.len,
                                 &agr, &err);
    }
    gope_source_close(src);
    return st == GOPE_EOF ? 0 : fail(1, err.msg);
}

/* ------------------------------------------------------------ table */

enum { C_POLICY, C_SNIPS, C_STATIC, C_ONLINE, C_REL, C_LIFT, C_SIM, C_ESS, C_VERDICT, N_COLS };

static const char *const headers[N_COLS] = {
    "policy", "snips [95% CI]", "V_static", "V_online", "rel err",
    "lift OPE [95% CI]", "lift sim", "ESS", "verdict",
};

typedef char cell[96];

static void fmt_num(char *out, size_t size, double v, bool ok)
{
    if (ok)
        snprintf(out, size, "%.4g", v);
    else
        snprintf(out, size, "-");
}

static void fmt_ci(char *out, size_t size, const gope_agree_est *e, bool sign)
{
    char v[32];
    fmt_num(v, sizeof v, e->value, e->value_ok);
    if (e->value_ok && sign)
        snprintf(v, sizeof v, "%+.4g", e->value);
    if (e->ci_ok)
        snprintf(out, size, "%s [%.4g, %.4g]", v, e->ci_low, e->ci_high);
    else
        snprintf(out, size, "%s", v);
}

static void row_cells(const gope_agreement *a, cell *c)
{
    snprintf(c[C_POLICY], sizeof c[0], "%s", a->ope.policy);
    fmt_ci(c[C_SNIPS], sizeof c[0], &a->ope.snips, false);
    fmt_num(c[C_STATIC], sizeof c[0], a->truth[GOPE_AGREE_STATIC], a->truth_ok[GOPE_AGREE_STATIC]);
    fmt_num(c[C_ONLINE], sizeof c[0], a->truth[GOPE_AGREE_ONLINE], a->truth_ok[GOPE_AGREE_ONLINE]);
    const bool rel_ok = a->ref_ok && a->rel_ok[GOPE_AGREE_SNIPS][a->ref_source];
    fmt_num(c[C_REL], sizeof c[0], rel_ok ? a->rel_err[GOPE_AGREE_SNIPS][a->ref_source] : 0,
            rel_ok);
    fmt_ci(c[C_LIFT], sizeof c[0], &a->ope.lift, true);
    if (a->sim_lift_ok)
        snprintf(c[C_SIM], sizeof c[0], "%+.4g%s", a->sim_lift,
                 a->sim_lift_source == GOPE_AGREE_ONLINE ? " (online)" : "");
    else
        snprintf(c[C_SIM], sizeof c[0], "-");
    fmt_num(c[C_ESS], sizeof c[0], a->ope.ess, a->ope.ess_ok);
    snprintf(c[C_VERDICT], sizeof c[0], "%s", gope_verdict_name(a->verdict));
}

/* One aligned line of cells; numbers right-aligned, text left. */
static gope_status put_row(gope_sink *out, gope_jbuf *b, const cell *c, const size_t *width,
                           gope_err *err)
{
    gope_jbuf_reset(b);
    for (int k = 0; k < N_COLS; k++) {
        const size_t len = strlen(c[k]), pad = width[k] - len;
        const bool left = k == C_POLICY || k == C_VERDICT;
        for (size_t i = 0; i < (left ? 0 : pad) + (k ? 2 : 0); i++)
            gope_jbuf_raw(b, " ", 1);
        gope_jbuf_raw(b, c[k], len);
        for (size_t i = 0; left && k + 1 < N_COLS && i < pad; i++)
            gope_jbuf_raw(b, " ", 1);
    }
    return b->oom ? gope_err_set(err, GOPE_ERR_NOMEM, "agree: out of memory")
                  : out->ops->write(out->ctx, "table", b->data, b->len, err);
}

static gope_status put_text(gope_sink *out, const char *text, gope_err *err)
{
    return out->ops->write(out->ctx, "table", text, strlen(text), err);
}

/* One window: header, rows, each verdict's sentence, the rank agreement. */
static gope_status table_window(gope_sink *out, gope_jbuf *b, const gope_agree_t *a,
                                const gope_agree_rank *rk, bool several, gope_err *err)
{
    const size_t n = gope_agree_count(a);
    cell *cells = malloc((n + 1) * N_COLS * sizeof(cell));
    size_t width[N_COLS] = {0}, rows = 0;
    char text[1200];
    gope_status st = GOPE_OK;
    if (!cells)
        return gope_err_set(err, GOPE_ERR_NOMEM, "agree: out of memory");
    for (int k = 0; k < N_COLS; k++)
        snprintf(cells[k], sizeof(cell), "%s", headers[k]);
    for (size_t i = 0; i < n; i++) {
        const gope_agreement *g = gope_agree_get(a, i);
        if (g->ope.start == rk->start && g->ope.end == rk->end)
            row_cells(g, &cells[++rows * N_COLS]);
    }
    for (size_t r = 0; r <= rows; r++)
        for (int k = 0; k < N_COLS; k++)
            if (strlen(cells[r * N_COLS + k]) > width[k])
                width[k] = strlen(cells[r * N_COLS + k]);
    if (several) {
        snprintf(text, sizeof text, "window [%lld, %lld)", (long long)rk->start,
                 (long long)rk->end);
        st = put_text(out, text, err);
    }
    for (size_t r = 0; r <= rows && !st; r++)
        st = put_row(out, b, &cells[r * N_COLS], width, err);
    free(cells);
    if (!st)
        st = put_text(out, "", err);
    for (size_t i = 0; i < n && !st; i++) {
        const gope_agreement *g = gope_agree_get(a, i);
        if (g->ope.start != rk->start || g->ope.end != rk->end)
            continue;
        int k = snprintf(text, sizeof text, "  %.200s: ", g->ope.policy);
        gope_agree_explain(g, gope_agree_rules_get(a), text + k, sizeof text - (size_t)k);
        st = put_text(out, text, err);
    }
    char tau[32], rho[32];
    fmt_num(tau, sizeof tau, rk->tau, rk->tau_ok);
    fmt_num(rho, sizeof rho, rk->rho, rk->rho_ok);
    snprintf(text, sizeof text, "\nrankings (OPE snips vs simulator, %zu policies): "
                                "Kendall tau-b %s, Spearman rho %s",
             rk->policies, tau, rho);
    return st ? st : put_text(out, text, err);
}

static gope_status write_table(gope_sink *out, const gope_agree_t *a,
                               const gope_agree_rank *ranks, size_t n_ranks, gope_err *err)
{
    gope_jbuf b = {0};
    gope_status st = GOPE_OK;
    for (size_t w = 0; w < n_ranks && !st; w++) {
        if (w)
            st = put_text(out, "", err);
        if (!st)
            st = table_window(out, &b, a, &ranks[w], n_ranks > 1, err);
    }
    size_t counts[GOPE_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < gope_agree_count(a); i++)
        counts[gope_agree_get(a, i)->verdict]++;
    char text[256];
    snprintf(text, sizeof text, "verdicts: %zu launch, %zu review, %zu block, %zu baseline",
             counts[GOPE_VERDICT_LAUNCH], counts[GOPE_VERDICT_REVIEW],
             counts[GOPE_VERDICT_BLOCK], counts[GOPE_VERDICT_BASELINE]);
    if (!st)
        st = put_text(out, text, err);
    gope_jbuf_free(&b);
    return st;
}

/* ------------------------------------------------------------ JSON */

static gope_status write_json(gope_sink *out, const gope_agree_t *a, const agree_opts *o,
                              const gope_agree_rank *ranks, size_t n_ranks, gope_err *err)
{
    gope_jbuf b = {0};
    gope_status st = GOPE_OK;
    for (size_t i = 0; i < gope_agree_count(a) && !st; i++) {
        const gope_agreement *g = gope_agree_get(a, i);
        gope_jbuf_reset(&b);
        gope_agree_write_record(&b, g, gope_agree_rules_get(a));
        st = b.oom ? gope_err_set(err, GOPE_ERR_NOMEM, "agree: out of memory")
                   : out->ops->write(out->ctx, g->ope.policy, b.data, b.len, err);
    }
    if (!st) {
        gope_jbuf_reset(&b);
        gope_jbuf_str(&b, "{\"schema\":\"agreement_run.v1\",\"metrics_file\":");
        gope_jbuf_quote(&b, o->metrics, strlen(o->metrics));
        gope_agree_write_run_fields(&b, a, o->truth, ranks, n_ranks);
        gope_jbuf_raw(&b, "}", 1);
        st = b.oom ? gope_err_set(err, GOPE_ERR_NOMEM, "agree: out of memory")
                   : out->ops->write(out->ctx, "summary", b.data, b.len, err);
    }
    gope_jbuf_free(&b);
    return st;
}

/* ------------------------------------------------------------ command */

/* Options that are usage errors: missing or unreadable inputs, bad rules. */
static int check_usage(const agree_opts *o, int n_pos, gope_agree_rules *rules)
{
    gope_err err = {{0}};
    char msg[600];
    if (n_pos)
        return fail(2, "unexpected argument (inputs are given with --metrics and --truth)");
    if (!o->metrics || !o->truth)
        return fail(2, "--metrics FILE and --truth FILE are both required (see --help)");
    if (o->json && o->table)
        return fail(2, "--json and --table exclude each other");
    const char *inputs[] = {o->metrics, o->truth};
    for (int i = 0; i < 2; i++)
        if (strcmp(inputs[i], "-") != 0 && access(inputs[i], R_OK) != 0) {
            snprintf(msg, sizeof msg, "%s: cannot read %s", i ? "--truth" : "--metrics",
                     inputs[i]);
            return fail(2, msg);
        }
    if (strcmp(o->metrics, "-") == 0 && strcmp(o->truth, "-") == 0)
        return fail(2, "--metrics and --truth cannot both be stdin");
    if (gope_agree_rules_parse(o->rules, rules, &err))
        return fail(2, err.msg);
    return 0;
}

int gope_cmd_agree(int argc, char **argv)
{
    agree_opts o;
    gope_agree_rules rules;
    gope_err err = {{0}};
    gope_truth_t *truth = NULL;
    gope_agree_t *a = NULL;
    gope_agree_rank *ranks = NULL;
    size_t n_ranks = 0;
    gope_sink out = {0};
    bool help;
    int n_pos, rc;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return fail(1, "out of memory");
    if ((rc = gope_opts_parse(&agree_spec, argc, argv, &o, pos, &n_pos, &help)) || help ||
        (rc = check_usage(&o, n_pos, &rules)))
        goto cleanup;
    gope_status st = gope_truth_load(o.truth, &truth, &err);
    if (st) {
        rc = fail(st == GOPE_ERR_USAGE ? 2 : 1, err.msg);
        goto cleanup;
    }
    if (gope_agree_new(truth, &rules, &a, &err)) {
        rc = fail(1, err.msg);
        goto cleanup;
    }
    if ((rc = read_metrics(a, o.metrics)))
        goto cleanup;
    if (gope_sink_file_open(o.out, &out, &err)) { /* only now: no output after a fault */
        rc = fail(2, err.msg);
        goto cleanup;
    }
    const bool table = o.table || (!o.json && strcmp(o.out, "-") == 0 && isatty(1));
    if (gope_agree_rankings(a, &ranks, &n_ranks, &err) ||
        (table ? write_table(&out, a, ranks, n_ranks, &err)
               : write_json(&out, a, &o, ranks, n_ranks, &err)))
        rc = fail(1, err.msg);
cleanup:
    if (gope_sink_close(&out, &err))
        rc = fail(1, err.msg);
    free(ranks);
    gope_agree_free(a);
    gope_truth_free(truth);
    free(pos);
    return rc;
}
