/* record.c — formatting of window records and dead-letter lines. */
#include "record.h"

#include <string.h>

static void estimate(gope_jbuf *b, const char *name, const gope_estimate *e)
{
    gope_jbuf_key(b, name);
    gope_jbuf_raw(b, "{", 1);
    gope_jbuf_key(b, "value");
    gope_jbuf_num(b, e->value, e->value_ok);
    gope_jbuf_key(b, "stderr");
    gope_jbuf_num(b, e->se, e->se_ok);
    gope_jbuf_key(b, "ci_low");
    gope_jbuf_num(b, e->ci_low, e->se_ok);
    gope_jbuf_key(b, "ci_high");
    gope_jbuf_num(b, e->ci_high, e->se_ok);
    gope_jbuf_raw(b, "}", 1);
}

static void diagnostics(gope_jbuf *b, const gope_diagnostics *d)
{
    gope_jbuf_key(b, "diagnostics");
    gope_jbuf_raw(b, "{", 1);
    gope_jbuf_key(b, "n");
    gope_jbuf_u64(b, d->n);
    gope_jbuf_key(b, "sum_w");
    gope_jbuf_num(b, d->sum_w, true);
    gope_jbuf_key(b, "mean_w");
    gope_jbuf_num(b, d->mean_w, d->mean_w_ok);
    gope_jbuf_key(b, "ess");
    gope_jbuf_num(b, d->ess, d->ess_ok);
    gope_jbuf_key(b, "max_w");
    gope_jbuf_num(b, d->max_w, d->n > 0);
    gope_jbuf_key(b, "zero_w_frac");
    gope_jbuf_num(b, d->zero_w_frac, d->n > 0);
    gope_jbuf_key(b, "top10_share");
    gope_jbuf_num(b, d->top10_share, d->top10_ok);
    gope_jbuf_raw(b, "}", 1);
}

void gope_record_window(gope_jbuf *b, int64_t start, int64_t end, const char *policy,
                        uint32_t revision, const gope_estset_t *set, const gope_result *res)
{
    gope_jbuf_str(b, "{\"schema\":\"ope_metrics.v1\",\"window\":{\"start\":");
    gope_jbuf_i64(b, start);
    gope_jbuf_str(b, ",\"end\":");
    gope_jbuf_i64(b, end);
    gope_jbuf_str(b, "},\"policy\":");
    gope_jbuf_quote(b, policy, strlen(policy));
    gope_jbuf_key(b, "revision");
    gope_jbuf_u64(b, revision);
    gope_jbuf_key(b, "n");
    gope_jbuf_u64(b, res->diag.n);
    gope_jbuf_key(b, "estimates");
    gope_jbuf_raw(b, "{", 1);
    for (size_t i = 0; i < res->count; i++)
        estimate(b, gope_estset_get(set, i)->ops->name, &res->estimates[i]);
    gope_jbuf_raw(b, "}", 1);
    diagnostics(b, &res->diag);
    gope_jbuf_key(b, "warnings");
    gope_jbuf_raw(b, "[", 1);
    for (unsigned bit = 1; bit && bit <= res->warn_bits; bit <<= 1) {
        if (!(res->warn_bits & bit))
            continue;
        if (b->data[b->len - 1] != '[')
            gope_jbuf_raw(b, ",", 1);
        const char *t = gope_warning_text(bit);
        gope_jbuf_quote(b, t, strlen(t));
    }
    gope_jbuf_str(b, "]}");
}

void gope_record_dead(gope_jbuf *b, const char *source, const gope_line *line,
                      gope_reason reason, const char *detail)
{
    gope_jbuf_str(b, "{\"source\":");
    gope_jbuf_quote(b, source, strlen(source));
    gope_jbuf_key(b, "line");
    gope_jbuf_u64(b, line->lineno);
    gope_jbuf_key(b, "offset");
    gope_jbuf_u64(b, line->offset);
    gope_jbuf_key(b, "reason");
    gope_jbuf_str(b, "\"");
    gope_jbuf_str(b, gope_reason_name(reason));
    gope_jbuf_str(b, "\"");
    gope_jbuf_key(b, "detail");
    gope_jbuf_quote(b, detail, strlen(detail));
    if (line->too_long) {
        gope_jbuf_key(b, "length");
        gope_jbuf_u64(b, line->full_len);
        gope_jbuf_key(b, "raw_truncated");
        gope_jbuf_str(b, "true");
    }
    if (gope_utf8_valid(line->data, line->len)) {
        gope_jbuf_key(b, "raw");
        gope_jbuf_quote(b, line->data, line->len);
    } else {
        gope_jbuf_key(b, "raw_base64");
        gope_jbuf_base64(b, line->data, line->len);
    }
    gope_jbuf_str(b, "}");
}
