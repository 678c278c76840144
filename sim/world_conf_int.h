/*
 * world_conf_int.h — the world.v1 field table shared by the parser
 * (world_parse.c), the writer and the validator (world_conf.c).
 *
 * One row per JSON field, in the order world.v1 writes them: its group and
 * name, the C type and offset of the gope_world_conf member, and its
 * per-value rule. Parse, JSON output and the per-field half of validation all
 * walk this table, so adding a field is one row (plus the schema and docs);
 * the rules that tie fields together (tiers increasing, tier_base summing to
 * 1, round_users <= users.count, ...) are code in world_conf.c. "schema",
 * "name" and "base" sit at the top level and are not rows.
 */
#ifndef GOPE_WORLD_CONF_INT_H
#define GOPE_WORLD_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "gope_sim.h"

typedef enum {
    GOPE_WF_U32,     /* uint32_t, integral JSON number in [min, max] */
    GOPE_WF_I64,     /* int64_t, integral JSON number in [min, max] */
    GOPE_WF_REAL,    /* double, or double[n] as a JSON array of n numbers */
    GOPE_WF_BOOL,    /* bool, JSON true/false */
    GOPE_WF_SESSION, /* gope_session_mode, JSON "round" | "dwell" */
} gope_wf_type;

/* Per-value rule of a GOPE_WF_REAL (every real must also be finite). */
typedef enum {
    GOPE_WR_ANY,      /* any finite number */
    GOPE_WR_POSITIVE, /* > 0 */
    GOPE_WR_NONNEG,   /* >= 0 */
    GOPE_WR_UNIT,     /* in [0, 1] */
    GOPE_WR_HOUR,     /* in [0, 24) */
} gope_wr_rule;

typedef struct {
    const char *group; /* "users", "streamers", ... */
    const char *key;   /* name inside the group */
    gope_wf_type type;
    size_t offset;     /* of the member in gope_world_conf */
    unsigned n;        /* GOPE_WF_REAL: elements (1 = scalar, > 1 = array) */
    gope_wr_rule rule; /* GOPE_WF_REAL */
    int64_t min, max;  /* GOPE_WF_U32 / GOPE_WF_I64 */
} gope_world_field;

/* The largest integer a JSON number keeps exactly through a double (2^53). */
#define GOPE_WORLD_MAX_EXACT_INT 9007199254740992LL

#define GOPE_WORLD_N_SESSIONS 2

/* The field table (*n rows). */
const gope_world_field *gope_world__fields(size_t *n);

/* "round" / "dwell"; NULL for a value out of the enum. */
const char *gope_world__session_name(gope_session_mode m);

/* `v` in the shortest of %.15g..%.17g that reads back exactly, for
 * messages ("got 1" must never hide 1.0000000000000002); returns buf. */
const char *gope_world__num(double v, char buf[32]);

/* "users.count" or "amount.tiers[3]" (index < 0: no index) into buf. */
void gope_world__path(const gope_world_field *f, int index, char *buf, size_t size);

/* GOPE_ERR_USAGE with "<prefix>: <message>", the shape of every world.v1
 * message (prefix: the source file, or "world.v1" for a struct).
 * @return GOPE_ERR_USAGE. */
gope_status gope_world__fail(gope_err *err, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Range check of an integer field's value `v` (already known integral):
 * GOPE_OK, or GOPE_ERR_USAGE "<prefix>: users.count must be 1..10000000,
 * got 0". The parser calls it before storing, so a value the member's type
 * cannot hold never reaches the struct. */
gope_status gope_world__check_int(const gope_world_field *f, double v, const char *prefix,
                                  gope_err *err);

/* gope_world_validate() with messages starting "<prefix>: " (the source
 * file when parsing). */
gope_status gope_world__validate(const gope_world_conf *c, const char *prefix, gope_err *err);

#endif /* GOPE_WORLD_CONF_INT_H */
