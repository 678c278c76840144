/*
 * cmd_consume.c — `giftope consume`: evaluate policies continuously on a Kafka
 * topic, as a member of a consumer group (docs/consume.md).
 *
 * The evaluation is replay's (evalrun.c: same decoder, validation, policies,
 * estimators, windows, sinks and --truth agreement); only the source differs:
 * ingest/kafka_source.c hands out one message at a time with its position
 * (dead letters name "kafka:TOPIC/PARTITION" and the offset). A message's
 * offset is stored once the pipeline has taken it, so committed offsets never
 * run ahead of what was processed (at-least-once).
 *
 * The run ends on SIGINT/SIGTERM, after --idle-exit without a message, after
 * --max-events messages, or on a fatal consumer error. Without --checkpoint
 * every way out ends the same way, like replay at the end of its input: the
 * open windows are emitted, the stored offsets committed, the group left,
 * the summary written.
 *
 * With --checkpoint DIR the window state and the offsets are saved together
 * (ope/checkpoint.c) every --checkpoint-interval, before partitions are
 * revoked and at the end, and a run starts from the last checkpoint: results
 * are exactly-once. The order that makes it so: a checkpoint is written only
 * after the records it counts as emitted are durable (sinks flushed and
 * fsync'd), and the offsets are committed only after the checkpoint. A crash
 * then replays the messages after the checkpoint into the state of the
 * checkpoint, re-emitting the same records with the same revisions. A signal
 * emits nothing half-done (the open windows stay in the checkpoint); the
 * end of a batch (--idle-exit, --max-events) emits them, as replay does at
 * the end of a file, and they stay open in the checkpoint all the same.
 * After a fatal error or an output fault no checkpoint is written: the next
 * run starts from the last good one.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "consume_metrics.h"
#include "evalrun.h"
#include "gope_ope.h"
#include "gope_ingest.h"
#include "options.h"

typedef struct {
    gope_eval_opts eval;
    const char *brokers, *topic, *group, *idle_exit, *max_events;
    const char *checkpoint, *checkpoint_interval;
    const char *metrics_addr;
    bool quiet;
} consume_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(consume_opts, f), d, h}
static const gope_opt consume_table[] = {
    OPT("--brokers", "HOST:PORT", brokers, NULL, "bootstrap brokers, comma-separated (required)"),
    OPT("--topic", "TOPIC[,TOPIC]", topic, NULL, "topic(s) of alloc.v1 messages (required)"),
    OPT("--group", "ID", group, NULL, "consumer group; a restart resumes after its commits (required)"),
    GOPE_EVAL_OPT_ROWS(consume_opts, eval),
    OPT("--idle-exit", "DUR", idle_exit, NULL, "end the run after no message for DUR (batch use, tests)"),
    OPT("--max-events", "N", max_events, NULL, "end the run after N messages"),
    OPT("--checkpoint", "DIR", checkpoint, NULL,
        "save window state and offsets to DIR and resume from it: exactly-once results"),
    OPT("--checkpoint-interval", "DUR", checkpoint_interval, "10s",
        "wall-clock time between checkpoints (also taken on revoke and at the end)"),
    OPT("--metrics-addr", "HOST:PORT", metrics_addr, NULL,
        "serve Prometheus /metrics there (PORT alone: 127.0.0.1; docs/prometheus.md)"),
    {"--quiet", NULL, GOPE_OPT_FLAG, offsetof(consume_opts, quiet), NULL,
     "only warnings and errors on stderr"},
};

static const gope_cmd_spec consume_spec = {
    .command = "consume",
    .synopsis = "--brokers HOST:PORT --topic TOPIC --group ID [options] [-X KEY=VALUE]...",
    .about = "Evaluate every policy on the alloc.v1 messages of Kafka topics, one message per\n"
             "line, exactly as replay does on files, until SIGINT/SIGTERM, --idle-exit or\n"
             "--max-events; then emit the open windows, commit, leave the group and write\n"
             "the ope_run.v1 summary. With --checkpoint DIR, results are exactly-once across\n"
             "restarts and crashes, and a signal leaves the open windows in the checkpoint\n"
             "instead of emitting them (docs/consume.md). -X KEY=VALUE (repeatable) sets any librdkafka\n"
             "property (security.protocol, sasl.*, ssl.*, fetch tuning ...).\n"
             "Exit status: 0 success (also when stopped by a signal), 1 fatal consumer\n"
             "error or output fault, 2 usage error.",
    .opts = consume_table,
    .n_opts = sizeof consume_table / sizeof consume_table[0],
};

/* The one piece of mutable global state: a signal handler can only tell the
 * loop to stop through a volatile sig_atomic_t of static storage (C11
 * 7.14.1.1); there is no context pointer to pass it. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

#define POLL_MS 200 /* how often the loop looks at the stop flag and the idle clock */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* --checkpoint: what a checkpoint needs, and when the last one was taken. */
typedef struct {
    const char *dir;         /* NULL: no checkpoints */
    int64_t interval_ms;
    gope_eval *ev;
    gope_kafka_source_t *ks;
    bool restored;           /* this run started from a checkpoint */
    bool dirty;              /* messages taken or records emitted since the last one */
    bool frozen;             /* after an error: the state must not be saved any more */
    double last_ms;
    uint64_t written;
    size_t last_bytes;
} ckpt_ctx;

