/*
 * consume_metrics.c — `consume --metrics-addr` (see consume_metrics.h).
 *
 * Publishing is paced by the consumer's loop, which comes back at least
 * every poll interval: a snapshot a second keeps Prometheus' scrapes fresh
 * at any scrape interval it is likely to use, and one soon after each
 * window emission puts new estimates on the dashboard without rendering the
 * text for every window of a backlog catch-up.
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

int gope_consume_metrics_open(gope_consume_metrics *cm, const char *addr, gope_eval *ev)
{
    if (!addr)
        return 0;
    gope_err err = {{0}};
    gope_prom_http_conf hc = {.addr = addr};
    gope_status st = gope_prom_new(NULL, &cm->prom, &err);
    if (st == GOPE_OK)
        st = gope_prom_http_start(&hc, &cm->http, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: --metrics-addr: %s\n", err.msg);
        return st == GOPE_ERR_USAGE ? 2 : 1;
    }
    gope_prom_wrap_sink(cm->prom, &ev->out);
    return 0;
}

static gope_status lag_to_prom(void *ctx, const char *topic, int32_t partition, int64_t lag,
                               gope_err *err)
{
    return gope_prom_lag_set(ctx, topic, partition, lag, err);
}

int gope_consume_metrics_tick(gope_consume_metrics *cm, const gope_eval *ev,
                              gope_kafka_source_t *ks, uint64_t checkpoints)
{
    if (!cm->prom)
        return 0;
    if (checkpoints != cm->checkpoints) {
        cm->checkpoints = checkpoints;
        gope_prom_checkpoint_done(cm->prom);
    }
    double now = mono_ms(), since = now - cm->last_ms;
    if (cm->published && since < PUBLISH_EVERY_MS &&
        !(gope_prom_changed(cm->prom) && since >= PUBLISH_AFTER_WINDOW_MS))
        return 0;
    gope_err err = {{0}};
    gope_prom_lag_clear(cm->prom);
    gope_status st = gope_kafka_source_lag(ks, lag_to_prom, cm->prom, &err);
    if (st == GOPE_ERR_IO) {
        if (!cm->lag_warned)
            fprintf(stderr, "giftope consume: metrics: lag left out: %s\n", err.msg);
        cm->lag_warned = true;
        gope_prom_lag_clear(cm->prom);
        st = GOPE_OK;
    }
    const char *text;
    size_t len;
    if (st == GOPE_OK)
        st = gope_prom_render(cm->prom, gope_pipeline_stats_get(ev->pl), &text, &len, &err);
    if (st == GOPE_OK)
        st = gope_prom_http_publish(cm->http, text, len, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: metrics: %s\n", err.msg);
        return 1;
    }
    cm->last_ms = now;
    cm->published = true;
    return 0;
}

void gope_consume_metrics_close(gope_consume_metrics *cm)
{
    gope_prom_http_stop(cm->http);
    gope_prom_free(cm->prom);
    *cm = (gope_consume_metrics){0};
}
