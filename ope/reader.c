/*
 * reader.c — source + decoder as one stage, optionally on its own thread.
 *
 * Reading, decompressing and decoding a line costs about as much as
 * evaluating it with eight policies, so replay splits the work: a reader
 * thread reads lines into batches while the caller's thread runs the
 * pipeline on earlier ones. Lines leave the reader in input order and the
 * pipeline consumes them on one thread, so every counter, window and
 * estimate is identical whatever the thread count: threads change speed,
 * never results.
 *
 * Who decodes a batch balances the two threads: when the caller has nothing
 * queued behind the batch it is working on, the reader is the bottleneck and
 * hands the batch over raw, and the caller decodes it as it goes; otherwise
 * the reader decodes the batch itself before handing it over. Decoding is a
 * pure function of the line, so the split never shows in the output.
 *
 * A batch owns copies of everything its items point to (raw lines, reject
 * details, candidates and probs) in one arena, because the source and the
 * decoder reuse their buffers. A line is only taken when the arena has room
 * for the most that it and every line before it in the batch can take once
 * decoded (RESERVE each), and an empty arena has room for any line, so a line
 * that does not fit starts the next batch.
 * Batches circulate in a ring of RING slots: the reader fills the slot after
 * the last full one, the caller drains the oldest, and each side waits only
 * when the ring is full or empty. The batch that ends the input carries the
 * source's final status (EOF or the fault), which the caller sees after the
 * lines before it — as with a plain source.
 */
#include "gope_ope.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_ITEMS 256
#define RING 4
#define DETAIL 256
/* Upper bound of the bytes a line of `len` bytes takes in the arena: the
 * line, its detail, and its candidates with probs. The shortest candidate,
 * {"streamer_id":"","ev":0}, is 26 bytes of JSON for 56 bytes of copy. */
#define RESERVE(len) ((len) * 3 + DETAIL + 64)
#define ARENA_BYTES RESERVE((size_t)GOPE_MAX_LINE)

typedef struct {
    gope_decoded items[BATCH_ITEMS];
    size_t n;
    bool decoded; /* false: items hold raw lines only; the caller decodes */
    char *arena;
    size_t used;
    uint64_t done, total; /* source progress after the batch's last line */
    gope_status st;       /* GOPE_OK, or how the input ended after these items */
    gope_err err;
} batch;

struct gope_reader_s {
    gope_pipeline_conf conf;
    gope_source_t *src;
    gope_decoder_t *dec; /* the reader thread's (or the only) decoder */
    uint64_t done, total;
    /* the caller's side: lines decoded here */
    gope_decoder_t *own;
    gope_decoded cur;
    char detail[DETAIL];
    /* reader thread */
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *ring[RING];
    size_t head, count; /* full batches: ring[head .. head + count) */
    size_t pos;         /* next item in ring[head] (held while count > 0) */
    bool holding, stop;
};

static void *arena_take(batch *b, const void *src, size_t n, size_t align)
{
    size_t at = (b->used + align - 1) & ~(align - 1);
    char *dst = b->arena + at;
    if (n)
        memcpy(dst, src, n);
    b->used = at + n;
    return dst;
}

/* Read lines into `b` as raw items. `carry` holds a line that did not fit
 * the previous batch (still valid: nothing was read since). */
static void batch_read(gope_reader_t *r, batch *b, gope_line *carry, bool *carried)
{
    size_t reserved = 0; /* the lines' worst case once decoded, not just their bytes */
    b->n = 0;
    b->used = 0;
    b->st = GOPE_OK;
    while (b->n < BATCH_ITEMS) {
        gope_line line;
        if (*carried) {
            line = *carry;
            *carried = false;
        } else if ((b->st = gope_source_next(r->src, &line, &b->err)) != GOPE_OK) {
            break;
        }
        if (RESERVE(line.len) > ARENA_BYTES - reserved) {
            *carry = line;
            *carried = true;
            break;
        }
        reserved += RESERVE(line.len);
        gope_decoded *it = &b->items[b->n++];
        it->line = line;
        it->line.data = arena_take(b, line.data, line.len, 1);
    }
    gope_source_progress(r->src, &b->done, &b->total);
}

/* Decode every item of `b` in place, moving what the decoder owns into the
 * arena (the reader thread's share of the work). */
static void batch_decode(gope_reader_t *r, batch *b)
{
    char detail[DETAIL];
    for (size_t i = 0; i < b->n; i++) {
        gope_decoded *it = &b->items[i];
        gope_decode_one(r->dec, &r->conf, &it->line, it, detail, sizeof detail);
        it->detail = arena_take(b, detail, strlen(detail) + 1, 1);
        if (it->reason != GOPE_R_OK)
            continue;
        size_t k = it->ev.n_candidates;
        it->ev.candidates = arena_take(b, it->ev.candidates, k * sizeof *it->ev.candidates, 8);
        if (it->ev.probs)
            it->ev.probs = arena_take(b, it->ev.probs, k * sizeof(double), 8);
    }
    b->decoded = true;
}

