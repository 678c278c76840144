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
 * The same code serves replay (file sources) and the Kafka consumer.
 *
 * With the reward join on (conf.join), a decision without reward is accepted
 * (dedupe and lateness are decided on arrival) but waits in the join, as its
 * per-policy observations, until its rewards are in; a reward.v1 line counts
 * once joined (accepted) or orphaned (rejected, orphan_reward). Time comes
 * from the stream clock (ope/clock.c); after every line, tick() lets the
 * join release what it no longer waits for and moves the window watermark,
 * held back by the oldest pending decision (gope_ope.h, "pipeline").
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
    size_t n_policies = gope_policies_count(policies);
    gope_status st = gope_windows_new(&conf->window, n_policies, set, &p->win, err);
    if (st == GOPE_OK)
        st = gope_clock_new(&p->clock, err);
    if (st == GOPE_OK && conf->join) {
        gope_join_conf jc = {.wait_ms = conf->reward_wait_ms, .n_obs = n_policies};
        st = gope_join_new(&jc, &p->join, err);
    }
    if (st != GOPE_OK)
        goto cleanup;
    p->dec = gope_decoder_new();
    p->dedupe = gope_dedupe_new(conf->dedupe_horizon_ms);
    p->res = gope_result_new(set);
    p->pi = malloc(GOPE_MAX_CANDIDATES * sizeof *p->pi);
    p->scratch = malloc(GOPE_MAX_CANDIDATES * sizeof *p->scratch);
    p->obs = malloc((n_policies ? n_policies : 1) * sizeof *p->obs);
    if (!p->dec || !p->dedupe || !p->res || !p->pi || !p->scratch || !p->obs) {
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
    gope_clock_free(p->clock);
    gope_join_free(p->join);
    gope_decoder_free(p->dec);
    gope_dedupe_free(p->dedupe);
    gope_result_free(p->res);
    free(p->pi);
    free(p->scratch);
    free(p->obs);
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
    if (p->conf.tap) {
        gope_status st = p->conf.tap(p->conf.tap_ctx, w, err);
        if (st != GOPE_OK)
            return st;
    }
    for (size_t i = 0; i < w->n_policies; i++) {
        if (gope_acc_n(w->accs[i]) == 0)
            continue;
        any = true;
        gope_acc_result(p->set, w->accs[i], p->res);
        const char *name = gope_policy_name(p->policies, i);
        gope_jbuf_reset(&p->buf);
        gope_record_window(&p->buf, w->start, w->end, name, w->revision, p->set, p->res);
        gope_status st = flush_buf(p, p->out, name, err);
        if (st != GOPE_OK)
            return st;
        p->stats.records++;
    }
    p->stats.windows += any;
    return GOPE_OK;
}

/* gope_ksum_add(k, x) without its branch, whose direction goes by the data
 * (where the support is, how big each term is) and so is mispredicted
 * often. Knuth's TwoSum computes the rounding error of s + x exactly, as
 * the ordered form of gope_ksum_add does, so s and c come out the same: the
 * errors are equal, and an error of either sign of zero leaves c alone (c
 * starts at +0 and can never become -0). */
static inline void ksum_add_branchless(gope_ksum *k, double x)
{
    const double s = k->s, t = s + x, x_part = t - s;
    k->c += (s - (t - x_part)) + (x - x_part);
    k->s = t;
}

/* v = sum_j pi_j ev_j (pi_j, ev_j >= 0) as a compensated sum of the nonzero
 * terms, in order. Adding a zero (greedy gives most candidates pi_j = 0)
 * cannot change a compensated sum that starts at +0: s + 0 = s, the
 * compensation gains exactly +0, and neither part can become -0. So leaving
 * the zeros out is bit-exact, and the dependent chain of additions is as
 * long as the support. `terms` is room for K doubles. */
static double expected_value(const double *pi, const gope_candidate *c, size_t k, double *terms)
{
    size_t n = 0;
    for (size_t j = 0; j < k; j++) {
        terms[n] = pi[j] * c[j].ev;
        n += terms[n] != 0; /* no branch: the support is anywhere */
    }
    gope_ksum v = {0, 0};
    for (size_t j = 0; j < n; j++)
        ksum_add_branchless(&v, terms[j]);
    return gope_ksum_value(&v);
}

/* Each policy's observation of decision `ev` with reward `r`, into p->obs. */
static void observe(gope_pipeline_t *p, const gope_event *ev, double r)
{
    const gope_candidate *c = ev->candidates;
    const size_t k = ev->n_candidates, n_policies = gope_policies_count(p->policies);
    const double q = c[ev->action].ev;
    for (size_t i = 0; i < n_policies; i++) {
        gope_policy_probs(p->policies, i, ev, p->pi, p->scratch);
        /* the scores in p->scratch are spent: it holds the terms of v */
        p->obs[i] = (gope_obs){
            .w = p->pi[ev->action] / ev->propensity,
            .r = r,
            .q = q,
            .v = expected_value(p->pi, c, k, p->scratch),
        };
    }
}