/* Records out and durable, then the state with the offsets, then the commit
 * (the commit only feeds lag tools, so its failure is a warning). `wait`:
 * the commit is synchronous (revoke, end of run). A failure freezes the
 * state: nothing after it may be counted as saved. */
static gope_status take_checkpoint(ckpt_ctx *cc, bool wait, gope_err *err)
{
    if (!cc->dir || cc->frozen || !cc->dirty)
        return GOPE_OK;
    size_t n;
    const gope_kafka_pos *pos = gope_kafka_source_positions(cc->ks, &n);
    gope_status st;
    if ((st = gope_sink_flush(&cc->ev->out, err)) || (st = gope_sink_flush(&cc->ev->dead, err)) ||
        (st = gope_checkpoint_write(cc->dir, cc->ev->pl, pos, n, &cc->last_bytes, err))) {
        cc->frozen = true;
        return st;
    }
    cc->dirty = false;
    cc->last_ms = now_ms();
    cc->written++;
    gope_err cerr = {{0}};
    if (gope_kafka_source_commit(cc->ks, wait, &cerr))
        fprintf(stderr, "giftope consume: %s (the checkpoint holds the offsets)\n", cerr.msg);
    return GOPE_OK;
}

/* Partitions are about to go: checkpoint what they gave while they are ours. */
static gope_status on_revoke(void *ctx, bool lost, gope_err *err)
{
    (void)lost;
    return take_checkpoint(ctx, true, err);
}

/* --checkpoint: restore the state of the last checkpoint into the pipeline;
 * *ck keeps its offsets for the source. @return 0, 1 (an unreadable or
 * corrupt checkpoint), 2 (one written with other options). */
static int restore(ckpt_ctx *cc, gope_checkpoint_t **ck)
{
    gope_err err = {{0}};
    gope_status st = gope_checkpoint_read(cc->dir, ck, &err);
    if (st == GOPE_EOF)
        return 0;
    if (st == GOPE_OK)
        st = gope_checkpoint_restore(*ck, cc->ev->pl, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return st == GOPE_ERR_USAGE ? 2 : 1;
    }
    cc->restored = true;
    return 0;
}

/* librdkafka's logs: warnings and errors always, the rest unless --quiet. */
static void on_log(void *ctx, int level, const char *what, const char *msg)
{
    const bool *quiet = ctx;
    if (level <= 4 || !*quiet)
        fprintf(stderr, "giftope consume: kafka %s: %s\n", what, msg);
}

/* --topic A,B: the topics, pointing into `buf` (a copy of the text). */
static size_t split_topics(char *buf, const char **topics)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        topics[n++] = t;
    return n;
}

typedef enum { STOP_SIGNAL, STOP_IDLE, STOP_MAX, STOP_FATAL, STOP_FAULT } stop_reason;
static const char *const stop_names[] = {"signal", "idle", "max_events", "fatal_error",
                                         "output_fault"};

/* Poll, evaluate and store offsets until one of the stops; checkpoint every
 * interval. */
