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

#endif /* GOPE_OPE_H */
