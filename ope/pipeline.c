/*
 * pipeline.c — one evaluation run: lines in, window records and dead letters out.
 *
 * Every line ends in exactly one of three counters, which is the invariant the
 * tests check (lines_read = accepted + rejected + late):
 *   rejected  the decoder refused it, its ts is out of range, or its event_id
 *             was already accepted within the dedupe horizon;
 *   late      valid, but every window containing its ts has closed;
 *   accepted  added to its pane: for each policy one observation
 *             (w, r, q, v) goes into that policy's accumulator.
 * Rejected and late lines go to the dead-letter sink with their position.
 * The same code serves replay (file sources) and, later, the Kafka consumer.
 */
#include "gope_ope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"
#include "record.h"

gope_status gope_pipeline_new(const gope_pipeline_conf *conf,
                              const gope_policy_set_t *policies,
                              const gope_estset_t *set, gope_sink *out,
                              gope_sink *dead, gope_pipeline_t **pp, gope_err *err)
{
    gope_pipeline_t *p = calloc(1, sizeof *p);
    if (!p)
        return gope_err_set(err, GOPE_ERR_NOMEM, "pipeline: out of memory");
    p->conf = *conf;
    p->policies = policies;
    p->set = set;
    p->out = out;
    p->dead = dead;
    gope_status st = gope_windows_new(&conf->window, gope_policies_count(policies), set,
                                      &p->win, err);
    if (st != GOPE_OK)
        goto cleanup;
    p->dec = gope_decoder_new();
    p->dedupe = gope_dedupe_new(conf->dedupe_horizon_ms);
    p->res = gope_result_new(set);
    p->pi = malloc(GOPE_MAX_CANDIDATES * sizeof *p->pi);
    p->scratch = malloc(GOPE_MAX_CANDIDATES * sizeof *p->scratch);
    if (!p->dec || !p->dedupe || !p->res || !p->pi || !p->scratch) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "pipeline: out of memory");
        goto cleanup;
    }
    *pp = p;
    return GOPE_OK;
cleanup:
    gope_pipeline_free(p);
    return st;
}

void gope_pipeline_free(gope_pipeline_t *p)
{
    if (!p)
        return;
    gope_windows_free(p->win);
    gope_decoder_free(p->dec);
    gope_dedupe_free(p->dedupe);
    gope_result_free(p->res);
    free(p->pi);
    free(p->scratch);
    gope_jbuf_free(&p->buf);
    free(p);
}

static gope_status flush_buf(gope_pipeline_t *p, gope_sink *sink, const char *key,
                             gope_err *err)
{
    if (p->buf.oom)
        return gope_err_set(err, GOPE_ERR_NOMEM, "output record: out of memory");
    return sink->ops->write(sink->ctx, key, p->buf.data, p->buf.len, err);
}

/* A line that is not accepted: count it and hand it to the dead-letter sink. */
static gope_status refuse(gope_pipeline_t *p, const char *source, const gope_line *line,
                          gope_reason reason, const char *detail, gope_err *err)
{
    if (reason == GOPE_R_LATE)
        p->stats.late++;
    else
        p->stats.rejected++;
    p->stats.by_reason[reason]++;
    if (!p->dead || !p->dead->ops)
        return GOPE_OK;
    gope_jbuf_reset(&p->buf);
    gope_record_dead(&p->buf, source, line, reason, detail);
    return flush_buf(p, p->dead, gope_reason_name(reason), err);
}

static gope_status emit(void *ctx, const gope_window_result *w, gope_err *err)
{
    gope_pipeline_t *p = ctx;
    bool any = false;
    for (size_t i = 0; i < w->n_policies; i++) {
        if (gope_acc_n(w->accs[i]) == 0)
            continue;
        any = true;
        gope_acc_result(p->set, w->accs[i], p->res);
        const char *name = gope_policy_name(p->policies, i);
        gope_jbuf_reset(&p->buf);
        gope_record_window(&p->buf, w->start, w->end, name, p->set, p->res);
        gope_status st = flush_buf(p, p->out, name, err);
        if (st != GOPE_OK)
            return st;
        p->stats.records++;
    }
    p->stats.windows += any;
    return GOPE_OK;
}

/* Add an accepted event to its pane: one observation per policy. */
static gope_status add_event(gope_pipeline_t *p, const gope_event *ev, gope_err *err)
{
    gope_acc **accs;
    gope_status st = gope_windows_pane(p->win, ev->ts, &accs, err);
    if (st != GOPE_OK)
        return st;
    const gope_candidate *c = ev->candidates;
    const size_t k = ev->n_candidates;
    for (size_t i = 0; i < gope_policies_count(p->policies); i++) {
        gope_policy_probs(p->policies, i, ev, p->pi, p->scratch);
        gope_ksum v = {0, 0};
        for (size_t j = 0; j < k; j++)
            gope_ksum_add(&v, p->pi[j] * c[j].ev);
        gope_obs o = {
            .w = p->pi[ev->action] / ev->propensity,
            .r = ev->reward,
            .q = c[ev->action].ev,
            .v = gope_ksum_value(&v),
        };
        gope_acc_add(p->set, accs[i], &o);
    }
    return gope_windows_advance(p->win, ev->ts, emit, p, err);
}

