/*
 * kafka_source.c — a Kafka consumer-group source: one message, one line.
 *
 * Built on librdkafka's high-level consumer as the verified notes recommend
 * for Debian's 2.0.2 (shared/notes/librdkafka): rd_kafka_consumer_poll, never
 * the batch queue API (it can hand out messages of revoked partitions there);
 * enable.auto.offset.store=false with rd_kafka_offsets_store(offset + 1) once
 * the caller has processed a message, and enable.auto.commit=true so stored
 * offsets are committed in the background, on a revoke and on close. That is
 * at-least-once: a message is never committed before it was processed.
 * Processed positions go to librdkafka a partition list at a time, when the
 * caller flushes them (a few times a second) and before every commit this
 * source makes, rather than one rd_kafka_offsets_store per message, which
 * costs a list, locks and a topic lookup each time.
 *
 * Everything librdkafka reports reaches the caller on the caller's thread:
 * the main queue (errors, and logs through log.queue) is forwarded to the
 * consumer queue, which rd_kafka_consumer_poll serves, so the log callback
 * and the rebalance callback both run inside gope_kafka_source_next and
 * library code never prints. A fatal error (librdkafka gives up, e.g. a
 * fenced static member) is remembered by the error callback and ends
 * consumption at the next call; everything else is retried by librdkafka.
 *
 * Rebalances follow the protocol librdkafka negotiated: incremental
 * assign/unassign for cooperative-sticky (the default here), full assign for
 * the eager strategies a -X partition.assignment.strategy may choose. On a
 * revoke the stored offsets are committed first, unless the partitions were
 * lost, so the next owner starts after what this member processed.
 *
 * Checkpoint mode (conf->manual_commit, for consume --checkpoint): the
 * caller's checkpoint holds the window state together with the next offset
 * of every partition, so the offsets are the checkpoint's, not librdkafka's:
 * auto-commit is off, nothing is stored, and the caller commits the
 * positions after each checkpoint (for lag tools only). The source keeps a
 * table of every partition it has seen (from the checkpoint or an
 * assignment) with the next offset to process; on an assignment a partition
 * in the table starts there (offsets written into the list before assign
 * win over the committed ones), and on a revoke the caller's hook runs
 * first, inside the rebalance callback, while the partitions are still
 * ours, so its checkpoint covers exactly what was processed. The table
 * forgets nothing on a revoke.
 *
 * Every partition assigned or revoked is also told to the caller's
 * partition hook (after the revoke hook), from inside the rebalance
 * callback: consume keeps one stream of the window clock per partition.
 */
#include "gope_ingest.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSTR 512
#define MAX_TOPIC 249 /* Kafka's limit on topic names */

/* A partition the source knows, and the next offset to process there. */
typedef struct {
    char topic[MAX_TOPIC + 1];
    int32_t partition;
    int64_t next;          /* -1: unknown (assigned, nothing processed yet) */
    bool assigned;
    bool unflushed;        /* `next` moved since it was last given to librdkafka */
} part_pos;

#define NO_PART SIZE_MAX

struct gope_kafka_source_s {
    rd_kafka_t *rk;
    rd_kafka_message_t *msg; /* the message last handed out, until the next call */
    size_t msg_part;         /* its entry in `parts` */
    bool stored;             /* msg's offset is stored (or there is nothing to store) */
    bool unflushed;          /* some entry is */
    size_t source_part;      /* the entry `source` names (NO_PART: none yet) */
    gope_kafka_log_fn log;
    void *log_ctx;
    bool fatal;              /* the error callback saw a fatal error */
    char fatal_msg[ERRSTR];
    char source[300];        /* "kafka:TOPIC/PARTITION" of msg; topic names are <= 249 bytes */
    bool manual;             /* checkpoint mode */
    gope_kafka_revoke_fn on_revoke;
    void *revoke_ctx;
    gope_kafka_partition_fn on_partition;
    void *partition_ctx;
    bool hook_failed;        /* a hook or the table failed: ends consumption */
    gope_status hook_st;
    gope_err hook_err;
    part_pos *parts;         /* every partition seen */
    size_t n_parts, cap_parts;
    gope_kafka_pos *view;    /* handed out by gope_kafka_source_positions */
};

