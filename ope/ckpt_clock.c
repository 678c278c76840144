/*
 * ckpt_clock.c — the CLCK section of a checkpoint: the stream clock, each
 * stream under its number and the Kafka partition it stands for.
 *
 * Body (layout version 1, ckpt_int.h conventions):
 *   i64 clock time (INT64_MIN: not started)
 *   u32 streams, then each: u32 number, str topic, u32 partition,
 *                           u32 state (1 waiting, 2 active, 3 idle),
 *                           u32 has_data (0 or 1), i64 largest ts
 * The name travels with the number because the numbers are the consumer's
 * (the order it first met each partition): a restored run must give the
 * same partition the same number, or another partition's messages would
 * move a stream's time. The clock's time is saved too, since it never moves
 * back and may stand above the minimum of the streams left (a revoked
 * partition took the minimum with it).
 */
#include <stdlib.h>
#include <string.h>

#include "ckpt_int.h"

#define CLCK_V 1
#define MAX_TOPIC 249 /* Kafka's limit on topic names */
#define MIN_ENTRY 32  /* bytes of an entry with an empty topic */

typedef struct {
    const gope_clock_t *c;
    const gope_stream_name *names;
    size_t n;
} clock_names;

static const gope_stream_name *name_of(const clock_names *cn, uint32_t stream)
{
    for (size_t i = 0; i < cn->n; i++)
        if (cn->names[i].stream == stream)
            return &cn->names[i];
    return NULL;
}

static gope_status body_save(const void *obj, FILE *f, gope_err *err)
{
    const clock_names *cn = obj;
    uint32_t n = 0;
    gope_clock_stream s;
    for (size_t i = 0; i < gope_clock_span(cn->c); i++)
        if (gope_clock_get(cn->c, (uint32_t)i, &s)) {
            if (!name_of(cn, s.stream))
                return gope_err_set(err, GOPE_ERR_USAGE,
                                    "checkpoint: stream %u of the clock has no partition name",
                                    s.stream);
            n++;
        }
    gope_ckw_i64(f, gope_clock_now(cn->c));
    gope_ckw_u32(f, n);
    for (size_t i = 0; i < gope_clock_span(cn->c); i++) {
        if (!gope_clock_get(cn->c, (uint32_t)i, &s))
            continue;
        const gope_stream_name *nm = name_of(cn, s.stream);
        gope_ckw_u32(f, s.stream);
        gope_ckw_str(f, nm->topic);
        gope_ckw_u32(f, (uint32_t)nm->partition);
        gope_ckw_u32(f, (uint32_t)s.state);
        gope_ckw_u32(f, s.has_data);
        gope_ckw_i64(f, s.max);
    }
    return GOPE_OK;
}

gope_status gope_ckpt_clock_save(FILE *f, const gope_clock_t *c, const gope_stream_name *names,
                                 size_t n_names, gope_err *err)
{
    clock_names cn = {c, names, n_names};
    return gope_ckw_section(f, "CLCK", CLCK_V, body_save, &cn, err);
}

/* Stream i of the section is new: neither its number nor its partition
 * came before. */
static bool is_new(const gope_ckpt_names *names, const gope_stream_name *nm)
{
    for (size_t i = 0; i < names->n; i++)
        if (names->v[i].stream == nm->stream ||
            (names->v[i].partition == nm->partition && strcmp(names->v[i].topic, nm->topic) == 0))
            return false;
    return true;
}

/* One entry into the clock and the names. */
static gope_status entry_load(gope_ckr *r, gope_clock_t *c, gope_ckpt_names *names,
                              gope_err *err)
{
    size_t at = r->pos;
    char *topic = names->topics + names->n * (MAX_TOPIC + 1);
    uint32_t stream, part, state, has_data;
    int64_t max;
    if (!gope_ckr_u32(r, &stream) || !gope_ckr_str(r, topic, MAX_TOPIC + 1) ||
        !gope_ckr_u32(r, &part) || !gope_ckr_u32(r, &state) || !gope_ckr_u32(r, &has_data) ||
        !gope_ckr_i64(r, &max))
        return gope_ckr_fail(r, err, "stream %zu: truncated or topic name too long", names->n);
    gope_stream_name nm = {.topic = topic, .partition = (int32_t)part, .stream = stream};
    bool ok = *topic && part <= INT32_MAX && stream < GOPE_CLOCK_MAX_STREAMS &&
              state >= GOPE_CLOCK_WAITING && state <= GOPE_CLOCK_IDLE && has_data <= 1 &&
              (has_data || state != GOPE_CLOCK_ACTIVE) && is_new(names, &nm);
    if (!ok) {
        r->pos = at;
        return gope_ckr_fail(r, err,
                             "stream %u (\"%s\"/%u, state %u, has_data %u) is impossible or "
                             "given twice", stream, topic, part, state, has_data);
    }
    gope_clock_stream s = {.stream = stream, .state = (int)state, .has_data = has_data,
                           .max = max};
    gope_status st = gope_clock_put(c, &s, err);
    if (st != GOPE_OK)
        return st;
    names->v[names->n++] = nm;
    return GOPE_OK;
}

gope_status gope_ckpt_clock_load(gope_ckr *r, gope_clock_t *c, gope_ckpt_names *names,
                                 gope_err *err)
{
    gope_ckr sub;
    uint32_t version, n;
    int64_t now;
    gope_status st = gope_ckr_section(r, "CLCK", CLCK_V, &sub, &version, err);
    if (st != GOPE_OK)
        return st;
    if (!gope_ckr_i64(&sub, &now) || !gope_ckr_u32(&sub, &n))
        return gope_ckr_fail(&sub, err, "truncated: clock");
    if (n > (sub.len - sub.pos) / MIN_ENTRY)
        return gope_ckr_fail(&sub, err, "%u streams do not fit in the section", n);
    names->v = calloc(n ? n : 1, sizeof *names->v);
    names->topics = malloc((size_t)n * (MAX_TOPIC + 1) + 1);
    if (!names->v || !names->topics)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", r->name);
    for (uint32_t i = 0; i < n; i++)
        if ((st = entry_load(&sub, c, names, err)))
            return st;
    gope_clock_set_now(c, now);
    return gope_ckr_end(&sub, "CLCK", err);
}

void gope_ckpt_names_free(gope_ckpt_names *names)
{
    free(names->v);
    free(names->topics);
    *names = (gope_ckpt_names){0};
}
