/*
 * calibrate_ids.c — dense numbers for user and streamer ids (calibrate.h).
 *
 * Calibration counts distinct users and streamers and keeps a few numbers
 * per id, so each id string becomes a dense index 0, 1, 2, ... in order of
 * first appearance. The map keeps 64-bit hashes, not the strings: a log of
 * ten million users then costs 16 bytes a user, and two ids share a hash
 * with probability about n^2 / 2^65 (3e-6 for n = 10^7), which would merge
 * two users into one — far below anything the fit can resolve. (Dedupe
 * keeps 128 bits because a collision there drops an event.)
 *
 * Open addressing with linear probing, grown at half load; hash 0 marks an
 * empty slot, so a key that hashes to 0 is stored as 1.
 */
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "sim_int.h"

typedef struct {
    uint64_t key;
    uint32_t index;
} slot;

struct gope_calib_ids_s {
    slot *slots;
    size_t cap; /* a power of two */
    size_t n;
};

/* Eight bytes at a time through the SplitMix64 finaliser, the length in
 * the last word so "a" and "a\0" differ. */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = gope_sim__mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, len - i);
    h = gope_sim__mix64(h ^ tail ^ ((uint64_t)len << 56));
    return h ? h : 1;
}

gope_calib_ids_t *gope_calib_ids_new(void)
{
    gope_calib_ids_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 1024;
    if (!(m->slots = calloc(m->cap, sizeof *m->slots))) {
        free(m);
        return NULL;
    }
    return m;
}

void gope_calib_ids_free(gope_calib_ids_t *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

size_t gope_calib_ids_count(const gope_calib_ids_t *m) { return m->n; }

static slot *find(slot *slots, size_t cap, uint64_t key)
{
    size_t i = (size_t)key & (cap - 1);
    while (slots[i].key && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static bool grow(gope_calib_ids_t *m)
{
    const size_t cap = 2 * m->cap;
    slot *s = calloc(cap, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *find(s, cap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return true;
}

int64_t gope_calib_ids_get(gope_calib_ids_t *m, const char *s, size_t len, bool *is_new)
{
    const uint64_t key = hash_bytes(s, len);
    slot *at = find(m->slots, m->cap, key);
    *is_new = !at->key;
    if (at->key)
        return at->index;
    if (m->n >= UINT32_MAX)
        return -1;
    if (2 * (m->n + 1) > m->cap) {
        if (!grow(m))
            return -1;
        at = find(m->slots, m->cap, key);
    }
    *at = (slot){key, (uint32_t)m->n};
    return (int64_t)m->n++;
}
