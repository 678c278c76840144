/*
 * agree.c — an agreement session: replay records in, one comparison each,
 * kept for the run-level figures (rank correlations, verdict counts).
 *
 * Both front ends share it: `giftope agree` feeds the lines of a replay
 * output file, and `replay --truth` puts the session's sink in front of its
 * output so that every ope_metrics.v1 line is parsed back, compared, and
 * written with its "agreement" block. Parsing the records back (rather than
 * hooking the estimator results) means the two commands compare exactly the
 * same numbers, the ones in the output, by the same code.
 *
 * Each agreement is its own allocation (with the policy name behind it), so
 * pointers handed out stay valid while the list grows. A run has one record
 * per window and policy, so the list stays small.
 */
#include <stdlib.h>
#include <string.h>

#include "agree_int.h"
#include "gope_stats.h"

struct gope_agree_s {
    const gope_truth_t *truth;
    const gope_agree_rules *rules;
    gope_agreement **rows;
    size_t n, cap;
    gope_sink *inner;     /* gope_agree_sink(): where annotated lines go */
    uint64_t sink_lines;  /* lines through the sink, for messages */
    gope_jbuf buf;        /* the annotated line */
};

gope_status gope_agree_new(const gope_truth_t *truth, const gope_agree_rules *rules,
                           gope_agree_t **out, gope_err *err)
{
    gope_agree_t *a = calloc(1, sizeof *a);
    if (!a)
        return gope_err_set(err, GOPE_ERR_NOMEM, "agreement: out of memory");
    a->truth = truth;
    a->rules = rules;
    *out = a;
    return GOPE_OK;
}

void gope_agree_free(gope_agree_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->rows[i]);
    free(a->rows);
    gope_jbuf_free(&a->buf);
    free(a);
}

size_t gope_agree_count(const gope_agree_t *a) { return a->n; }

const gope_agreement *gope_agree_get(const gope_agree_t *a, size_t i)
{
    return i < a->n ? a->rows[i] : NULL;
}

const gope_truth_t *gope_agree_truth(const gope_agree_t *a) { return a->truth; }

const gope_agree_rules *gope_agree_rules_get(const gope_agree_t *a) { return a->rules; }

/* Compares one record and appends the result (owning a copy of the name). */
static gope_status keep(gope_agree_t *a, const gope_agree_ope *ope, const gope_agreement **out,
                        gope_err *err)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        gope_agreement **grown = realloc(a->rows, cap * sizeof *grown);
        if (!grown)
            return gope_err_set(err, GOPE_ERR_NOMEM, "agreement: out of memory");
        a->rows = grown;
        a->cap = cap;
    }
    const size_t len = strlen(ope->policy) + 1;
    gope_agreement *row = malloc(sizeof *row + len);
    if (!row)
        return gope_err_set(err, GOPE_ERR_NOMEM, "agreement: out of memory");
    gope_agree_compare(ope, gope_truth_find(a->truth, ope->policy),
                       gope_truth_logging(a->truth), a->rules, row);
    row->ope.policy = memcpy(row + 1, ope->policy, len);
    a->rows[a->n++] = row;
    *out = row;
    return GOPE_OK;
}

