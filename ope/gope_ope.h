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

/* A closed window: accs[p] is policy p's merged accumulator. */
typedef struct {
    int64_t start, end;
    const gope_acc *const *accs;
    size_t n_policies;
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
 * and emit every window that closes. */
gope_status gope_windows_advance(gope_windows_t *win, int64_t ts,
                                 gope_window_emit_fn emit, void *ctx, gope_err *err);

/*! gope_windows_flush() : end of input: emit every window still open that
 * received an event. */
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

/* ------------------------------------------------------------------- sinks */

/* A sink receives finished JSON lines (without '\n'). Files today; Kafka and
 * Prometheus sinks plug in with the same table. */
typedef struct gope_sink_ops {
    const char *name;
    gope_status (*write)(void *ctx, const char *key, const char *line, size_t len,
                         gope_err *err);
    gope_status (*close)(void *ctx, gope_err *err);
} gope_sink_ops;

typedef struct {
    const gope_sink_ops *ops;
    void *ctx;
} gope_sink;

/*! gope_sink_file_open() : a JSON-lines sink writing to `path` ("-" = stdout).
 * @return GOPE_OK and *out; GOPE_ERR_IO naming the path; GOPE_ERR_NOMEM. */
gope_status gope_sink_file_open(const char *path, gope_sink *out, gope_err *err);

/*! gope_sink_close() : flush and release; a sink with ops NULL does nothing.
 * @return GOPE_ERR_IO when buffered data could not be written. */
gope_status gope_sink_close(gope_sink *sink, gope_err *err);

/* ----------------------------------------------------------------- pipeline */

typedef struct {
    gope_window_conf window;
    int64_t dedupe_horizon_ms;  /* default 10 minutes */
    bool require_reward;        /* replay: rewards are inline */
    bool use_cjson_decoder;     /* the reference decoder (slow, for checks) */
    bool decode_only;           /* benchmark: read + decode, no estimation */
} gope_pipeline_conf;

typedef struct {
    uint64_t lines_read, accepted, rejected, late, windows, records;
    uint64_t by_reason[GOPE_R_COUNT];
    int64_t min_ts, max_ts;
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
 * lateness, windows, estimators, sinks. Same return contract. */
gope_status gope_pipeline_decoded(gope_pipeline_t *p, const char *source,
                                  const gope_decoded *d, gope_err *err);

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

/*! gope_pipeline_finish() : end of input: emit the remaining windows. */
gope_status gope_pipeline_finish(gope_pipeline_t *p, gope_err *err);

/*! gope_pipeline_stats() : counters so far. */
const gope_pipeline_stats *gope_pipeline_stats_get(const gope_pipeline_t *p);

/*! gope_pipeline_summary() : write the ope_run.v1 summary line to the output
 * sink; `extra` is a JSON object body fragment (e.g. "\"inputs\":[...]") or
 * NULL. */
gope_status gope_pipeline_summary(gope_pipeline_t *p, const char *extra,
                                  gope_err *err);

#endif /* GOPE_OPE_H */