static void *reader_main(void *arg)
{
    gope_reader_t *r = arg;
    gope_line carry;
    bool carried = false;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->count == RING && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        batch *b = r->ring[(r->head + r->count) % RING];
        pthread_mutex_unlock(&r->mu);

        batch_read(r, b, &carry, &carried);
        pthread_mutex_lock(&r->mu);
        b->decoded = false;
        bool caller_waits = r->count <= 1; /* nothing queued behind its batch */
        pthread_mutex_unlock(&r->mu);
        if (!caller_waits)
            batch_decode(r, b);

        pthread_mutex_lock(&r->mu);
        r->count++;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (b->st != GOPE_OK)
            return NULL;
    }
}

static void ring_free(gope_reader_t *r)
{
    for (size_t i = 0; i < RING; i++) {
        if (r->ring[i])
            free(r->ring[i]->arena);
        free(r->ring[i]);
    }
}

/* Allocate the ring and start the thread; false when either fails. */
static bool start_thread(gope_reader_t *r)
{
    for (size_t i = 0; i < RING; i++) {
        r->ring[i] = calloc(1, sizeof *r->ring[i]);
        if (!r->ring[i] || !(r->ring[i]->arena = malloc(ARENA_BYTES)))
            return false;
    }
    if (pthread_mutex_init(&r->mu, NULL) != 0)
        return false;
    if (pthread_cond_init(&r->cv, NULL) != 0) {
        pthread_mutex_destroy(&r->mu);
        return false;
    }
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        return false;
    }
    r->threaded = true;
    return true;
}

gope_status gope_reader_open(const char *path, const gope_pipeline_conf *conf, int threads,
                             gope_reader_t **out, gope_err *err)
{
    gope_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
    r->conf = *conf;
    gope_status st = gope_source_open(path, &r->src, err);
    if (st != GOPE_OK) {
        free(r);
        return st;
    }
    /* cJSON reports parse errors through a global, so it keeps one thread. */
    bool two = threads > 1 && !conf->use_cjson_decoder;
    r->dec = gope_decoder_new();
    r->own = two ? gope_decoder_new() : NULL;
    if (!r->dec || (two && !r->own)) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    if (two && !start_thread(r)) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: cannot start the reader thread", path);
        goto cleanup;
    }
    *out = r;
    return GOPE_OK;
cleanup:
    gope_reader_close(r);
    return st;
}

static gope_status next_inline(gope_reader_t *r, const gope_decoded **out, gope_err *err)
{
    gope_line line;
    gope_status st = gope_source_next(r->src, &line, err);
    gope_source_progress(r->src, &r->done, &r->total);
    if (st != GOPE_OK)
        return st;
    gope_decode_one(r->dec, &r->conf, &line, &r->cur, r->detail, sizeof r->detail);
    *out = &r->cur;
    return GOPE_OK;
}

/* Item `i` of `b`, decoded here if the reader left it raw. */
static const gope_decoded *item(gope_reader_t *r, const batch *b, size_t i)
{
    if (b->decoded)
        return &b->items[i];
    gope_decode_one(r->own, &r->conf, &b->items[i].line, &r->cur, r->detail, sizeof r->detail);
    return &r->cur;
}

gope_status gope_reader_next(gope_reader_t *r, const gope_decoded **out, gope_err *err)
{
    if (!r->threaded)
        return next_inline(r, out, err);
    batch *b = r->holding ? r->ring[r->head] : NULL;
    while (!b || r->pos == b->n) {
        if (b && b->st != GOPE_OK) { /* the input ended after this batch */
            if (err)
                *err = b->err;
            return b->st;
        }
        pthread_mutex_lock(&r->mu);
        if (r->holding) { /* hand the drained batch back to the reader */
            r->head = (r->head + 1) % RING;
            r->count--;
            pthread_cond_broadcast(&r->cv);
        }
        while (r->count == 0)
            pthread_cond_wait(&r->cv, &r->mu);
        b = r->ring[r->head];
        pthread_mutex_unlock(&r->mu);
        r->holding = true;
        r->pos = 0;
        r->done = b->done;
        r->total = b->total;
    }
    *out = item(r, b, r->pos++);
    return GOPE_OK;
}

const char *gope_reader_name(const gope_reader_t *r)
{
    return gope_source_name(r->src);
}

void gope_reader_progress(const gope_reader_t *r, uint64_t *done, uint64_t *total)
{
    *done = r->done;
    *total = r->total;
}

void gope_reader_close(gope_reader_t *r)
{
    if (!r)
        return;
    if (r->threaded) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
    }
    ring_free(r);
    gope_decoder_free(r->dec);
    gope_decoder_free(r->own);
    gope_source_close(r->src);
    free(r);
}
