/*
 * pipeline_int.h — the pipeline's state, shared by pipeline.c (the data path)
 * and the modules that save and restore it; not part of the public API.
 */
#ifndef GOPE_PIPELINE_INT_H
#define GOPE_PIPELINE_INT_H

#include "gope_ope.h"
#include "jsonbuf.h"

struct gope_pipeline_s {
    gope_pipeline_conf conf;
    const gope_policy_set_t *policies;
    const gope_estset_t *set;
    gope_sink *out, *dead;
    gope_decoder_t *dec;
    gope_dedupe_t *dedupe;
    gope_windows_t *win;
    gope_clock_t *clock;    /* per-stream event time (ope/clock.c) */
    gope_join_t *join;      /* NULL unless conf.join */
    gope_result *res;
    double *pi, *scratch;   /* GOPE_MAX_CANDIDATES each */
    gope_obs *obs;          /* one event's observations, one per policy */
    gope_jbuf buf;
    gope_pipeline_stats stats;
};

#endif /* GOPE_PIPELINE_INT_H */
