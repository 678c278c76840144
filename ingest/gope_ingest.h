/*
 * gope_ingest.h — from bytes to validated allocation events.
 *
 * Introduction
 *   Ingest is the first stage of the pipeline:
 *     source (plain file, zstd archive, stdin)  ->  lines with positions
 *     decoder/validator                         ->  gope_event or a reject reason
 *   A source yields one line at a time together with its 1-based line number and
 *   the byte offset of its start in the decompressed stream, so every rejected
 *   line can be reported with its exact position. The decoder turns one line
 *   into a gope_event, or into a stable reject reason plus a short detail
 *   text. A line is either a decision (alloc.v1, schemas/alloc.v1.schema.json)
 *   or a reward that arrives after its decision (reward.v1,
 *   schemas/reward.v1.schema.json); docs/schema.md has every rule.
 *
 *   Two decoders implement the same contract: the fast schema-specific one
 *   (gope_decode_line) used on the hot path, and a reference built on cJSON
 *   (gope_decode_line_cjson) that the tests compare it against.
 *
 * Ownership
 *   A gope_event's arrays point into memory owned by the decoder that filled
 *   it; they stay valid until the next call on that decoder.
 */
#ifndef GOPE_INGEST_H
#define GOPE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"

/* ---------------------------------------------------------------- events */

#define GOPE_MAX_CANDIDATES 1024
#define GOPE_MAX_EVENT_ID 128
#define GOPE_MAX_LINE (1024u * 1024u) /* longer lines are rejected */

/* Shadow-price constraints known to the policy library (lambda_values keys). */
typedef enum {
    GOPE_C_CAPACITY = 0,
    GOPE_C_COLDSTART,
    GOPE_C_HEAD,
    GOPE_C_WHALE,
    GOPE_C_COUNT
} gope_constraint;

/*! gope_constraint_name() : "capacity", "coldstart", "head", "whale". */
const char *gope_constraint_name(gope_constraint c);

typedef struct {
    double ev;         /* predicted expected gift value, finite, >= 0 */
    double sigma;      /* uncertainty of ev, finite, >= 0 (default 0) */
    int64_t load;      /* concurrent viewers at allocation time (default 0) */
    int64_t capacity;  /* >= 1; 0 means unlimited (field absent) */
    int64_t whales;    /* whales already in the room (default 0) */
    bool cold_start;
    bool head;
} gope_candidate;

/* What a line is. A reward carries only event_id, ts and reward (has_reward
 * is true, there are no candidates); the pipeline joins it to its decision. */
typedef enum {
    GOPE_EV_DECISION = 0, /* alloc.v1: an allocation, maybe with its reward */
    GOPE_EV_REWARD,       /* reward.v1: gifts for an earlier decision */
} gope_event_kind;

typedef struct {
    gope_event_kind kind;
    char event_id[GOPE_MAX_EVENT_ID + 1]; /* decoded, NUL-terminated */
    size_t event_id_len;                  /* 1..128 bytes */
    int64_t ts;                           /* event time, epoch ms, >= 0 */
    int64_t action;                       /* 0 <= action < n_candidates */
    double propensity;                    /* (0, 1] */
    double reward;                        /* >= 0; 0 when !has_reward */
    bool has_reward;
    bool is_whale;
    size_t n_candidates;                  /* 1..GOPE_MAX_CANDIDATES */
    gope_candidate *candidates;           /* owned by the decoder */
    const double *probs;                  /* NULL when absent */
    bool has_lambda_values;
    double lambda_values[GOPE_C_COUNT];   /* logged shadow prices, missing = 0 */
} gope_event;

/* ---------------------------------------------------------- reject reasons */

/* Stable reason codes, written to dead-letter sinks and metrics. The order is
 * part of the output format (rejected_by_reason lists them in this order). */
