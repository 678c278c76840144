/*
 * ckpt_int.h — the pieces of a checkpoint file (internal to the ope library).
 *
 * A checkpoint is a header and a payload of sections (docs/consume.md,
 * "Checkpoint file"). Every number is little-endian, every double its
 * IEEE-754 bits, so a state saved and loaded is the same bit for bit on any
 * machine. A section is a 4-letter tag, a u32 version of that section's
 * layout and a u64 byte length, then its body: a loader reads only inside
 * its section and must consume all of it, so a section can grow in a new
 * version without breaking the sections after it.
 *
 * Writers append to a FILE (an open_memstream buffer in practice: the
 * checksum covers the finished payload); errors are read from ferror() once,
 * at the end. Readers walk a byte range in memory and report the absolute
 * byte position in the file when something is missing or impossible.
 */
#ifndef GOPE_CKPT_INT_H
#define GOPE_CKPT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gope_ope.h"

/* ------------------------------------------------------------- writing */

void gope_ckw_u32(FILE *f, uint32_t v);
void gope_ckw_u64(FILE *f, uint64_t v);
void gope_ckw_i64(FILE *f, int64_t v);
void gope_ckw_f64(FILE *f, double v);
/* A string as u32 length + bytes (no NUL). */
void gope_ckw_str(FILE *f, const char *s);

/* A section body writer (e.g. gope_windows_save): appends to `f`. */
typedef gope_status (*gope_ckw_body_fn)(const void *obj, FILE *f, gope_err *err);

/*! gope_ckw_section() : append section `tag` (4 letters) of layout `version`
 * whose body `body(obj, ...)` writes; the body is built in its own buffer so
 * its length can precede it.
 * @return GOPE_OK; the body's error; GOPE_ERR_NOMEM. */
gope_status gope_ckw_section(FILE *f, const char *tag, uint32_t version, gope_ckw_body_fn body,
                             const void *obj, gope_err *err);

/* ------------------------------------------------------------- reading */

typedef struct {
    const unsigned char *data;
    size_t len, pos;   /* bytes of this range; read position inside it */
    size_t base;       /* file position of data[0] */
    const char *name;  /* the file, for messages */
} gope_ckr;

/* Each returns false, reading nothing, when fewer bytes are left. */
bool gope_ckr_u32(gope_ckr *r, uint32_t *v);
bool gope_ckr_u64(gope_ckr *r, uint64_t *v);
bool gope_ckr_i64(gope_ckr *r, int64_t *v);
bool gope_ckr_f64(gope_ckr *r, double *v);

/*! gope_ckr_str() : a string written by gope_ckw_str, copied into `buf`
 * (room for `size` bytes with the NUL); false when truncated or too long. */
bool gope_ckr_str(gope_ckr *r, char *buf, size_t size);

/*! gope_ckr_fail() : "NAME: byte N: WHAT" at the reader's position, as
 * GOPE_ERR_INPUT. @return GOPE_ERR_INPUT. */
