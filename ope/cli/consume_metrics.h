/*
 * consume_metrics.h — `giftope consume --metrics-addr`: the Prometheus
 * endpoint wired to a consumer run (docs/prometheus.md). The consumer's loop
 * calls the tick; everything served is rendered on the consumer's thread and
 * published to the server thread (ope/metrics_http.c), so no client can slow
 * the loop down.
 */
#ifndef GOPE_CLI_CONSUME_METRICS_H
#define GOPE_CLI_CONSUME_METRICS_H

#include <stdint.h>

#include "evalrun.h"
#include "gope_ingest.h"
#include "gope_ope.h"

/* Zero it first; all zero means no --metrics-addr (every call does nothing). */
typedef struct {
    gope_prom_t *prom;
    gope_prom_http_t *http;
    double last_ms;       /* monotonic time of the last publish */
    uint64_t checkpoints; /* checkpoints seen by the tick */
    bool published, lag_warned;
} gope_consume_metrics;

/* With `addr` (NULL: nothing to do): start serving on it and route ev's
 * --out sink through the metrics (ev must be open). Messages go to stderr.
 * @return 0; 1 out of memory or no thread; 2 an address that does not parse
 *         or bind (named). */
int gope_consume_metrics_open(gope_consume_metrics *cm, const char *addr, gope_eval *ev);

/* Publish a fresh snapshot when one is due: a second after the last, or
 * sooner (100 ms) after a window record was emitted. `checkpoints` is the
 * run's count of checkpoints written; when it grows, the checkpoint age
 * restarts. A failure to read the consumer lag is printed once and the lag
 * left out. @return 0; 1 out of memory (printed). */
int gope_consume_metrics_tick(gope_consume_metrics *cm, const gope_eval *ev,
                              gope_kafka_source_t *ks, uint64_t checkpoints);

/* Stop serving and free. Call after gope_eval_close(): the --out sink goes
 * through the metrics until it is closed. */
void gope_consume_metrics_close(gope_consume_metrics *cm);

#endif /* GOPE_CLI_CONSUME_METRICS_H */
