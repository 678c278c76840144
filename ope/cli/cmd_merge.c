/*
 * cmd_merge.c — `giftope merge`: the final window records of several consume
 * instances, from their partials (consume --partials, docs/scaling.md).
 *
 * Every instance of one consumer group writes, per closed window and policy,
 * its accumulator as exact words, and progress lines: the source partitions
 * it holds and its window watermark. merge adds the accumulators of a
 * (window, policy) with gope_acc_merge and writes the ope_metrics.v1 record
 * (the record code of consume) once every one of the --source-partitions
 * partitions has been reported at a watermark >= the window's end: then no
 * instance can add to it any more. A share is an instance's (static group)
 * or, when the partial names its "partition" (per-partition state, consume
 * --partials --checkpoint), that source partition's, whichever member wrote
 * it: partitions move between members, and each one's share is counted once.
 * A later revision of a share replaces the earlier one; the same revision
 * again (a member that took a partition over from an older checkpoint writes
 * the windows after it again) is a duplicate, counted and dropped. Lines that are not
 * partials of the first configuration seen (its fingerprint) are rejected,
 * counted by reason and named on stderr with their Kafka position.
 *
 * The state is in memory and the partials topic is read from its start on
 * every run (nothing is committed): a restarted merge rebuilds the same
 * records. It runs until --idle-exit without a message, SIGINT/SIGTERM (a
 * merge serving --metrics-addr runs as a service) or a fatal consumer
 * error; then the windows still incomplete are named on stderr and in the
 * ope_merge_run.v1 summary, the last line of --out.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../jsonbuf.h"
#include "../record.h"
#include "commands.h"
#include "consume_metrics.h"
#include "gope_ingest.h"
#include "gope_ope.h"
#include "options.h"
#include "stop_signal.h"

typedef struct {
    const char *brokers, *topic, *source_partitions, *group, *out, *idle_exit, *metrics_addr;
    bool quiet;
} merge_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(merge_opts, f), d, h}
static const gope_opt merge_table[] = {
    OPT("--brokers", "HOST:PORT", brokers, NULL, "bootstrap brokers, comma-separated (required)"),
    OPT("--topic", "TOPIC", topic, NULL, "the partials topic (consume --partials; required)"),
    OPT("--source-partitions", "N", source_partitions, NULL,
        "partitions of the source topic: a window is final once all N passed its end (required)"),
    OPT("--group", "ID", group, "giftope-merge", "consumer group (nothing is committed)"),
    OPT("--out", "FILE|kafka:TOPIC", out, "-", "final window records and the summary"),
    OPT("--idle-exit", "DUR", idle_exit, "10s", "end the run after no message for DUR"),
    OPT("--metrics-addr", "HOST:PORT", metrics_addr, NULL,
        "serve Prometheus /metrics there: final estimates, merge's counters (PORT alone: "
        "127.0.0.1; docs/prometheus.md)"),
    {"--quiet", NULL, GOPE_OPT_FLAG, offsetof(merge_opts, quiet), NULL,
     "only warnings and errors on stderr"},
};

static const gope_cmd_spec merge_spec = {
    .command = "merge",
    .synopsis = "--brokers HOST:PORT --topic PARTIALS --source-partitions N [options] "
                "[-X KEY=VALUE]...",
    .about = "Combine the partial window accumulators that consume --partials instances wrote\n"
             "into the final ope_metrics.v1 records, once every source partition has reported\n"
             "past a window's end. A partial that names its source partition (consume\n"
             "--partials --checkpoint) is that partition's share, counted once whichever\n"
             "instance wrote it. At --idle-exit the incomplete windows are named on stderr\n"
             "and in the ope_merge_run.v1 summary (docs/scaling.md); SIGINT/SIGTERM end\n"
             "the run the same way.\n"
             "Exit status: 0 success, 1 consumer error or output fault, 2 usage error.",
    .opts = merge_table,
    .n_opts = sizeof merge_table / sizeof merge_table[0],
};

/* One share of one (window, policy): a source partition's (per-partition
 * state, `partition` >= 0) or an instance's (static group, -1). */
typedef struct {
    int64_t start, end, partition;
    char policy[128], instance[128];
    uint32_t revision;
    bool emitted;   /* its window's record is out (words freed) */
    uint64_t *words;
} partial;

