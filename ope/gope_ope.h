/*
 * gope_ope.h — event-time windows, deduplication and the evaluation pipeline.
 *
 * Introduction
 *   The ope library is the middle of the data flow:
 *     source -> decoder/validator -> [dedupe] -> window panes of per-policy
 *     accumulators -> estimators -> sinks
 *   Windows are half-open [start, end), aligned to multiples of the slide from
 *   the Unix epoch. The engine keeps one pane per slide interval; each pane
 *   holds one mergeable accumulator per policy, so an event touches one pane
 *   however many hopping windows contain it, and a window's result is the
 *   merge of its panes when the watermark (max accepted ts - lateness) passes
 *   its end. Memory is bounded by the open panes, never by the event count.
 *
 *   gope_pipeline ties the stages together for one run over any number of
 *   sources; `giftope replay` is a thin CLI over it, and the Kafka consumer
 *   reuses it with a different source.
 */
#ifndef GOPE_OPE_H
#define GOPE_OPE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gope_common.h"
#include "gope_estimators.h"
#include "gope_ingest.h"
#include "gope_policy.h"

/* ----------------------------------------------------------------- durations */

/*! gope_duration_parse() : "90s", "5m", "1h", "1d", "250ms" or plain
 * milliseconds ("1500") into milliseconds. `what` names the option in errors.
 * @return GOPE_OK; GOPE_ERR_USAGE for anything else (negative, overflow,
 *         unknown unit). */
gope_status gope_duration_parse(const char *text, const char *what, int64_t *ms,
                                gope_err *err);

/* ------------------------------------------------------------------- windows */

typedef struct {
    int64_t size_ms;     /* 0: one window over the whole input ("all") */
    int64_t slide_ms;    /* == size_ms for tumbling; divides size_ms */
    int64_t lateness_ms; /* watermark = max accepted ts - lateness */
} gope_window_conf;

typedef struct gope_windows_s gope_windows_t;

/* A closed window: accs[p] is policy p's merged accumulator. `revision` is 1
 * for a window's first emission; a window flushed while open (end of a batch)
 * and emitted again later keeps its revision when no event was added since
 * and takes the next one otherwise (windows.c, "Revisions"). */
typedef struct {
    int64_t start, end;
    const gope_acc *const *accs;
    size_t n_policies;
    uint32_t revision;
} gope_window_result;

/* Called once per emitted window, in increasing start order. A non-OK return
 * stops the engine and is passed back to the caller. */
typedef gope_status (*gope_window_emit_fn)(void *ctx, const gope_window_result *w,
                                           gope_err *err);

/*! gope_windows_new() : an engine for `n_policies` accumulators per pane.
 * @return GOPE_OK; GOPE_ERR_USAGE when the slide does not divide the size or
 *         a duration is not positive; GOPE_ERR_NOMEM. */
gope_status gope_windows_new(const gope_window_conf *conf, size_t n_policies,
                             const gope_estset_t *set, gope_windows_t **out,
                             gope_err *err);

/*! gope_windows_free() : NULL does nothing. */
void gope_windows_free(gope_windows_t *win);

/*! gope_windows_is_late() : true when every window containing `ts` has
 * already closed (the event is late and must not be added). */
bool gope_windows_is_late(const gope_windows_t *win, int64_t ts);

/*! gope_windows_pane() : the n_policies accumulators of the pane holding
 * `ts`, created empty when new; *accs[p] is policy p's. Call only for events
 * that are not late. Valid until the next call on `win`.
 * @return GOPE_OK or GOPE_ERR_NOMEM. */
gope_status gope_windows_pane(gope_windows_t *win, int64_t ts, gope_acc ***accs,
                              gope_err *err);

/*! gope_windows_advance() : an event at `ts` was accepted: move the watermark
 * to (largest accepted ts - lateness) and emit every window that closes. */
gope_status gope_windows_advance(gope_windows_t *win, int64_t ts,
                                 gope_window_emit_fn emit, void *ctx, gope_err *err);

/*! gope_windows_advance_to() : move the watermark to `wm`, computed by the
 * caller (the pipeline's per-stream clock held back by pending reward
 * joins), and emit every window that closes. A watermark never moves back:
 * a `wm` at or below the current one does nothing. Events added with
 * gope_windows_pane() count for the "all" window's bounds as they are added.
 * @return GOPE_OK, or the first non-OK return of `emit`. */
gope_status gope_windows_advance_to(gope_windows_t *win, int64_t wm,
                                    gope_window_emit_fn emit, void *ctx, gope_err *err);

/*! gope_windows_flush() : end of input (or of a batch): emit every window
 * still open that received an event. The windows stay open (a checkpoint
 * taken afterwards keeps them, and they go on in the next run); their
 * revision is remembered for the next emission. */
gope_status gope_windows_flush(gope_windows_t *win, gope_window_emit_fn emit,
                               void *ctx, gope_err *err);

/*! gope_windows_watermark() : current watermark (INT64_MIN before any event). */
int64_t gope_windows_watermark(const gope_windows_t *win);

/*! gope_windows_open_panes() : panes currently held (memory diagnostics). */
size_t gope_windows_open_panes(const gope_windows_t *win);

/* ------------------------------------------------------------------- dedupe */

typedef struct gope_dedupe_s gope_dedupe_t;

/*! gope_dedupe_new() : remembers accepted event ids for `horizon_ms` of event
 * time (relative to the largest ts seen). Ids are kept as 128-bit hashes.
 * @return NULL when out of memory. */
gope_dedupe_t *gope_dedupe_new(int64_t horizon_ms);
void gope_dedupe_free(gope_dedupe_t *d);

/*! gope_dedupe_seen() : true when `id` was inserted and not yet expired. */
bool gope_dedupe_seen(const gope_dedupe_t *d, const char *id, size_t len);

/*! gope_dedupe_insert() : remember `id` at `ts` and expire old ids.
 * @return GOPE_OK or GOPE_ERR_NOMEM. */
gope_status gope_dedupe_insert(gope_dedupe_t *d, const char *id, size_t len,
                               int64_t ts, gope_err *err);

/*! gope_dedupe_size() : ids currently remembered. */
size_t gope_dedupe_size(const gope_dedupe_t *d);

/* ------------------------------------------------------------------- clock
 * The stream clock (ope/clock.c): event time as far as every input stream
 * (a Kafka partition; replay is one stream) has got. Each stream's time is
 * the largest ts it has delivered; the clock is the minimum of those over
 * the streams that are not idle, and it never moves back.
 *   - A stream that was added but has delivered nothing yet holds the clock
 *     where it is: its first event may be older than everything seen.
 *   - An idle stream (gope_clock_idle; the consumer decides after
 *     --idle-timeout without data) is left out, so it does not hold windows
 *     open forever. Data on it makes it active again; its events older than
 *     the clock may then be late — the price of declaring it idle.
 *   - With every stream idle or none left, the clock stays where it is.
 * Streams are named by small integers the caller chooses (e.g. one per
 * assigned topic partition); a stream that delivers data is added on the
 * fly. Recomputing the minimum is O(streams), and happens only when the
 * stream at the minimum moves or a stream changes state.
 */

typedef struct gope_clock_s gope_clock_t;

#define GOPE_CLOCK_MAX_STREAMS (1u << 20) /* stream numbers are below this */

/*! gope_clock_new() : a clock without streams (INT64_MIN: no time yet).
 * @return GOPE_OK and *out, or GOPE_ERR_NOMEM. */
