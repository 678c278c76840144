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
 * Rewards are joined (the pipeline's reward join is on): a decision without
 * reward waits for its reward.v1 messages, which come on --reward-topic or
 * interleaved on --topic. Every assigned partition, of either kind, is a
 * stream of the window clock (consume_streams.c), so the clock is the
 * minimum over the partitions, and one that has had no message for
 * --idle-timeout stops holding it.
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
 * run starts from the last good one. File outputs are appended to with a
 * checkpoint, and the checkpoint saves their sizes: a run restored from it
 * cuts them back to those sizes first (consume_outputs.c), so one file holds
 * every run's records, each once, however the runs before it ended.
 *
 * --partials with --checkpoint keeps the state per source partition instead
 * (consume_parts.c): a pipeline per partition, one checkpoint file each in
 * a DIR the whole group shares, loaded when the partition is assigned to
 * this member and saved before it is revoked, so partitions can move
 * between members with exactly-once results (docs/scaling.md). The
 * instance's own pipeline then takes no input; it only writes the summary
 * of the partitions' counters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "consume_metrics.h"
#include "consume_outputs.h"
#include "consume_parts.h"
#include "consume_streams.h"
#include "dir_lock.h"
#include "evalrun.h"
#include "gope_ope.h"
#include "gope_ingest.h"
#include "options.h"
#include "stop_signal.h"

typedef struct {
    gope_eval_opts eval;
    const char *brokers, *topic, *reward_topic, *group, *idle_exit, *idle_timeout, *max_events;
    const char *checkpoint, *checkpoint_interval;
    const char *metrics_addr, *partials;
    bool quiet;
} consume_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(consume_opts, f), d, h}
static const gope_opt consume_table[] = {
    OPT("--brokers", "HOST:PORT", brokers, NULL, "bootstrap brokers, comma-separated (required)"),
    OPT("--topic", "TOPIC[,TOPIC]", topic, NULL,
        "topic(s) of alloc.v1 messages, reward.v1 ones may be interleaved (required)"),
    OPT("--reward-topic", "TOPIC[,TOPIC]", reward_topic, NULL,
        "topic(s) of reward.v1 messages, joined to the decisions by event_id"),
    OPT("--group", "ID", group, NULL, "consumer group; a restart resumes after its commits (required)"),
    GOPE_EVAL_OPT_ROWS(consume_opts, eval),
    OPT("--idle-timeout", "DUR", idle_timeout, "30s",
        "a partition without a message for DUR stops holding the window clock (0: never)"),
    OPT("--idle-exit", "DUR", idle_exit, NULL, "end the run after no message for DUR (batch use, tests)"),
    OPT("--max-events", "N", max_events, NULL, "end the run after N messages"),
    OPT("--checkpoint", "DIR", checkpoint, NULL,
        "save window state and offsets to DIR and resume from it: exactly-once results"),
    OPT("--checkpoint-interval", "DUR", checkpoint_interval, "10s",
        "wall-clock time between checkpoints (also taken on revoke and at the end)"),
    OPT("--metrics-addr", "HOST:PORT", metrics_addr, NULL,
        "serve Prometheus /metrics there (PORT alone: 127.0.0.1; docs/prometheus.md)"),
    OPT("--partials", "FILE|kafka:TOPIC", partials, NULL,
        "also write each closed window's exact accumulators for `giftope merge`; with "
        "--checkpoint, state and checkpoints per partition (docs/scaling.md)"),
    {"--quiet", NULL, GOPE_OPT_FLAG, offsetof(consume_opts, quiet), NULL,
     "only warnings and errors on stderr"},
};