typedef enum { R_NOT_JSON, R_NOT_PARTIAL, R_FINGERPRINT, R_BAD_FIELD, R_AFTER_FINAL, R_COUNT } rej;
static const char *const rej_names[] = {"invalid_json", "not_a_partial", "other_fingerprint",
                                        "bad_field", "after_final"};

typedef struct {
    gope_estset_t *set;
    char fingerprint[17], topic[250];
    partial *v;
    size_t n, cap;
    int64_t *clock;   /* per source partition: the highest watermark reported */
    uint32_t n_src;
    gope_acc *acc, *one;
    gope_result *res;
    gope_jbuf buf;
    gope_sink out;
    uint64_t lines, windows, progress, records, duplicates, rejected[R_COUNT];
    bool quiet;
} merger;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* A string field copied into buf[size]. @return false when missing or too long. */
static bool str_field(const cJSON *o, const char *key, char *buf, size_t size)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(f) || strlen(f->valuestring) >= size)
        return false;
    memcpy(buf, f->valuestring, strlen(f->valuestring) + 1);
    return true;
}

/* An integer field (timestamps, partitions: exact in a double). */
static bool int_field(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(f) || f->valuedouble != (double)(int64_t)f->valuedouble)
        return false;
    *out = (int64_t)f->valuedouble;
    return true;
}

/* The first partial fixes the configuration: the estimators it names are
 * the set the records are computed with. */
static gope_status configure(merger *m, const cJSON *line, gope_err *err)
{
    char est[512];
    if (!str_field(line, "estimators", est, sizeof est) ||
        !str_field(line, "fingerprint", m->fingerprint, sizeof m->fingerprint) ||
        !str_field(line, "topic", m->topic, sizeof m->topic))
        return gope_err_set(err, GOPE_ERR_INPUT, "no estimators, fingerprint or topic");
    gope_status st = gope_estset_parse(est, &m->set, err);
    if (st != GOPE_OK)
        return st;
    m->acc = malloc(gope_acc_size(m->set));
    m->one = malloc(gope_acc_size(m->set));
    m->res = gope_result_new(m->set);
    if (!m->acc || !m->one || !m->res)
        return gope_err_set(err, GOPE_ERR_NOMEM, "merge: out of memory");
    if (!m->quiet)
        fprintf(stderr, "giftope merge: partials of %s, estimators %s, fingerprint %s\n",
                m->topic, est, m->fingerprint);
    return GOPE_OK;
}

/* The saved words of a "window" line into a new array. */
static gope_status read_words(merger *m, const cJSON *line, uint64_t **out, gope_err *err)
{
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(line, "acc");
    size_t n = gope_acc_words(m->set);
    if (!cJSON_IsArray(acc) || (size_t)cJSON_GetArraySize(acc) != n)
        return gope_err_set(err, GOPE_ERR_INPUT, "acc: not %zu words", n);
    uint64_t *w = malloc(n * sizeof *w);
    if (!w)
        return gope_err_set(err, GOPE_ERR_NOMEM, "merge: out of memory");
    size_t i = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, acc) {
        char *end = NULL;
        if (!cJSON_IsString(h) || strlen(h->valuestring) != 16)
            break;
        w[i] = strtoull(h->valuestring, &end, 16);
        if (*end)
            break;
        i++;
    }
    if (i != n || !gope_acc_load(m->set, m->one, w)) {
        free(w);
        return gope_err_set(err, GOPE_ERR_INPUT, "acc: word %zu is not a saved accumulator", i);
    }
    *out = w;
    return GOPE_OK;
}

/* Do a and b hold the same share: same window, policy and source
 * partition, or (instance-keyed) the same instance? */
static bool same_share(const partial *a, const partial *b)
{
    return a->start == b->start && a->end == b->end && !strcmp(a->policy, b->policy) &&
           a->partition == b->partition && (a->partition >= 0 || !strcmp(a->instance, b->instance));
}

/* The partial of (window, policy, partition or instance), or a new empty slot. */
static partial *slot(merger *m, const partial *key, gope_err *err)
{
    for (size_t i = 0; i < m->n; i++)
        if (same_share(&m->v[i], key))
            return &m->v[i];
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        partial *v = realloc(m->v, cap * sizeof *v);
        if (!v) {
            gope_err_set(err, GOPE_ERR_NOMEM, "merge: out of memory");
            return NULL;
        }
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n] = *key;
    m->v[m->n].words = NULL;
    m->v[m->n].revision = 0;
    return &m->v[m->n++];
}

