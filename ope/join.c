/*
 * join.c — decisions and the rewards that arrive later, joined by event_id
 * in event time (the rules are in gope_ope.h, "reward join").
 *
 * Why the criterion is |reward ts - decision ts| <= wait, and not "arrived
 * while the decision was pending": it makes the result independent of the
 * order in which the two streams interleave (a reward topic read ahead of or
 * behind the decisions' topic), as long as events respect --lateness. Each
 * side is kept until the clock passes its own ts + wait, which is exactly as
 * long as a partner within the wait can still come.
 *
 * Rewards held for one event_id are summed in arrival order when their
 * decision comes (not in hash-chain order, which a save and load reshuffles),
 * so the compensated sum is the same after a restore.
 */
#include "join_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Waits beyond this keep ts + wait far from int64 overflow (windows.c too). */
#define MAX_WAIT_MS (INT64_C(1000) * 366 * 86400000)

static uint64_t hash_id(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, then a finaliser for the low bits */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93u;
    return h ^ (h >> 32);
}

gope_status gope_join_new(const gope_join_conf *conf, gope_join_t **out, gope_err *err)
{
    if (conf->wait_ms < 0 || conf->wait_ms > MAX_WAIT_MS)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "--reward-wait must be between 0 and 1000 years (got %lld ms)",
                            (long long)conf->wait_ms);
    if (conf->n_obs == 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "reward join: no policy to observe");
    gope_join_t *j = calloc(1, sizeof *j);
    if (!j)
        goto nomem;
    j->conf = *conf;
    j->free_head = GOPE_JOIN_NIL;
    j->mask = 63;
    j->buckets = malloc((j->mask + 1) * sizeof *j->buckets);
    if (!j->buckets)
        goto nomem;
    for (size_t i = 0; i <= j->mask; i++)
        j->buckets[i] = GOPE_JOIN_NIL;
    *out = j;
    return GOPE_OK;
nomem:
    gope_join_free(j);
    return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
}

void gope_join_free(gope_join_t *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->cap; i++)
        free(j->recs[i].blob);
    free(j->recs);
    free(j->obs);
    free(j->buckets);
    free(j->dec.at);
    free(j->rew.at);
    free(j->scratch);
    free(j);
}

/* ------------------------------------------------------------------ heaps */

static bool before(const gope_join_t *j, uint32_t a, uint32_t b)
{
    const gope_jrec *x = &j->recs[a], *y = &j->recs[b];
    return x->ts < y->ts || (x->ts == y->ts && x->seq < y->seq);
}

static void heap_put(gope_join_t *j, gope_jheap *h, size_t i, uint32_t r)
{
    h->at[i] = r;
    j->recs[r].heap_at = (uint32_t)i;
}