gope_status gope_ckr_fail(const gope_ckr *r, gope_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*! gope_ckr_section() : the next section must be `tag` with a layout version
 * from 1 to `max_version`; *sub becomes a reader over its body and *version
 * its version; `r` moves past it.
 * @return GOPE_OK; GOPE_ERR_INPUT naming file, byte and what was found. */
gope_status gope_ckr_section(gope_ckr *r, const char *tag, uint32_t max_version, gope_ckr *sub,
                             uint32_t *version, gope_err *err);

/*! gope_ckr_end() : the reader must be at the end of its section.
 * @return GOPE_OK; GOPE_ERR_INPUT "N bytes left over in section TAG". */
gope_status gope_ckr_end(const gope_ckr *r, const char *tag, gope_err *err);

/* ----------------------------------------------------- state of the stages */

/* Section bodies of the pipeline's parts. A loader fills an object made
 * with the same configuration as the saved one, before any input. */
gope_status gope_windows_save(const void *win, FILE *f, gope_err *err);
gope_status gope_windows_load(gope_windows_t *win, gope_ckr *r, gope_err *err);
gope_status gope_dedupe_save(const void *d, FILE *f, gope_err *err);
gope_status gope_dedupe_load(gope_dedupe_t *d, gope_ckr *r, gope_err *err);

/* The stream clock's streams, for the CLCK section (ope/clock.c). States
 * as the clock keeps them; a stream that has delivered nothing (has_data
 * false) cannot be active. */
enum { GOPE_CLOCK_WAITING = 1, GOPE_CLOCK_ACTIVE = 2, GOPE_CLOCK_IDLE = 3 };

typedef struct {
    uint32_t stream;
    int state;        /* GOPE_CLOCK_* */
    bool has_data;
    int64_t max;      /* the largest ts delivered, when has_data */
} gope_clock_stream;

/*! gope_clock_span() : stream numbers below this may be present. */
size_t gope_clock_span(const gope_clock_t *c);

/*! gope_clock_get() : stream `s` into *out; false when absent. */
bool gope_clock_get(const gope_clock_t *c, uint32_t s, gope_clock_stream *out);

/*! gope_clock_put() : make stream in->stream present with exactly that
 * state (a restore: the clock's time is set apart, gope_clock_set_now).
 * @return GOPE_OK; GOPE_ERR_USAGE (number too large); GOPE_ERR_NOMEM. */
gope_status gope_clock_put(gope_clock_t *c, const gope_clock_stream *s, gope_err *err);

/*! gope_clock_set_now() : the clock's time as saved (it never moves back, so
 * it is not always the minimum of the streams restored). */
void gope_clock_set_now(gope_clock_t *c, int64_t now);

/* The streams' names read from a CLCK section (topics point into `topics`). */
typedef struct {
    gope_stream_name *v;
    size_t n;
    char *topics;
} gope_ckpt_names;

/*! gope_ckpt_clock_save() : append the CLCK section: the clock's time and
 * every present stream with its state and the name `names` gives it
 * (ope/ckpt_clock.c).
 * @return GOPE_OK; GOPE_ERR_USAGE naming a present stream that `names`
 *         lacks; GOPE_ERR_NOMEM. */
gope_status gope_ckpt_clock_save(FILE *f, const gope_clock_t *c, const gope_stream_name *names,
                                 size_t n_names, gope_err *err);

/*! gope_ckpt_clock_load() : read the CLCK section at `r` into `c` (a clock
 * without streams) and the names into *names (free with
 * gope_ckpt_names_free, also after an error).
 * @return GOPE_OK; GOPE_ERR_INPUT naming file and byte (truncated, an
 *         impossible state, a stream or partition given twice);
 *         GOPE_ERR_NOMEM. */
gope_status gope_ckpt_clock_load(gope_ckr *r, gope_clock_t *c, gope_ckpt_names *names,
                                 gope_err *err);

void gope_ckpt_names_free(gope_ckpt_names *names);

/*! gope_pipeline_save() : the pipeline's sections (configuration, counters,
 * dedupe, windows, reward join) appended to `f` (ope/pipeline_ckpt.c). The
 * clock's section needs the streams' names: the checkpoint writes it. */
gope_status gope_pipeline_save(const gope_pipeline_t *p, FILE *f, gope_err *err);

/*! gope_pipeline_load() : read the sections gope_pipeline_save wrote into a
 * pipeline that has seen no input, made with the same configuration.
 * @return GOPE_OK; GOPE_ERR_USAGE when the checkpoint was written with
 *         another configuration (window, lateness, dedupe horizon,
 *         estimators, policies, the reward join and its wait), naming it;
 *         GOPE_ERR_INPUT for a malformed section; GOPE_ERR_NOMEM. */
gope_status gope_pipeline_load(gope_pipeline_t *p, gope_ckr *r, gope_err *err);

#endif /* GOPE_CKPT_INT_H */