/* Is the record of this (window, policy) out already? */
static bool emitted(const merger *m, const partial *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].emitted && m->v[i].start == key->start && m->v[i].end == key->end &&
            !strcmp(m->v[i].policy, key->policy))
            return true;
    return false;
}

/* A partition's share that came again with a revision it had already come
 * with (or an older one), counted in the record or waiting for it: a member
 * that took the partition over from an older checkpoint writes the same
 * windows again. */
static bool duplicate(const merger *m, const partial *key, int64_t rev)
{
    if (key->partition < 0)
        return false;
    for (size_t i = 0; i < m->n; i++)
        if (same_share(&m->v[i], key) && (m->v[i].words || m->v[i].emitted))
            return m->v[i].revision >= rev;
    return false;
}

/* The optional "partition" of a window line into key->partition (-1: none,
 * the share is the instance's). @return false when malformed. */
static bool partition_field(const merger *m, const cJSON *line, partial *key)
{
    key->partition = -1;
    if (!cJSON_GetObjectItemCaseSensitive(line, "partition"))
        return true;
    return int_field(line, "partition", &key->partition) && key->partition >= 0 &&
           key->partition < m->n_src;
}

/* A "window" line: keep the latest revision of each share. GOPE_ERR_INPUT
 * for a malformed one; *late when its window's record is out already (and
 * it is not a duplicate of a share counted there). */
static gope_status take_window(merger *m, const cJSON *line, bool *late, gope_err *err)
{
    partial key = {0};
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(line, "window");
    int64_t rev;
    if (!int_field(w, "start", &key.start) || !int_field(w, "end", &key.end) ||
        !str_field(line, "policy", key.policy, sizeof key.policy) ||
        !str_field(line, "instance", key.instance, sizeof key.instance) ||
        !int_field(line, "revision", &rev) || rev < 0 || rev > UINT32_MAX ||
        !partition_field(m, line, &key))
        return gope_err_set(err, GOPE_ERR_INPUT, "window, policy, instance, revision or partition");
    if (duplicate(m, &key, rev)) {
        m->duplicates++;
        return GOPE_OK;
    }
    if ((*late = emitted(m, &key)))
        return GOPE_OK;
    uint64_t *words = NULL;
    gope_status st = read_words(m, line, &words, err);
    if (st != GOPE_OK)
        return st;
    partial *p = slot(m, &key, err);
    if (!p || (p->words && p->revision > rev)) {
        free(words);
        return p ? GOPE_OK : GOPE_ERR_NOMEM;
    }
    free(p->words);
    p->words = words;
    p->revision = (uint32_t)rev;
    m->windows++;
    return GOPE_OK;
}

/* A "progress" line: its partitions have passed their clock. */
static gope_status take_progress(merger *m, const cJSON *line, gope_err *err)
{
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(line, "partitions"), *e;
    if (!cJSON_IsArray(parts))
        return gope_err_set(err, GOPE_ERR_INPUT, "partitions: not an array");
    cJSON_ArrayForEach(e, parts) {
        int64_t part, clock;
        if (!int_field(e, "partition", &part) || part < 0 || part >= m->n_src)
            return gope_err_set(err, GOPE_ERR_INPUT,
                                "partitions: a partition not in [0, %" PRIu32 ")", m->n_src);
        if (int_field(e, "clock", &clock) && clock > m->clock[part])
            m->clock[part] = clock;
    }
    m->progress++;
    return GOPE_OK;
}

/* The lowest clock over the source partitions: windows ending at or
 * before it are final. */
static int64_t low_clock(const merger *m)
{
    int64_t low = INT64_MAX;
    for (uint32_t i = 0; i < m->n_src; i++)
        low = m->clock[i] < low ? m->clock[i] : low;
    return low;
}

/* Merge every instance's partial of v[first]'s (window, policy) and write
 * the record. */