gope_status gope_agree_line(gope_agree_t *a, const char *source, uint64_t lineno,
                            const char *line, size_t len, const gope_agreement **out,
                            gope_err *err)
{
    const gope_jpos at = {source, lineno};
    const char *schema;
    cJSON *root;
    gope_agree_ope ope;
    *out = NULL;
    gope_status st = gope_jline_parse(&at, line, len, &root, err);
    if (st || !root)
        return st;
    if ((st = gope_jschema(&at, root, &schema, err)) || strcmp(schema, "ope_run.v1") == 0)
        goto cleanup;
    if (strcmp(schema, "ope_metrics.v1") != 0)
        st = gope_err_set(err, GOPE_ERR_INPUT,
                          "%s:%llu: schema \"%s\": expected ope_metrics.v1 records (replay "
                          "output)",
                          source, (unsigned long long)lineno, schema);
    else if ((st = gope_agree_read_record(&at, root, &ope, err)) == GOPE_OK)
        st = keep(a, &ope, out, err);
cleanup:
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------ rankings */

/* Tau and rho of rows[] of one window (OPE snips against the reference
 * truth), over the policies where both are defined. `buf`: room for 6 n
 * doubles (x, y, and gope_spearman_rho's scratch). */
static void rank_window(gope_agreement *const *rows, size_t n, int64_t start, int64_t end,
                        double *buf, gope_agree_rank *out)
{
    double *x = buf, *y = buf + n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const gope_agreement *r = rows[i];
        if (r->ope.start != start || r->ope.end != end || !r->ope.snips.value_ok || !r->ref_ok)
            continue;
        x[k] = r->ope.snips.value;
        y[k] = r->ref;
        k++;
    }
    *out = (gope_agree_rank){.start = start, .end = end, .policies = k};
    out->tau_ok = gope_kendall_tau_b(x, y, k, &out->tau);
    out->rho_ok = gope_spearman_rho(x, y, k, buf + 2 * n, &out->rho);
}

gope_status gope_agree_rankings(const gope_agree_t *a, gope_agree_rank **out, size_t *count,
                                gope_err *err)
{
    *out = NULL;
    *count = 0;
    if (a->n == 0)
        return GOPE_OK;
    gope_agree_rank *ranks = malloc(a->n * sizeof *ranks);
    double *buf = malloc(6 * a->n * sizeof *buf);
    if (!ranks || !buf) {
        free(ranks);
        free(buf);
        return gope_err_set(err, GOPE_ERR_NOMEM, "agreement: out of memory");
    }
    size_t w = 0;
    for (size_t i = 0; i < a->n; i++) {
        const gope_agree_ope *o = &a->rows[i]->ope;
        bool seen = false;
        for (size_t j = 0; j < w && !seen; j++)
            seen = ranks[j].start == o->start && ranks[j].end == o->end;
        if (!seen)
            rank_window(a->rows, a->n, o->start, o->end, buf, &ranks[w++]);
    }
    free(buf);
    *out = ranks;
    *count = w;
    return GOPE_OK;
}

bool gope_agree_run_rank(const gope_agree_rank *ranks, size_t n_ranks, bool tau, double *v)
{
    *v = 0;
    if (n_ranks != 1 || !(tau ? ranks[0].tau_ok : ranks[0].rho_ok))
        return false;
    *v = tau ? ranks[0].tau : ranks[0].rho;
    return true;
}

/* ------------------------------------------------------------ sink */

/* Each ope_metrics.v1 line gets ",\"agreement\":{...}" before its closing
 * brace; anything else (the run summary) passes unchanged. */
static gope_status sink_write(void *ctx, const char *key, const char *line, size_t len,
                              gope_err *err)
{
    gope_agree_t *a = ctx;
    const gope_agreement *agr;
    gope_status st = gope_agree_line(a, "replay output", ++a->sink_lines, line, len, &agr, err);
    if (st != GOPE_OK)
        return st;
    if (!agr)
        return a->inner->ops->write(a->inner->ctx, key, line, len, err);
    while (len && line[len - 1] != '}') /* a record is one object: its last brace */
        len--;
    gope_jbuf_reset(&a->buf);
    gope_jbuf_raw(&a->buf, line, len - 1);
    gope_jbuf_str(&a->buf, ",\"agreement\":");
    gope_agree_write_block(&a->buf, agr, a->rules);
    gope_jbuf_raw(&a->buf, "}", 1);
    if (a->buf.oom)
        return gope_err_set(err, GOPE_ERR_NOMEM, "agreement: out of memory");
    return a->inner->ops->write(a->inner->ctx, key, a->buf.data, a->buf.len, err);
}

static gope_status sink_close(void *ctx, gope_err *err)
{
    (void)ctx;
    (void)err;
    return GOPE_OK;
}

static const gope_sink_ops agree_sink_ops = {
    .name = "agreement",
    .write = sink_write,
    .close = sink_close,
};

void gope_agree_sink(gope_agree_t *a, gope_sink *inner, gope_sink *out)
{
    a->inner = inner;
    *out = (gope_sink){.ops = &agree_sink_ops, .ctx = a};
}
