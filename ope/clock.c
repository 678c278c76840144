/*
 * clock.c — the stream clock: the minimum, over the input streams that are
 * not idle, of the largest event time each has delivered (gope_ope.h has
 * the rules: waiting streams hold it, idle ones are left out, it never moves
 * back).
 *
 * Streams live in an array indexed by their number, since callers number
 * them densely (partitions). The minimum is kept in `now` and recomputed in
 * O(streams) only when it can change: when a stream changes state, or when
 * a stream whose time was at or below `now` moves up. A stream above `now`
 * cannot be the minimum (after each recomputation `now` >= the minimum), so
 * the common case — a stream that is ahead delivering more — costs nothing.
 */
#include "gope_ope.h"

#include <stdlib.h>

#include "ckpt_int.h"

enum { ABSENT = 0, WAITING = GOPE_CLOCK_WAITING, ACTIVE = GOPE_CLOCK_ACTIVE, IDLE = GOPE_CLOCK_IDLE };

typedef struct {
    unsigned char state;
    bool has_data;   /* delivered an event: `max` is meaningful */
    int64_t max;
} stream;

struct gope_clock_s {
    stream *s;
    size_t cap, present;
    int64_t now;
};

gope_status gope_clock_new(gope_clock_t **out, gope_err *err)
{
    gope_clock_t *c = calloc(1, sizeof *c);
    if (!c)
        return gope_err_set(err, GOPE_ERR_NOMEM, "stream clock: out of memory");
    c->now = INT64_MIN;
    *out = c;
    return GOPE_OK;
}

void gope_clock_free(gope_clock_t *c)
{
    if (!c)
        return;
    free(c->s);
    free(c);
}

/* The minimum over active streams, unless a waiting one holds the clock. */
static void recompute(gope_clock_t *c)
{
    bool any = false;
    int64_t min = INT64_MAX;
    for (size_t i = 0; i < c->cap; i++) {
        const stream *s = &c->s[i];
        if (s->state == WAITING)
            return;
        if (s->state == ACTIVE) {
            any = true;
            min = s->max < min ? s->max : min;
        }
    }
    if (any && min > c->now)
        c->now = min;
}

/* Stream `i` into *out, made present (WAITING) when absent. */
static gope_status slot(gope_clock_t *c, uint32_t i, stream **out, gope_err *err)
{
    if (i >= GOPE_CLOCK_MAX_STREAMS)
        return gope_err_set(err, GOPE_ERR_USAGE, "stream clock: stream %u is not below %u", i,
                            GOPE_CLOCK_MAX_STREAMS);
    if (i >= c->cap) {
        size_t cap = c->cap ? c->cap : 8;
        while (cap <= i)
            cap *= 2;
        stream *ns = realloc(c->s, cap * sizeof *ns);
        if (!ns)
            return gope_err_set(err, GOPE_ERR_NOMEM, "stream clock: out of memory");
        for (size_t k = c->cap; k < cap; k++)
            ns[k] = (stream){.state = ABSENT};
        c->s = ns;
        c->cap = cap;
    }
    stream *s = &c->s[i];
    if (s->state == ABSENT) {
        *s = (stream){.state = WAITING};
        c->present++;
    }
    *out = s;
    return GOPE_OK;
}

gope_status gope_clock_add(gope_clock_t *c, uint32_t i, gope_err *err)
{
    stream *s;
    return slot(c, i, &s, err);
}

void gope_clock_remove(gope_clock_t *c, uint32_t i)
{
    if (i >= c->cap || c->s[i].state == ABSENT)
        return;
    c->s[i] = (stream){.state = ABSENT};
    c->present--;
    recompute(c);
}

void gope_clock_idle(gope_clock_t *c, uint32_t i, bool idle)
{
    if (i >= c->cap || c->s[i].state == ABSENT)
        return;
    stream *s = &c->s[i];
    s->state = idle ? IDLE : s->has_data ? ACTIVE : WAITING;
    recompute(c);
}

gope_status gope_clock_observe(gope_clock_t *c, uint32_t i, int64_t ts, gope_err *err)
{
    stream *s = i < c->cap && c->s[i].state == ACTIVE ? &c->s[i] : NULL;
    if (s) { /* the hot path: an active stream delivers more */
        if (ts <= s->max)
            return GOPE_OK;
        bool was_low = s->max <= c->now;
        s->max = ts;
        if (was_low)
            recompute(c);
        return GOPE_OK;
    }
    gope_status st = slot(c, i, &s, err);
    if (st != GOPE_OK)
        return st;
    if (!s->has_data || ts > s->max)
        s->max = ts;
    s->has_data = true;
    s->state = ACTIVE;
    recompute(c);
    return GOPE_OK;
}

int64_t gope_clock_now(const gope_clock_t *c) { return c->now; }

size_t gope_clock_streams(const gope_clock_t *c) { return c->present; }

/* ------------------------------------------------ checkpoints (ckpt_int.h) */

size_t gope_clock_span(const gope_clock_t *c) { return c->cap; }

bool gope_clock_get(const gope_clock_t *c, uint32_t i, gope_clock_stream *out)
{
    if (i >= c->cap || c->s[i].state == ABSENT)
        return false;
    const stream *s = &c->s[i];
    *out = (gope_clock_stream){.stream = i, .state = s->state, .has_data = s->has_data,
                               .max = s->max};
    return true;
}

gope_status gope_clock_put(gope_clock_t *c, const gope_clock_stream *in, gope_err *err)
{
    stream *s = NULL;
    gope_status st = slot(c, in->stream, &s, err);
    if (st != GOPE_OK)
        return st;
    *s = (stream){.state = (unsigned char)in->state, .has_data = in->has_data, .max = in->max};
    return GOPE_OK;
}

void gope_clock_set_now(gope_clock_t *c, int64_t now) { c->now = now; }