static stop_reason consume_loop(gope_eval *ev, gope_kafka_source_t *ks, ckpt_ctx *cc,
                                gope_consume_metrics *cm, int64_t idle_ms, uint64_t max_events)
{
    gope_err err = {{0}};
    uint64_t n = 0;
    double last = now_ms();
    while (!stop_signal) {
        if (max_events && n >= max_events)
            return STOP_MAX;
        if (cc->dir && now_ms() - cc->last_ms >= (double)cc->interval_ms &&
            take_checkpoint(cc, false, &err)) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FAULT;
        }
        if (gope_consume_metrics_tick(cm, ev, ks, cc->written))
            return STOP_FAULT;
        gope_kafka_msg m;
        gope_status st = gope_kafka_source_next(ks, POLL_MS, &m, &err);
        if (st == GOPE_EOF) {
            if (idle_ms && now_ms() - last >= (double)idle_ms)
                return STOP_IDLE;
            continue;
        }
        if (st != GOPE_OK) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FATAL;
        }
        if (gope_pipeline_line(ev->pl, m.source, &m.line, &err) ||
            gope_kafka_source_store(ks, &err)) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FAULT;
        }
        cc->dirty = true;
        n++;
        last = now_ms();
    }
    return STOP_SIGNAL;
}

/* The end of a run, before the summary: without a checkpoint the open
 * windows are emitted, as replay does at the end of its input (not after an
 * output fault); with one, a signal leaves them in the last checkpoint, the
 * end of a batch emits them and then checkpoints, and a fatal error or fault
 * keeps the last good checkpoint. @return 0 or 1 (printed). */
static int end_run(ckpt_ctx *cc, gope_eval *ev, stop_reason why)
{
    gope_err err = {{0}};
    if (cc->dir && (why == STOP_FATAL || why == STOP_FAULT)) {
        cc->frozen = true;
        return 0;
    }
    bool emit = cc->dir ? why != STOP_SIGNAL : why != STOP_FAULT;
    gope_status st = emit ? gope_pipeline_finish(ev->pl, &err) : GOPE_OK;
    if (st != GOPE_OK)
        cc->frozen = true;
    cc->dirty |= emit;
    if (st == GOPE_OK)
        st = take_checkpoint(cc, true, &err);
    if (st == GOPE_OK)
        return 0;
    fprintf(stderr, "giftope consume: %s\n", err.msg);
    return 1;
}

/* The summary's "kafka" object and the shared run description. */
static void describe_run(gope_jbuf *b, const consume_opts *o, const gope_eval *ev,
                         const char *const *topics, size_t n_topics, stop_reason why,
                         const ckpt_ctx *cc)
{
    gope_jbuf_str(b, "\"kafka\":{\"brokers\":");
    gope_jbuf_quote(b, o->brokers, strlen(o->brokers));
    gope_jbuf_str(b, ",\"topics\":[");
    for (size_t i = 0; i < n_topics; i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, topics[i], strlen(topics[i]));
    }
    gope_jbuf_str(b, "],\"group\":");
    gope_jbuf_quote(b, o->group, strlen(o->group));
    gope_jbuf_str(b, ",\"stopped_by\":\"");
    gope_jbuf_str(b, stop_names[why]);
    gope_jbuf_str(b, "\"");
    if (cc->dir) {
        gope_jbuf_str(b, ",\"checkpoint\":{\"dir\":");
        gope_jbuf_quote(b, cc->dir, strlen(cc->dir));
        gope_jbuf_str(b, cc->restored ? ",\"restored\":true" : ",\"restored\":false");
        gope_jbuf_key(b, "written");
        gope_jbuf_u64(b, cc->written);
        gope_jbuf_key(b, "bytes");
        gope_jbuf_u64(b, cc->last_bytes);
        gope_jbuf_str(b, "}");
    }
    gope_jbuf_str(b, "}");
    gope_eval_describe(b, ev);
}

/* Required options, --idle-exit and --max-events. @return 0 or 2 (printed). */
static int check_opts(const consume_opts *o, int64_t *idle_ms, uint64_t *max_events,
                      int64_t *interval_ms)
{
    const struct {
        const char *value, *name;
    } required[] = {{o->brokers, "--brokers"}, {o->topic, "--topic"}, {o->group, "--group"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!required[i].value || !*required[i].value) {
            fprintf(stderr, "giftope consume: %s is required (see --help)\n", required[i].name);
            return 2;
        }
    gope_err err = {{0}};
    *idle_ms = 0;
    if ((o->idle_exit && gope_duration_parse(o->idle_exit, "--idle-exit", idle_ms, &err)) ||
        gope_duration_parse(o->checkpoint_interval, "--checkpoint-interval", interval_ms, &err)) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return 2;
    }
    *max_events = 0;
    return o->max_events ? gope_opt_u64("consume", "--max-events", o->max_events, 1,
                                        UINT64_MAX, max_events)
                         : 0;
}