void gope_decode_one(gope_decoder_t *dec, const gope_pipeline_conf *conf,
                     const gope_line *line, gope_decoded *out, char *detail,
                     size_t detail_size)
{
    out->line = *line;
    out->detail = detail;
    detail[0] = '\0';
    if (line->too_long) {
        snprintf(detail, detail_size, "%zu bytes, limit %u", line->full_len, GOPE_MAX_LINE);
        out->reason = GOPE_R_LINE_TOO_LONG;
        return;
    }
    out->reason = (conf->use_cjson_decoder ? gope_decode_line_cjson : gope_decode_line)(
        dec, line->data, line->len, conf->require_reward, &out->ev, detail, detail_size);
}

gope_status gope_pipeline_line(gope_pipeline_t *p, const char *source,
                               const gope_line *line, gope_err *err)
{
    char detail[256];
    gope_decoded d;
    gope_decode_one(p->dec, &p->conf, line, &d, detail, sizeof detail);
    return gope_pipeline_decoded(p, source, &d, err);
}

gope_status gope_pipeline_decoded(gope_pipeline_t *p, const char *source,
                                  const gope_decoded *d, gope_err *err)
{
    char detail[256];
    const gope_event *ev = &d->ev;
    const gope_line *line = &d->line;
    p->stats.lines_read++;
    if (d->reason != GOPE_R_OK)
        return refuse(p, source, line, d->reason, d->detail, err);
    if (p->conf.decode_only) {
        p->stats.accepted++;
        return GOPE_OK;
    }
    if (gope_dedupe_seen(p->dedupe, ev->event_id, ev->event_id_len)) {
        snprintf(detail, sizeof detail, "%s", ev->event_id);
        return refuse(p, source, line, GOPE_R_DUPLICATE_EVENT_ID, detail, err);
    }
    if (gope_windows_is_late(p->win, ev->ts)) {
        snprintf(detail, sizeof detail, "ts %lld: every window closed (watermark %lld)",
                 (long long)ev->ts, (long long)gope_windows_watermark(p->win));
        return refuse(p, source, line, GOPE_R_LATE, detail, err);
    }
    gope_status st = gope_dedupe_insert(p->dedupe, ev->event_id, ev->event_id_len, ev->ts, err);
    if (st != GOPE_OK)
        return st;
    if (!p->stats.accepted || ev->ts < p->stats.min_ts)
        p->stats.min_ts = ev->ts;
    if (!p->stats.accepted || ev->ts > p->stats.max_ts)
        p->stats.max_ts = ev->ts;
    p->stats.accepted++;
    return add_event(p, ev, err);
}

gope_status gope_pipeline_finish(gope_pipeline_t *p, gope_err *err)
{
    return gope_windows_flush(p->win, emit, p, err);
}

const gope_pipeline_stats *gope_pipeline_stats_get(const gope_pipeline_t *p)
{
    return &p->stats;
}

gope_status gope_pipeline_summary(gope_pipeline_t *p, const char *extra, gope_err *err)
{
    gope_jbuf *b = &p->buf;
    const gope_pipeline_stats *s = &p->stats;
    gope_jbuf_reset(b);
    gope_jbuf_str(b, "{\"schema\":\"ope_run.v1\"");
    gope_jbuf_key(b, "lines_read");
    gope_jbuf_u64(b, s->lines_read);
    gope_jbuf_key(b, "accepted");
    gope_jbuf_u64(b, s->accepted);
    gope_jbuf_key(b, "rejected");
    gope_jbuf_u64(b, s->rejected);
    gope_jbuf_key(b, "rejected_by_reason");
    gope_jbuf_raw(b, "{", 1);
    for (int r = 1; r < GOPE_R_COUNT; r++) {
        if (r == GOPE_R_LATE || !s->by_reason[r])
            continue;
        gope_jbuf_key(b, gope_reason_name((gope_reason)r));
        gope_jbuf_u64(b, s->by_reason[r]);
    }
    gope_jbuf_raw(b, "}", 1);
    gope_jbuf_key(b, "late");
    gope_jbuf_u64(b, s->late);
    gope_jbuf_key(b, "windows");
    gope_jbuf_u64(b, s->windows);
    gope_jbuf_key(b, "records");
    gope_jbuf_u64(b, s->records);
    if (extra && *extra) {
        gope_jbuf_raw(b, ",", 1);
        gope_jbuf_str(b, extra);
    }
    gope_jbuf_raw(b, "}", 1);
    return flush_buf(p, p->out, "summary", err);
}
