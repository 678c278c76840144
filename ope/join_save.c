/*
 * join_save.c — the reward join's state as bytes, for checkpoints.
 *
 * Layout (all integers little-endian, doubles as their IEEE-754 bits, so a
 * reload is bit-exact on any host):
 *   "GOPEJOIN"  u64 version (1)  i64 wait_ms  u64 n_obs  u64 next_seq
 *   u64 records, then each record:
 *     u8 kind (1 decision, 2 reward)  u8 id_len  id bytes  u64 seq  i64 ts
 *     decision: f64 sum.s  f64 sum.c  u64 n_rewards  n_obs x (f64 w r q v)
 *     reward:   f64 reward  i64 near_ts  u64 lineno  u64 offset
 *               u64 source_len  source  u64 raw_len  raw
 *   "GOPEJEND"
 * The record count and the end mark make it self-delimiting: a checkpoint
 * can put other state after it in the same file. Records are re-inserted on
 * load; their (ts, seq) keys restore the heaps' order exactly.
 */
#include "join_int.h"

#include <stdlib.h>
#include <string.h>

#define VERSION 1
#define MAX_SOURCE 4096 /* a source name longer than this is corrupt data */

typedef struct {
    FILE *f;
    bool ok;
} io;

static void put(io *w, const void *p, size_t n)
{
    if (w->ok && n && fwrite(p, 1, n, w->f) != n)
        w->ok = false;
}

static void put_u64(io *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, 8);
}

static void put_f64(io *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put_u64(w, u);
}

static void get(io *r, void *p, size_t n)
{
    if (r->ok && n && fread(p, 1, n, r->f) != n)
        r->ok = false;
    if (!r->ok)
        memset(p, 0, n);
}