static const gope_cmd_spec consume_spec = {
    .command = "consume",
    .synopsis = "--brokers HOST:PORT --topic TOPIC [--reward-topic TOPIC] --group ID [options] "
                "[-X KEY=VALUE]...",
    .about = "Evaluate every policy on the alloc.v1 messages of Kafka topics, one message per\n"
             "line, exactly as replay does on files; decisions without reward are joined with\n"
             "the reward.v1 messages of --reward-topic (or of --topic) within --reward-wait.\n"
             "The window clock is the minimum over the assigned partitions; a partition idle\n"
             "for --idle-timeout stops holding it. It runs until SIGINT/SIGTERM, --idle-exit or\n"
             "--max-events; then emit the open windows, commit, leave the group and write\n"
             "the ope_run.v1 summary. With --checkpoint DIR, results are exactly-once across\n"
             "restarts and crashes, a signal leaves the open windows in the checkpoint\n"
             "instead of emitting them, and file outputs are appended to (docs/consume.md).\n"
             "-X KEY=VALUE (repeatable) sets any librdkafka property (security.protocol,\n"
             "sasl.*, ssl.*, fetch tuning ...).\n"
             "Exit status: 0 success (also when stopped by a signal), 1 fatal consumer\n"
             "error or output fault, 2 usage error.",
    .opts = consume_table,
    .n_opts = sizeof consume_table / sizeof consume_table[0],
};

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
    gope_cstreams *streams;  /* the clock's partitions (saved with their numbers) */
    gope_partials_t *parts;  /* --partials; NULL: none */
    gope_cparts *cp;         /* --partials with --checkpoint: state per partition */
    const char *topic;       /* --topic, whose partitions --partials reports */
    gope_coutputs outs;      /* the file outputs, sized with each checkpoint */
    bool restored;           /* this run started from a checkpoint */
    bool dirty;              /* messages taken or records emitted since the last one */
    bool frozen;             /* after an error: the state must not be saved any more */
    double last_ms;
    uint64_t written;
    size_t last_bytes;
} ckpt_ctx;

/* Records (and partials) out and durable, then the state with the offsets:
 * one file for the instance, or with per-partition state one per partition
 * (`final`: the end of the run, every partition's last progress line). */
static gope_status save_state(ckpt_ctx *cc, bool final, gope_err *err)
{
    if (cc->cp)
        return gope_cparts_checkpoint(cc->cp, final, err);
    size_t n, n_names;
    const gope_kafka_pos *pos = gope_kafka_source_positions(cc->ks, &n);
    const gope_stream_name *names = gope_cstreams_names(cc->streams, &n_names);
    gope_status st;
    if ((st = gope_sink_flush(&cc->ev->out, err)) ||
        (st = gope_sink_flush(&cc->ev->dead, err)) ||
        (st = gope_coutputs_measure(&cc->outs, err)))
        return st;
    gope_checkpoint_save s = {.dir = cc->dir, .p = cc->ev->pl, .pos = pos, .n_pos = n,
                              .streams = names, .n_streams = n_names,
                              .outputs = cc->outs.now, .n_outputs = cc->outs.n_now};
    return gope_checkpoint_write_with(&s, &cc->last_bytes, err);
}

/* The state saved (save_state), then the commit (the commit only feeds lag
 * tools, so its failure is a warning). `wait`: the commit is synchronous
 * (revoke, end of run). A failure freezes the state: nothing after it may
 * be counted as saved. */