typedef enum {
    GOPE_R_OK = 0,
    GOPE_R_INVALID_JSON,        /* not one JSON value, trailing data, NaN, ... */
    GOPE_R_LINE_TOO_LONG,       /* over GOPE_MAX_LINE bytes */
    GOPE_R_NOT_OBJECT,          /* the line is JSON but not an object */
    GOPE_R_UNKNOWN_SCHEMA,      /* "schema" neither "alloc.v1" nor "reward.v1" */
    GOPE_R_MISSING_FIELD,
    GOPE_R_WRONG_TYPE,
    GOPE_R_BAD_EVENT_ID,        /* empty or over 128 bytes */
    GOPE_R_BAD_TS,              /* negative, or not an integer literal */
    GOPE_R_BAD_CANDIDATES,      /* 0 or more than 1024 candidates */
    GOPE_R_BAD_EV,              /* ev negative or not finite */
    GOPE_R_BAD_CANDIDATE_FIELD, /* sigma < 0, load < 0, capacity < 1, whales < 0 */
    GOPE_R_ACTION_OUT_OF_RANGE,
    GOPE_R_BAD_PROPENSITY,      /* outside (0,1] or not finite */
    GOPE_R_BAD_REWARD,          /* negative or not finite */
    GOPE_R_BAD_PROBS,           /* length, range, sum, or probs[action] */
    GOPE_R_BAD_FIELD_VALUE,     /* an optional field with a non-finite number */
    GOPE_R_DUPLICATE_EVENT_ID,  /* set by the pipeline, not the decoder */
    GOPE_R_LATE,                /* set by the window engine, not the decoder */
    GOPE_R_ORPHAN_REWARD,       /* set by the reward join: no decision within the wait */
    GOPE_R_COUNT
} gope_reason;

/*! gope_reason_name() : the stable code, e.g. "missing_field". */
const char *gope_reason_name(gope_reason r);

/* ---------------------------------------------------------------- decoders */

typedef struct gope_decoder_s gope_decoder_t;

/*! gope_decoder_new() : a decoder with room for GOPE_MAX_CANDIDATES.
 * @return the decoder, or NULL when out of memory. */
gope_decoder_t *gope_decoder_new(void);

/*! gope_decoder_free() : releases `dec`; NULL does nothing. */
void gope_decoder_free(gope_decoder_t *dec);

/*! gope_decode_line() : decode and validate one line: an alloc.v1 decision,
 * or a reward.v1 reward when its "schema" says so (out->kind tells which).
 * `line` holds `len` bytes without the trailing '\n' (a trailing '\r' is
 * treated as whitespace); it need not be NUL-terminated. `require_reward`
 * makes a decision without reward a GOPE_R_MISSING_FIELD (no reward join).
 * On success fills `out` (arrays owned by `dec`).
 * @return GOPE_R_OK, or the reject reason with a short explanation
 *         (the field name, the offending value) written to `detail`. */
gope_reason gope_decode_line(gope_decoder_t *dec, const char *line, size_t len,
                             bool require_reward, gope_event *out,
                             char *detail, size_t detail_size);

/*! gope_decode_line_cjson() : the same contract as gope_decode_line(), built
 * on cJSON. The reference the fast decoder is tested against; slower. */
gope_reason gope_decode_line_cjson(gope_decoder_t *dec, const char *line,
                                   size_t len, bool require_reward,
                                   gope_event *out, char *detail,
                                   size_t detail_size);

/* ----------------------------------------------------------------- sources */

typedef struct gope_source_s gope_source_t;

/* One line handed out by a source. `data` is valid until the next call. */
typedef struct {
    const char *data;  /* without the '\n'; NOT NUL-terminated */
    size_t len;        /* bytes in data; for a too-long line, the kept prefix */
    uint64_t lineno;   /* 1-based */
    uint64_t offset;   /* byte offset of the line start, decompressed stream */
    size_t full_len;   /* the line's real length (> len when too_long) */
    bool too_long;     /* the line exceeded GOPE_MAX_LINE; data is a prefix */
} gope_line;

/*! gope_source_open() : open `path` for line reading; "-" is stdin.
 * Compression is detected from the content (zstd magic number), never from the
 * file name; concatenated and multi-frame zstd streams are read through.
 * @return GOPE_OK and *out, or GOPE_ERR_IO/GOPE_ERR_NOMEM with `err` naming the
 *         file. */