gope_status gope_clock_new(gope_clock_t **out, gope_err *err);

/*! gope_clock_free() : NULL does nothing. */
void gope_clock_free(gope_clock_t *c);

/*! gope_clock_add() : stream `s` was assigned: it holds the clock until it
 * delivers an event or is marked idle. Adding a present stream does nothing.
 * @return GOPE_OK; GOPE_ERR_USAGE for s >= GOPE_CLOCK_MAX_STREAMS;
 *         GOPE_ERR_NOMEM. */
gope_status gope_clock_add(gope_clock_t *c, uint32_t s, gope_err *err);

/*! gope_clock_remove() : stream `s` was revoked: it no longer counts (the
 * clock may advance). An absent stream does nothing. */
void gope_clock_remove(gope_clock_t *c, uint32_t s);

/*! gope_clock_idle() : mark stream `s` idle (left out of the minimum) or
 * active again. An absent stream does nothing. */
void gope_clock_idle(gope_clock_t *c, uint32_t s, bool idle);

/*! gope_clock_observe() : stream `s` delivered an event at `ts` (adding the
 * stream if needed and making it active).
 * @return GOPE_OK; GOPE_ERR_USAGE for s >= GOPE_CLOCK_MAX_STREAMS;
 *         GOPE_ERR_NOMEM. */
gope_status gope_clock_observe(gope_clock_t *c, uint32_t s, int64_t ts, gope_err *err);

/*! gope_clock_now() : the clock: INT64_MIN until every non-idle stream has
 * delivered an event. */
int64_t gope_clock_now(const gope_clock_t *c);

/*! gope_clock_streams() : streams present (added, active or idle). */
size_t gope_clock_streams(const gope_clock_t *c);

/* --------------------------------------------------------------- reward join
 * Decisions (alloc.v1 without reward) and rewards (reward.v1) joined by
 * event_id (ope/join.c, docs/schema.md "Rewards that arrive later").
 *
 * Time is event time, driven by the caller's clock `now` (the pipeline passes
 * the stream clock minus --lateness: no event older than that is expected).
 * A reward at ts r and a decision at ts d are "within the wait" when
 * |r - d| <= wait. A decision stays pending until now > d + wait, summing
 * every reward within the wait that arrives meanwhile (a viewer can gift
 * several times); then it is released with that sum (0 when none came:
 * "defaulted"). A reward that finds no pending decision within the wait is
 * held until now > r + wait for its decision to arrive; then it is an orphan.
 * Both deadlines are inclusive on the wait's side, exclusive on now's: at
 * now == d + wait the decision still waits. Releases and orphans come out in
 * (ts, arrival) order. Memory holds only the decisions and rewards inside
 * the wait: each leaves as soon as `now` passes its deadline. Lookups go
 * through a hash table on event_id, deadlines through two binary heaps.
 *
 * A decision is held as its per-policy observations (gope_obs, r filled in
 * at release), not as the event, so a pending decision costs a few dozen
 * bytes per policy. A held reward keeps a copy of its line and source, so
 * that an orphan's dead letter names it exactly.
 */

typedef struct gope_join_s gope_join_t;

typedef struct {
    int64_t wait_ms;  /* --reward-wait, >= 0 */
    size_t n_obs;     /* observations per decision: one per policy, >= 1 */
} gope_join_conf;

/* What leaves the join. `release`: the decision at `ts` with its
 * observations, obs[i].r = the sum of its n_rewards rewards. `orphan`: a
 * reward that found no decision, its line as it came from `source`, and why
 * (`detail`). A non-OK return stops gope_join_advance() and is passed back;
 * the decision or reward stays in the join. */
typedef struct {
    gope_status (*release)(void *ctx, int64_t ts, gope_obs *obs, uint32_t n_rewards,
                           gope_err *err);
    gope_status (*orphan)(void *ctx, const char *source, const gope_line *line,
                          const char *detail, gope_err *err);
    void *ctx;
} gope_join_out;

/*! gope_join_new() : an empty join.
 * @return GOPE_OK and *out; GOPE_ERR_USAGE for a negative or over-1000-year
 *         wait or n_obs 0; GOPE_ERR_NOMEM. */
gope_status gope_join_new(const gope_join_conf *conf, gope_join_t **out, gope_err *err);

/*! gope_join_free() : NULL does nothing. */
void gope_join_free(gope_join_t *j);

/*! gope_join_decision() : a decision at `ts` whose reward comes later;
 * `obs` (conf.n_obs of them) are copied. Held rewards for `id` within the
 * wait are summed into it at once; *joined says how many. The caller
 * refuses duplicate ids before (dedupe).
 * @return GOPE_OK; GOPE_ERR_NOMEM (nothing changed). */
gope_status gope_join_decision(gope_join_t *j, const char *id, size_t len, int64_t ts,
                               const gope_obs *obs, uint32_t *joined, gope_err *err);

/*! gope_join_reward() : a reward of `reward` at `ts` for decision `id`,
 * read from `line` of `source`. *joined true: it was summed into the pending
 * decision; false: it is held (line and source copied) until its decision
 * comes or its wait ends.
 * @return GOPE_OK; GOPE_ERR_NOMEM (nothing changed). */
gope_status gope_join_reward(gope_join_t *j, const char *id, size_t len, int64_t ts,
                             double reward, const char *source, const gope_line *line,
                             bool *joined, gope_err *err);

/*! gope_join_advance() : the clock is at `now`: release every decision and
 * orphan every reward whose wait has ended (ts + wait < now), in (ts,
 * arrival) order, through `out`. INT64_MAX empties the join (end of input).
 * @return GOPE_OK, or the first non-OK return of a callback. */
gope_status gope_join_advance(gope_join_t *j, int64_t now, const gope_join_out *out,
                              gope_err *err);

/*! gope_join_oldest() : the ts of the oldest pending decision, INT64_MAX
 * when none is pending (what holds the window watermark back). */
int64_t gope_join_oldest(const gope_join_t *j);

/*! gope_join_pending() / gope_join_held() : decisions pending, rewards held. */
size_t gope_join_pending(const gope_join_t *j);
size_t gope_join_held(const gope_join_t *j);

/*! gope_join_save() : write the join's state to `f` in a self-delimiting
 * little-endian binary form (doubles as their IEEE bits, so a reload is
 * bit-exact); other data may follow it in the same file.
 * @return GOPE_OK; GOPE_ERR_IO when writing fails. */
gope_status gope_join_save(const gope_join_t *j, FILE *f, gope_err *err);

/*! gope_join_load() : read a state written by gope_join_save() into `j`,
 * which must be empty and made with the same conf; `f` is left just after it.
 * @return GOPE_OK; GOPE_ERR_USAGE when `j` is not empty or its conf differs
 *         from the saved one; GOPE_ERR_INPUT for data that is not a join
 *         state or is truncated (`j` is then empty again); GOPE_ERR_NOMEM. */
gope_status gope_join_load(gope_join_t *j, FILE *f, gope_err *err);

/* ------------------------------------------------------------------- sinks */

/* A sink receives finished JSON lines (without '\n'). Files today; Kafka and
 * Prometheus sinks plug in with the same table. */