static gope_status take_checkpoint(ckpt_ctx *cc, bool wait, bool final, gope_err *err)
{
    bool dirty = cc->dirty || (cc->cp && (final || gope_cparts_dirty(cc->cp)));
    if (!cc->dir || cc->frozen || !dirty)
        return GOPE_OK;
    gope_status st = save_state(cc, final, err);
    if (st != GOPE_OK) {
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

/* Partitions are about to go: checkpoint what they gave while they are ours.
 * Per-partition state that was lost is not saved: the group has given the
 * partitions to another member already, which may have loaded their files
 * and moved on; it redoes what was processed here since their last
 * checkpoint. Those it claimed are named as fenced; a failure to look only
 * costs that message, as nothing is written. */
static gope_status on_revoke(void *ctx, bool lost, gope_err *err)
{
    ckpt_ctx *cc = ctx;
    if (!lost || !cc->cp)
        return take_checkpoint(cc, true, false, err);
    gope_err lerr = {{0}};
    if (gope_cparts_lost(cc->cp, &lerr) != GOPE_OK)
        fprintf(stderr, "giftope consume: %s (the partitions were lost: nothing written)\n",
                lerr.msg);
    return GOPE_OK;
}

/* A partition assigned or revoked: a stream of the window clock. Its
 * state is part of the next checkpoint. */
static gope_status on_partition(void *ctx, const char *topic, int32_t partition, bool assigned,
                                gope_err *err)
{
    ckpt_ctx *cc = ctx;
    if (cc->cp)
        return gope_cparts_partition(cc->cp, topic, partition, assigned, now_ms(), err);
    cc->dirty = true;
    gope_status st = cc->parts && strcmp(topic, cc->topic) == 0
                         ? gope_partials_partition(cc->parts, partition, assigned, err)
                         : GOPE_OK;
    return st != GOPE_OK
               ? st
               : gope_cstreams_partition(cc->streams, topic, partition, assigned, now_ms(), err);
}

/* A first run with file outputs: a checkpoint of the empty state with
 * their sizes now, so that a crash before the first regular checkpoint
 * also has the outputs cut back to where this run started appending.
 * @return 0 or 1 (printed). */
static int first_checkpoint(ckpt_ctx *cc)
{
    gope_err err = {{0}};
    gope_status st = cc->outs.n ? gope_coutputs_measure(&cc->outs, &err) : GOPE_OK;
    gope_checkpoint_save s = {.dir = cc->dir, .p = cc->ev->pl, .outputs = cc->outs.now,
                              .n_outputs = cc->outs.n_now};
    if (st == GOPE_OK && cc->outs.n_now)
        st = gope_checkpoint_write_with(&s, NULL, &err);
    if (st == GOPE_OK)
        return 0;
    fprintf(stderr, "giftope consume: %s\n", err.msg);
    return 1;
}

/* --checkpoint: restore the state of the last checkpoint into the pipeline,
 * number its partitions as it did and cut the file outputs back to their
 * sizes then; *ck keeps its offsets for the source. @return 0, 1 (an
 * unreadable or corrupt checkpoint, an output that cannot be cut, out of
 * memory), 2 (one written with other options). */
static int restore(ckpt_ctx *cc, gope_checkpoint_t **ck, bool quiet)
{
    gope_err err = {{0}};
    gope_status st = gope_checkpoint_read(cc->dir, ck, &err);
    if (st == GOPE_EOF)
        return first_checkpoint(cc);
    if (st == GOPE_OK)
        st = gope_checkpoint_restore(*ck, cc->ev->pl, &err);
    size_t n = 0;
    const gope_stream_name *names = st == GOPE_OK ? gope_checkpoint_streams(*ck, &n) : NULL;
    if (st == GOPE_OK)
        st = gope_cstreams_seed(cc->streams, names, n, now_ms(), &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return st == GOPE_ERR_USAGE ? 2 : 1;
    }
    cc->restored = true;
    if (gope_checkpoint_version(*ck) < 3 && cc->outs.n)
        fprintf(stderr, "giftope consume: %s predates saved output sizes: the outputs are "
                        "appended to as they are (records after it come again, with the same "
                        "revision)\n", gope_checkpoint_path(*ck));
    gope_coutputs_saw(&cc->outs, *ck);
    if (gope_coutputs_rewind(&cc->outs, "consume", quiet, &err) == GOPE_OK)
        return 0;
    fprintf(stderr, "giftope consume: %s\n", err.msg);
    return 1;
}

/* librdkafka's logs: warnings and errors always, the rest unless --quiet. */
static void on_log(void *ctx, int level, const char *what, const char *msg)
{
    const bool *quiet = ctx;
    if (level <= 4 || !*quiet)
        fprintf(stderr, "giftope consume: kafka %s: %s\n", what, msg);
}

/* --topic A,B: the topics, pointing into `buf` (a copy of the text),
 * appended to topics[*n]. */
static void split_topics(char *buf, const char **topics, size_t *n)
{
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        topics[(*n)++] = t;
}

/* A topic named twice (in --topic and --reward-topic, or in one of them):
 * subscribing twice means nothing, and it is a mistake. @return 0 or 2. */
static int check_topics(const char *const *topics, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(topics[i], topics[j]) == 0) {
                fprintf(stderr, "giftope consume: topic %s is given twice (--topic, "
                                "--reward-topic)\n", topics[i]);
                return 2;
            }
    return 0;
}

typedef enum { STOP_SIGNAL, STOP_IDLE, STOP_MAX, STOP_FATAL, STOP_FAULT } stop_reason;
static const char *const stop_names[] = {"signal", "idle", "max_events", "fatal_error",
                                         "output_fault"};

#define IDLE_CHECK_MS 100 /* how often partitions are looked at for --idle-timeout */

/* Partitions without a message for --idle-timeout stop holding the clock,
 * looked at every IDLE_CHECK_MS. @return GOPE_OK or the pipeline's error. */
static gope_status mark_idle(ckpt_ctx *cc, double now, double *last_check, gope_err *err)
{
    if (now - *last_check < IDLE_CHECK_MS)
        return GOPE_OK;
    *last_check = now;
    if (cc->cp)
        return gope_cparts_idle(cc->cp, now, err);
    bool changed;
    gope_status st = gope_cstreams_idle(cc->streams, now, &changed, err);
    cc->dirty |= changed;
    return st;
}

#define FLUSH_MS 100 /* how often processed offsets are handed to librdkafka's auto-commit */

/* The offsets processed since the last flush to librdkafka, every FLUSH_MS
 * (a revoke and the end of the run flush too). @return GOPE_OK or the
 * source's error. */
static gope_status flush_offsets(gope_kafka_source_t *ks, double now, double *last_flush,
                                 gope_err *err)
{
    if (now - *last_flush < FLUSH_MS)
        return GOPE_OK;
    *last_flush = now;
    return gope_kafka_source_flush(ks, err);
}

/* One message into the instance's pipeline on its partition's stream, its
 * offset stored, and a progress line when windows closed (--partials). */
static gope_status take_message(gope_eval *ev, ckpt_ctx *cc, const gope_kafka_msg *m, double now,
                                gope_err *err)
{
    uint32_t stream;
    gope_status st;
    if ((st = gope_cstreams_message(cc->streams, m->topic, m->partition, now, &stream, err)) ||
        (st = gope_pipeline_line_on(ev->pl, stream, m->source, &m->line, err)) ||
        (st = gope_kafka_source_store(cc->ks, err)))
        return st;
    return cc->parts && gope_partials_due(cc->parts)
               ? gope_partials_progress(cc->parts, gope_pipeline_watermark(ev->pl), false, err)
               : GOPE_OK;
}

/* Poll, evaluate and store offsets until one of the stops; checkpoint every
 * interval. The wall clock is read once a round, before the poll: a
 * message's time is then early by at most the poll's wait (POLL_MS), which
 * --idle-timeout and --idle-exit do not notice, and a busy loop reads the
 * clock once per message. */
static stop_reason consume_loop(gope_eval *ev, gope_kafka_source_t *ks, ckpt_ctx *cc,
                                gope_consume_metrics *cm, int64_t idle_ms, uint64_t max_events)
{
    gope_err err = {{0}};
    uint64_t n = 0;
    double last = now_ms(), last_check = last, last_flush = last;
    while (!gope_stop_signal()) {
        if (max_events && n >= max_events)
            return STOP_MAX;
        double now = now_ms();
        if (mark_idle(cc, now, &last_check, &err)) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FAULT;
        }
        if (flush_offsets(ks, now, &last_flush, &err)) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FATAL;
        }
        if (cc->dir && now - cc->last_ms >= (double)cc->interval_ms &&
            take_checkpoint(cc, false, false, &err)) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FAULT;
        }
        if (gope_consume_metrics_tick(cm, ev, cc->cp, ks, cc->written))
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
        last = now;
        if (cc->cp ? gope_cparts_message(cc->cp, &m, now, &err) != GOPE_OK
                   : take_message(ev, cc, &m, now, &err) != GOPE_OK) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FAULT;
        }
        cc->dirty = true;
        n++;
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
    gope_status st = !emit  ? GOPE_OK
                     : cc->cp ? gope_cparts_finish(cc->cp, &err)
                              : gope_pipeline_finish(ev->pl, &err);
    if (st != GOPE_OK)
        cc->frozen = true;
    cc->dirty |= emit;
    if (st == GOPE_OK && emit && cc->parts && !cc->cp)
        st = gope_partials_progress(cc->parts, gope_pipeline_watermark(ev->pl), true, &err);
    if (st == GOPE_OK) /* per-partition state: also each partition's final progress */
        st = take_checkpoint(cc, true, true, &err);
    if (st == GOPE_OK)
        return 0;
    fprintf(stderr, "giftope consume: %s\n", err.msg);
    return 1;
}

