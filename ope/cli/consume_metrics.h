/*
 * consume_metrics.h — `--metrics-addr` of `giftope consume` and `giftope
 * merge`: the Prometheus endpoint wired to a run (docs/prometheus.md). The
 * run's loop calls its tick; everything served is rendered on the run's
 * thread and published to the server thread (ope/metrics_http.c), so no
 * client can slow the loop down.
 */
#ifndef GOPE_CLI_CONSUME_METRICS_H
#define GOPE_CLI_CONSUME_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "consume_parts.h"
#include "evalrun.h"
#include "gope_ingest.h"
#include "gope_ope.h"

/* Zero it first; all zero means no --metrics-addr (every call does nothing). */
typedef struct {
    const char *cmd;      /* "consume", "merge": for messages */
    gope_prom_t *prom;
    gope_prom_http_t *http;
    double last_ms;       /* monotonic time of the last publish */
    uint64_t checkpoints; /* checkpoints seen by the tick */
    bool published, lag_warned;
} gope_consume_metrics;

/* With `addr` (NULL: nothing to do): start serving on it and route the
 * records of `out` (an open sink) through the metrics. `partial`: the
 * records are partition shares (consume --partials --checkpoint), which
 * only time the close delay. Messages go to stderr, prefixed "giftope CMD".
 * @return 0; 1 out of memory or no thread; 2 an address that does not parse
 *         or bind (named). */
int gope_consume_metrics_open(gope_consume_metrics *cm, const char *cmd, const char *addr,
                              gope_sink *out, bool partial);

/* consume: publish a fresh snapshot when one is due: a second after the
 * last, or sooner (100 ms) after a window record was emitted. The counters
 * are those of ev's pipeline, or with per-partition state (`cp` not NULL)
 * the run's over its partitions. `checkpoints` is the run's count of
 * checkpoints written; when it grows, the checkpoint age restarts. A
 * failure to read the consumer lag is printed once and the lag left out.
 * @return 0; 1 out of memory (printed). */
int gope_consume_metrics_tick(gope_consume_metrics *cm, const gope_eval *ev,
                              const gope_cparts *cp, gope_kafka_source_t *ks,
                              uint64_t checkpoints);

/* merge's counters, asked for only when a snapshot is due. */
typedef void (*gope_merge_stats_fn)(void *ctx, gope_prom_merge_stats *out);

/* merge: as gope_consume_metrics_tick(), with the counters `stats` gives
 * and the lag of the partials topic. @return 0; 1 out of memory (printed). */
int gope_merge_metrics_tick(gope_consume_metrics *cm, gope_merge_stats_fn stats, void *ctx,
                            gope_kafka_source_t *ks);

/* Stop serving and free. Call after the wrapped sink is closed: its
 * records go through the metrics until then. */
void gope_consume_metrics_close(gope_consume_metrics *cm);

#endif /* GOPE_CLI_CONSUME_METRICS_H */