typedef struct gope_sink_ops {
    const char *name;
    gope_status (*write)(void *ctx, const char *key, const char *line, size_t len,
                         gope_err *err);
    gope_status (*close)(void *ctx, gope_err *err);
    /* Optional (NULL: every write is final when it returns): make the lines
     * written so far durable — a file is flushed and fsync'd, a Kafka sink
     * waits for their delivery reports — before a checkpoint that counts
     * them as emitted is written. */
    gope_status (*flush)(void *ctx, gope_err *err);
} gope_sink_ops;

typedef struct {
    const gope_sink_ops *ops;
    void *ctx;
} gope_sink;

/*! gope_sink_file_open() : a JSON-lines sink writing to `path` ("-" = stdout).
 * @return GOPE_OK and *out; GOPE_ERR_IO naming the path; GOPE_ERR_NOMEM. */
gope_status gope_sink_file_open(const char *path, gope_sink *out, gope_err *err);

/*! gope_sink_file_append() : a JSON-lines sink appending to `path`, which
 * is created when missing ("-" = stdout). A last line without its '\n' (a
 * crash in the middle of a write) is cut first, back to the last '\n', so
 * the lines written next do not run into it; *cut (may be NULL) receives
 * the bytes cut. consume --checkpoint opens its file outputs this way: the
 * cut line was written after the last checkpoint and comes again.
 * @return GOPE_OK and *out; GOPE_ERR_IO naming the path (cannot open, read
 *         or truncate); GOPE_ERR_NOMEM. */
gope_status gope_sink_file_append(const char *path, size_t *cut, gope_sink *out, gope_err *err);

/*! gope_outfile_size() : the size of `path` now, when it is a regular file
 * (*regular false, *bytes 0 for anything else: a pipe, a terminal, "-").
 * @return GOPE_OK; GOPE_ERR_IO naming the path when it cannot be looked at. */
gope_status gope_outfile_size(const char *path, bool *regular, uint64_t *bytes, gope_err *err);

/*! gope_outfile_rewind() : cut the regular file `path` back to `bytes`
 * (consume restoring a checkpoint: the records after it come again), but
 * for the complete lines after it that start with `keep` (NULL: none),
 * which are moved up to follow it (the summaries of runs that ended
 * cleanly: they come not again). *cut receives the bytes dropped. A file
 * shorter than `bytes` is left alone, *short_by the bytes it lacks (else
 * 0); anything but a regular file is left alone too.
 * @return GOPE_OK; GOPE_ERR_IO naming the path; GOPE_ERR_NOMEM. */
gope_status gope_outfile_rewind(const char *path, uint64_t bytes, const char *keep,
                                uint64_t *cut, uint64_t *short_by, gope_err *err);

/*! gope_sink_flush() : the sink's flush (above); a sink with ops NULL or no
 * flush does nothing.
 * @return GOPE_OK; GOPE_ERR_IO naming the output when the lines could not be
 *         written or synced (or delivered: a Kafka sink). */
gope_status gope_sink_flush(gope_sink *sink, gope_err *err);

/*! gope_sink_close() : flush and release; a sink with ops NULL does nothing.
 * @return GOPE_ERR_IO when buffered data could not be written. */
gope_status gope_sink_close(gope_sink *sink, gope_err *err);

/* Kafka sinks (ope/sink_kafka.c): every line is one message on a topic, keyed
 * by the sink key (the policy for window records, the reason for dead
 * letters, "summary" for the run summary), from an idempotent librdkafka
 * producer (acks=all, enable.idempotence=true, linger.ms=5, zstd batches,
 * message.timeout.ms=30000; -X may override all but the first two). A
 * delivery that fails is reported by the next write or by close, so a
 * record is never lost silently; every wait is bounded by message.timeout.ms. */
typedef struct {
    const char *brokers;            /* bootstrap.servers, "HOST:PORT[,...]"; required */
    const char *const *props;       /* librdkafka "key=value" settings (-X) */
    size_t n_props;
    gope_kafka_log_fn log;          /* librdkafka's logs, on the caller's thread; NULL drops */
    void *log_ctx;
} gope_kafka_sink_conf;

#define GOPE_SINK_KAFKA_PREFIX "kafka:"

/*! gope_sink_is_kafka() : true when the output spec is "kafka:..." (a topic),
 * not a file name. */
bool gope_sink_is_kafka(const char *spec);

/*! gope_sink_kafka_open() : a sink producing to `topic` (1-249 of
 * [A-Za-z0-9._-], as Kafka allows). Connecting happens in the background:
 * an unreachable broker or a missing topic shows as failed deliveries once
 * message.timeout.ms has passed. The sink serves librdkafka's delivery
 * reports and logs inside write and close, on the caller's thread.
 * @return GOPE_OK and *out; GOPE_ERR_USAGE naming the topic or the -X
 *         property (a bad name, no brokers, an item without '=', a key the
 *         sink owns: bootstrap.servers, acks, enable.idempotence, or a
 *         setting librdkafka refuses); GOPE_ERR_IO when the producer cannot
 *         be created; GOPE_ERR_NOMEM.
 * Its write returns GOPE_ERR_IO "kafka:TOPIC: N message(s) not delivered:
 * REASON" once a delivery has failed; its flush (gope_sink_flush) waits for
 * every message written so far (at most message.timeout.ms plus 5 s) and
 * returns the same error, N counting the messages that failed or are still
 * undelivered; its close flushes the same way, then releases. */
gope_status gope_sink_kafka_open(const gope_kafka_sink_conf *conf, const char *topic,
                                 gope_sink *out, gope_err *err);

/*! gope_sink_open() : the sink an output spec names: "kafka:TOPIC" a Kafka
 * sink with `kafka`'s settings (gope_sink_kafka_open), anything else a file
 * (gope_sink_file_open; "./kafka:x" writes a file of that name). `what` names
 * the option in messages ("--out").
 * @return as those two; GOPE_ERR_USAGE "WHAT kafka:TOPIC: kafka:TOPIC needs
 *         --brokers" when `kafka` is NULL or has no brokers. */
gope_status gope_sink_open(const char *spec, const char *what,
                           const gope_kafka_sink_conf *kafka, gope_sink *out, gope_err *err);

/* ----------------------------------------------------------------- pipeline
 * Time: every line arrives on a stream (a Kafka partition; replay uses
 * stream 0). The stream clock (see "clock") is the minimum over streams of
 * the largest ts each delivered (accepted or late lines count, rejected ones
 * do not). Then:
 *   join clock        J = stream clock - lateness
 *   window watermark  W = J, or with the reward join min(J, oldest pending
 *                     decision ts): a decision waiting for its reward never
 *                     finds its windows closed when it is released.
 * With one stream and no join, W is the old single watermark, max accepted
 * ts - lateness, and the output is unchanged.
 */

typedef struct {
    gope_window_conf window;
    int64_t dedupe_horizon_ms;  /* default 10 minutes */
    bool require_reward;        /* without the join, a decision must carry its
                                 * reward (replay, consume today) */
    bool join;                  /* decisions without reward wait for reward.v1
                                 * lines (the reward join); else a reward.v1
                                 * line is rejected as unknown_schema */
    int64_t reward_wait_ms;     /* the join's wait (--reward-wait, default 10m) */
    bool use_cjson_decoder;     /* the reference decoder (slow, for checks) */
    bool decode_only;           /* benchmark: read + decode, no estimation */
    gope_window_emit_fn tap;    /* NULL, or also told of every emitted window
                                 * (consume --partials; gope_pipeline_tap) */
    void *tap_ctx;
} gope_pipeline_conf;

#define GOPE_REWARD_WAIT_MS (10 * 60 * 1000)

