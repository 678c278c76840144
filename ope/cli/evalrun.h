/*
 * evalrun.h — what the evaluating commands (replay, consume) share, so they
 * are one code path with different sources: the evaluation options and their
 * help rows, options -> policies, estimators, windows, sinks, --truth
 * agreement and the pipeline; the run description in the summary; the end
 * of a run (flush the open windows, agreement summary, ope_run.v1 line);
 * and the release of it all.
 */
#ifndef GOPE_CLI_EVALRUN_H
#define GOPE_CLI_EVALRUN_H

#include <stdbool.h>

#include "../jsonbuf.h"
#include "gope_ope.h"

typedef struct {
    const char *policies, *window, *slide, *lateness, *estimators, *out, *dead_letter;
    const char *dedupe_horizon, *truth, *rules;
    const char *reward_wait;    /* NULL: not given (10m when the join is on) */
} gope_eval_opts;

/* The option rows of gope_eval_opts for a command's table: `T` is the
 * command's settings struct and `m` its gope_eval_opts member. */
#define GOPE_EVAL_OPT(T, m, n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(T, m.f), d, h}
#define GOPE_EVAL_OPT_ROWS(T, m)                                                                   \
    GOPE_EVAL_OPT(T, m, "--policies", "FILE", policies, NULL,                                      \
                  "policies.v1 JSON file (built-in default set when absent)"),                     \
    GOPE_EVAL_OPT(T, m, "--window", "DUR|all", window, "all", "window size, e.g. 90s, 5m, 1h, 1d"),\
    GOPE_EVAL_OPT(T, m, "--slide", "DUR", slide, NULL,                                             \
                  "hop between window starts; divides --window (tumbling when absent)"),           \
    GOPE_EVAL_OPT(T, m, "--lateness", "DUR", lateness, "0",                                        \
                  "watermark = max event time seen - lateness"),                                   \
    GOPE_EVAL_OPT(T, m, "--estimators", "LIST", estimators, "all",                                 \
                  "e.g. snips,dr,ips_clip:lambda=50 (logged is always included)"),                 \
    GOPE_EVAL_OPT(T, m, "--out", "FILE|kafka:TOPIC", out, "-",                                     \
                  "window records and run summary, JSON lines (kafka: keyed by policy)"),          \
    GOPE_EVAL_OPT(T, m, "--dead-letter", "FILE|kafka:TOPIC", dead_letter, NULL,                    \
                  "rejected and late lines with source, line, offset, reason (kafka: keyed by "    \
                  "reason)"),                                                                      \
    GOPE_EVAL_OPT(T, m, "--dedupe-horizon", "DUR", dedupe_horizon, "10m",                          \
                  "event-time span in which a repeated event_id is a duplicate"),                  \
    GOPE_EVAL_OPT(T, m, "--reward-wait", "DUR", reward_wait, NULL,                                 \
                  "join reward.v1 lines within DUR of event time of their decision (default "     \
                  "10m; docs/schema.md)"),                                                         \
    GOPE_EVAL_OPT(T, m, "--truth", "FILE", truth, NULL,                                            \
                  "simulator truth (truth.v1): every record gets an agreement block "              \
                  "(docs/agreement.md)"),                                                          \
    GOPE_EVAL_OPT(T, m, "--rules", "LIST", rules, NULL,                                            \
                  "with --truth: verdict thresholds, e.g. ess_min=100,rel_max=0.2")

/* One evaluation run: everything gope_eval_open() made. Zero it first. */
typedef struct {
    const char *cmd;            /* "replay", "consume": the prefix of messages */
    gope_pipeline_conf pc;
    gope_policy_set_t *pol;
    gope_estset_t *set;
    gope_sink out, dead, agree_out;
    gope_agree_rules rules;
    gope_truth_t *truth;
    gope_agree_t *agree;
    gope_pipeline_t *pl;
    const char *truth_path;
    gope_kafka_sink_conf kafka; /* consume sets it: kafka:TOPIC outputs (replay: none) */
    bool append;                /* consume --checkpoint sets it: FILE outputs are appended
                                 * to (gope_sink_file_append), not made anew */
} gope_eval;

/* Parse `o` and open the run: windows, lateness and dedupe horizon into a
 * copy of `base` (which holds the command's own pipeline settings), policies,
 * estimators, the agreement session (--truth), the sinks (a file, or
 * kafka:TOPIC with the producer settings in ev->kafka) and the pipeline.
 * Messages go to stderr as "giftope CMD: ...".
 * @return 0; 1 (a malformed truth file, out of memory); 2 (usage: a bad
 *         option value, an unreadable policies file, an output that cannot
 *         be opened). Call gope_eval_close() in every case. */
int gope_eval_open(gope_eval *ev, const char *cmd, const gope_eval_opts *o,
                   const gope_pipeline_conf *base);

/* The summary's run description after the command's own fields: ,"policies":
 * [...],"estimators":"...","window":{...} (starts with a comma). */
void gope_eval_describe(gope_jbuf *b, const gope_eval *ev);

/* End of input: emit the open windows, then the agreement summary (--truth)
 * and the ope_run.v1 line with `extra` (the command's description, which the
 * agreement summary extends). @return 0, or 1 after printing the error. */
int gope_eval_finish(gope_eval *ev, gope_jbuf *extra);

/* The second half of gope_eval_finish alone: the agreement summary and the
 * ope_run.v1 line, without emitting the open windows (consume with a
 * checkpoint, stopped by a signal: they go on in the next run).
 * @return 0, or 1 after printing the error. */
int gope_eval_summary(gope_eval *ev, gope_jbuf *extra);

/* Unless `quiet` or a dead-letter file was given: a hint on stderr when lines
 * were rejected or late. */
void gope_eval_hint_dropped(const gope_eval *ev, const gope_eval_opts *o, bool quiet);

/* Close the sinks and free everything. @return `rc`, or 1 when a sink could
 * not be flushed (message printed). */
int gope_eval_close(gope_eval *ev, int rc);

#endif /* GOPE_CLI_EVALRUN_H */