/* Keys the source sets itself: overriding them would break its contract.
 * The last one only in checkpoint mode. */
static const gope_kafka_reserved reserved[] = {
    {"bootstrap.servers", "reserved (give the brokers as --brokers)"},
    {"group.id", "reserved (give the group as --group)"},
    {"enable.auto.offset.store", "reserved (offsets are stored after each processed message)"},
    {"enable.auto.commit",
     "reserved with a checkpoint (offsets are committed after each checkpoint)"},
};
#define N_RESERVED(manual) (sizeof reserved / sizeof reserved[0] - ((manual) ? 0 : 1))

static void say(gope_kafka_source_t *ks, int level, const char *what, const char *msg)
{
    if (ks->log)
        ks->log(ks->log_ctx, level, what, msg);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    say(rd_kafka_opaque(rk), level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    gope_kafka_source_t *ks = opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_resp_err_t real = rd_kafka_fatal_error(rk, why, sizeof why);
        snprintf(ks->fatal_msg, sizeof ks->fatal_msg, "%s: %s", rd_kafka_err2name(real), why);
        ks->fatal = true;
        return;
    }
    if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        /* librdkafka retries it like a broker that is down, but the credentials
         * of a running process never change: end the run and say why */
        snprintf(ks->fatal_msg, sizeof ks->fatal_msg, "%s: %s",
                 rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
        ks->fatal = true;
        return;
    }
    if (code != RD_KAFKA_RESP_ERR__TRANSPORT) /* librdkafka logged it already (FAIL) */
        say(ks, 3, rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
}

/* The index of topic/partition's table entry, `hint` tried first; added
 * (next unknown) when `add`. NO_PART when absent, or when the table cannot
 * grow (then hook_failed is set). */
static size_t part_index(gope_kafka_source_t *ks, const char *topic, int32_t partition,
                         bool add, size_t hint)
{
    if (hint < ks->n_parts && ks->parts[hint].partition == partition &&
        strcmp(ks->parts[hint].topic, topic) == 0)
        return hint;
    for (size_t i = 0; i < ks->n_parts; i++)
        if (ks->parts[i].partition == partition && strcmp(ks->parts[i].topic, topic) == 0)
            return i;
    if (!add)
        return NO_PART;
    if (ks->n_parts == ks->cap_parts) {
        size_t cap = ks->cap_parts ? ks->cap_parts * 2 : 16;
        part_pos *np = realloc(ks->parts, cap * sizeof *np);
        gope_kafka_pos *nv = np ? realloc(ks->view, cap * sizeof *nv) : NULL;
        if (np)
            ks->parts = np;
        if (!nv) {
            ks->hook_failed = true;
            ks->hook_st = gope_err_set(&ks->hook_err, GOPE_ERR_NOMEM, "kafka: out of memory");
            return NO_PART;
        }
        ks->view = nv;
        ks->cap_parts = cap;
    }
    part_pos *p = &ks->parts[ks->n_parts];
    *p = (part_pos){.partition = partition, .next = -1};
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    return ks->n_parts++;
}

/* The table entry of topic/partition, as part_index; NULL for NO_PART. */
static part_pos *find_part(gope_kafka_source_t *ks, const char *topic, int32_t partition,
                           bool add)
{
    size_t i = part_index(ks, topic, partition, add, NO_PART);
    return i == NO_PART ? NULL : &ks->parts[i];
}

/* The positions that moved since the last flush, of the partitions still
 * assigned, go into librdkafka's offset store, which auto-commit and the
 * commits of a revoke and of close send. */
gope_status gope_kafka_source_flush(gope_kafka_source_t *ks, gope_err *err)
{
    if (ks->manual || !ks->unflushed)
        return GOPE_OK;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)ks->n_parts);
    if (!l)
        return gope_err_set(err, GOPE_ERR_NOMEM, "kafka: out of memory");
    for (size_t i = 0; i < ks->n_parts; i++) {
        part_pos *p = &ks->parts[i];
        if (p->unflushed && p->assigned)
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->next;
        p->unflushed = false;
    }
    ks->unflushed = false;
    rd_kafka_resp_err_t r = l->cnt ? rd_kafka_offsets_store(ks->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    gope_status st = r == RD_KAFKA_RESP_ERR__INVALID_ARG
                         ? gope_err_set(err, GOPE_ERR_IO, "kafka: store offsets: %s",
                                        rd_kafka_err2str(r))
                         : GOPE_OK;
    for (int i = 0; st == GOPE_OK && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &l->elems[i];
        /* __STATE: revoked meanwhile (the rebalance callback flushes first) */
        if (e->err && e->err != RD_KAFKA_RESP_ERR__STATE)
            st = gope_err_set(err, GOPE_ERR_IO, "kafka: store offset %lld of %s/%d: %s",
                              (long long)e->offset, e->topic, (int)e->partition,
                              rd_kafka_err2str(e->err));
    }
    rd_kafka_topic_partition_list_destroy(l);
    return st;
}

