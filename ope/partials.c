/*
 * partials.c — consume --partials: one instance's share of the windows, for
 * `giftope merge` to combine (docs/scaling.md).
 *
 * Several consume instances in one group each see some partitions of the
 * source topic. Each writes, for every window that closes in it, one
 * ope_partial.v1 "window" line per policy: the window, the policy, the
 * accumulator as its exact saved words (gope_acc_save, 16 hex digits each:
 * merging them is gope_acc_merge, nothing is rounded on the way), and the
 * fingerprint of the configuration that made it (estimators, policies,
 * window), so that merge never adds accumulators of different runs. After
 * windows closed, and at the end of the run, a "progress" line tells which
 * source partitions the instance holds and its window watermark: every
 * window ending at or before it has been written by this instance, so a
 * partition can report past a window in which it had no event.
 *
 * A partition's "clock" is the instance's watermark: the pipeline's clock is
 * the minimum over its partitions (less the lateness, held back by the
 * reward join), and that minimum, not each partition's own time, decides
 * which windows the instance has closed.
 *
 * The lines go to a sink (kafka:TOPIC, or a file) keyed by the instance, so
 * that on Kafka one instance's lines stay in order in one partition.
 *
 * With per-partition state (consume --partials --checkpoint) every source
 * partition has its own pipeline and clock, and its lines say so: window
 * lines carry "partition", progress lines report one partition at that
 * partition's own watermark, and both are keyed by the partition. A
 * partition's lines then stay in order across the members that held it in
 * turn, and merge counts its share once whoever wrote it.
 */
#include "gope_ope.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"

struct gope_partials_s {
    gope_sink sink;
    char instance[128];
    char topic[250];
    char estimators[512];
    char fingerprint[17];
    const gope_estset_t *set;
    const gope_policy_set_t *policies;
    int32_t *parts;   /* the source partitions held, unordered */
    size_t n_parts, cap_parts;
    uint64_t *words;  /* one accumulator's saved form */
    bool due;         /* windows written since the last progress line */
    uint64_t windows, progress;
    gope_jbuf buf;
};

/* FNV-1a, 64 bits: a short name for a configuration, not a security check. */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The fingerprint: estimators, the policies in order and the window. */
static void fingerprint(gope_partials_t *p, const gope_window_conf *w)
{
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, p->estimators);
    for (size_t i = 0; i < gope_policies_count(p->policies); i++) {
        h = fnv1a(h, "|");
        h = fnv1a(h, gope_policy_name(p->policies, i));
    }
    char win[96];
    snprintf(win, sizeof win, "|%" PRId64 "/%" PRId64 "/%" PRId64, w->size_ms, w->slide_ms,
             w->lateness_ms);
    h = fnv1a(h, win);
    snprintf(p->fingerprint, sizeof p->fingerprint, "%016" PRIx64, h);
}

gope_status gope_partials_open(const gope_partials_conf *conf, const gope_kafka_sink_conf *kafka,
                               gope_partials_t **out, gope_err *err)
{
    gope_partials_t *p = calloc(1, sizeof *p);
    if (!p)
        return gope_err_set(err, GOPE_ERR_NOMEM, "--partials: out of memory");
    p->set = conf->set;
    p->policies = conf->policies;
    snprintf(p->instance, sizeof p->instance, "%s", conf->instance);
    snprintf(p->topic, sizeof p->topic, "%s", conf->topic);
    if (gope_estset_describe(conf->set, p->estimators, sizeof p->estimators) >=
        sizeof p->estimators) {
        free(p);
        return gope_err_set(err, GOPE_ERR_USAGE, "--partials: estimator list too long");
    }
    fingerprint(p, &conf->window);
    p->words = malloc(gope_acc_words(conf->set) * sizeof *p->words);
    if (!p->words) {
        free(p);
        return gope_err_set(err, GOPE_ERR_NOMEM, "--partials: out of memory");
    }
    gope_status st = gope_sink_open(conf->spec, "--partials", kafka, &p->sink, err);
    if (st != GOPE_OK) {
        free(p->words);
        free(p);
        return st;
    }
    *out = p;
    return GOPE_OK;
}