/* Counters of a run. Every line read is accepted, rejected or late once
 * its fate is known; a reward line held by the join is not yet any of them:
 *   lines_read = accepted + rejected + late + rewards_held, always,
 * and rewards_held is 0 after gope_pipeline_finish(). A joined reward line
 * counts as accepted, an orphan as rejected (orphan_reward). */
typedef struct {
    uint64_t lines_read, accepted, rejected, late, windows, records;
    uint64_t by_reason[GOPE_R_COUNT];
    int64_t min_ts, max_ts;
    uint64_t rewards_joined;      /* reward lines summed into a decision */
    uint64_t decisions_defaulted; /* decisions released with no reward (0) */
    uint64_t rewards_orphaned;    /* reward lines without a decision in the wait */
    uint64_t decisions_pending;   /* now waiting in the join (a gauge) */
    uint64_t rewards_held;        /* now held in the join (a gauge) */
} gope_pipeline_stats;

typedef struct gope_pipeline_s gope_pipeline_t;

/* One line after decoding: its position and raw bytes (for dead letters),
 * and either a valid event (reason GOPE_R_OK) or the reject reason. */
typedef struct {
    gope_line line;      /* line.data: the raw bytes */
    gope_reason reason;  /* GOPE_R_OK: `ev` is valid */
    const char *detail;  /* why it was rejected; "" when accepted */
    gope_event ev;
} gope_decoded;

/*! gope_decode_one() : decode `line` with `dec` into `out` (the first step of
 * gope_pipeline_line). A too-long line is rejected without parsing. `out`
 * borrows `line->data`, `detail` (room for `detail_size` bytes) and the
 * decoder's arrays. Thread-safe for distinct decoders with the fast decoder;
 * the cJSON reference decoder must stay on one thread. */
void gope_decode_one(gope_decoder_t *dec, const gope_pipeline_conf *conf,
                     const gope_line *line, gope_decoded *out, char *detail,
                     size_t detail_size);

/*! gope_pipeline_new() : a pipeline evaluating `policies` with `set`, writing
 * window records to `out` and rejected/late lines to `dead` (dead.ops may be
 * NULL: then they are only counted). Borrows every argument; they must
 * outlive the pipeline.
 * @return GOPE_OK; GOPE_ERR_USAGE for a bad window configuration;
 *         GOPE_ERR_NOMEM. */
gope_status gope_pipeline_new(const gope_pipeline_conf *conf,
                              const gope_policy_set_t *policies,
                              const gope_estset_t *set, gope_sink *out,
                              gope_sink *dead, gope_pipeline_t **pp, gope_err *err);

void gope_pipeline_free(gope_pipeline_t *p);

/*! gope_pipeline_line() : process one input line from `source`.
 * @return GOPE_OK whatever the line's fate (accepted, rejected, late);
 *         errors only for sink failures and out of memory. */
gope_status gope_pipeline_line(gope_pipeline_t *p, const char *source,
                               const gope_line *line, gope_err *err);

/*! gope_pipeline_decoded() : the rest of gope_pipeline_line() for a line
 * decoded elsewhere (gope_decode_one(), e.g. on a reader thread): dedupe,
 * lateness, the join, windows, estimators, sinks. Same return contract. */
gope_status gope_pipeline_decoded(gope_pipeline_t *p, const char *source,
                                  const gope_decoded *d, gope_err *err);

/*! gope_pipeline_line_on() / gope_pipeline_decoded_on() : the same, for a
 * line that arrived on input stream `stream` (gope_pipeline_line() and
 * gope_pipeline_decoded() use stream 0). The stream is added if new.
 * @return as gope_pipeline_line(); GOPE_ERR_USAGE for a stream number
 *         >= GOPE_CLOCK_MAX_STREAMS. */
gope_status gope_pipeline_line_on(gope_pipeline_t *p, uint32_t stream, const char *source,
                                  const gope_line *line, gope_err *err);
gope_status gope_pipeline_decoded_on(gope_pipeline_t *p, uint32_t stream, const char *source,
                                     const gope_decoded *d, gope_err *err);

/*! gope_pipeline_stream_add() : input stream `stream` was assigned (a
 * partition): it holds the clock until it delivers a line or is marked
 * idle. @return GOPE_OK; GOPE_ERR_USAGE (number too large); GOPE_ERR_NOMEM. */
gope_status gope_pipeline_stream_add(gope_pipeline_t *p, uint32_t stream, gope_err *err);

/*! gope_pipeline_stream_remove() / gope_pipeline_stream_idle() : the stream
 * was revoked / is idle (no data for --idle-timeout) or active again. The
 * clock may move: decisions whose wait ended are released, orphans written,
 * windows that close are emitted. An unknown stream does nothing.
 * @return GOPE_OK; sink failures and out of memory. */
gope_status gope_pipeline_stream_remove(gope_pipeline_t *p, uint32_t stream, gope_err *err);
gope_status gope_pipeline_stream_idle(gope_pipeline_t *p, uint32_t stream, bool idle,
                                      gope_err *err);

/*! gope_pipeline_clock() : the stream clock (INT64_MIN before it starts). */
int64_t gope_pipeline_clock(const gope_pipeline_t *p);

/*! gope_pipeline_watermark() : the window watermark: every window ending at
 * or before it has been emitted (INT64_MIN before any). */
int64_t gope_pipeline_watermark(const gope_pipeline_t *p);

/*! gope_pipeline_follow() : input stream `stream` has been quiet while the
 * consumer's other partitions moved on to `ts` (consume --partials
 * --checkpoint, one pipeline per partition): the stream counts as having
 * delivered up to `ts`, so the clock may move and windows close; its later
 * events behind that time are late. Nothing happens when the clock is at or
 * past `ts`. @return GOPE_OK; the pipeline's sink errors; GOPE_ERR_NOMEM. */
gope_status gope_pipeline_follow(gope_pipeline_t *p, uint32_t stream, int64_t ts, gope_err *err);

/*! gope_pipeline_stats_put() : replace the counters of `p`, a pipeline that
 * takes no input itself, with `s`: consume's per-partition mode writes the
 * summary of its partitions' pipelines through it. */
void gope_pipeline_stats_put(gope_pipeline_t *p, const gope_pipeline_stats *s);

/*! gope_pipeline_tap() : from now on `tap` sees every window the pipeline
 * emits, before its records are written (NULL: none). A non-OK return
 * stops the run as a sink error does. */
void gope_pipeline_tap(gope_pipeline_t *p, gope_window_emit_fn tap, void *ctx);

/* ------------------------------------------------------------------- reader */

/* A source and its decoder as one stage; with threads > 1 they run on their
 * own thread, a few batches ahead of the caller. The caller sees the same
 * lines in the same order either way, so results never depend on it. */
typedef struct gope_reader_s gope_reader_t;

/*! gope_reader_open() : open `path` (as gope_source_open()) and decode its
 * lines per `conf` (decoder choice, require_reward). threads > 1 starts a
 * reader thread, except with the cJSON decoder, which stays on one thread.
 * @return GOPE_OK and *out; GOPE_ERR_IO naming the file; GOPE_ERR_NOMEM
 *         (also when the thread cannot start). */
gope_status gope_reader_open(const char *path, const gope_pipeline_conf *conf, int threads,
                             gope_reader_t **out, gope_err *err);