gope_status gope_source_open(const char *path, gope_source_t **out, gope_err *err);

/*! gope_source_next() : the next line.
 * A final line without '\n' is still a line; an empty input has no lines.
 * @return GOPE_OK with *line filled; GOPE_EOF at the clean end; GOPE_ERR_IO on
 *         a read error or corrupt/truncated zstd data, with `err` naming the file
 *         and the compressed byte offset (all lines before the fault were
 *         returned); GOPE_ERR_NOMEM. */
gope_status gope_source_next(gope_source_t *src, gope_line *line, gope_err *err);

/*! gope_source_name() : the path given to open ("-" for stdin). */
const char *gope_source_name(const gope_source_t *src);

/*! gope_source_progress() : bytes consumed so far from the underlying file and
 * its total size (0 when unknown, e.g. a pipe), for progress reporting. */
void gope_source_progress(const gope_source_t *src, uint64_t *consumed,
                          uint64_t *total);

/*! gope_source_close() : closes and frees; NULL does nothing. */
void gope_source_close(gope_source_t *src);

/* ------------------------------------------------------------ Kafka source
 * A consumer-group source (ingest/kafka_source.c, librdkafka): every message
 * of the subscribed topics is one line. Delivery is at-least-once: the
 * offset of a message is stored only once the caller says it has processed
 * it (gope_kafka_source_store), stored offsets reach librdkafka when the
 * caller flushes them (gope_kafka_source_flush) and before a revoke or
 * close commits, and librdkafka commits them (auto-commit, revoke, close),
 * so a restarted member resumes after the last message processed.
 * librdkafka's own logs and errors are handed to a callback on the caller's thread (from inside
 * gope_kafka_source_next), never printed: librdkafka retries an unreachable
 * broker on its own; only a fatal error ends consumption.
 */

/* Kafka client settings (ingest/kafka_conf.c), shared by the consumer here
 * and the producer of the Kafka sinks (ope/gope_ope.h): -X "key=value"
 * items on a librdkafka configuration (rd_kafka_conf_t). */
struct rd_kafka_conf_s;

/* A property the client sets itself: -X KEY is refused with "-X KEY: WHY". */
typedef struct {
    const char *key;
    const char *why; /* e.g. "reserved (give the brokers as --brokers)" */
} gope_kafka_reserved;

/*! gope_kafka_conf_set() : rd_kafka_conf_set(key, value).
 * @return GOPE_OK; GOPE_ERR_USAGE "-X KEY=VALUE: REASON" with librdkafka's
 *         reason (unknown key, bad value). */
gope_status gope_kafka_conf_set(struct rd_kafka_conf_s *conf, const char *key, const char *value,
                                gope_err *err);

/*! gope_kafka_conf_props() : apply the `n` items "key=value" of `props` in
 * order (a later item wins), refusing every key of `reserved`. Stops at the
 * first bad item; `conf` then holds the items before it.
 * @return GOPE_OK; GOPE_ERR_USAGE "-X 'ITEM': expected key=value" (no '=' or
 *         an empty key), "-X 'KEY': no such property" (a key over 127
 *         bytes), "-X KEY: WHY" (reserved), or as gope_kafka_conf_set. */
gope_status gope_kafka_conf_props(struct rd_kafka_conf_s *conf, const char *const *props,
                                  size_t n, const gope_kafka_reserved *reserved,
                                  size_t n_reserved, gope_err *err);

typedef struct gope_kafka_source_s gope_kafka_source_t;

/* A partition's position: the offset of the next message to process there. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
} gope_kafka_pos;

/* Checkpoint mode: called inside gope_kafka_source_next when partitions are
 * about to be taken away (`lost`: the group already gave them to another
 * member, e.g. after a session timeout), while they are still assigned, so
 * that the caller can checkpoint what it processed and commit it
 * (gope_kafka_source_positions, gope_kafka_source_commit). A non-OK return
 * (with `err` filled) ends consumption: the next call of
 * gope_kafka_source_next returns it. */