/* ,"KEY":["A","B"] for topics[0..n). */
static void topic_list(gope_jbuf *b, const char *key, const char *const *topics, size_t n)
{
    gope_jbuf_key(b, key);
    gope_jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, topics[i], strlen(topics[i]));
    }
    gope_jbuf_raw(b, "]", 1);
}

/* The summary's "kafka" object and the shared run description: topics[0 ..
 * n_topics) are --topic's, the rest up to n_all --reward-topic's. */
static void describe_run(gope_jbuf *b, const consume_opts *o, const gope_eval *ev,
                         const char *const *topics, size_t n_topics, size_t n_all,
                         stop_reason why, const ckpt_ctx *cc)
{
    gope_jbuf_str(b, "\"kafka\":{\"brokers\":");
    gope_jbuf_quote(b, o->brokers, strlen(o->brokers));
    topic_list(b, "topics", topics, n_topics);
    if (n_all > n_topics)
        topic_list(b, "reward_topics", topics + n_topics, n_all - n_topics);
    gope_jbuf_str(b, ",\"group\":");
    gope_jbuf_quote(b, o->group, strlen(o->group));
    gope_jbuf_str(b, ",\"stopped_by\":\"");
    gope_jbuf_str(b, stop_names[why]);
    gope_jbuf_str(b, "\"");
    if (cc->dir) {
        gope_jbuf_str(b, ",\"checkpoint\":{\"dir\":");
        gope_jbuf_quote(b, cc->dir, strlen(cc->dir));
        bool restored = cc->cp ? gope_cparts_restored(cc->cp) : cc->restored;
        gope_jbuf_str(b, restored ? ",\"restored\":true" : ",\"restored\":false");
        size_t bytes = cc->last_bytes;
        uint64_t written = cc->cp ? gope_cparts_written(cc->cp, &bytes) : cc->written;
        gope_jbuf_key(b, "written");
        gope_jbuf_u64(b, written);
        gope_jbuf_key(b, "bytes");
        gope_jbuf_u64(b, bytes);
        if (cc->cp) { /* partitions a newer owner took while this member stalled */
            gope_jbuf_key(b, "fenced");
            gope_jbuf_u64(b, gope_cparts_fenced(cc->cp));
        }
        gope_jbuf_str(b, "}");
    }
    gope_jbuf_str(b, "}");
    gope_eval_describe(b, ev);
}

