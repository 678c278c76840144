/*
 * rooms.c — who is in which room. Load (viewers present) drives the capacity
 * externality and the policies' crowding term; whales present is logged for
 * whale-aware policies; big gifts (N_s) drive the crowding of donors. Big
 * gifts never decay within a run, as in Simulator V2.
 */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

gope_status gope_sim__rooms_init(gope_sim_rooms *r, uint32_t n_streamers)
{
    memset(r, 0, sizeof *r);
    r->n = n_streamers;
    r->load = calloc(n_streamers, sizeof *r->load);
    r->whales = calloc(n_streamers, sizeof *r->whales);
    r->big_gifts = calloc(n_streamers, sizeof *r->big_gifts);
    r->big = malloc(n_streamers * sizeof *r->big);
    if (r->load && r->whales && r->big_gifts && r->big)
        return GOPE_OK;
    gope_sim__rooms_free(r);
    return GOPE_ERR_NOMEM;
}

void gope_sim__rooms_free(gope_sim_rooms *r)
{
    free(r->load);
    free(r->whales);
    free(r->big_gifts);
    free(r->big);
    free(r->heap);
    memset(r, 0, sizeof *r);
}

void gope_sim__rooms_clear(gope_sim_rooms *r)
{
    memset(r->load, 0, r->n * sizeof *r->load);
    memset(r->whales, 0, r->n * sizeof *r->whales);
}

static void leave(gope_sim_rooms *r, const gope_sim_leave *v)
{
    r->load[v->streamer]--;
    r->whales[v->streamer] -= v->whale;
}

/* Pops every departure due by t. Simultaneous departures leave in heap
 * order, which changes no count. */
size_t gope_sim__rooms_advance(gope_sim_rooms *r, double t)
{
    gope_sim_leave *h = r->heap;
    size_t left = 0;
    for (; r->heap_n > 0 && h[0].t <= t; left++) {
        leave(r, &h[0]);
        h[0] = h[--r->heap_n];
        for (size_t i = 0;;) { /* sift down */
            size_t m = i, a = 2 * i + 1, b = a + 1;
            if (a < r->heap_n && h[a].t < h[m].t)
                m = a;
            if (b < r->heap_n && h[b].t < h[m].t)
                m = b;
            if (m == i)
                break;
            gope_sim_leave tmp = h[i];
            h[i] = h[m];
            h[m] = tmp;
            i = m;
        }
    }
    return left;
}

static gope_status push(gope_sim_rooms *r, gope_sim_leave v)
{
    if (r->heap_n == r->heap_cap) {
        size_t cap = r->heap_cap ? 2 * r->heap_cap : 256;
        gope_sim_leave *h = realloc(r->heap, cap * sizeof *h);
        if (!h)
            return GOPE_ERR_NOMEM;
        r->heap = h;
        r->heap_cap = cap;
    }
    size_t i = r->heap_n++;
    while (i > 0 && r->heap[(i - 1) / 2].t > v.t) { /* sift up */
        r->heap[i] = r->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->heap[i] = v;
    return GOPE_OK;
}

gope_status gope_sim__rooms_enter(gope_sim_rooms *r, uint32_t streamer, bool whale,
                                  bool dwell, double leave_t)
{
    if (dwell) {
        gope_status st = push(r, (gope_sim_leave){leave_t, streamer, whale});
        if (st != GOPE_OK)
            return st;
    }
    r->load[streamer]++;
    r->whales[streamer] += whale;
    return GOPE_OK;
}

void gope_sim__rooms_big_gift(gope_sim_rooms *r, uint32_t streamer)
{
    if (r->big_gifts[streamer]++ == 0)
        r->big[r->n_big++] = streamer;
}