/*! gope_reader_next() : the next line, decoded; valid until the next call.
 * @return GOPE_OK; GOPE_EOF after the last line; or the source's fault
 *         (GOPE_ERR_IO/GOPE_ERR_NOMEM, `err` naming file and offset) once
 *         every line before the fault has been returned. */
gope_status gope_reader_next(gope_reader_t *r, const gope_decoded **out, gope_err *err);

/*! gope_reader_name() : the source's name for messages ("stdin" for "-"). */
const char *gope_reader_name(const gope_reader_t *r);

/*! gope_reader_progress() : bytes consumed so far (as of the last line
 * returned, to batch granularity) and the input's size (0 if unknown). */
void gope_reader_progress(const gope_reader_t *r, uint64_t *done, uint64_t *total);

/*! gope_reader_close() : stop the thread and release; NULL does nothing. */
void gope_reader_close(gope_reader_t *r);

/*! gope_pipeline_finish() : end of input: release every decision still
 * waiting for its reward (with the rewards seen so far), write every held
 * reward as an orphan, then emit the remaining windows. */
gope_status gope_pipeline_finish(gope_pipeline_t *p, gope_err *err);

/*! gope_pipeline_stats() : counters so far. */
const gope_pipeline_stats *gope_pipeline_stats_get(const gope_pipeline_t *p);

/*! gope_pipeline_summary() : write the ope_run.v1 summary line to the output
 * sink; `extra` is a JSON object body fragment (e.g. "\"inputs\":[...]") or
 * NULL. */
gope_status gope_pipeline_summary(gope_pipeline_t *p, const char *extra,
                                  gope_err *err);

/* ---------------------------------------------------------------- checkpoints
 * The state of a pipeline and the next offset of every partition, saved
 * together in one file, DIR/state.ckpt, replaced atomically (ope/checkpoint.c;
 * format and semantics in docs/consume.md). A run restored from it continues
 * exactly where the run that wrote it stood: same open windows, counters,
 * remembered event ids and revisions, and it resumes every partition at the
 * saved offset. */

#define GOPE_CKPT_PATH_MAX 4096

typedef struct gope_checkpoint_s gope_checkpoint_t;

/* The partition behind input stream `stream` of the pipeline's clock: the
 * consumer numbers its partitions, and the checkpoint keeps the numbering
 * so that a restored stream is the same partition. */
typedef struct {
    const char *topic;
    int32_t partition;
    uint32_t stream;
} gope_stream_name;

/*! gope_checkpoint_write() : save `p`, the partitions' next offsets
 * `pos[0..n_pos)` and the names of the clock's streams
 * `streams[0..n_streams)` (every stream present in p's clock needs one;
 * extra names are ignored) to DIR/state.ckpt (DIR is created if missing,
 * not its parents): written to DIR/state.ckpt.tmp, fsync'd, renamed over
 * the old file, and DIR fsync'd. A crash leaves the old checkpoint or the
 * new one. *bytes (may be NULL) receives the file's size.
 * @return GOPE_OK; GOPE_ERR_IO naming the file (cannot create, write, sync
 *         or rename; the old checkpoint is then untouched); GOPE_ERR_USAGE
 *         for a directory name over GOPE_CKPT_PATH_MAX or a stream without
 *         a name; GOPE_ERR_NOMEM. */
gope_status gope_checkpoint_write(const char *dir, const gope_pipeline_t *p,
                                  const gope_kafka_pos *pos, size_t n_pos,
                                  const gope_stream_name *streams, size_t n_streams,
                                  size_t *bytes, gope_err *err);

/*! gope_checkpoint_write_as() : gope_checkpoint_write() to DIR/NAME (through
 * DIR/NAME.tmp) instead of DIR/state.ckpt: consume --partials --checkpoint
 * keeps one file per source partition and owner epoch (DIR/TOPIC.PARTITION.eEPOCH.ckpt,
 * ope/ckpt_claim.h).
 * @return as gope_checkpoint_write(). */
gope_status gope_checkpoint_write_as(const char *dir, const char *name, const gope_pipeline_t *p,
                                     const gope_kafka_pos *pos, size_t n_pos,
                                     const gope_stream_name *streams, size_t n_streams,
                                     size_t *bytes, gope_err *err);

/* A file output (--out, --dead-letter) and its size when a checkpoint was
 * taken, after the records it counts as emitted were flushed: a run
 * restored from the checkpoint cuts the file back to it (the lines after
 * it come again), so the file holds every record once. */
typedef struct {
    const char *path;
    uint64_t bytes;
} gope_ckpt_output;

/* Everything a checkpoint holds, for gope_checkpoint_write_with(). */
typedef struct {
    const char *dir;                    /* created if missing (not its parents) */
    const char *name;                   /* NULL: state.ckpt */
    const gope_pipeline_t *p;
    const gope_kafka_pos *pos;          /* the partitions' next offsets */
    size_t n_pos;
    const gope_stream_name *streams;    /* the clock's streams' names */
    size_t n_streams;
    const gope_ckpt_output *outputs;    /* the file outputs' sizes (may be none) */
    size_t n_outputs;
} gope_checkpoint_save;

/*! gope_checkpoint_write_with() : gope_checkpoint_write() of everything in
 * `s`, the file outputs' sizes included (to DIR/NAME).
 * @return as gope_checkpoint_write(); GOPE_ERR_USAGE also for an output
 *         path of GOPE_CKPT_PATH_MAX bytes or more. */
gope_status gope_checkpoint_write_with(const gope_checkpoint_save *s, size_t *bytes,
                                       gope_err *err);

/*! gope_checkpoint_read() : load and validate DIR/state.ckpt: magic, format
 * version, header and payload CRC-32s, lengths, and the offsets section.
 * The pipeline state is checked when restored.
 * @return GOPE_OK and *out (free with gope_checkpoint_free); GOPE_EOF when
 *         there is no checkpoint (a first run); GOPE_ERR_INPUT for a
 *         truncated or corrupt file, naming it and the byte position (never
 *         silently ignored); GOPE_ERR_IO when it cannot be read;
 *         GOPE_ERR_NOMEM. */
gope_status gope_checkpoint_read(const char *dir, gope_checkpoint_t **out, gope_err *err);

/*! gope_checkpoint_read_as() : gope_checkpoint_read() of DIR/NAME.
 * @return as gope_checkpoint_read(). */
gope_status gope_checkpoint_read_as(const char *dir, const char *name, gope_checkpoint_t **out,
                                    gope_err *err);

/*! gope_checkpoint_offsets() : the saved partitions and their next offsets
 * (*n of them), valid as long as `c`. */
const gope_kafka_pos *gope_checkpoint_offsets(const gope_checkpoint_t *c, size_t *n);

/*! gope_checkpoint_outputs() : the file outputs' sizes saved with it (*n
 * of them; none in a version 2 file), valid as long as `c`. */
const gope_ckpt_output *gope_checkpoint_outputs(const gope_checkpoint_t *c, size_t *n);

/*! gope_checkpoint_version() : the file's format version: 3, or 2 for a
 * file written before the outputs' sizes were saved (still read). */
uint32_t gope_checkpoint_version(const gope_checkpoint_t *c);

/*! gope_checkpoint_restore() : put the saved state into `p`, a pipeline
 * made with the same options that has seen no input yet: counters, dedupe,
 * windows, the reward join and the stream clock (each stream with its
 * time and idle flag, under its saved number).
 * @return GOPE_OK; GOPE_ERR_USAGE when the checkpoint was written with other
 *         options (window, slide, lateness, dedupe horizon, estimators,
 *         policies, reward join and wait), naming the option; GOPE_ERR_INPUT
 *         for a malformed section, naming file and byte; GOPE_ERR_NOMEM.
 *         After an error `p` is only fit to be freed. */
