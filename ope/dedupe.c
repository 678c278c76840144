/*
 * dedupe.c — duplicate event_id detection over a bounded event-time horizon.
 *
 * Keeping every id ever seen would make memory grow with the log, so an id is
 * remembered for `horizon` of event time after the largest ts seen. Ids are
 * stored as two independent 64-bit hashes (128 bits: a false duplicate needs
 * ~2^64 ids in the horizon), which keeps an entry at 24 bytes whatever the id
 * length, and a table slot, which needs no ts, at 16 (a slot never straddles
 * two cache lines, and the table fits more of them in cache).
 *
 * Structure: an open-addressing table (linear probing, backward-shift
 * deletion, so no tombstones) plus a FIFO of the same entries in insertion
 * order. Expiry pops the FIFO while its head is older than the horizon. Events
 * arrive roughly in time order, so the FIFO head is close to the oldest entry;
 * an out-of-order old entry behind a newer head merely lives a little longer.
 */
#include "gope_ope.h"

#include <stdlib.h>
#include <string.h>

#include "ckpt_int.h"

typedef struct {
    uint64_t h1, h2; /* h1 == 0 marks an empty slot (h1 is forced non-zero) */
} key;

typedef struct {
    key k;
    int64_t ts;
} entry;

struct gope_dedupe_s {
    int64_t horizon, max_ts;
    key *slots;
    size_t mask, used;  /* capacity = mask + 1, a power of two */
    entry *fifo;        /* ring buffer */
    size_t head, count, fifo_cap; /* fifo_cap: a power of two (see fifo_at) */
};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* The two hashes of an id, one pass over its bytes: seeds 0x243f6a88... (h1)
 * and 0x13198a2e... (h2). They are saved in checkpoints, so the function of
 * the bytes must never change. */
static entry make_entry(const char *id, size_t len, int64_t ts)
{
    const uint64_t step = 0x9e3779b97f4a7c15ULL;
    uint64_t h1 = 0x243f6a8885a308d3ULL ^ (len * step);
    uint64_t h2 = 0x13198a2e03707344ULL ^ (len * step);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, id + i, 8);
        h1 = mix(h1 ^ word) + step;
        h2 = mix(h2 ^ word) + step;
    }
    uint64_t tail = 0;
    memcpy(&tail, id + i, len - i);
    tail ^= (uint64_t)(len - i) << 56;
    entry e = {{mix(h1 ^ tail), mix(h2 ^ tail)}, ts};
    if (e.k.h1 == 0)
        e.k.h1 = 1;
    return e;
}

/* Position i of the FIFO, counted from its head. The capacity starts at a
 * power of two and only doubles, so a mask replaces the division of `%`. */
static size_t fifo_at(const gope_dedupe_t *d, size_t i)
{
    return (d->head + i) & (d->fifo_cap - 1);
}

gope_dedupe_t *gope_dedupe_new(int64_t horizon_ms)
{
    gope_dedupe_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->horizon = horizon_ms;
    d->max_ts = INT64_MIN;
    d->mask = 1023;
    d->fifo_cap = 512;
    d->slots = calloc(d->mask + 1, sizeof *d->slots);
    d->fifo = malloc(d->fifo_cap * sizeof *d->fifo);
    if (!d->slots || !d->fifo) {
        gope_dedupe_free(d);
        return NULL;
    }
    return d;
}

void gope_dedupe_free(gope_dedupe_t *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d->fifo);
    free(d);
}

/* Slot holding `k`, or the empty slot where it would go. */
static size_t find_slot(const gope_dedupe_t *d, const key *k)
{
    size_t i = k->h2 & d->mask;
    while (d->slots[i].h1 && (d->slots[i].h1 != k->h1 || d->slots[i].h2 != k->h2))
        i = (i + 1) & d->mask;
    return i;
}

bool gope_dedupe_seen(const gope_dedupe_t *d, const char *id, size_t len)
{
    entry e = make_entry(id, len, 0);
    return d->slots[find_slot(d, &e.k)].h1 != 0;
}

static void table_remove(gope_dedupe_t *d, const key *k)
{
    size_t i = find_slot(d, k);
    if (!d->slots[i].h1)
        return;
    /* backward-shift: pull later members of the probe run into the hole */
    size_t j = i;
    for (;;) {
        j = (j + 1) & d->mask;
        if (!d->slots[j].h1)
            break;
        size_t home = d->slots[j].h2 & d->mask;
        if (((j - home) & d->mask) >= ((j - i) & d->mask)) {
            d->slots[i] = d->slots[j];
            i = j;
        }
    }
    d->slots[i].h1 = 0;
    d->used--;
}

