/*
 * consume_outputs.c — the file outputs' sizes in consume's checkpoints
 * (consume_outputs.h). Outputs are told apart by the path given on the
 * command line: a run started with another --out does not cut the file
 * of the run before.
 */
#include "consume_outputs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The start of an ope_run.v1 summary line: a run that ended cleanly wrote
 * it after its last checkpoint, and no run writes it again; it stays. */
#define SUMMARY "{\"schema\":\"ope_run.v1\""

void gope_coutputs_init(gope_coutputs *o, const char *out, const char *dead)
{
    *o = (gope_coutputs){0};
    const char *spec[] = {out, dead};
    for (size_t i = 0; i < GOPE_COUT_MAX; i++)
        if (spec[i] && strcmp(spec[i], "-") != 0 && !gope_sink_is_kafka(spec[i]))
            o->path[o->n++] = spec[i];
}

gope_status gope_coutputs_measure(gope_coutputs *o, gope_err *err)
{
    o->n_now = 0;
    for (size_t i = 0; i < o->n; i++) {
        bool regular;
        uint64_t bytes;
        gope_status st = gope_outfile_size(o->path[i], &regular, &bytes, err);
        if (st != GOPE_OK)
            return st;
        if (regular)
            o->now[o->n_now++] = (gope_ckpt_output){.path = o->path[i], .bytes = bytes};
    }
    return GOPE_OK;
}

void gope_coutputs_saw(gope_coutputs *o, const gope_checkpoint_t *ck)
{
    size_t n;
    const gope_ckpt_output *saved = gope_checkpoint_outputs(ck, &n);
    for (size_t i = 0; i < o->n; i++)
        for (size_t j = 0; j < n; j++)
            if (strcmp(o->path[i], saved[j].path) == 0 &&
                (!o->seen[i] || saved[j].bytes > o->saved[i])) {
                o->saved[i] = saved[j].bytes;
                o->seen[i] = true;
            }
}

gope_status gope_coutputs_rewind(const gope_coutputs *o, const char *cmd, bool quiet,
                                 gope_err *err)
{
    for (size_t i = 0; i < o->n; i++) {
        if (!o->seen[i])
            continue;
        uint64_t cut, short_by;
        gope_status st = gope_outfile_rewind(o->path[i], o->saved[i], SUMMARY, &cut, &short_by,
                                             err);
        if (st != GOPE_OK)
            return st;
        if (short_by)
            fprintf(stderr, "giftope %s: warning: %s has %" PRIu64 " bytes fewer than the "
                            "checkpoint counts as written (%" PRIu64 "): it was cut or "
                            "replaced since; the records before the checkpoint are not all in "
                            "it\n", cmd, o->path[i], short_by, o->saved[i]);
        else if (cut && !quiet)
            fprintf(stderr, "giftope %s: %s: cut back to its %" PRIu64 " bytes at the "
                            "checkpoint (%" PRIu64 " bytes of lines written after it, which "
                            "come again)\n", cmd, o->path[i], o->saved[i], cut);
    }
    return GOPE_OK;
}