gope_status gope_partials_close(gope_partials_t *p, gope_err *err)
{
    if (!p)
        return GOPE_OK;
    gope_status st = gope_sink_close(&p->sink, err);
    free(p->parts);
    free(p->words);
    gope_jbuf_free(&p->buf);
    free(p);
    return st;
}

const char *gope_partials_fingerprint(const gope_partials_t *p)
{
    return p->fingerprint;
}

gope_status gope_partials_partition(gope_partials_t *p, int32_t partition, bool assigned,
                                    gope_err *err)
{
    for (size_t i = 0; i < p->n_parts; i++)
        if (p->parts[i] == partition) {
            if (!assigned)
                p->parts[i] = p->parts[--p->n_parts];
            return GOPE_OK;
        }
    if (!assigned)
        return GOPE_OK;
    if (p->n_parts == p->cap_parts) {
        size_t cap = p->cap_parts ? 2 * p->cap_parts : 8;
        int32_t *v = realloc(p->parts, cap * sizeof *v);
        if (!v)
            return gope_err_set(err, GOPE_ERR_NOMEM, "--partials: out of memory");
        p->parts = v;
        p->cap_parts = cap;
    }
    p->parts[p->n_parts++] = partition;
    return GOPE_OK;
}

/* The fields every line starts with, up to the kind. */
static void head(gope_partials_t *p, const char *kind)
{
    gope_jbuf *b = &p->buf;
    gope_jbuf_reset(b);
    gope_jbuf_str(b, "{\"schema\":\"ope_partial.v1\",\"kind\":\"");
    gope_jbuf_str(b, kind);
    gope_jbuf_str(b, "\",\"instance\":");
    gope_jbuf_quote(b, p->instance, strlen(p->instance));
    gope_jbuf_str(b, ",\"fingerprint\":\"");
    gope_jbuf_str(b, p->fingerprint);
    gope_jbuf_str(b, "\",\"estimators\":");
    gope_jbuf_quote(b, p->estimators, strlen(p->estimators));
    gope_jbuf_str(b, ",\"topic\":");
    gope_jbuf_quote(b, p->topic, strlen(p->topic));
}

/* ,"partitions":[{"partition":P,"clock":WM},...] — clock omitted while the
 * instance has no watermark yet. */
static void partitions(gope_partials_t *p, int64_t wm)
{
    gope_jbuf *b = &p->buf;
    gope_jbuf_key(b, "partitions");
    gope_jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < p->n_parts; i++) {
        gope_jbuf_str(b, i ? ",{\"partition\":" : "{\"partition\":");
        gope_jbuf_i64(b, p->parts[i]);
        if (wm != INT64_MIN) {
            gope_jbuf_key(b, "clock");
            gope_jbuf_i64(b, wm);
        }
        gope_jbuf_raw(b, "}", 1);
    }
    gope_jbuf_raw(b, "]", 1);
}

/* The line in buf to the sink, keyed by the instance, or by the source
 * partition (`partition` >= 0) so that every line about one partition stays
 * in order on one partition of a partials topic, whoever wrote it. */
static gope_status flush_line(gope_partials_t *p, int32_t partition, gope_err *err)
{
    if (p->buf.oom)
        return gope_err_set(err, GOPE_ERR_NOMEM, "--partials: out of memory");
    char key[16];
    if (partition >= 0)
        snprintf(key, sizeof key, "%" PRId32, partition);
    return p->sink.ops->write(p->sink.ctx, partition >= 0 ? key : p->instance, p->buf.data,
                              p->buf.len, err);
}

/* ,"partitions":[{"partition":P[,"clock":WM]}] for one source partition. */
static void one_partition(gope_partials_t *p, int32_t partition, int64_t wm)
{
    gope_jbuf *b = &p->buf;
    gope_jbuf_str(b, ",\"partitions\":[{\"partition\":");
    gope_jbuf_i64(b, partition);
    if (wm != INT64_MIN) {
        gope_jbuf_key(b, "clock");
        gope_jbuf_i64(b, wm);
    }
    gope_jbuf_raw(b, "}]", 2);
}