static gope_status emit_one(merger *m, size_t first, gope_err *err)
{
    const partial *k = &m->v[first];
    gope_acc_init(m->set, m->acc);
    for (size_t i = first; i < m->n; i++) {
        partial *p = &m->v[i];
        if (p->emitted || p->start != k->start || p->end != k->end || strcmp(p->policy, k->policy))
            continue;
        gope_acc_load(m->set, m->one, p->words); /* checked when the line came */
        gope_acc_merge(m->set, m->acc, m->one);
        free(p->words);
        p->words = NULL;
        p->emitted = true;
    }
    gope_acc_result(m->set, m->acc, m->res);
    gope_jbuf_reset(&m->buf);
    gope_record_window(&m->buf, k->start, k->end, k->policy, 1, m->set, m->res);
    if (m->buf.oom)
        return gope_err_set(err, GOPE_ERR_NOMEM, "merge: out of memory");
    m->records++;
    return m->out.ops->write(m->out.ctx, k->policy, m->buf.data, m->buf.len, err);
}

/* Write every final window, in start order (then in order of arrival). */
static gope_status emit_final(merger *m, gope_err *err)
{
    const int64_t low = low_clock(m);
    for (;;) {
        size_t best = m->n;
        for (size_t i = 0; i < m->n; i++)
            if (!m->v[i].emitted && m->v[i].end <= low &&
                (best == m->n || m->v[i].start < m->v[best].start))
                best = i;
        if (best == m->n)
            return GOPE_OK;
        gope_status st = emit_one(m, best, err);
        if (st != GOPE_OK)
            return st;
    }
}

/* Why a parsed line is refused, or R_COUNT when it is taken. Errors other
 * than bad input come back through *st. */
static rej take_line(merger *m, const cJSON *line, gope_status *st, gope_err *err)
{
    char schema[32], kind[16], fp[17];
    *st = GOPE_OK;
    if (!str_field(line, "schema", schema, sizeof schema) || strcmp(schema, "ope_partial.v1") ||
        !str_field(line, "kind", kind, sizeof kind))
        return R_NOT_PARTIAL;
    if (!m->set && (*st = configure(m, line, err)) != GOPE_OK)
        return *st == GOPE_ERR_NOMEM ? R_COUNT : R_BAD_FIELD;
    if (!str_field(line, "fingerprint", fp, sizeof fp) || strcmp(fp, m->fingerprint))
        return R_FINGERPRINT;
    bool late = false;
    if (!strcmp(kind, "window"))
        *st = take_window(m, line, &late, err);
    else if (!strcmp(kind, "progress") && (*st = take_progress(m, line, err)) == GOPE_OK)
        *st = emit_final(m, err);
    else if (strcmp(kind, "progress"))
        *st = gope_err_set(err, GOPE_ERR_INPUT, "kind %s", kind);
    if (*st == GOPE_ERR_INPUT)
        return R_BAD_FIELD;
    return late ? R_AFTER_FINAL : R_COUNT;
}

/* One message of the partials topic. @return GOPE_OK (also for a refused
 * line: counted and named on stderr); out of memory or an output fault. */
static gope_status take_msg(merger *m, const gope_kafka_msg *msg, gope_err *err)
{
    m->lines++;
    cJSON *line = cJSON_ParseWithLength(msg->line.data, msg->line.len);
    gope_err why = {{0}};
    gope_status st = GOPE_OK;
    rej r = line ? take_line(m, line, &st, &why) : R_NOT_JSON;
    cJSON_Delete(line);
    if (st != GOPE_OK && st != GOPE_ERR_INPUT && st != GOPE_ERR_USAGE) {
        *err = why;
        return st;
    }
    if (r == R_COUNT)
        return GOPE_OK;
    m->rejected[r]++;
    fprintf(stderr, "giftope merge: %s offset %" PRId64 ": %s%s%s\n", msg->source, msg->offset,
            rej_names[r], why.msg[0] ? ": " : "", why.msg);
    return GOPE_OK;
}