static void sift_up(gope_join_t *j, gope_jheap *h, size_t i)
{
    uint32_t r = h->at[i];
    while (i > 0 && before(j, r, h->at[(i - 1) / 2])) {
        heap_put(j, h, i, h->at[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(j, h, i, r);
}

static void sift_down(gope_join_t *j, gope_jheap *h, size_t i)
{
    uint32_t r = h->at[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(j, h->at[c + 1], h->at[c]))
            c++;
        if (!before(j, h->at[c], r))
            break;
        heap_put(j, h, i, h->at[c]);
        i = c;
    }
    heap_put(j, h, i, r);
}

static void heap_remove(gope_join_t *j, gope_jheap *h, size_t i)
{
    uint32_t last = h->at[--h->n];
    if (i == h->n)
        return;
    heap_put(j, h, i, last);
    sift_down(j, h, i);
    sift_up(j, h, j->recs[last].heap_at);
}

static gope_status heap_reserve(gope_jheap *h, gope_err *err)
{
    if (h->n < h->cap)
        return GOPE_OK;
    size_t cap = h->cap ? h->cap * 2 : 64;
    uint32_t *at = realloc(h->at, cap * sizeof *at);
    if (!at)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
    h->at = at;
    h->cap = cap;
    return GOPE_OK;
}

/* ------------------------------------------------------------------ table */

/* One more free record slot (and its observations). */
static gope_status reserve_slot(gope_join_t *j, gope_err *err)
{
    if (j->free_head != GOPE_JOIN_NIL)
        return GOPE_OK;
    size_t cap = j->cap ? j->cap * 2 : 64;
    if (cap >= GOPE_JOIN_NIL)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: too many events inside the wait");
    gope_jrec *recs = realloc(j->recs, cap * sizeof *recs);
    if (!recs)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
    j->recs = recs; /* bigger is harmless if the second realloc fails */
    gope_obs *obs = realloc(j->obs, cap * j->conf.n_obs * sizeof *obs);
    if (!obs)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
    j->obs = obs;
    for (size_t i = cap; i-- > j->cap;) {
        j->recs[i] = (gope_jrec){.kind = GOPE_JREC_FREE, .next = j->free_head};
        j->free_head = (uint32_t)i;
    }
    j->cap = cap;
    return GOPE_OK;
}

/* Keep at most one record per bucket on average. */
static gope_status reserve_bucket(gope_join_t *j, gope_err *err)
{
    if (j->live < j->mask + 1)
        return GOPE_OK;
    size_t n = (j->mask + 1) * 2;
    uint32_t *b = malloc(n * sizeof *b);
    if (!b)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
    for (size_t i = 0; i < n; i++)
        b[i] = GOPE_JOIN_NIL;
    for (size_t r = 0; r < j->cap; r++) {
        gope_jrec *x = &j->recs[r];
        if (x->kind == GOPE_JREC_FREE)
            continue;
        x->next = b[x->hash & (n - 1)];
        b[x->hash & (n - 1)] = (uint32_t)r;
    }
    free(j->buckets);
    j->buckets = b;
    j->mask = n - 1;
    return GOPE_OK;
}

gope_status gope_join_insert(gope_join_t *j, int kind, const char *id, size_t len, int64_t ts,
                             uint64_t seq, uint32_t *at, gope_err *err)
{
    gope_jheap *h = kind == GOPE_JREC_DECISION ? &j->dec : &j->rew;
    gope_status st = reserve_slot(j, err);
    if (st == GOPE_OK)
        st = reserve_bucket(j, err);
    if (st == GOPE_OK)
        st = heap_reserve(h, err);
    if (st != GOPE_OK)
        return st;
    uint32_t r = j->free_head;
    gope_jrec *x = &j->recs[r];
    j->free_head = x->next;
    *x = (gope_jrec){.kind = (uint8_t)kind, .id_len = (uint8_t)len, .seq = seq,
                     .hash = hash_id(id, len), .ts = ts, .near_ts = INT64_MIN};
    memcpy(x->id, id, len);
    x->next = j->buckets[x->hash & j->mask];
    j->buckets[x->hash & j->mask] = r;
    h->at[h->n++] = r;
    sift_up(j, h, h->n - 1);
    j->live++;
    *(kind == GOPE_JREC_DECISION ? &j->n_dec : &j->n_rew) += 1;
    *at = r;
    return GOPE_OK;
}

void gope_join_drop(gope_join_t *j, uint32_t r)
{
    gope_jrec *x = &j->recs[r];
    uint32_t *link = &j->buckets[x->hash & j->mask];
    while (*link != r)
        link = &j->recs[*link].next;
    *link = x->next;
    bool decision = x->kind == GOPE_JREC_DECISION;
    heap_remove(j, decision ? &j->dec : &j->rew, x->heap_at);
    *(decision ? &j->n_dec : &j->n_rew) -= 1;
    free(x->blob);
    *x = (gope_jrec){.kind = GOPE_JREC_FREE, .next = j->free_head};
    j->free_head = r;
    j->live--;
}

static bool same_id(const gope_jrec *x, uint64_t hash, const char *id, size_t len)
{
    return x->hash == hash && x->id_len == len && memcmp(x->id, id, len) == 0;
}

static bool within(const gope_join_t *j, int64_t a, int64_t b)
{
    return (a > b ? a - b : b - a) <= j->conf.wait_ms;
}

/* --------------------------------------------------------------- data path */

static int by_seq(const void *a, const void *b)
{
    uint64_t x = ((const gope_jmatch *)a)->seq, y = ((const gope_jmatch *)b)->seq;
    return (x > y) - (x < y);
}

/* The held rewards of `d`'s id within the wait, into j->scratch sorted by
 * arrival. @return how many, or -1 when out of memory. */
static long matching_rewards(gope_join_t *j, const gope_jrec *d, gope_err *err)
{
    size_t n = 0;
    for (uint32_t r = j->buckets[d->hash & j->mask]; r != GOPE_JOIN_NIL; r = j->recs[r].next) {
        const gope_jrec *x = &j->recs[r];
        if (x->kind != GOPE_JREC_REWARD || !same_id(x, d->hash, d->id, d->id_len) ||
            !within(j, x->ts, d->ts))
            continue;
        if (n == j->scratch_cap) {
            size_t cap = j->scratch_cap ? j->scratch_cap * 2 : 16;
            gope_jmatch *s = realloc(j->scratch, cap * sizeof *s);
            if (!s) {
                gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
                return -1;
            }
            j->scratch = s;
            j->scratch_cap = cap;
        }
        j->scratch[n++] = (gope_jmatch){x->seq, r};
    }
    if (n > 1)
        qsort(j->scratch, n, sizeof *j->scratch, by_seq);
    return (long)n;
}

gope_status gope_join_decision(gope_join_t *j, const char *id, size_t len, int64_t ts,
                               const gope_obs *obs, uint32_t *joined, gope_err *err)
{
    uint32_t d;
    gope_status st = gope_join_insert(j, GOPE_JREC_DECISION, id, len, ts, j->next_seq, &d, err);
    if (st != GOPE_OK)
        return st;
    long n = matching_rewards(j, &j->recs[d], err);
    if (n < 0) {
        gope_join_drop(j, d);
        return GOPE_ERR_NOMEM;
    }
    j->next_seq++;
    memcpy(&j->obs[(size_t)d * j->conf.n_obs], obs, j->conf.n_obs * sizeof *obs);
    gope_jrec *x = &j->recs[d];
    for (long i = 0; i < n; i++) {
        gope_ksum_add(&x->sum, j->recs[j->scratch[i].at].reward);
        gope_join_drop(j, j->scratch[i].at);
    }
    x->n_rewards = (uint32_t)n;
    /* the rewards left for this id are outside the wait: say so when they
     * become orphans */
    for (uint32_t r = j->buckets[x->hash & j->mask]; r != GOPE_JOIN_NIL; r = j->recs[r].next)
        if (j->recs[r].kind == GOPE_JREC_REWARD && same_id(&j->recs[r], x->hash, x->id, x->id_len))
            j->recs[r].near_ts = x->ts;
    *joined = (uint32_t)n;
    return GOPE_OK;
}

/* The pending decision for `id`, or NIL. */
static uint32_t find_decision(const gope_join_t *j, uint64_t hash, const char *id, size_t len)
{
    for (uint32_t r = j->buckets[hash & j->mask]; r != GOPE_JOIN_NIL; r = j->recs[r].next)
        if (j->recs[r].kind == GOPE_JREC_DECISION && same_id(&j->recs[r], hash, id, len))
            return r;
    return GOPE_JOIN_NIL;
}

gope_status gope_join_reward(gope_join_t *j, const char *id, size_t len, int64_t ts,
                             double reward, const char *source, const gope_line *line,
                             bool *joined, gope_err *err)
{
    uint32_t d = find_decision(j, hash_id(id, len), id, len);
    if (d != GOPE_JOIN_NIL && within(j, ts, j->recs[d].ts)) {
        gope_ksum_add(&j->recs[d].sum, reward);
        j->recs[d].n_rewards++;
        j->next_seq++;
        *joined = true;
        return GOPE_OK;
    }
    size_t src_len = strlen(source);
    char *blob = malloc(src_len + 1 + line->len);
    if (!blob)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
    memcpy(blob, source, src_len + 1);
    if (line->len)
        memcpy(blob + src_len + 1, line->data, line->len);
    uint32_t r;
    gope_status st = gope_join_insert(j, GOPE_JREC_REWARD, id, len, ts, j->next_seq, &r, err);
    if (st != GOPE_OK) {
        free(blob);
        return st;
    }
    j->next_seq++;
    gope_jrec *x = &j->recs[r];
    x->reward = reward;
    x->near_ts = d != GOPE_JOIN_NIL ? j->recs[d].ts : INT64_MIN;
    x->blob = blob;
    x->src_len = src_len;
    x->raw_len = line->len;
    x->lineno = line->lineno;
    x->offset = line->offset;
    *joined = false;
    return GOPE_OK;
}

static gope_status release(gope_join_t *j, uint32_t d, const gope_join_out *out,
                           gope_err *err)
{
    gope_jrec *x = &j->recs[d];
    gope_obs *obs = &j->obs[(size_t)d * j->conf.n_obs];
    double r = gope_ksum_value(&x->sum);
    for (size_t i = 0; i < j->conf.n_obs; i++)
        obs[i].r = r;
    gope_status st = out->release(out->ctx, x->ts, obs, x->n_rewards, err);
    if (st == GOPE_OK)
        gope_join_drop(j, d);
    return st;
}

static gope_status orphan(gope_join_t *j, uint32_t r, const gope_join_out *out, gope_err *err)
{
    const gope_jrec *x = &j->recs[r];
    char detail[320];
    if (x->near_ts != INT64_MIN)
        snprintf(detail, sizeof detail,
                 "event_id %.*s: its decision (ts %lld) is %lld ms away, beyond the reward "
                 "wait of %lld ms",
                 (int)x->id_len, x->id, (long long)x->near_ts,
                 (long long)(x->ts > x->near_ts ? x->ts - x->near_ts : x->near_ts - x->ts),
                 (long long)j->conf.wait_ms);
    else
        snprintf(detail, sizeof detail,
                 "event_id %.*s: no decision within the reward wait of %lld ms of ts %lld",
                 (int)x->id_len, x->id, (long long)j->conf.wait_ms, (long long)x->ts);
    gope_line line = {
        .data = x->blob + x->src_len + 1, .len = x->raw_len, .lineno = x->lineno,
        .offset = x->offset, .full_len = x->raw_len,
    };
    gope_status st = out->orphan(out->ctx, x->blob, &line, detail, err);
    if (st == GOPE_OK)
        gope_join_drop(j, r);
    return st;
}

gope_status gope_join_advance(gope_join_t *j, int64_t now, const gope_join_out *out,
                              gope_err *err)
{
    if (now < INT64_MIN + j->conf.wait_ms + 1)
        return GOPE_OK; /* no clock yet */
    const int64_t limit = now - j->conf.wait_ms; /* due: ts < limit, i.e. ts + wait < now */
    for (;;) {
        uint32_t d = j->dec.n ? j->dec.at[0] : GOPE_JOIN_NIL;
        uint32_t r = j->rew.n ? j->rew.at[0] : GOPE_JOIN_NIL;
        bool take_d = d != GOPE_JOIN_NIL && (r == GOPE_JOIN_NIL || before(j, d, r));
        uint32_t next = take_d ? d : r;
        if (next == GOPE_JOIN_NIL || j->recs[next].ts >= limit)
            return GOPE_OK;
        gope_status st = take_d ? release(j, d, out, err) : orphan(j, r, out, err);
        if (st != GOPE_OK)
            return st;
    }
}

int64_t gope_join_oldest(const gope_join_t *j)
{
    return j->dec.n ? j->recs[j->dec.at[0]].ts : INT64_MAX;
}

size_t gope_join_pending(const gope_join_t *j) { return j->n_dec; }

size_t gope_join_held(const gope_join_t *j) { return j->n_rew; }