gope_status gope_checkpoint_restore(gope_checkpoint_t *c, gope_pipeline_t *p, gope_err *err);

/*! gope_checkpoint_streams() : after a restore, the partition of every
 * stream of the restored clock (*n of them), valid as long as `c`: the
 * consumer numbers those partitions the same way again. */
const gope_stream_name *gope_checkpoint_streams(const gope_checkpoint_t *c, size_t *n);

/*! gope_checkpoint_path() : the file `c` was read from, for messages. */
const char *gope_checkpoint_path(const gope_checkpoint_t *c);

/*! gope_checkpoint_free() : NULL does nothing. */
void gope_checkpoint_free(gope_checkpoint_t *c);

/* =================================================================== agreement
 * OPE against simulator truth: `giftope agree` and `replay --truth`
 * (docs/agreement.md; ope/agree*.c).
 *
 * A truth file (truth.v1 JSON lines from `giftope truth`) gives, per policy,
 * what the simulator knows exactly: V_static (expected reward per decision on
 * the logged contexts, what OPE estimates without bias) and V_online (the
 * policy run on-policy, mean and CI over seeds). Each ope_metrics.v1 record
 * (one window x policy) is compared with its policy's truth: errors, CI
 * coverage, the lift over the logging policy by OPE (snips_lift) and by the
 * simulator, and a verdict by rules with overridable thresholds. Across the
 * policies of a window, the OPE ranking (snips) is compared with the
 * simulator's (Kendall tau-b, Spearman rho). Truth has no windows: every
 * window is compared with the same whole-run truth.
 * ========================================================================== */

/* One policy's simulator truth: a truth.v1 line. */
typedef struct {
    const char *policy;
    bool logging;                 /* the policy that wrote the log */
    double online_mean;           /* V_online: mean over seeds */
    double online_ci_low, online_ci_high;
    bool online_ci_ok;            /* false when fewer than 2 seeds */
    uint64_t online_n;            /* seeds */
    double v_static;              /* V_static, when the truth run had a log */
    bool v_static_ok;
} gope_truth_policy;

/* What the truth run was (the truth.v1 lines, or the truth_run.v1 line). */
typedef struct {
    const char *world;            /* NULL when absent */
    const char *log;              /* the log V_static was computed on, or NULL */
    uint64_t seeds, decisions;
} gope_truth_meta;

typedef struct gope_truth_s gope_truth_t;

/*! gope_truth_load() : read a truth file (plain or zstd): truth.v1 lines,
 * exactly one with "logging":true, then optionally one truth_run.v1 line
 * whose logging_policy must name it. Blank lines are skipped.
 * @return GOPE_OK and *out; GOPE_ERR_IO when the file cannot be read;
 *         GOPE_ERR_INPUT naming file, line and field (bad JSON, a missing or
 *         mistyped field, a duplicate policy, a second logging line, an
 *         unknown schema, a line after truth_run.v1); GOPE_ERR_USAGE when no
 *         line is the logging policy's; GOPE_ERR_NOMEM. */
gope_status gope_truth_load(const char *path, gope_truth_t **out, gope_err *err);

/*! gope_truth_free() : NULL does nothing. */
void gope_truth_free(gope_truth_t *t);

/*! gope_truth_find() : the truth of `policy`, or NULL. */
const gope_truth_policy *gope_truth_find(const gope_truth_t *t, const char *policy);

/*! gope_truth_logging() : the logging policy's truth (never NULL). */
const gope_truth_policy *gope_truth_logging(const gope_truth_t *t);

/*! gope_truth_meta_get() : world, seeds, decisions and log of the run. */
const gope_truth_meta *gope_truth_meta_get(const gope_truth_t *t);

/* Verdict thresholds (`--rules ess_min=100,rel_max=0.2`). */
typedef struct {
    double ess_min; /* block below this ESS; default 100 */
    double rel_max; /* launch needs |snips - truth| / |truth| <= this; default 0.2 */
} gope_agree_rules;

#define GOPE_AGREE_ESS_MIN 100.0
#define GOPE_AGREE_REL_MAX 0.2

/*! gope_agree_rules_parse() : defaults, overridden by `spec` ("key=value,...",
 * NULL or "" for none; keys ess_min >= 0 and rel_max > 0, finite).
 * @return GOPE_OK; GOPE_ERR_USAGE naming the bad item. */
gope_status gope_agree_rules_parse(const char *spec, gope_agree_rules *rules, gope_err *err);

typedef enum {
    GOPE_VERDICT_BASELINE, /* the logging policy itself */
    GOPE_VERDICT_LAUNCH,
    GOPE_VERDICT_REVIEW,
    GOPE_VERDICT_BLOCK,
    GOPE_VERDICT_COUNT
} gope_verdict;

/*! gope_verdict_name() : "baseline", "launch", "review", "block". */
const char *gope_verdict_name(gope_verdict v);

/* Why a verdict was given: bits of gope_agreement.reasons. Launch lists the
 * conditions it met, review the launch conditions that failed, block what
 * blocked. gope_agree_reason_name() gives the machine-readable string. */
enum {
    GOPE_AR_BASELINE = 1u << 0,          /* "baseline" */
    GOPE_AR_SIGNS_DISAGREE = 1u << 1,    /* "lift_signs_disagree" (block) */
    GOPE_AR_LIFT_CI_BELOW = 1u << 2,     /* "ope_lift_ci_below_zero" (block) */
    GOPE_AR_ESS_LOW = 1u << 3,           /* "ess_below_min" (block; null ESS counts as 0) */
    GOPE_AR_SIGNS_AGREE = 1u << 4,       /* "lift_signs_agree" */
    GOPE_AR_LIFT_CI_ABOVE = 1u << 5,     /* "ope_lift_ci_above_zero" */
    GOPE_AR_REL_OK = 1u << 6,            /* "rel_error_within_max" */
    GOPE_AR_ESS_OK = 1u << 7,            /* "ess_at_least_min" */
    GOPE_AR_SIGN_UNKNOWN = 1u << 8,      /* "lift_sign_unknown" (review) */
    GOPE_AR_LIFT_CI_ZERO = 1u << 9,      /* "ope_lift_ci_includes_zero" (review) */
    GOPE_AR_LIFT_CI_MISSING = 1u << 10,  /* "ope_lift_ci_undefined" (review) */
    GOPE_AR_REL_HIGH = 1u << 11,         /* "rel_error_above_max" (review) */
    GOPE_AR_REL_UNKNOWN = 1u << 12,      /* "rel_error_undefined" (review) */
    GOPE_AR_NO_TRUTH = 1u << 13,         /* "policy_not_in_truth" (review) */
};
#define GOPE_AR_COUNT 14

/*! gope_agree_reason_name() : the string of one GOPE_AR_* bit. */
const char *gope_agree_reason_name(unsigned bit);

/* An OPE estimate as a record carries it; _ok false for JSON null. */
typedef struct {
    double value, ci_low, ci_high;
    bool value_ok, ci_ok;
} gope_agree_est;

/* The OPE side of one ope_metrics.v1 record. */
typedef struct {
    int64_t start, end;          /* the window */
    const char *policy;
    uint64_t n;
    gope_agree_est snips, dr;
    gope_agree_est lift;         /* snips_lift: snips - logged */
    double ess;
    bool ess_ok;
} gope_agree_ope;