/* One policy's accumulator of window `w` as a "window" line: the
 * instance's share, or with `partition` >= 0 that source partition's. */
static gope_status window_line(gope_partials_t *p, const gope_window_result *w, size_t i,
                               int32_t partition, gope_err *err)
{
    gope_jbuf *b = &p->buf;
    head(p, "window");
    gope_jbuf_str(b, ",\"window\":{\"start\":");
    gope_jbuf_i64(b, w->start);
    gope_jbuf_str(b, ",\"end\":");
    gope_jbuf_i64(b, w->end);
    gope_jbuf_str(b, "},\"policy\":");
    const char *name = gope_policy_name(p->policies, i);
    gope_jbuf_quote(b, name, strlen(name));
    gope_jbuf_key(b, "revision");
    gope_jbuf_u64(b, w->revision);
    if (partition >= 0) {
        gope_jbuf_key(b, "partition");
        gope_jbuf_i64(b, partition);
        one_partition(p, partition, INT64_MIN);
    } else {
        partitions(p, INT64_MIN);
    }
    gope_jbuf_key(b, "acc");
    gope_jbuf_raw(b, "[", 1);
    gope_acc_save(p->set, w->accs[i], p->words);
    for (size_t k = 0; k < gope_acc_words(p->set); k++) {
        char hex[20];
        snprintf(hex, sizeof hex, "%s\"%016" PRIx64 "\"", k ? "," : "", p->words[k]);
        gope_jbuf_str(b, hex);
    }
    gope_jbuf_str(b, "]}");
    return flush_line(p, partition, err);
}

/* A "window" line per policy with events. */
static gope_status window_lines(gope_partials_t *p, const gope_window_result *w,
                                int32_t partition, gope_err *err)
{
    for (size_t i = 0; i < w->n_policies; i++) {
        if (gope_acc_n(w->accs[i]) == 0) /* as the records: nothing to add */
            continue;
        gope_status st = window_line(p, w, i, partition, err);
        if (st != GOPE_OK)
            return st;
        p->windows++;
    }
    return GOPE_OK;
}

gope_status gope_partials_window(void *ctx, const gope_window_result *w, gope_err *err)
{
    gope_partials_t *p = ctx;
    p->due = true;
    return window_lines(p, w, -1, err);
}

gope_status gope_partials_window_of(gope_partials_t *p, int32_t partition,
                                    const gope_window_result *w, gope_err *err)
{
    return window_lines(p, w, partition, err);
}

gope_status gope_partials_progress_of(gope_partials_t *p, int32_t partition, int64_t watermark,
                                      bool final, gope_err *err)
{
    head(p, "progress");
    gope_jbuf_str(&p->buf, final ? ",\"final\":true" : ",\"final\":false");
    one_partition(p, partition, watermark);
    gope_jbuf_raw(&p->buf, "}", 1);
    gope_status st = flush_line(p, partition, err);
    if (st == GOPE_OK)
        p->progress++;
    return st;
}

gope_status gope_partials_flush(gope_partials_t *p, gope_err *err)
{
    return gope_sink_flush(&p->sink, err);
}

bool gope_partials_due(const gope_partials_t *p)
{
    return p->due;
}

gope_status gope_partials_progress(gope_partials_t *p, int64_t watermark, bool final,
                                   gope_err *err)
{
    head(p, "progress");
    gope_jbuf_str(&p->buf, final ? ",\"final\":true" : ",\"final\":false");
    partitions(p, watermark);
    gope_jbuf_raw(&p->buf, "}", 1);
    gope_status st = flush_line(p, -1, err);
    if (st != GOPE_OK)
        return st;
    p->due = false;
    p->progress++;
    return final ? gope_sink_flush(&p->sink, err) : GOPE_OK;
}