typedef gope_status (*gope_kafka_revoke_fn)(void *ctx, bool lost, gope_err *err);

/* Called inside gope_kafka_source_next for every partition assigned
 * (`assigned` true, before its messages come) and every partition revoked
 * or lost (false, after the revoke hook): consume keeps one stream of the
 * window clock per assigned partition. A non-OK return ends consumption as
 * the revoke hook's does. */
typedef gope_status (*gope_kafka_partition_fn)(void *ctx, const char *topic, int32_t partition,
                                               bool assigned, gope_err *err);

/* A log line from librdkafka: syslog `level` (3 error .. 7 debug), `what`
 * a short tag (librdkafka's facility or error name), `msg` the text. */
typedef void (*gope_kafka_log_fn)(void *ctx, int level, const char *what, const char *msg);

typedef struct {
    const char *brokers;            /* bootstrap.servers, "HOST:PORT[,...]" */
    const char *const *topics;      /* subscribed topics */
    size_t n_topics;                /* >= 1 */
    const char *group;              /* group.id */
    const char *const *props;       /* librdkafka "key=value" settings (-X) */
    size_t n_props;
    gope_kafka_log_fn log;          /* NULL: logs are dropped */
    void *log_ctx;
    /* Checkpoint mode (consume --checkpoint): no auto-commit and no stored
     * offsets; the caller commits after each checkpoint. */
    bool manual_commit;
    const gope_kafka_pos *start;    /* resume positions (from the checkpoint); copied */
    size_t n_start;
    gope_kafka_revoke_fn on_revoke; /* NULL: none */
    void *revoke_ctx;
    gope_kafka_partition_fn on_partition; /* NULL: none */
    void *partition_ctx;
} gope_kafka_conf;

/* One message as a line. `line.data` is the payload; `line.offset` the
 * message's offset in its partition and `line.lineno` that offset + 1 (the
 * 1-based position dead letters need); `source` is "kafka:TOPIC/PARTITION".
 * Everything is valid until the next call on the source. */
typedef struct {
    gope_line line;
    const char *source;
    const char *topic;
    int32_t partition;
    int64_t offset;
} gope_kafka_msg;

/*! gope_kafka_source_open() : a consumer in `conf->group` subscribed to
 * `conf->topics`. Defaults: auto.offset.reset=earliest, cooperative-sticky
 * assignment, enable.auto.commit=true; `conf->props` are applied after the
 * defaults and may override them, except bootstrap.servers, group.id and
 * enable.auto.offset.store, which the source owns (offsets are stored after
 * processing). With `manual_commit`, enable.auto.commit is false and
 * reserved too, and a partition of `start` begins at its offset whenever it
 * is assigned, whatever the group committed. Connecting happens in the
 * background: an unreachable broker is not an error here. On success *out
 * owns the consumer.
 * @return GOPE_OK and *out; GOPE_ERR_USAGE naming the property for a
 *         setting librdkafka refuses (unknown key, bad value), a reserved
 *         key, an item without '=', or no topic; GOPE_ERR_IO when the
 *         consumer cannot be created or subscribed; GOPE_ERR_NOMEM. */
gope_status gope_kafka_source_open(const gope_kafka_conf *conf, gope_kafka_source_t **out,
                                   gope_err *err);

/*! gope_kafka_source_next() : wait up to `timeout_ms` for the next message
 * and fill *msg. Serves the log callback and partition rebalances while it
 * waits; consumer errors that librdkafka recovers from (broker down, topic
 * not available yet) go to the log callback and are not returned.
 * @return GOPE_OK and *msg; GOPE_EOF when no message came within the
 *         timeout (a topic has no end: call again or stop); GOPE_ERR_IO on a
 *         fatal consumer error, `err` holding librdkafka's reason; the
 *         revoke hook's error once it failed (GOPE_ERR_NOMEM when the
 *         partition table could not grow). */
gope_status gope_kafka_source_next(gope_kafka_source_t *ks, int timeout_ms,
                                   gope_kafka_msg *msg, gope_err *err);