/* Indices: the OPE estimates compared, and the two truths. */
enum { GOPE_AGREE_SNIPS, GOPE_AGREE_DR, GOPE_AGREE_N_EST };
enum { GOPE_AGREE_STATIC, GOPE_AGREE_ONLINE, GOPE_AGREE_N_TRUTH };

/* One record compared with the truth. `ope.policy` and `logging_policy` are
 * borrowed. A number whose _ok is false is written as null. */
typedef struct {
    gope_agree_ope ope;
    const char *logging_policy;
    bool in_truth;                                 /* the policy has a truth line */
    double truth[GOPE_AGREE_N_TRUTH];              /* V_static, V_online mean */
    bool truth_ok[GOPE_AGREE_N_TRUTH];
    double online_ci_low, online_ci_high;
    bool online_ci_ok;
    double rel_err[GOPE_AGREE_N_EST][GOPE_AGREE_N_TRUTH]; /* |ope - truth| / |truth| */
    bool rel_ok[GOPE_AGREE_N_EST][GOPE_AGREE_N_TRUTH];
    signed char covers[GOPE_AGREE_N_EST][GOPE_AGREE_N_TRUTH]; /* 1, 0; -1 unknown */
    double sim_lift;                               /* truth(policy) - truth(logging) */
    bool sim_lift_ok;
    int sim_lift_source;                           /* GOPE_AGREE_STATIC or _ONLINE */
    signed char signs_agree;                       /* 1, 0; -1 unknown */
    double ref;                                    /* the truth used for ranking and rel_max */
    bool ref_ok;
    int ref_source;                                /* GOPE_AGREE_STATIC or _ONLINE */
    gope_verdict verdict;
    unsigned reasons;                              /* GOPE_AR_* */
} gope_agreement;

/*! gope_agree_compare() : compare `ope` with its policy's truth `pt` (NULL
 * when the truth file lacks the policy) and the logging policy's `lt`, and
 * give the verdict by `rules` (docs/agreement.md). Pure; fills *out. */
void gope_agree_compare(const gope_agree_ope *ope, const gope_truth_policy *pt,
                        const gope_truth_policy *lt, const gope_agree_rules *rules,
                        gope_agreement *out);

/*! gope_agree_explain() : the verdict as one human sentence (with numbers)
 * into buf, truncated like snprintf. @return the length needed. */
size_t gope_agree_explain(const gope_agreement *a, const gope_agree_rules *rules, char *buf,
                          size_t size);

/* Rank agreement of one window: OPE (snips) vs simulator (ref) across the
 * policies where both are defined. */
typedef struct {
    int64_t start, end;
    size_t policies;             /* policies ranked */
    double tau, rho;             /* Kendall tau-b, Spearman rho */
    bool tau_ok, rho_ok;         /* false when undefined (< 2 policies, ties only) */
} gope_agree_rank;

/* An agreement session: the records of a run, compared as they come. */
typedef struct gope_agree_s gope_agree_t;

/*! gope_agree_new() : a session comparing with `truth` by `rules`; borrows
 * both (they must outlive it). @return GOPE_OK or GOPE_ERR_NOMEM. */
gope_status gope_agree_new(const gope_truth_t *truth, const gope_agree_rules *rules,
                           gope_agree_t **out, gope_err *err);

/*! gope_agree_free() : NULL does nothing. */
void gope_agree_free(gope_agree_t *a);

/*! gope_agree_line() : one JSON line of replay output from `source` (line
 * `lineno`, for messages). An ope_metrics.v1 record is compared and kept;
 * *out (NULL for any other line) points to its agreement, valid until the
 * session is freed. An ope_run.v1 summary is skipped (*out NULL); blank lines
 * too.
 * @return GOPE_OK; GOPE_ERR_INPUT naming source, line and field (bad JSON,
 *         another schema, a missing or mistyped field); GOPE_ERR_NOMEM. */
gope_status gope_agree_line(gope_agree_t *a, const char *source, uint64_t lineno,
                            const char *line, size_t len, const gope_agreement **out,
                            gope_err *err);

/*! gope_agree_count() / gope_agree_get() : the agreements so far, in input
 * order. */
size_t gope_agree_count(const gope_agree_t *a);
const gope_agreement *gope_agree_get(const gope_agree_t *a, size_t i);

/*! gope_agree_rankings() : one gope_agree_rank per window, in order of first
 * appearance; *out is malloc'd (free() it; NULL when there are no windows).
 * @return GOPE_OK or GOPE_ERR_NOMEM. */
gope_status gope_agree_rankings(const gope_agree_t *a, gope_agree_rank **out, size_t *count,
                                gope_err *err);

/*! gope_agree_sink() : a sink that adds an "agreement" block (the same object
 * as agreement.v1 without schema, window and policy) to every ope_metrics.v1
 * line before passing it to `inner`; other lines pass unchanged. Borrows `a`
 * and `inner`: closing it does nothing, close `inner` yourself. */
void gope_agree_sink(gope_agree_t *a, gope_sink *inner, gope_sink *out);

/* ==================================================================== metrics
 * Prometheus exposition for `giftope consume --metrics-addr` and `giftope
 * merge --metrics-addr` (docs/prometheus.md; ope/metrics_prom.c renders,
 * ope/metrics_http.c serves).
 *
 * Two objects for two threads. gope_prom_t belongs to the consumer's
 * thread: a sink wrapper shows it every record going to --out, from which it
 * keeps each policy's latest closed window (estimates with CI, ESS, the
 * agreement verdict with --truth); the caller adds consumer lag and
 * checkpoint times; gope_prom_render() turns that and the pipeline
 * counters into text exposition format 0.0.4. gope_prom_http_t is a small
 * HTTP/1.1 server on its own thread (one poll() loop over non-blocking
 * sockets, a deadline and a request-size limit per connection) that serves
 * the text last published to it. Publishing copies the text into a spare
 * buffer and swaps it in under a mutex, which the server holds only to copy
 * the text into a response: the consumer never waits on a client.
 * ========================================================================== */

/* Wall-clock time in seconds since the Unix epoch (tests pass a fixed one). */
typedef double (*gope_wallclock_fn)(void *ctx);

typedef struct {
    gope_wallclock_fn clock; /* NULL: CLOCK_REALTIME */
    void *clock_ctx;
    /* The records are partial (consume --partials --checkpoint: a source
     * partition's share): they only time giftope_window_close_delay_seconds,
     * and no per-policy series is exported. */
    bool no_estimates;
} gope_prom_conf;

typedef struct gope_prom_s gope_prom_t;

/*! gope_prom_new() : an empty metrics state; giftope_start_time_seconds
 * is the clock's time now. @return GOPE_OK and *out; GOPE_ERR_NOMEM. */
gope_status gope_prom_new(const gope_prom_conf *conf, gope_prom_t **out,
                             gope_err *err);

/*! gope_prom_free() : NULL does nothing. Does not close a wrapped sink. */
void gope_prom_free(gope_prom_t *m);

/*! gope_prom_wrap_sink() : interpose on *sink in place, so that whoever
 * holds a pointer to it (the pipeline, the agreement sink) now writes
 * through `m`: every ope_metrics.v1 line updates its policy's gauges and
 * then goes, like every other line, unchanged to the original sink. Closing
 * (flushing) *sink closes (flushes) the original. `m` must outlive *sink. A record that cannot
 * be read back (missing policy, window or estimates) fails the write with
 * GOPE_ERR_INPUT naming the field; the inner sink's errors pass through. */