int gope_cmd_consume(int argc, char **argv)
{
    consume_opts o;
    const char **props = calloc((size_t)argc + 1, sizeof *props);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    char *topic_buf = NULL;
    const char **topics = NULL;
    size_t n_props = 0, n_topics = 0;
    int n_rest = 0, n_pos = 0, rc = 1;
    bool help = false;
    int64_t idle_ms = 0;
    uint64_t max_events = 0;
    gope_eval ev = {0};
    gope_kafka_source_t *ks = NULL;
    gope_jbuf extra = {0};
    gope_err err = {{0}};
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    bool handlers = false;
    ckpt_ctx cc = {.ev = &ev};
    gope_checkpoint_t *ck = NULL;
    gope_consume_metrics cm = {0};

    if (!props || !rest || !pos) {
        fputs("giftope consume: out of memory\n", stderr);
        goto cleanup;
    }
    if ((rc = gope_opts_split_x("consume", argc, argv, props, &n_props, rest, &n_rest)) ||
        (rc = gope_opts_parse(&consume_spec, n_rest, rest, &o, pos, &n_pos, &help)) || help)
        goto cleanup;
    rc = 2;
    if (n_pos) {
        fprintf(stderr, "giftope consume: unexpected argument '%s' (see --help)\n", pos[0]);
        goto cleanup;
    }
    if ((rc = check_opts(&o, &idle_ms, &max_events, &cc.interval_ms)))
        goto cleanup;
    topic_buf = strdup(o.topic);
    topics = calloc(strlen(o.topic) / 2 + 1, sizeof *topics);
    if (!topic_buf || !topics) {
        fputs("giftope consume: out of memory\n", stderr);
        rc = 1;
        goto cleanup;
    }
    n_topics = split_topics(topic_buf, topics);
    gope_pipeline_conf base = {.require_reward = true};
    ev.kafka = (gope_kafka_sink_conf){.brokers = o.brokers, .props = props, .n_props = n_props,
                                      .log = on_log, .log_ctx = &o.quiet}; /* kafka:TOPIC outputs */
    if ((rc = gope_eval_open(&ev, "consume", &o.eval, &base)))
        goto cleanup;
    cc.dir = o.checkpoint;
    if (cc.dir && (rc = restore(&cc, &ck)))
        goto cleanup;
    if ((rc = gope_consume_metrics_open(&cm, o.metrics_addr, &ev)))
        goto cleanup;
    gope_kafka_conf kc = {.brokers = o.brokers, .topics = topics, .n_topics = n_topics,
                          .group = o.group, .props = props, .n_props = n_props,
                          .log = on_log, .log_ctx = &o.quiet, .manual_commit = cc.dir != NULL,
                          .on_revoke = cc.dir ? on_revoke : NULL, .revoke_ctx = &cc};
    if (ck)
        kc.start = gope_checkpoint_offsets(ck, &kc.n_start);
    gope_status st = gope_kafka_source_open(&kc, &ks, &err);
    cc.ks = ks;
    cc.last_ms = now_ms();
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = st == GOPE_ERR_USAGE ? 2 : 1;
        goto cleanup;
    }
    stop_signal = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = true;
    if (!o.quiet)
        fprintf(stderr, "giftope consume: reading %s as group %s from %s\n", o.topic, o.group,
                o.brokers);
    if (cm.http && !o.quiet)
        fprintf(stderr, "giftope consume: metrics on port %d (%s)\n",
                gope_prom_http_port(cm.http), o.metrics_addr);
    stop_reason why = consume_loop(&ev, ks, &cc, &cm, idle_ms, max_events);
    rc = why == STOP_FATAL || why == STOP_FAULT ? 1 : 0;
    if (end_run(&cc, &ev, why))
        rc = 1;
    describe_run(&extra, &o, &ev, topics, n_topics, why, &cc);
    if (why != STOP_FAULT && gope_eval_summary(&ev, &extra))
        rc = 1;
    st = gope_kafka_source_close(ks, &err);
    ks = NULL;
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = 1;
    }
    gope_eval_hint_dropped(&ev, &o.eval, o.quiet);
cleanup:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    gope_kafka_source_close(ks, &err);
    gope_checkpoint_free(ck);
    if (ev.cmd)
        rc = gope_eval_close(&ev, rc);
    gope_consume_metrics_close(&cm); /* after the --out sink it wraps */
    gope_jbuf_free(&extra);
    free(topics);
    free(topic_buf);
    free(pos);
    free(rest);
    free(props);
    return rc;
}
