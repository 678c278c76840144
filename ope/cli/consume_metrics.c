/*
 * consume_metrics.c — `consume --metrics-addr` and `merge --metrics-addr`
 * (see consume_metrics.h).
 *
 * Publishing is paced by the run's loop, which comes back at least every
 * poll interval: a snapshot a second keeps Prometheus' scrapes fresh at any
 * scrape interval it is likely to use, and one soon after each window
 * emission puts new estimates on the dashboard without rendering the text
 * for every window of a backlog catch-up.
 */
#include "consume_metrics.h"

#include <stdio.h>
#include <time.h>

#define PUBLISH_EVERY_MS 1000.0
#define PUBLISH_AFTER_WINDOW_MS 100.0

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int gope_consume_metrics_open(gope_consume_metrics *cm, const char *cmd, const char *addr,
                              gope_sink *out, bool partial)
{
    if (!addr)
        return 0;
    gope_err err = {{0}};
    gope_prom_http_conf hc = {.addr = addr};
    gope_prom_conf pc = {.no_estimates = partial};
    cm->cmd = cmd;
    gope_status st = gope_prom_new(&pc, &cm->prom, &err);
    if (st == GOPE_OK)
        st = gope_prom_http_start(&hc, &cm->http, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope %s: --metrics-addr: %s\n", cmd, err.msg);
        return st == GOPE_ERR_USAGE ? 2 : 1;
    }
    gope_prom_wrap_sink(cm->prom, out);
    return 0;
}

/* Is a snapshot due now (`now`: monotonic ms)? */
static bool due(const gope_consume_metrics *cm, double now)
{
    double since = now - cm->last_ms;
    return !cm->published || since >= PUBLISH_EVERY_MS ||
           (gope_prom_changed(cm->prom) && since >= PUBLISH_AFTER_WINDOW_MS);
}

static gope_status lag_to_prom(void *ctx, const char *topic, int32_t partition, int64_t lag,
                               gope_err *err)
{
    return gope_prom_lag_set(ctx, topic, partition, lag, err);
}

/* The assignment's lag into the metrics; a failure to read it is printed
 * once and the lag left out. @return GOPE_OK; GOPE_ERR_NOMEM. */
static gope_status take_lag(gope_consume_metrics *cm, gope_kafka_source_t *ks, gope_err *err)
{
    gope_prom_lag_clear(cm->prom);
    gope_status st = gope_kafka_source_lag(ks, lag_to_prom, cm->prom, err);
    if (st != GOPE_ERR_IO)
        return st;
    if (!cm->lag_warned)
        fprintf(stderr, "giftope %s: metrics: lag left out: %s\n", cm->cmd, err->msg);
    cm->lag_warned = true;
    gope_prom_lag_clear(cm->prom);
    return GOPE_OK;
}

/* A snapshot to the server: the lag, then the text of the pipeline's
 * counters `stats`, or of merge's `merge` when that is not NULL.
 * @return 0 or 1 (printed). */
static int publish(gope_consume_metrics *cm, gope_kafka_source_t *ks,
                   const gope_pipeline_stats *stats, const gope_prom_merge_stats *merge,
                   double now)
{
    gope_err err = {{0}};
    const char *text = NULL;
    size_t len = 0;
    gope_status st = take_lag(cm, ks, &err);
    if (st == GOPE_OK)
        st = merge ? gope_prom_render_merge(cm->prom, merge, &text, &len, &err)
                   : gope_prom_render(cm->prom, stats, &text, &len, &err);
    if (st == GOPE_OK)
        st = gope_prom_http_publish(cm->http, text, len, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope %s: metrics: %s\n", cm->cmd, err.msg);
        return 1;
    }
    cm->last_ms = now;
    cm->published = true;
    return 0;
}

int gope_consume_metrics_tick(gope_consume_metrics *cm, const gope_eval *ev,
                              const gope_cparts *cp, gope_kafka_source_t *ks,
                              uint64_t checkpoints)
{
    if (!cm->prom)
        return 0;
    if (checkpoints != cm->checkpoints) {
        cm->checkpoints = checkpoints;
        gope_prom_checkpoint_done(cm->prom);
    }
    double now = mono_ms();
    if (!due(cm, now))
        return 0;
    gope_pipeline_stats total;
    if (cp)
        gope_cparts_totals(cp, &total);
    return publish(cm, ks, cp ? &total : gope_pipeline_stats_get(ev->pl), NULL, now);
}

int gope_merge_metrics_tick(gope_consume_metrics *cm, gope_merge_stats_fn stats, void *ctx,
                            gope_kafka_source_t *ks)
{
    if (!cm->prom)
        return 0;
    double now = mono_ms();
    if (!due(cm, now))
        return 0;
    gope_prom_merge_stats s;
    stats(ctx, &s);
    return publish(cm, ks, NULL, &s, now);
}

void gope_consume_metrics_close(gope_consume_metrics *cm)
{
    gope_prom_http_stop(cm->http);
    gope_prom_free(cm->prom);
    *cm = (gope_consume_metrics){0};
}