/* The caller's partition hook, unless a hook failed already. */
static void tell_partition(gope_kafka_source_t *ks, const rd_kafka_topic_partition_t *tp,
                           bool assigned)
{
    if (ks->on_partition && !ks->hook_failed &&
        (ks->hook_st = ks->on_partition(ks->partition_ctx, tp->topic, tp->partition, assigned,
                                        &ks->hook_err)) != GOPE_OK)
        ks->hook_failed = true;
}

/* Assignment: known partitions start at their next offset. */
static void seek_known(gope_kafka_source_t *ks, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        part_pos *p = find_part(ks, parts->elems[i].topic, parts->elems[i].partition, true);
        if (!p)
            return;
        p->assigned = true;
        tell_partition(ks, &parts->elems[i], true);
        if (p->next >= 0)
            parts->elems[i].offset = p->next;
    }
}

/* Revoke: the caller's hook (checkpoint mode), then the partitions are no
 * longer ours but stay in the table. */
static void before_revoke(gope_kafka_source_t *ks, rd_kafka_topic_partition_list_t *parts,
                          bool lost)
{
    if (ks->on_revoke && !ks->hook_failed &&
        (ks->hook_st = ks->on_revoke(ks->revoke_ctx, lost, &ks->hook_err)) != GOPE_OK)
        ks->hook_failed = true;
    for (int i = 0; i < parts->cnt; i++) {
        part_pos *p = find_part(ks, parts->elems[i].topic, parts->elems[i].partition, false);
        if (p)
            p->assigned = false;
        tell_partition(ks, &parts->elems[i], false);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t code,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    gope_kafka_source_t *ks = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t r = RD_KAFKA_RESP_ERR_NO_ERROR;
    char line[128];
    if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        snprintf(line, sizeof line, "assigned %d partition(s)", parts->cnt);
        say(ks, 6, "rebalance", line);
        seek_known(ks, parts);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            r = rd_kafka_assign(rk, parts);
    } else {
        bool lost = rd_kafka_assignment_lost(rk);
        snprintf(line, sizeof line, "%s %d partition(s)", lost ? "lost" : "revoked", parts->cnt);
        say(ks, 6, "rebalance", line);
        gope_err ferr = {{0}};
        if (!lost && gope_kafka_source_flush(ks, &ferr) != GOPE_OK)
            say(ks, 4, "store", ferr.msg);
        before_revoke(ks, parts, lost);
        if (!lost && !ks->manual) { /* the next owner starts after what was processed here */
            rd_kafka_resp_err_t c = rd_kafka_commit(rk, NULL, 0);
            if (c && c != RD_KAFKA_RESP_ERR__NO_OFFSET)
                say(ks, 4, "commit", rd_kafka_err2str(c));
        }
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            r = rd_kafka_assign(rk, NULL);
    }
    if (e) {
        say(ks, 3, "rebalance", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    if (r)
        say(ks, 3, "rebalance", rd_kafka_err2str(r));
}

static gope_status build_conf(const gope_kafka_conf *conf, gope_kafka_source_t *ks,
                              rd_kafka_conf_t *c, gope_err *err)
{
    static const char *const defaults[][2] = {
        {"auto.offset.reset", "earliest"},
        {"enable.auto.commit", "true"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"log.queue", "true"},
        /* 2.0.2 stops fetching for up to 1 s whenever the prefetch queue is over
         * either limit: it must hold a second of consumption at full speed, or the
         * consumer idles: 512 MiB is ~450,000 events of 1.2 KB, the rate of consume
         * with librdkafka on a core of its own (bench/README.md, the consume bench).
         * Memory is only taken when the consumer lags: a live one keeps it empty. */
        {"queued.min.messages", "1000000"},
        {"queued.max.messages.kbytes", "524288"},
    };
    gope_status st;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if ((st = gope_kafka_conf_set(c, defaults[i][0], defaults[i][1], err)))
            return st;
    if ((st = gope_kafka_conf_props(c, conf->props, conf->n_props, reserved,
                                    N_RESERVED(conf->manual_commit), err)))
        return st;
    if (conf->manual_commit && (st = gope_kafka_conf_set(c, "enable.auto.commit", "false", err)))
        return st;
    if ((st = gope_kafka_conf_set(c, "bootstrap.servers", conf->brokers, err)) ||
        (st = gope_kafka_conf_set(c, "group.id", conf->group, err)) ||
        (st = gope_kafka_conf_set(c, "enable.auto.offset.store", "false", err)))
        return st;
    rd_kafka_conf_set_opaque(c, ks);
    rd_kafka_conf_set_log_cb(c, on_log);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    return GOPE_OK;
}

static gope_status subscribe(gope_kafka_source_t *ks, const gope_kafka_conf *conf,
                             gope_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)conf->n_topics);
    if (!l)
        return gope_err_set(err, GOPE_ERR_NOMEM, "kafka: out of memory");
    for (size_t i = 0; i < conf->n_topics; i++)
        rd_kafka_topic_partition_list_add(l, conf->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t r = rd_kafka_subscribe(ks->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (r)
        return gope_err_set(err, GOPE_ERR_IO, "kafka: subscribe to %s: %s", conf->topics[0],
                            rd_kafka_err2str(r));
    return GOPE_OK;
}

gope_status gope_kafka_source_open(const gope_kafka_conf *conf, gope_kafka_source_t **out,
                                   gope_err *err)
{
    char e[ERRSTR];
    gope_status st;
    if (conf->n_topics == 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "kafka: no topic to consume");
    gope_kafka_source_t *ks = calloc(1, sizeof *ks);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!ks || !c) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "kafka: out of memory");
        goto cleanup;
    }
    ks->log = conf->log;
    ks->log_ctx = conf->log_ctx;
    ks->stored = true;
    ks->source_part = NO_PART;
    ks->manual = conf->manual_commit;
    ks->on_revoke = conf->on_revoke;
    ks->revoke_ctx = conf->revoke_ctx;
    ks->on_partition = conf->on_partition;
    ks->partition_ctx = conf->partition_ctx;
    for (size_t i = 0; i < conf->n_start; i++) {
        part_pos *p = find_part(ks, conf->start[i].topic, conf->start[i].partition, true);
        if (!p) {
            st = gope_err_set(err, GOPE_ERR_NOMEM, "kafka: out of memory");
            goto cleanup;
        }
        p->next = conf->start[i].offset;
    }
    if ((st = build_conf(conf, ks, c, err)))
        goto cleanup;
    ks->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!ks->rk) {
        st = gope_err_set(err, GOPE_ERR_IO, "kafka: cannot create the consumer: %s", e);
        goto cleanup;
    }
    c = NULL; /* the handle owns it now */
    /* the main queue (errors, logs) is served by rd_kafka_consumer_poll */
    rd_kafka_resp_err_t r = rd_kafka_poll_set_consumer(ks->rk);
    if (!r)
        r = rd_kafka_set_log_queue(ks->rk, NULL);
    if (r) {
        st = gope_err_set(err, GOPE_ERR_IO, "kafka: %s", rd_kafka_err2str(r));
        goto cleanup;
    }
    if ((st = subscribe(ks, conf, err)))
        goto cleanup;
    *out = ks;
    return GOPE_OK;