void gope_prom_wrap_sink(gope_prom_t *m, gope_sink *sink);

/*! gope_prom_changed() : a window record came through since the last
 * render (the caller publishes at once rather than at its next tick). */
bool gope_prom_changed(const gope_prom_t *m);

/*! gope_prom_lag_clear() : forget the consumer lag; call before setting
 * the current assignment's, so revoked partitions disappear. */
void gope_prom_lag_clear(gope_prom_t *m);

/*! gope_prom_lag_set() : partition `partition` of `topic` is `lag`
 * messages behind its high watermark (giftope_consumer_lag_messages).
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_prom_lag_set(gope_prom_t *m, const char *topic, int32_t partition,
                                 int64_t lag, gope_err *err);

/*! gope_prom_checkpoint_done() : a checkpoint was just written (at the
 * clock's time now). giftope_checkpoint_age_seconds is absent until the
 * first call. */
void gope_prom_checkpoint_done(gope_prom_t *m);

/*! gope_prom_render() : the exposition text of every series
 * (docs/prometheus.md) from `stats` and what `m` has seen, at the clock's
 * time now. *text (NUL-terminated, *len bytes) is owned by `m` and valid
 * until the next render. @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_prom_render(gope_prom_t *m, const gope_pipeline_stats *stats,
                                const char **text, size_t *len, gope_err *err);

/* `giftope merge`'s counters (ope/cli/cmd_merge.c, docs/prometheus.md). */
typedef struct {
    uint64_t lines_read, window_partials, duplicate_partials, progress_lines, records;
    const char *const *reason_names; /* n_reasons names of refused lines ... */
    const uint64_t *rejected;        /* ... and how many each */
    size_t n_reasons;
    uint64_t open_windows;           /* windows with partials and no record yet */
} gope_prom_merge_stats;

/*! gope_prom_render_merge() : as gope_prom_render(), with merge's counters
 * in place of the pipeline's; the per-policy series come from the final
 * records that went through the wrapped sink, under the names consume
 * uses. @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_prom_render_merge(gope_prom_t *m, const gope_prom_merge_stats *stats,
                                   const char **text, size_t *len, gope_err *err);

typedef struct {
    const char *addr;   /* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (the last two
                         * bind 127.0.0.1); port 0 takes a free one */
    int timeout_ms;     /* a connection's whole life, request to close; 0: 5000 */
    size_t max_request; /* bytes of request line and headers; 0: 8192 */
    size_t max_conns;   /* open connections; 0: 64 */
} gope_prom_http_conf;

typedef struct gope_prom_http_s gope_prom_http_t;

/*! gope_prom_http_start() : listen on conf->addr and serve on a thread of
 * its own: GET /metrics (the last published text; 503 before the first),
 * GET /healthz ("ok"). Another method on those paths is 405, another path
 * 404, a malformed request 400, a request head over max_request bytes 431;
 * every response closes its connection. A connection that has not finished
 * by its deadline is closed; when max_conns are open, a new one replaces
 * the oldest that is still sending its request (503 if none is).
 * @return GOPE_OK and *out; GOPE_ERR_USAGE naming the address when it does
 *         not parse, resolve or bind; GOPE_ERR_IO when the thread or its
 *         wake-up pipe cannot be made; GOPE_ERR_NOMEM. */
gope_status gope_prom_http_start(const gope_prom_http_conf *conf,
                                    gope_prom_http_t **out, gope_err *err);

/*! gope_prom_http_port() : the port bound (the one chosen for port 0). */
int gope_prom_http_port(const gope_prom_http_t *h);

/*! gope_prom_http_publish() : serve `text` from now on. Copies it; waits
 * at most for the server to finish copying the previous text into a
 * response, never for a client. Call from one thread.
 * @return GOPE_OK; GOPE_ERR_NOMEM (the previous text stays served). */
gope_status gope_prom_http_publish(gope_prom_http_t *h, const char *text, size_t len,
                                      gope_err *err);

/*! gope_prom_http_stop() : stop the thread, close every connection and
 * free; NULL does nothing. */
void gope_prom_http_stop(gope_prom_http_t *h);

/* ------------------------------------------------------------- partials
 * consume --partials (ope/partials.c, docs/scaling.md): an instance's
 * window accumulators as exact ope_partial.v1 lines, for `giftope merge`. */

typedef struct gope_partials_s gope_partials_t;

typedef struct {
    const char *spec;      /* "kafka:TOPIC" or a file */
    const char *instance;  /* names this writer (the sink key) */
    const char *topic;     /* the source topic whose partitions are reported */
    const gope_estset_t *set;
    const gope_policy_set_t *policies;
    gope_window_conf window;
} gope_partials_conf;

/*! gope_partials_open() : a writer of partials to conf->spec (gope_sink_open
 * with `kafka`); borrows set and policies.
 * @return GOPE_OK; as gope_sink_open; GOPE_ERR_NOMEM. */
gope_status gope_partials_open(const gope_partials_conf *conf, const gope_kafka_sink_conf *kafka,
                               gope_partials_t **out, gope_err *err);

/*! gope_partials_close() : close the sink and free; NULL does nothing.
 * @return as gope_sink_close. */
gope_status gope_partials_close(gope_partials_t *p, gope_err *err);

/*! gope_partials_fingerprint() : 16 hex digits naming the estimators, the
 * policies and the window configuration. */
const char *gope_partials_fingerprint(const gope_partials_t *p);

/*! gope_partials_partition() : a source partition was assigned or revoked.
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_partials_partition(gope_partials_t *p, int32_t partition, bool assigned,
                                    gope_err *err);

/*! gope_partials_window() : a gope_window_emit_fn (ctx: the writer) for
 * gope_pipeline_tap: one "window" line per policy with events.
 * @return GOPE_OK; the sink's error. */
gope_status gope_partials_window(void *ctx, const gope_window_result *w, gope_err *err);

/*! gope_partials_window_of() : the "window" lines of window `w` of source
 * partition `partition` alone (per-partition state: consume --partials
 * --checkpoint), carrying "partition" and keyed by it.
 * @return GOPE_OK; the sink's error. */
gope_status gope_partials_window_of(gope_partials_t *p, int32_t partition,
                                    const gope_window_result *w, gope_err *err);

/*! gope_partials_progress_of() : a "progress" line for `partition` alone, at
 * its own window watermark, keyed by the partition.
 * @return GOPE_OK; the sink's error. */
gope_status gope_partials_progress_of(gope_partials_t *p, int32_t partition, int64_t watermark,
                                      bool final, gope_err *err);

/*! gope_partials_flush() : every line written so far is durable (Kafka:
 * delivered), before a checkpoint counts it as written.
 * @return GOPE_OK; the sink's error. */
gope_status gope_partials_flush(gope_partials_t *p, gope_err *err);

/*! gope_partials_due() : windows were written since the last progress line. */
bool gope_partials_due(const gope_partials_t *p);

/*! gope_partials_progress() : a "progress" line: the partitions held, each at
 * `watermark` (gope_pipeline_watermark); `final` at the end of the run,
 * which also flushes the sink. @return GOPE_OK; the sink's error. */
gope_status gope_partials_progress(gope_partials_t *p, int64_t watermark, bool final,
                                   gope_err *err);

#endif /* GOPE_OPE_H */