static gope_status grow_table(gope_dedupe_t *d, gope_err *err)
{
    size_t old_cap = d->mask + 1;
    key *old = d->slots;
    key *slots = calloc(old_cap * 2, sizeof *slots);
    if (!slots)
        return gope_err_set(err, GOPE_ERR_NOMEM, "dedupe: out of memory");
    d->slots = slots;
    d->mask = old_cap * 2 - 1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].h1)
            d->slots[find_slot(d, &old[i])] = old[i];
    free(old);
    return GOPE_OK;
}

static gope_status grow_fifo(gope_dedupe_t *d, gope_err *err)
{
    entry *f = malloc(d->fifo_cap * 2 * sizeof *f);
    if (!f)
        return gope_err_set(err, GOPE_ERR_NOMEM, "dedupe: out of memory");
    for (size_t i = 0; i < d->count; i++)
        f[i] = d->fifo[fifo_at(d, i)];
    free(d->fifo);
    d->fifo = f;
    d->head = 0;
    d->fifo_cap *= 2;
    return GOPE_OK;
}

static void expire(gope_dedupe_t *d)
{
    while (d->count && d->fifo[d->head].ts < d->max_ts - d->horizon) {
        table_remove(d, &d->fifo[d->head].k);
        d->head = fifo_at(d, 1);
        d->count--;
    }
}

/* Remember `e` (table and FIFO tail) unless its key is there; *added says
 * which. */
static gope_status add_entry(gope_dedupe_t *d, const entry *e, bool *added, gope_err *err)
{
    gope_status st;
    *added = false;
    if ((d->used + 1) * 2 > d->mask + 1 && (st = grow_table(d, err)) != GOPE_OK)
        return st;
    if (d->count == d->fifo_cap && (st = grow_fifo(d, err)) != GOPE_OK)
        return st;
    size_t i = find_slot(d, &e->k);
    if (d->slots[i].h1)
        return GOPE_OK; /* already present */
    d->slots[i] = e->k;
    d->used++;
    d->fifo[fifo_at(d, d->count)] = *e;
    d->count++;
    *added = true;
    return GOPE_OK;
}

gope_status gope_dedupe_insert(gope_dedupe_t *d, const char *id, size_t len,
                               int64_t ts, gope_err *err)
{
    if (ts > d->max_ts) {
        d->max_ts = ts;
        expire(d);
    }
    entry e = make_entry(id, len, ts);
    bool added;
    return add_entry(d, &e, &added, err);
}

size_t gope_dedupe_size(const gope_dedupe_t *d) { return d->used; }

/* ------------------------------------------------------------ checkpoints
 * Body of section DEDU: the horizon, the largest ts, then the remembered ids
 * (their two hashes and ts) in FIFO order, so that a restored set expires
 * them in the same order as the one saved. */

gope_status gope_dedupe_save(const void *obj, FILE *f, gope_err *err)
{
    const gope_dedupe_t *d = obj;
    (void)err;
    gope_ckw_i64(f, d->horizon);
    gope_ckw_i64(f, d->max_ts);
    gope_ckw_u64(f, d->count);
    for (size_t i = 0; i < d->count; i++) {
        const entry *e = &d->fifo[fifo_at(d, i)];
        gope_ckw_u64(f, e->k.h1);
        gope_ckw_u64(f, e->k.h2);
        gope_ckw_i64(f, e->ts);
    }
    return GOPE_OK;
}

gope_status gope_dedupe_load(gope_dedupe_t *d, gope_ckr *r, gope_err *err)
{
    int64_t horizon;
    uint64_t n;
    if (!gope_ckr_i64(r, &horizon) || !gope_ckr_i64(r, &d->max_ts) || !gope_ckr_u64(r, &n))
        return gope_ckr_fail(r, err, "truncated: dedupe header");
    if (horizon != d->horizon)
        return gope_ckr_fail(r, err, "dedupe horizon %lld ms, this run has %lld ms",
                             (long long)horizon, (long long)d->horizon);
    if (n > (r->len - r->pos) / 24)
        return gope_ckr_fail(r, err, "%llu ids do not fit in the section", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        entry e;
        gope_ckr_u64(r, &e.k.h1);
        gope_ckr_u64(r, &e.k.h2);
        gope_ckr_i64(r, &e.ts);
        bool added = false;
        gope_status st = e.k.h1 ? add_entry(d, &e, &added, err) : GOPE_OK;
        if (st != GOPE_OK)
            return st;
        if (!added) {
            r->pos -= 24;
            return gope_ckr_fail(r, err, "dedupe id %llu: empty or repeated",
                                 (unsigned long long)i);
        }
    }
    return GOPE_OK;
}