cleanup:
    if (c)
        rd_kafka_conf_destroy(c);
    if (ks && ks->rk)
        rd_kafka_destroy(ks->rk);
    if (ks) {
        free(ks->parts);
        free(ks->view);
    }
    free(ks);
    return st;
}

static void release_msg(gope_kafka_source_t *ks)
{
    if (ks->msg)
        rd_kafka_message_destroy(ks->msg);
    ks->msg = NULL;
    ks->stored = true;
}

gope_status gope_kafka_source_next(gope_kafka_source_t *ks, int timeout_ms,
                                   gope_kafka_msg *msg, gope_err *err)
{
    release_msg(ks);
    rd_kafka_message_t *m = rd_kafka_consumer_poll(ks->rk, timeout_ms);
    if (ks->fatal || ks->hook_failed) {
        if (m)
            rd_kafka_message_destroy(m);
        if (ks->hook_failed)
            return gope_err_set(err, ks->hook_st, "%s", ks->hook_err.msg);
        return gope_err_set(err, GOPE_ERR_IO, "kafka: fatal: %s", ks->fatal_msg);
    }
    if (!m)
        return GOPE_EOF;
    if (m->err) { /* recoverable: librdkafka keeps trying (a fatal one set ks->fatal) */
        char what[64];
        snprintf(what, sizeof what, "%s", rd_kafka_err2name(m->err));
        say(ks, m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ? 7 : 3, what,
            rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return GOPE_EOF;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    size_t i = part_index(ks, topic, m->partition, true, ks->msg_part);
    if (i == NO_PART) {
        rd_kafka_message_destroy(m);
        return gope_err_set(err, ks->hook_st, "%s", ks->hook_err.msg);
    }
    ks->msg = m;
    ks->msg_part = i;
    ks->stored = false;
    if (i != ks->source_part) /* a partition's messages come a fetched batch at a time */
        snprintf(ks->source, sizeof ks->source, "kafka:%s/%d", topic, (int)m->partition);
    ks->source_part = i;
    bool too_long = m->len > GOPE_MAX_LINE;
    *msg = (gope_kafka_msg){
        .line = {.data = m->payload ? (const char *)m->payload : "",
                 .len = too_long ? GOPE_MAX_LINE : m->len,
                 .lineno = (uint64_t)m->offset + 1,
                 .offset = (uint64_t)m->offset,
                 .full_len = m->len,
                 .too_long = too_long},
        .source = ks->source,
        .topic = topic,
        .partition = m->partition,
        .offset = m->offset,
    };
    return GOPE_OK;
}

gope_status gope_kafka_source_store(gope_kafka_source_t *ks, gope_err *err)
{
    (void)err; /* librdkafka sees the position at the next flush */
    if (ks->stored)
        return GOPE_OK;
    part_pos *p = &ks->parts[ks->msg_part];
    p->next = ks->msg->offset + 1;
    p->unflushed = true;
    ks->unflushed = true;
    ks->stored = true;
    return GOPE_OK;
}

gope_status gope_kafka_source_start_at(gope_kafka_source_t *ks, const char *topic,
                                       int32_t partition, int64_t offset, gope_err *err)
{
    part_pos *p = find_part(ks, topic, partition, true);
    if (!p)
        return gope_err_set(err, GOPE_ERR_NOMEM, "kafka: out of memory");
    p->next = offset < 0 ? -1 : offset;
    return GOPE_OK;
}

const gope_kafka_pos *gope_kafka_source_positions(gope_kafka_source_t *ks, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < ks->n_parts; i++)
        if (ks->parts[i].next >= 0)
            ks->view[(*n)++] = (gope_kafka_pos){.topic = ks->parts[i].topic,
                                                .partition = ks->parts[i].partition,
                                                .offset = ks->parts[i].next};
    return ks->view;
}

gope_status gope_kafka_source_commit(gope_kafka_source_t *ks, bool wait, gope_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)ks->n_parts);
    if (!l)
        return gope_err_set(err, GOPE_ERR_NOMEM, "kafka: out of memory");
    for (size_t i = 0; i < ks->n_parts; i++)
        if (ks->parts[i].assigned && ks->parts[i].next >= 0)
            rd_kafka_topic_partition_list_add(l, ks->parts[i].topic, ks->parts[i].partition)
                ->offset = ks->parts[i].next;
    rd_kafka_resp_err_t r = l->cnt ? rd_kafka_commit(ks->rk, l, !wait) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (r && r != RD_KAFKA_RESP_ERR__NO_OFFSET)
        return gope_err_set(err, GOPE_ERR_IO, "kafka: commit: %s", rd_kafka_err2str(r));
    return GOPE_OK;
}