/* The incomplete windows, to stderr and as the summary's "incomplete". */
static void incomplete(merger *m, gope_jbuf *b)
{
    gope_jbuf_key(b, "incomplete");
    gope_jbuf_raw(b, "[", 1);
    bool first = true;
    for (size_t i = 0; i < m->n; i++) {
        const partial *p = &m->v[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = m->v[j].start == p->start && m->v[j].end == p->end &&
                   !strcmp(m->v[j].policy, p->policy);
        if (p->emitted || seen)
            continue;
        fprintf(stderr, "giftope merge: window [%" PRId64 ", %" PRId64 ") of %s is incomplete: "
                        "the source partitions reached %" PRId64 "\n",
                p->start, p->end, p->policy, low_clock(m));
        gope_jbuf_str(b, first ? "{\"start\":" : ",{\"start\":");
        gope_jbuf_i64(b, p->start);
        gope_jbuf_str(b, ",\"end\":");
        gope_jbuf_i64(b, p->end);
        gope_jbuf_str(b, ",\"policy\":");
        gope_jbuf_quote(b, p->policy, strlen(p->policy));
        gope_jbuf_raw(b, "}", 1);
        first = false;
    }
    gope_jbuf_raw(b, "]", 1);
}

/* The ope_merge_run.v1 summary line. */
static gope_status summary(merger *m, const merge_opts *o, gope_err *err)
{
    gope_jbuf *b = &m->buf;
    gope_jbuf_reset(b);
    gope_jbuf_str(b, "{\"schema\":\"ope_merge_run.v1\",\"topic\":");
    gope_jbuf_quote(b, o->topic, strlen(o->topic));
    const struct {
        const char *k;
        uint64_t v;
    } n[] = {{"source_partitions", m->n_src}, {"lines_read", m->lines},
             {"window_partials", m->windows}, {"duplicate_partials", m->duplicates},
             {"progress", m->progress}, {"records", m->records}};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        gope_jbuf_key(b, n[i].k);
        gope_jbuf_u64(b, n[i].v);
    }
    gope_jbuf_key(b, "rejected_by_reason");
    gope_jbuf_raw(b, "{", 1);
    for (int r = 0, any = 0; r < R_COUNT; r++)
        if (m->rejected[r]) {
            if (any++)
                gope_jbuf_raw(b, ",", 1);
            gope_jbuf_quote(b, rej_names[r], strlen(rej_names[r]));
            gope_jbuf_raw(b, ":", 1);
            gope_jbuf_u64(b, m->rejected[r]);
        }
    gope_jbuf_raw(b, "}", 1);
    incomplete(m, b);
    gope_jbuf_raw(b, "}", 1);
    if (b->oom)
        return gope_err_set(err, GOPE_ERR_NOMEM, "merge: out of memory");
    return m->out.ops->write(m->out.ctx, "summary", b->data, b->len, err);
}

static void merger_free(merger *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].words);
    free(m->v);
    free(m->clock);
    free(m->acc);
    free(m->one);
    gope_result_free(m->res);
    gope_estset_free(m->set);
    gope_jbuf_free(&m->buf);
}

static void on_log(void *ctx, int level, const char *what, const char *msg)
{
    const bool *quiet = ctx;
    if (level <= 4 || !*quiet)
        fprintf(stderr, "giftope merge: kafka %s: %s\n", what, msg);
}

/* Windows with a share waiting for their record: the distinct windows
 * among the partials not emitted (a few windows' worth). */
static uint64_t open_windows(const merger *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const partial *p = &m->v[i];
        bool seen = p->emitted;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !m->v[j].emitted && m->v[j].start == p->start && m->v[j].end == p->end;
        n += !seen;
    }
    return n;
}

/* The counters for --metrics-addr (gope_merge_stats_fn). */
static void merge_stats(void *ctx, gope_prom_merge_stats *out)
{
    const merger *m = ctx;
    *out = (gope_prom_merge_stats){.lines_read = m->lines, .window_partials = m->windows,
                                   .duplicate_partials = m->duplicates,
                                   .progress_lines = m->progress, .records = m->records,
                                   .reason_names = rej_names, .rejected = m->rejected,
                                   .n_reasons = R_COUNT, .open_windows = open_windows(m)};
}

/* Read until --idle-exit without a message or a signal. @return 0 or 1
 * (printed). */
static int merge_loop(merger *m, gope_kafka_source_t *ks, int64_t idle_ms,
                      gope_consume_metrics *cm)
{
    gope_err err = {{0}};
    double last = now_ms();
    while (!gope_stop_signal()) {
        if (gope_merge_metrics_tick(cm, merge_stats, m, ks))
            return 1;
        gope_kafka_msg msg;
        gope_status st = gope_kafka_source_next(ks, 200, &msg, &err);
        if (st == GOPE_EOF) {
            if (now_ms() - last >= (double)idle_ms)
                return 0;
            continue;
        }
        if (st == GOPE_OK)
            st = take_msg(m, &msg, &err);
        if (st != GOPE_OK) {
            fprintf(stderr, "giftope merge: %s\n", err.msg);
            return 1;
        }
        last = now_ms();
    }
    return 0;
}