/* Add the observations of an accepted decision at `ts` to its pane. */
static gope_status add_obs(gope_pipeline_t *p, int64_t ts, const gope_obs *obs, gope_err *err)
{
    gope_acc **accs;
    gope_status st = gope_windows_pane(p->win, ts, &accs, err);
    if (st != GOPE_OK)
        return st;
    const size_t n_policies = gope_policies_count(p->policies);
    for (size_t i = 0; i < n_policies; i++)
        gope_acc_add(p->set, accs[i], &obs[i]);
    return GOPE_OK;
}

/* The join is done waiting for a decision: it enters its windows. */
static gope_status join_release(void *ctx, int64_t ts, gope_obs *obs, uint32_t n_rewards,
                                gope_err *err)
{
    gope_pipeline_t *p = ctx;
    gope_status st = add_obs(p, ts, obs, err);
    if (st != GOPE_OK)
        return st;
    p->stats.decisions_pending--;
    p->stats.decisions_defaulted += n_rewards == 0;
    return GOPE_OK;
}

static gope_status join_orphan(void *ctx, const char *source, const gope_line *line,
                               const char *detail, gope_err *err)
{
    gope_pipeline_t *p = ctx;
    p->stats.rewards_held--;
    p->stats.rewards_orphaned++;
    return refuse(p, source, line, GOPE_R_ORPHAN_REWARD, detail, err);
}

static gope_status join_advance(gope_pipeline_t *p, int64_t now, gope_err *err)
{
    gope_join_out out = {.release = join_release, .orphan = join_orphan, .ctx = p};
    return gope_join_advance(p->join, now, &out, err);
}

/* The clock may have moved: the join releases the decisions and orphans the
 * rewards whose wait has ended, then the window watermark follows — held
 * at the oldest decision still pending, so that decision finds its windows
 * open when it is released. */
static gope_status tick(gope_pipeline_t *p, gope_err *err)
{
    int64_t now = gope_clock_now(p->clock);
    int64_t wm = now == INT64_MIN ? INT64_MIN : now - p->conf.window.lateness_ms;
    if (p->join) {
        gope_status st = join_advance(p, wm, err);
        if (st != GOPE_OK)
            return st;
        int64_t oldest = gope_join_oldest(p->join);
        wm = oldest < wm ? oldest : wm;
    }
    return gope_windows_advance_to(p->win, wm, emit, p, err);
}

/* A line with a trusted ts arrived on `stream`. */
static gope_status advance(gope_pipeline_t *p, uint32_t stream, int64_t ts, gope_err *err)
{
    gope_status st = gope_clock_observe(p->clock, stream, ts, err);
    return st != GOPE_OK ? st : tick(p, err);
}

/* An accepted decision: into its pane now (reward inline, or no join), or
 * into the join to wait for its rewards. */
static gope_status take_decision(gope_pipeline_t *p, const gope_event *ev, gope_err *err)
{
    if (!p->join || ev->has_reward) {
        observe(p, ev, ev->reward);
        return add_obs(p, ev->ts, p->obs, err);
    }
    observe(p, ev, 0);
    uint32_t joined;
    gope_status st = gope_join_decision(p->join, ev->event_id, ev->event_id_len, ev->ts, p->obs,
                                        &joined, err);
    if (st != GOPE_OK)
        return st;
    p->stats.decisions_pending++;
    p->stats.rewards_held -= joined;
    p->stats.accepted += joined;
    p->stats.rewards_joined += joined;
    return GOPE_OK;
}

/* A reward.v1 line: summed into its pending decision, or held by the join. */
static gope_status take_reward(gope_pipeline_t *p, uint32_t stream, const char *source,
                               const gope_decoded *d, gope_err *err)
{
    const gope_event *ev = &d->ev;
    if (!p->join)
        return refuse(p, source, &d->line, GOPE_R_UNKNOWN_SCHEMA,
                      "reward.v1: rewards are not joined in this run", err);
    bool joined;
    gope_status st = gope_join_reward(p->join, ev->event_id, ev->event_id_len, ev->ts,
                                      ev->reward, source, &d->line, &joined, err);
    if (st != GOPE_OK)
        return st;
    if (joined) {
        p->stats.accepted++;
        p->stats.rewards_joined++;
    } else {
        p->stats.rewards_held++;
    }
    return advance(p, stream, ev->ts, err);
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
        dec, line->data, line->len, conf->require_reward && !conf->join, &out->ev, detail,
        detail_size);
}

gope_status gope_pipeline_line(gope_pipeline_t *p, const char *source,
                               const gope_line *line, gope_err *err)
{
    return gope_pipeline_line_on(p, 0, source, line, err);
}