/*! gope_kafka_source_store() : the message last returned by next() has been
 * processed: its offset + 1 becomes the partition's position
 * (gope_kafka_source_positions) and, unless in checkpoint mode, is stored
 * for the next commit at the next flush. Calling it twice, or before any
 * message, does nothing. It only writes the source's own table, so it
 * costs nothing per message.
 * @return GOPE_OK (librdkafka's refusals come from the flush). */
gope_status gope_kafka_source_store(gope_kafka_source_t *ks, gope_err *err);

/*! gope_kafka_source_flush() : hand the positions stored since the last
 * flush to librdkafka, which auto-commits them (auto.commit.interval.ms).
 * Call it a few times a second: a crash redoes at most what was processed
 * since the last flush and commit. A revoke and close flush by themselves
 * before they commit. A partition revoked since its last message is left
 * out (its new owner reads that message again). Checkpoint mode: nothing.
 * @return GOPE_OK; GOPE_ERR_IO naming the offset, topic and partition
 *         librdkafka refused; GOPE_ERR_NOMEM. */
gope_status gope_kafka_source_flush(gope_kafka_source_t *ks, gope_err *err);

/*! gope_kafka_source_positions() : every partition the source knows (from
 * conf->start or an assignment, including partitions revoked since) whose
 * next offset is known: the start position, or the offset after the last
 * message stored. *n receives the count; the array is valid until the next
 * call on the source. */
const gope_kafka_pos *gope_kafka_source_positions(gope_kafka_source_t *ks, size_t *n);

/*! gope_kafka_source_start_at() : checkpoint mode: the partition starts at
 * `offset` when it is assigned next (-1: unknown, the group's committed
 * offset then applies). Called from the partition hook of an assignment, it
 * sets where that assignment starts: consume --partials --checkpoint loads a
 * partition's own checkpoint there, which may come from another member.
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_kafka_source_start_at(gope_kafka_source_t *ks, const char *topic,
                                       int32_t partition, int64_t offset, gope_err *err);

/*! gope_kafka_source_commit() : commit the positions of the partitions
 * assigned now (checkpoint mode: after each checkpoint, so that lag tools
 * see progress; a restart resumes from the checkpoint, not from these).
 * `wait` false sends the commit in the background and returns at once.
 * @return GOPE_OK; GOPE_ERR_IO naming librdkafka's reason (a waited commit
 *         that failed); GOPE_ERR_NOMEM. */
gope_status gope_kafka_source_commit(gope_kafka_source_t *ks, bool wait, gope_err *err);

/*! gope_kafka_source_close() : flush and commit the stored offsets
 * (synchronously), leave the group and free everything; NULL does nothing
 * (GOPE_OK). The source is freed whatever the result.
 * @return GOPE_OK; GOPE_ERR_IO naming the failed flush, commit or close. */
gope_status gope_kafka_source_close(gope_kafka_source_t *ks, gope_err *err);

/* Called once per assigned partition whose lag is known: `lag` messages
 * between the consumer's position and the partition's high watermark. A
 * non-OK return stops the walk and is returned. */
typedef gope_status (*gope_kafka_lag_fn)(void *ctx, const char *topic, int32_t partition,
                                         int64_t lag, gope_err *err);

/*! gope_kafka_source_lag() : the consumer lag of every assigned partition,
 * to `fn`, from librdkafka's caches only (assignment, the position after the
 * last message handed out, the high watermark of the last fetch response;
 * read_committed's last stable offset by default), so it never waits on the
 * broker. A partition is skipped until both are known: until this member
 * has been handed a message from it and a fetch for it has been answered.
 * Call on the consuming thread.
 * @return GOPE_OK; GOPE_ERR_IO naming librdkafka's reason when the
 *         assignment or positions cannot be read; `fn`'s error. */
gope_status gope_kafka_source_lag(gope_kafka_source_t *ks, gope_kafka_lag_fn fn, void *ctx,
                                  gope_err *err);

#endif /* GOPE_INGEST_H */
