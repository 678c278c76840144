/*
 * consume_streams.h — consume's partitions as the input streams of the
 * pipeline's window clock (docs/consume.md, "Window clock").
 *
 * Every (topic, partition) the consumer meets gets a stream number, in the
 * order it is first met (after those a checkpoint restored, which keep
 * theirs), and keeps it for the run: the window clock is the minimum over
 * the streams it holds. A partition is added to the clock when assigned
 * (it holds the clock until its first message), removed when revoked, and
 * marked idle once it has had no message for --idle-timeout of wall time;
 * its next message makes it active again (the pipeline does that when it
 * observes the message's ts).
 */
#ifndef GOPE_CLI_CONSUME_STREAMS_H
#define GOPE_CLI_CONSUME_STREAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "gope_ope.h"

typedef struct {
    char topic[250];   /* Kafka topic names have at most 249 bytes */
    int32_t partition;
    uint32_t stream;
    bool held;         /* in the clock: assigned, or restored and not revoked */
    bool idle;         /* marked idle and no message since */
    double last_ms;    /* wall time of its last message, assignment or restore */
} gope_cstream;

typedef struct {
    gope_cstream *v;
    gope_stream_name *names; /* v's names, for checkpoints */
    size_t n, cap, last;     /* last: the entry of the previous message */
    uint32_t next_stream;
    gope_pipeline_t *pl;     /* NULL: detached (the run is over) */
    int64_t idle_ms;         /* --idle-timeout; 0: never idle */
} gope_cstreams;

/*! gope_cstreams_seed() : the streams of a restored checkpoint, under their
 * numbers, held by the clock from wall time `now` (the restore put them
 * there). @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_cstreams_seed(gope_cstreams *s, const gope_stream_name *names, size_t n,
                               double now, gope_err *err);

/*! gope_cstreams_partition() : `partition` of `topic` was assigned (added to
 * the clock, where it waits for its first message) or revoked (removed: the
 * clock may move and windows close).
 * @return GOPE_OK; the pipeline's error; GOPE_ERR_NOMEM. */
gope_status gope_cstreams_partition(gope_cstreams *s, const char *topic, int32_t partition,
                                    bool assigned, double now, gope_err *err);

/*! gope_cstreams_message() : a message of topic/partition came at wall time
 * `now`: *stream is its stream number.
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_cstreams_message(gope_cstreams *s, const char *topic, int32_t partition,
                                  double now, uint32_t *stream, gope_err *err);

/*! gope_cstreams_idle() : mark idle every held stream without a message for
 * idle_ms up to `now`, the one silent longest first; *changed says whether
 * one was (the clock's state changed: a checkpoint is due).
 * @return GOPE_OK; the pipeline's error. */
gope_status gope_cstreams_idle(gope_cstreams *s, double now, bool *changed, gope_err *err);

/*! gope_cstreams_names() : every stream's partition (*n of them), valid
 * until the next call on `s`. */
const gope_stream_name *gope_cstreams_names(gope_cstreams *s, size_t *n);

/*! gope_cstreams_free() : release the table (not the pipeline). */
void gope_cstreams_free(gope_cstreams *s);

#endif /* GOPE_CLI_CONSUME_STREAMS_H */