gope_status gope_pipeline_line_on(gope_pipeline_t *p, uint32_t stream, const char *source,
                                  const gope_line *line, gope_err *err)
{
    char detail[256];
    gope_decoded d;
    gope_decode_one(p->dec, &p->conf, line, &d, detail, sizeof detail);
    return gope_pipeline_decoded_on(p, stream, source, &d, err);
}

gope_status gope_pipeline_decoded(gope_pipeline_t *p, const char *source,
                                  const gope_decoded *d, gope_err *err)
{
    return gope_pipeline_decoded_on(p, 0, source, d, err);
}

gope_status gope_pipeline_decoded_on(gope_pipeline_t *p, uint32_t stream, const char *source,
                                     const gope_decoded *d, gope_err *err)
{
    char detail[256];
    const gope_event *ev = &d->ev;
    const gope_line *line = &d->line;
    if (stream >= GOPE_CLOCK_MAX_STREAMS) /* before counting: the line was not taken */
        return gope_err_set(err, GOPE_ERR_USAGE, "%s: stream %u is not below %u", source,
                            stream, GOPE_CLOCK_MAX_STREAMS);
    p->stats.lines_read++;
    if (d->reason != GOPE_R_OK)
        return refuse(p, source, line, d->reason, d->detail, err);
    if (p->conf.decode_only) {
        p->stats.accepted++;
        return GOPE_OK;
    }
    if (ev->kind == GOPE_EV_REWARD)
        return take_reward(p, stream, source, d, err);
    if (gope_dedupe_seen(p->dedupe, ev->event_id, ev->event_id_len)) {
        snprintf(detail, sizeof detail, "%s", ev->event_id);
        return refuse(p, source, line, GOPE_R_DUPLICATE_EVENT_ID, detail, err);
    }
    gope_status st;
    if (gope_windows_is_late(p->win, ev->ts)) {
        snprintf(detail, sizeof detail, "ts %lld: every window closed (watermark %lld)",
                 (long long)ev->ts, (long long)gope_windows_watermark(p->win));
        st = refuse(p, source, line, GOPE_R_LATE, detail, err);
        /* still news from its stream: a stream whose first line is late
         * must stop holding the clock */
        return st != GOPE_OK ? st : advance(p, stream, ev->ts, err);
    }
    st = gope_dedupe_insert(p->dedupe, ev->event_id, ev->event_id_len, ev->ts, err);
    if (st != GOPE_OK)
        return st;
    if (!p->stats.accepted || ev->ts < p->stats.min_ts)
        p->stats.min_ts = ev->ts;
    if (!p->stats.accepted || ev->ts > p->stats.max_ts)
        p->stats.max_ts = ev->ts;
    p->stats.accepted++;
    st = take_decision(p, ev, err);
    return st != GOPE_OK ? st : advance(p, stream, ev->ts, err);
}

gope_status gope_pipeline_stream_add(gope_pipeline_t *p, uint32_t stream, gope_err *err)
{
    return gope_clock_add(p->clock, stream, err);
}

gope_status gope_pipeline_stream_remove(gope_pipeline_t *p, uint32_t stream, gope_err *err)
{
    gope_clock_remove(p->clock, stream);
    return tick(p, err);
}

gope_status gope_pipeline_stream_idle(gope_pipeline_t *p, uint32_t stream, bool idle,
                                      gope_err *err)
{
    gope_clock_idle(p->clock, stream, idle);
    return tick(p, err);
}

int64_t gope_pipeline_clock(const gope_pipeline_t *p)
{
    return gope_clock_now(p->clock);
}

int64_t gope_pipeline_watermark(const gope_pipeline_t *p)
{
    return gope_windows_watermark(p->win);
}

void gope_pipeline_tap(gope_pipeline_t *p, gope_window_emit_fn tap, void *ctx)
{
    p->conf.tap = tap;
    p->conf.tap_ctx = ctx;
}

gope_status gope_pipeline_finish(gope_pipeline_t *p, gope_err *err)
{
    if (p->join) {
        gope_status st = join_advance(p, INT64_MAX, err);
        if (st != GOPE_OK)
            return st;
    }
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
    if (p->join) {
        gope_jbuf_key(b, "join");
        gope_jbuf_raw(b, "{", 1);
        gope_jbuf_key(b, "reward_wait_ms");
        gope_jbuf_i64(b, p->conf.reward_wait_ms);
        gope_jbuf_key(b, "rewards_joined");
        gope_jbuf_u64(b, s->rewards_joined);
        gope_jbuf_key(b, "decisions_defaulted");
        gope_jbuf_u64(b, s->decisions_defaulted);
        gope_jbuf_key(b, "rewards_orphaned");
        gope_jbuf_u64(b, s->rewards_orphaned);
        gope_jbuf_raw(b, "}", 1);
    }
    if (extra && *extra) {
        gope_jbuf_raw(b, ",", 1);
        gope_jbuf_str(b, extra);
    }
    gope_jbuf_raw(b, "}", 1);
    return flush_buf(p, p->out, "summary", err);
}
