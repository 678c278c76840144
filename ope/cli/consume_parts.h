/*
 * consume_parts.h — consume --partials --checkpoint: the evaluation state
 * kept per source partition, so that a partition can move between the
 * members of a consumer group (docs/scaling.md, "Instance loss and
 * rebalances").
 *
 * Every assigned partition has its own pipeline (panes, dedupe, reward
 * join, clock), made with the run's options and sharing its policies,
 * estimators and sinks. Its windows go to the partials writer as that
 * partition's share, its progress lines report its own watermark, and its
 * state is checkpointed with its next offset to its own file,
 * DIR/TOPIC.PARTITION.eEPOCH.ckpt. On assignment the instance claims the
 * partition's next owner epoch (ope/ckpt_claim.h), the newest file (if any)
 * is loaded and the partition resumes at its offset, wherever the file was
 * written; on a revoke the state is checkpointed first (by the revoke hook)
 * and dropped. A partition whose epoch another member claimed since (this
 * one stalled past the session timeout) is fenced at its next checkpoint:
 * dropped without writing, stderr says so, its messages ignored.
 *
 * Every file also saves the sizes of the file outputs (consume_outputs.h):
 * this instance's, measured at the checkpoint, and those of other
 * instances it found in the file when the partition was loaded, carried
 * on. At the start the instance cuts its outputs back to the largest size
 * any file saved for them: every checkpoint round of an instance saves the
 * same sizes in each file it writes, a partition whose file is older wrote
 * nothing since, and a file overwritten by another member still carries
 * the sizes, so the largest is this instance's last checkpoint round.
 *
 * A quiet partition (no message for --idle-timeout of wall time) does not
 * hold merge back: its clock follows the instance's other partitions that
 * are not quiet (the lowest of their clocks), so its progress moves on;
 * events that then arrive behind its clock are late and counted.
 */
#ifndef GOPE_CLI_CONSUME_PARTS_H
#define GOPE_CLI_CONSUME_PARTS_H

#include <stdbool.h>
#include <stdint.h>

#include "consume_outputs.h"
#include "evalrun.h"
#include "gope_ingest.h"
#include "gope_ope.h"

typedef struct {
    const char *dir;            /* --checkpoint DIR, shared by the whole group */
    const char *topic;          /* --topic (one) */
    const char *reward_topic;   /* --reward-topic (one, co-partitioned), or NULL */
    gope_eval *ev;              /* the run: pipeline settings, policies, estimators, sinks */
    gope_partials_t *partials;  /* the writer of the partials */
    gope_coutputs *outs;        /* the run's file outputs, sized with every file */
    int64_t idle_ms;            /* --idle-timeout; 0: a quiet partition never follows */
    bool quiet;                 /* no "resumed" lines on stderr */
} gope_cparts_conf;

typedef struct gope_cparts_s gope_cparts;

/*! gope_cparts_new() : no partition yet; borrows everything in `conf`.
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_cparts_new(const gope_cparts_conf *conf, gope_cparts **out, gope_err *err);

/*! gope_cparts_rewind() : before anything is written: every checkpoint
 * file of the topic in DIR read for the sizes it saved of this run's file
 * outputs, and each output cut back to the largest (stderr says so unless
 * quiet). @return GOPE_OK; GOPE_ERR_INPUT/IO for a file that cannot be
 * read or an output that cannot be cut (printed or in err); GOPE_ERR_NOMEM. */
gope_status gope_cparts_rewind(gope_cparts *c, gope_err *err);

/*! gope_cparts_source() : the consumer whose positions are checkpointed and
 * where an assigned partition's checkpointed offset is set. */
void gope_cparts_source(gope_cparts *c, gope_kafka_source_t *ks);

/*! gope_cparts_partition() : the partition hook: `partition` of `topic` was
 * assigned at wall time `now` (a new pipeline, loaded from its checkpoint
 * file when there is one, and the source told to start at its offset) or
 * revoked (its pipeline dropped: the revoke hook has checkpointed it).
 * @return GOPE_OK; GOPE_ERR_INPUT/IO for a checkpoint that cannot be read,
 *         GOPE_ERR_USAGE for one written with other options (naming the
 *         file); GOPE_ERR_NOMEM. */
gope_status gope_cparts_partition(gope_cparts *c, const char *topic, int32_t partition,
                                  bool assigned, double now, gope_err *err);

/*! gope_cparts_message() : message `m` came at wall time `now`: into its
 * partition's pipeline, then its offset stored; a progress line when windows
 * closed. @return GOPE_OK; the pipeline's or a sink's error; GOPE_ERR_NOMEM. */
gope_status gope_cparts_message(gope_cparts *c, const gope_kafka_msg *m, double now,
                                gope_err *err);

/*! gope_cparts_idle() : every partition without a message for idle_ms up to
 * `now` follows the lowest clock of the others that had one.
 * @return GOPE_OK; the pipeline's or a sink's error. */
gope_status gope_cparts_idle(gope_cparts *c, double now, gope_err *err);

/*! gope_cparts_dirty() : something was taken since the last checkpoint. */
bool gope_cparts_dirty(const gope_cparts *c);

/*! gope_cparts_checkpoint() : a progress line for every partition whose
 * watermark moved (`final`: for every partition, marked final), the
 * records, dead letters and partials durable, then every partition changed
 * since its last checkpoint written to its file with its next offset.
 * @return GOPE_OK; a sink's error; the checkpoint's (GOPE_ERR_IO ...). */
gope_status gope_cparts_checkpoint(gope_cparts *c, bool final, gope_err *err);

/*! gope_cparts_lost() : the group took every partition away (a lost
 * assignment, after a stall past the session timeout). Those another member
 * has claimed since are fenced, said on stderr and counted as when a
 * checkpoint finds them, so a stalled member reports the takeover whether
 * librdkafka or its own check notices first. Nothing is written.
 * @return GOPE_OK; the claims' error (GOPE_ERR_IO ...). */
gope_status gope_cparts_lost(gope_cparts *c, gope_err *err);

/*! gope_cparts_finish() : the end of a batch (--idle-exit, --max-events):
 * every partition's open windows emitted, as replay does at the end of a
 * file (they stay open in the next checkpoint). @return as message(). */
gope_status gope_cparts_finish(gope_cparts *c, gope_err *err);

/*! gope_cparts_totals() : this run's counters over every partition it held
 * (what each pipeline counted since it was loaded), and the join's gauges
 * (decisions pending, rewards held) of the partitions held now: for the
 * summary and the metrics. */
void gope_cparts_totals(const gope_cparts *c, gope_pipeline_stats *out);

/*! gope_cparts_fenced() : partitions this run dropped as fenced (another
 * member had claimed a newer owner epoch), for the summary and metrics. */
uint64_t gope_cparts_fenced(const gope_cparts *c);

/*! gope_cparts_restored() : some partition was loaded from its checkpoint. */
bool gope_cparts_restored(const gope_cparts *c);

/*! gope_cparts_written() : checkpoint files written so far; *bytes the
 * size of the last one. */
uint64_t gope_cparts_written(const gope_cparts *c, size_t *bytes);

/*! gope_cparts_free() : drop every partition's state (nothing saved);
 * NULL does nothing. */
void gope_cparts_free(gope_cparts *c);

#endif /* GOPE_CLI_CONSUME_PARTS_H */