/* The durations and counts of the options (0: not given). */
typedef struct {
    int64_t idle_exit_ms, interval_ms, idle_timeout_ms;
    uint64_t max_events;
} limits;

/* Required options, the durations and --max-events. @return 0 or 2 (printed). */
static int check_opts(const consume_opts *o, limits *l)
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
    *l = (limits){0};
    if ((o->idle_exit && gope_duration_parse(o->idle_exit, "--idle-exit", &l->idle_exit_ms, &err)) ||
        gope_duration_parse(o->checkpoint_interval, "--checkpoint-interval", &l->interval_ms,
                            &err) ||
        gope_duration_parse(o->idle_timeout, "--idle-timeout", &l->idle_timeout_ms, &err)) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return 2;
    }
    return o->max_events ? gope_opt_u64("consume", "--max-events", o->max_events, 1,
                                        UINT64_MAX, &l->max_events)
                         : 0;
}

#define ASSIGNOR "partition.assignment.strategy"

/* A reward topic beside --partials --checkpoint: partition P of both topics
 * goes to one pipeline, so both must go to one member, which the range
 * assignor does for topics with the same number of partitions (checked at
 * the first message); cooperative-sticky does not. Sets it in `props`
 * (room for one more), unless given. @return 0 or 2 (printed). */
static int co_partition(const consume_opts *o, const char **props, size_t *n_props)
{
    if (!o->checkpoint) {
        fputs("giftope consume: --partials with --reward-topic needs --checkpoint "
              "(docs/scaling.md)\n", stderr);
        return 2;
    }
    for (size_t i = 0; i < *n_props; i++)
        if (strncmp(props[i], ASSIGNOR "=", strlen(ASSIGNOR) + 1) == 0) {
            if (strcmp(props[i] + strlen(ASSIGNOR) + 1, "range") == 0)
                return 0;
            fprintf(stderr, "giftope consume: --partials with --reward-topic needs -X "
                            ASSIGNOR "=range (given: %s)\n", props[i]);
            return 2;
        }
    props[(*n_props)++] = ASSIGNOR "=range";
    return 0;
}