gope_status gope_kafka_source_close(gope_kafka_source_t *ks, gope_err *err)
{
    if (!ks)
        return GOPE_OK;
    gope_status st = ks->fatal ? GOPE_OK : gope_kafka_source_flush(ks, err);
    release_msg(ks);
    rd_kafka_resp_err_t r = ks->fatal ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_commit(ks->rk, NULL, 0);
    /* a member whose partitions were lost has nothing of its own to commit:
     * their new owner does */
    if (r && r != RD_KAFKA_RESP_ERR__NO_OFFSET && r != RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST && !st)
        st = gope_err_set(err, GOPE_ERR_IO, "kafka: commit: %s", rd_kafka_err2str(r));
    r = rd_kafka_consumer_close(ks->rk); /* leaves the group; revokes through on_rebalance */
    if (r && !st)
        st = gope_err_set(err, GOPE_ERR_IO, "kafka: close: %s", rd_kafka_err2str(r));
    rd_kafka_destroy(ks->rk);
    free(ks->parts);
    free(ks->view);
    free(ks);
    return st;
}

/* Consumer lag (for `consume --metrics-addr`): every value comes from
 * librdkafka's caches (the assignment, the application's position, the high
 * watermark of the last fetch response), so this never waits on a broker. */
gope_status gope_kafka_source_lag(gope_kafka_source_t *ks, gope_kafka_lag_fn fn, void *ctx,
                                  gope_err *err)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t r = rd_kafka_assignment(ks->rk, &parts);
    if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
        r = rd_kafka_position(ks->rk, parts);
    gope_status st = GOPE_OK;
    if (r)
        st = gope_err_set(err, GOPE_ERR_IO, "kafka: consumer position: %s", rd_kafka_err2str(r));
    for (int i = 0; st == GOPE_OK && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t low, high;
        /* unknown until this member has consumed from it and a fetch answered */
        if (p->err || p->offset < 0 ||
            rd_kafka_get_watermark_offsets(ks->rk, p->topic, p->partition, &low, &high) ||
            high < 0)
            continue;
        st = fn(ctx, p->topic, p->partition, high > p->offset ? high - p->offset : 0, err);
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return st;
}