static uint64_t get_u64(io *r)
{
    unsigned char b[8];
    get(r, b, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static double get_f64(io *r)
{
    uint64_t u = get_u64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void save_record(io *w, const gope_join_t *j, size_t i)
{
    const gope_jrec *x = &j->recs[i];
    unsigned char head[2] = {x->kind, x->id_len};
    put(w, head, 2);
    put(w, x->id, x->id_len);
    put_u64(w, x->seq);
    put_u64(w, (uint64_t)x->ts);
    if (x->kind == GOPE_JREC_DECISION) {
        put_f64(w, x->sum.s);
        put_f64(w, x->sum.c);
        put_u64(w, x->n_rewards);
        for (size_t k = 0; k < j->conf.n_obs; k++) {
            const gope_obs *o = &j->obs[i * j->conf.n_obs + k];
            put_f64(w, o->w);
            put_f64(w, o->r);
            put_f64(w, o->q);
            put_f64(w, o->v);
        }
        return;
    }
    put_f64(w, x->reward);
    put_u64(w, (uint64_t)x->near_ts);
    put_u64(w, x->lineno);
    put_u64(w, x->offset);
    put_u64(w, x->src_len);
    put(w, x->blob, x->src_len);
    put_u64(w, x->raw_len);
    put(w, x->blob + x->src_len + 1, x->raw_len);
}

gope_status gope_join_save(const gope_join_t *j, FILE *f, gope_err *err)
{
    io w = {f, true};
    put(&w, "GOPEJOIN", 8);
    put_u64(&w, VERSION);
    put_u64(&w, (uint64_t)j->conf.wait_ms);
    put_u64(&w, j->conf.n_obs);
    put_u64(&w, j->next_seq);
    put_u64(&w, j->live);
    for (size_t i = 0; i < j->cap; i++)
        if (j->recs[i].kind != GOPE_JREC_FREE)
            save_record(&w, j, i);
    put(&w, "GOPEJEND", 8);
    if (!w.ok)
        return gope_err_set(err, GOPE_ERR_IO, "reward join: cannot write its state");
    return GOPE_OK;
}

/* A held reward's line and source, read into one blob. */
static gope_status load_reward(io *r, gope_jrec *x, gope_err *err)
{
    x->reward = get_f64(r);
    x->near_ts = (int64_t)get_u64(r);
    x->lineno = get_u64(r);
    x->offset = get_u64(r);
    uint64_t src_len = get_u64(r);
    if (!r->ok || src_len > MAX_SOURCE || !(x->reward >= 0))
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: bad reward record");
    char source[MAX_SOURCE + 1];
    get(r, source, src_len);
    uint64_t raw_len = get_u64(r);
    if (!r->ok || raw_len > GOPE_MAX_LINE)
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: bad reward record");
    char *blob = malloc(src_len + 1 + raw_len);
    if (!blob)
        return gope_err_set(err, GOPE_ERR_NOMEM, "reward join: out of memory");
    memcpy(blob, source, src_len);
    blob[src_len] = '\0';
    get(r, blob + src_len + 1, raw_len);
    x->blob = blob; /* owned by the record from here, also on failure */
    x->src_len = src_len;
    x->raw_len = raw_len;
    if (!r->ok)
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: truncated");
    return GOPE_OK;
}

static gope_status load_record(io *r, gope_join_t *j, gope_err *err)
{
    unsigned char head[2];
    char id[GOPE_MAX_EVENT_ID];
    get(r, head, 2);
    int kind = head[0];
    size_t len = head[1];
    if (!r->ok || (kind != GOPE_JREC_DECISION && kind != GOPE_JREC_REWARD) || len == 0 ||
        len > GOPE_MAX_EVENT_ID)
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: bad record header");
    get(r, id, len);
    uint64_t seq = get_u64(r);
    int64_t ts = (int64_t)get_u64(r);
    if (!r->ok || seq >= j->next_seq)
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: bad record");
    uint32_t at;
    gope_status st = gope_join_insert(j, kind, id, len, ts, seq, &at, err);
    if (st != GOPE_OK)
        return st;
    gope_jrec *x = &j->recs[at];
    if (kind == GOPE_JREC_REWARD)
        return load_reward(r, x, err);
    x->sum.s = get_f64(r);
    x->sum.c = get_f64(r);
    x->n_rewards = (uint32_t)get_u64(r);
    for (size_t k = 0; k < j->conf.n_obs; k++) {
        gope_obs *o = &j->obs[(size_t)at * j->conf.n_obs + k];
        o->w = get_f64(r);
        o->r = get_f64(r);
        o->q = get_f64(r);
        o->v = get_f64(r);
    }
    if (!r->ok)
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: truncated");
    return GOPE_OK;
}

/* Empty the join again (a load that failed half-way). */
static void clear(gope_join_t *j)
{
    for (size_t i = 0; i < j->cap; i++)
        if (j->recs[i].kind != GOPE_JREC_FREE)
            gope_join_drop(j, (uint32_t)i);
    j->next_seq = 0;
}

gope_status gope_join_load(gope_join_t *j, FILE *f, gope_err *err)
{
    if (j->live)
        return gope_err_set(err, GOPE_ERR_USAGE, "reward join: load into a join that is not empty");
    io r = {f, true};
    char magic[8];
    get(&r, magic, 8);
    uint64_t version = get_u64(&r);
    int64_t wait = (int64_t)get_u64(&r);
    uint64_t n_obs = get_u64(&r);
    j->next_seq = get_u64(&r);
    uint64_t n = get_u64(&r);
    if (!r.ok || memcmp(magic, "GOPEJOIN", 8) != 0 || version != VERSION) {
        j->next_seq = 0;
        return gope_err_set(err, GOPE_ERR_INPUT, "reward join state: not a join state (v%d)",
                            VERSION);
    }
    if (wait != j->conf.wait_ms || n_obs != j->conf.n_obs) {
        j->next_seq = 0;
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "reward join state: saved with wait %lld ms and %llu policies, "
                            "loaded into wait %lld ms and %zu policies",
                            (long long)wait, (unsigned long long)n_obs,
                            (long long)j->conf.wait_ms, j->conf.n_obs);
    }
    gope_status st = GOPE_OK;
    for (uint64_t i = 0; i < n && st == GOPE_OK; i++)
        st = load_record(&r, j, err);
    get(&r, magic, 8);
    if (st == GOPE_OK && (!r.ok || memcmp(magic, "GOPEJEND", 8) != 0))
        st = gope_err_set(err, GOPE_ERR_INPUT, "reward join state: missing end mark");
    if (st != GOPE_OK)
        clear(j);
    return st;
}
