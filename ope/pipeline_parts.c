/*
 * pipeline_parts.c — what consume's per-partition state (consume --partials
 * --checkpoint, ope/cli/consume_parts.c) needs from a pipeline beyond the
 * data path: moving a quiet partition's clock along with the instance's
 * other partitions, and the run's summary over many pipelines.
 */
#include "pipeline_int.h"

gope_status gope_pipeline_follow(gope_pipeline_t *p, uint32_t stream, int64_t ts, gope_err *err)
{
    if (ts <= gope_clock_now(p->clock))
        return GOPE_OK;
    /* as if the stream had delivered an event at ts: its later events behind
     * it find their windows closed and are counted late, as any late event */
    gope_status st = gope_clock_observe(p->clock, stream, ts, err);
    return st != GOPE_OK ? st : gope_pipeline_stream_idle(p, stream, false, err);
}

void gope_pipeline_stats_put(gope_pipeline_t *p, const gope_pipeline_stats *s)
{
    p->stats = *s;
}