/* --partials: one --topic and at most one --reward-topic (docs/scaling.md).
 * Without --checkpoint the writer sees every window the instance's pipeline
 * emits (a static group); with it the state is kept per partition
 * (consume_parts.c), each partition's pipeline writing its own share.
 * @return 0, 1 or 2. */
static int open_partials(const consume_opts *o, gope_eval *ev, size_t n_topics, size_t n_all,
                         ckpt_ctx *cc, int64_t idle_ms, const char **props, size_t *n_props)
{
    if (n_topics != 1 || n_all > 2) {
        fputs("giftope consume: --partials takes one --topic and at most one --reward-topic "
              "(docs/scaling.md)\n", stderr);
        return 2;
    }
    int rc = n_all == 2 ? co_partition(o, props, n_props) : 0;
    if (rc)
        return rc;
    char instance[128], host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(instance, sizeof instance, "%s-%ld", host, (long)getpid());
    gope_partials_conf pc = {.spec = o->partials, .instance = instance, .topic = o->topic,
                             .set = ev->set, .policies = ev->pol, .window = ev->pc.window};
    gope_err err = {{0}};
    gope_status st = gope_partials_open(&pc, &ev->kafka, &cc->parts, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return st == GOPE_ERR_USAGE ? 2 : 1;
    }
    cc->topic = o->topic;
    if (!o->checkpoint) {
        gope_pipeline_tap(ev->pl, gope_partials_window, cc->parts);
        return 0;
    }
    gope_cparts_conf cpc = {.dir = o->checkpoint, .topic = o->topic,
                            .reward_topic = n_all == 2 ? o->reward_topic : NULL, .ev = ev,
                            .partials = cc->parts, .outs = &cc->outs, .idle_ms = idle_ms,
                            .quiet = o->quiet};
    if (gope_cparts_new(&cpc, &cc->cp, &err) || gope_cparts_rewind(cc->cp, &err)) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int gope_cmd_consume(int argc, char **argv)
{
    consume_opts o;
    const char **props = calloc((size_t)argc + 1, sizeof *props);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    char *topic_buf = NULL, *reward_buf = NULL;
    const char **topics = NULL;
    size_t n_props = 0, n_topics = 0, n_all = 0;
    int n_rest = 0, n_pos = 0, rc = 1;
    bool help = false;
    limits lim;
    gope_eval ev = {0};
    gope_kafka_source_t *ks = NULL;
    gope_jbuf extra = {0};
    gope_err err = {{0}};
    gope_cstreams streams = {0};
    ckpt_ctx cc = {.ev = &ev, .streams = &streams};
    gope_checkpoint_t *ck = NULL;
    gope_consume_metrics cm = {0};
    int lock_fd = -1; /* DIR/state.lock, held to the end */

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
    if ((rc = check_opts(&o, &lim)))
        goto cleanup;
    cc.interval_ms = lim.interval_ms;
    const char *rt = o.reward_topic ? o.reward_topic : "";
    topic_buf = strdup(o.topic);
    reward_buf = strdup(rt);
    topics = calloc((strlen(o.topic) + strlen(rt)) / 2 + 2, sizeof *topics);
    if (!topic_buf || !reward_buf || !topics) {
        fputs("giftope consume: out of memory\n", stderr);
        rc = 1;
        goto cleanup;
    }
    split_topics(topic_buf, topics, &n_topics);
    n_all = n_topics;
    split_topics(reward_buf, topics, &n_all);
    if ((rc = check_topics(topics, n_all)))
        goto cleanup;
    /* decisions without reward wait in the join; inline rewards pass it by */
    gope_pipeline_conf base = {.require_reward = true, .join = true};
    ev.kafka = (gope_kafka_sink_conf){.brokers = o.brokers, .props = props, .n_props = n_props,
                                      .log = on_log, .log_ctx = &o.quiet}; /* kafka:TOPIC outputs */
    ev.append = o.checkpoint != NULL;
    if ((rc = gope_eval_open(&ev, "consume", &o.eval, &base)))
        goto cleanup;
    streams.pl = ev.pl;
    streams.idle_ms = lim.idle_timeout_ms;
    gope_coutputs_init(&cc.outs, o.eval.out, o.eval.dead_letter);
    cc.dir = o.checkpoint;
    if (o.partials && (rc = open_partials(&o, &ev, n_topics, n_all, &cc, lim.idle_timeout_ms,
                                          props, &n_props)))
        goto cleanup;
    if (cc.dir && !cc.cp &&
        ((rc = gope_dir_lock(cc.dir, "giftope consume", &lock_fd)) ||
         (rc = restore(&cc, &ck, o.quiet))))
        goto cleanup;
    if ((rc = gope_consume_metrics_open(&cm, "consume", o.metrics_addr, &ev.out, cc.cp != NULL)))
        goto cleanup;
    gope_kafka_conf kc = {.brokers = o.brokers, .topics = topics, .n_topics = n_all,
                          .group = o.group, .props = props, .n_props = n_props,
                          .log = on_log, .log_ctx = &o.quiet, .manual_commit = cc.dir != NULL,
                          .on_revoke = cc.dir ? on_revoke : NULL, .revoke_ctx = &cc,
                          .on_partition = on_partition, .partition_ctx = &cc};
    if (ck)
        kc.start = gope_checkpoint_offsets(ck, &kc.n_start);
    gope_status st = gope_kafka_source_open(&kc, &ks, &err);
    cc.ks = ks;
    if (cc.cp)
        gope_cparts_source(cc.cp, ks);
    cc.last_ms = now_ms();
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = st == GOPE_ERR_USAGE ? 2 : 1;
        goto cleanup;
    }
    gope_stop_signals_install();
    if (!o.quiet)
        fprintf(stderr, "giftope consume: reading %s as group %s from %s\n", o.topic, o.group,
                o.brokers);
    if (cm.http && !o.quiet)
        fprintf(stderr, "giftope consume: metrics on port %d (%s)\n",
                gope_prom_http_port(cm.http), o.metrics_addr);
    stop_reason why = consume_loop(&ev, ks, &cc, &cm, lim.idle_exit_ms, lim.max_events);
    rc = why == STOP_FATAL || why == STOP_FAULT ? 1 : 0;
    if (end_run(&cc, &ev, why))
        rc = 1;
    describe_run(&extra, &o, &ev, topics, n_topics, n_all, why, &cc);
    if (cc.cp) { /* the summary counts what the partitions' pipelines took in this run */
        gope_pipeline_stats total;
        gope_cparts_totals(cc.cp, &total);
        gope_pipeline_stats_put(ev.pl, &total);
    }
    if (why != STOP_FAULT && gope_eval_summary(&ev, &extra))
        rc = 1;
    /* the run is over: leaving the group revokes the partitions, which must
     * not move the clock and emit records after the summary */
    streams.pl = NULL;
    st = gope_kafka_source_close(ks, &err);
    ks = NULL;
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = 1;
    }
    gope_eval_hint_dropped(&ev, &o.eval, o.quiet);
cleanup:
    streams.pl = NULL;
    gope_kafka_source_close(ks, &err);
    gope_cparts_free(cc.cp); /* after the close, whose revokes still use it */
    gope_cstreams_free(&streams);
    gope_checkpoint_free(ck);
    if (gope_partials_close(cc.parts, &err)) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = 1;
    }
    if (ev.cmd)
        rc = gope_eval_close(&ev, rc);
    gope_consume_metrics_close(&cm); /* after the --out sink it wraps */
    if (lock_fd >= 0) /* the outputs are closed: the next instance may take DIR */
        close(lock_fd);
    gope_jbuf_free(&extra);
    free(topics);
    free(topic_buf);
    free(reward_buf);
    free(pos);
    free(rest);
    free(props);
    return rc;
}