/* Options, the output and the consumer. @return 0, 1 or 2 (printed). */
static int open_run(merge_opts *o, const char *const *props, size_t n_props, merger *m,
                    int64_t *idle_ms, gope_kafka_source_t **ks, gope_consume_metrics *cm)
{
    uint64_t n_src;
    gope_err err = {{0}};
    if (!o->brokers || !o->topic) {
        fputs("giftope merge: --brokers and --topic are required (see --help)\n", stderr);
        return 2;
    }
    if (gope_opt_u64("merge", "--source-partitions", o->source_partitions, 1, 1u << 20, &n_src))
        return 2;
    if (gope_duration_parse(o->idle_exit, "--idle-exit", idle_ms, &err)) {
        fprintf(stderr, "giftope merge: %s\n", err.msg);
        return 2;
    }
    m->n_src = (uint32_t)n_src;
    m->clock = malloc(n_src * sizeof *m->clock);
    if (!m->clock) {
        fputs("giftope merge: out of memory\n", stderr);
        return 1;
    }
    for (uint32_t i = 0; i < m->n_src; i++)
        m->clock[i] = INT64_MIN;
    gope_kafka_sink_conf kafka = {.brokers = o->brokers, .props = props, .n_props = n_props,
                                  .log = on_log, .log_ctx = &o->quiet};
    gope_status st = gope_sink_open(o->out, "--out", &kafka, &m->out, &err);
    if (st == GOPE_OK) {
        int rc = gope_consume_metrics_open(cm, "merge", o->metrics_addr, &m->out, false);
        if (rc)
            return rc;
    }
    const char *topics[] = {o->topic};
    gope_kafka_conf kc = {.brokers = o->brokers, .topics = topics, .n_topics = 1,
                          .group = o->group, .props = props, .n_props = n_props,
                          .log = on_log, .log_ctx = &o->quiet, .manual_commit = true};
    if (st == GOPE_OK)
        st = gope_kafka_source_open(&kc, ks, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope merge: %s\n", err.msg);
        return st == GOPE_ERR_USAGE ? 2 : 1;
    }
    return 0;
}

int gope_cmd_merge(int argc, char **argv)
{
    merge_opts o;
    const char **props = calloc((size_t)argc + 1, sizeof *props);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    size_t n_props = 0;
    int n_rest = 0, n_pos = 0, rc = 1;
    bool help = false;
    merger m = {0};
    gope_kafka_source_t *ks = NULL;
    gope_err err = {{0}};
    int64_t idle_ms = 0;
    gope_consume_metrics cm = {0};

    if (!props || !rest || !pos) {
        fputs("giftope merge: out of memory\n", stderr);
        goto cleanup;
    }
    if ((rc = gope_opts_split_x("merge", argc, argv, props, &n_props, rest, &n_rest)) ||
        (rc = gope_opts_parse(&merge_spec, n_rest, rest, &o, pos, &n_pos, &help)) || help)
        goto cleanup;
    if (n_pos) {
        fprintf(stderr, "giftope merge: unexpected argument '%s' (see --help)\n", pos[0]);
        rc = 2;
        goto cleanup;
    }
    m.quiet = o.quiet;
    if ((rc = open_run(&o, props, n_props, &m, &idle_ms, &ks, &cm)))
        goto cleanup;
    if (cm.http && !o.quiet)
        fprintf(stderr, "giftope merge: metrics on port %d (%s)\n", gope_prom_http_port(cm.http),
                o.metrics_addr);
    gope_stop_signals_install();
    rc = merge_loop(&m, ks, idle_ms, &cm);
    if (summary(&m, &o, &err) != GOPE_OK) {
        fprintf(stderr, "giftope merge: %s\n", err.msg);
        rc = 1;
    }
cleanup:
    if (gope_kafka_source_close(ks, &err) != GOPE_OK) {
        fprintf(stderr, "giftope merge: %s\n", err.msg);
        rc = 1;
    }
    if (gope_sink_close(&m.out, &err) != GOPE_OK) {
        fprintf(stderr, "giftope merge: %s\n", err.msg);
        rc = 1;
    }
    gope_consume_metrics_close(&cm); /* after the --out sink it wraps */
    merger_free(&m);
    free(pos);
    free(rest);
    free(props);
    return rc;
}
