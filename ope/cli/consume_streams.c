/*
 * consume_streams.c — partitions to window-clock streams (consume_streams.h).
 * A consumer has a handful of partitions, so the table is an array searched
 * linearly; the entry of the previous message is tried first, since
 * librdkafka hands out a partition's messages a batch at a time.
 */
#include "consume_streams.h"

#include <stdlib.h>
#include <string.h>

static gope_cstream *find(gope_cstreams *s, const char *topic, int32_t partition)
{
    if (s->last < s->n && s->v[s->last].partition == partition &&
        strcmp(s->v[s->last].topic, topic) == 0)
        return &s->v[s->last];
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].partition == partition && strcmp(s->v[i].topic, topic) == 0) {
            s->last = i;
            return &s->v[i];
        }
    return NULL;
}

/* A new entry for topic/partition under `stream`. */
static gope_status add(gope_cstreams *s, const char *topic, int32_t partition, uint32_t stream,
                       gope_cstream **out, gope_err *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        gope_cstream *nv = realloc(s->v, cap * sizeof *nv);
        if (nv)
            s->v = nv;
        gope_stream_name *nn = nv ? realloc(s->names, cap * sizeof *nn) : NULL;
        if (!nn)
            return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
        s->names = nn;
        s->cap = cap;
    }
    gope_cstream *e = &s->v[s->n];
    *e = (gope_cstream){.partition = partition, .stream = stream};
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    s->last = s->n++;
    if (stream >= s->next_stream)
        s->next_stream = stream + 1;
    *out = e;
    return GOPE_OK;
}

/* The entry of topic/partition, numbered anew when first met. */
static gope_status get(gope_cstreams *s, const char *topic, int32_t partition,
                       gope_cstream **out, gope_err *err)
{
    *out = find(s, topic, partition);
    return *out ? GOPE_OK : add(s, topic, partition, s->next_stream, out, err);
}

gope_status gope_cstreams_seed(gope_cstreams *s, const gope_stream_name *names, size_t n,
                               double now, gope_err *err)
{
    for (size_t i = 0; i < n; i++) {
        gope_cstream *e = NULL;
        gope_status st = add(s, names[i].topic, names[i].partition, names[i].stream, &e, err);
        if (st != GOPE_OK)
            return st;
        e->held = true;
        e->last_ms = now;
    }
    return GOPE_OK;
}

gope_status gope_cstreams_partition(gope_cstreams *s, const char *topic, int32_t partition,
                                    bool assigned, double now, gope_err *err)
{
    gope_cstream *e = NULL;
    gope_status st = get(s, topic, partition, &e, err);
    if (st != GOPE_OK || !s->pl)
        return st;
    e->held = assigned;
    e->idle = false;
    e->last_ms = now;
    return assigned ? gope_pipeline_stream_add(s->pl, e->stream, err)
                    : gope_pipeline_stream_remove(s->pl, e->stream, err);
}

gope_status gope_cstreams_message(gope_cstreams *s, const char *topic, int32_t partition,
                                  double now, uint32_t *stream, gope_err *err)
{
    gope_cstream *e = NULL;
    gope_status st = get(s, topic, partition, &e, err);
    if (st != GOPE_OK)
        return st;
    e->held = true; /* the pipeline adds a stream it has not seen */
    e->idle = false;
    e->last_ms = now;
    *stream = e->stream;
    return GOPE_OK;
}

/* The held, still active stream silent longest, if silent for idle_ms up to
 * `now`; NULL when there is none. */
static gope_cstream *oldest_silent(gope_cstreams *s, double now)
{
    gope_cstream *old = NULL;
    for (size_t i = 0; i < s->n; i++) {
        gope_cstream *e = &s->v[i];
        if (e->held && !e->idle && now - e->last_ms >= (double)s->idle_ms &&
            (!old || e->last_ms < old->last_ms))
            old = e;
    }
    return old;
}

/* Streams that went silent between two checks are marked in the order they
 * went silent, as a finer check would have, so the clock first follows the
 * ones still active. (In table order, a partition that had only a backlog,
 * read at once, and an empty one could go idle together, the backlog's
 * first: every stream idle, the clock would stay where it was.) */
gope_status gope_cstreams_idle(gope_cstreams *s, double now, bool *changed, gope_err *err)
{
    *changed = false;
    if (!s->idle_ms || !s->pl)
        return GOPE_OK;
    gope_cstream *e;
    while ((e = oldest_silent(s, now))) {
        e->idle = true;
        *changed = true;
        gope_status st = gope_pipeline_stream_idle(s->pl, e->stream, true, err);
        if (st != GOPE_OK)
            return st;
    }
    return GOPE_OK;
}

const gope_stream_name *gope_cstreams_names(gope_cstreams *s, size_t *n)
{
    for (size_t i = 0; i < s->n; i++)
        s->names[i] = (gope_stream_name){.topic = s->v[i].topic,
                                         .partition = s->v[i].partition,
                                         .stream = s->v[i].stream};
    *n = s->n;
    return s->names;
}

void gope_cstreams_free(gope_cstreams *s)
{
    free(s->v);
    free(s->names);
    *s = (gope_cstreams){0};
}
