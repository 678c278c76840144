/*
 * consume_outputs.h — consume --checkpoint's file outputs made exact
 * (docs/consume.md, "Output files after a crash").
 *
 * A checkpoint saves the size of every file output (--out, --dead-letter)
 * right after the records it counts as emitted were flushed; a run that
 * restores it cuts each file back to that size before it appends, so the
 * records written after the checkpoint, which the restored run emits
 * again, are in the file once. Outputs that are not regular files (stdout,
 * a pipe, kafka:TOPIC) are not sized: their consumers drop re-emissions by
 * (window, policy, revision).
 */
#ifndef GOPE_CLI_CONSUME_OUTPUTS_H
#define GOPE_CLI_CONSUME_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_ope.h"

#define GOPE_COUT_MAX 2 /* --out and --dead-letter */

typedef struct {
    const char *path[GOPE_COUT_MAX];     /* the outputs that may be files */
    uint64_t saved[GOPE_COUT_MAX];       /* the largest size a checkpoint saved ... */
    bool seen[GOPE_COUT_MAX];            /* ... when one did */
    size_t n;
    gope_ckpt_output now[GOPE_COUT_MAX]; /* the regular files' sizes at the last measure */
    size_t n_now;
} gope_coutputs;

/*! gope_coutputs_init() : the outputs `out` and `dead` (either NULL, "-"
 * or kafka:TOPIC: not a file) of a run. */
void gope_coutputs_init(gope_coutputs *o, const char *out, const char *dead);

/*! gope_coutputs_measure() : the regular files' sizes now into o->now
 * (after their sinks were flushed). @return GOPE_OK; GOPE_ERR_IO. */
gope_status gope_coutputs_measure(gope_coutputs *o, gope_err *err);

/*! gope_coutputs_saw() : a checkpoint to restore: its saved sizes of this
 * run's outputs count (the largest over several checkpoints). */
void gope_coutputs_saw(gope_coutputs *o, const gope_checkpoint_t *ck);

/*! gope_coutputs_rewind() : cut every output a checkpoint sized back to
 * that size, before anything is appended, keeping the summaries of runs
 * that ended cleanly; said on stderr (prefixed "giftope CMD") unless
 * `quiet`, and always when a file is shorter than saved (records up to the
 * checkpoint are missing from it: it was cut or replaced meanwhile).
 * @return GOPE_OK; GOPE_ERR_IO naming a file that cannot be cut;
 *         GOPE_ERR_NOMEM. */
gope_status gope_coutputs_rewind(const gope_coutputs *o, const char *cmd, bool quiet,
                                 gope_err *err);

#endif /* GOPE_CLI_CONSUME_OUTPUTS_H */
