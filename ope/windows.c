/*
 * windows.c — event-time windows built from panes.
 *
 * A hopping window of size S sliding by D (S a multiple of D) is the union of
 * S/D consecutive panes of length D. Each pane holds one accumulator per
 * policy, so an event is added once (to its pane) rather than once per window
 * that contains it, and closing a window merges its panes. Accumulators are
 * mergeable sums, so this gives exactly the numbers of a per-window pass.
 *
 * Bookkeeping:
 *   - panes[] is sorted by start; most events land in the newest pane, which
 *     is checked first, otherwise a binary search finds the slot.
 *   - next_start: every window starting before it has closed and was emitted
 *     or skipped (skipped = closed without events, never emitted). A window is closed
 *     when watermark >= end; an event is late when all its windows are closed.
 *   - a pane is freed once the last window containing it (the one starting at
 *     the pane) has closed; its memory goes to a free list for reuse, so a
 *     steady stream allocates nothing after warm-up.
 * "--window all" is one pane that is emitted at the end as
 * [min ts, max ts + 1); nothing is ever late.
 *
 * Revisions. A window is normally emitted once, when it closes. A flush (the
 * end of a batch run) emits the windows that are still open as well, but
 * keeps them: with a checkpoint they go on in the next run and are emitted
 * again when they close. Each emission carries a revision so that a reader
 * of the output can keep the newest record of a window: marks[] remembers,
 * for every window flushed while open, the revision it got and its event
 * count then. The next emission keeps that revision when no event was added
 * since (the same record again) and takes the next one otherwise. A closed
 * window's mark is dropped: it is never emitted again. The marks are part of
 * the saved state, so a run restored from a checkpoint numbers exactly as
 * the run that wrote it would have (a re-emission after a crash repeats the
 * revision, which is what lets a reader drop it as a duplicate).
 */
#include "gope_ope.h"

#include <stdlib.h>
#include <string.h>

#include "ckpt_int.h"

/* Bounds on durations keep ts +- size arithmetic far from int64 overflow. */
#define GOPE_MAX_SPAN_MS (INT64_C(1000) * 366 * 86400000)

typedef struct {
    int64_t start;
    unsigned char *block; /* n_policies accumulators of acc_size bytes */
} pane;

/* A window emitted while still open (see Revisions above). */
typedef struct {
    int64_t key;       /* the window's start; 0 for "all" */
    uint64_t n;        /* its events at that emission */
    uint32_t revision;
} mark;

struct gope_windows_s {
    gope_window_conf conf;
    const gope_estset_t *set;
    size_t n_policies, acc_size;
    bool all;
    bool any;                /* an event was accepted */
    int64_t min_ts, max_ts;
    int64_t wm;              /* watermark; INT64_MIN before any event */
    int64_t next_start;      /* windows starting earlier are done */
    pane *panes;
    size_t n_panes, cap_panes;
    unsigned char **spare;   /* free pane blocks */
    size_t n_spare, cap_spare;
    gope_acc **pane_ptrs;    /* returned by gope_windows_pane */
    unsigned char *merge_block;
    gope_acc **merge_ptrs;   /* handed to emit */
    mark *marks;             /* sorted by key */
    size_t n_marks, cap_marks;
};

static gope_acc *acc_at(const gope_windows_t *w, unsigned char *block, size_t p)
{
    return (gope_acc *)(void *)(block + p * w->acc_size);
}

static int64_t floor_to(int64_t ts, int64_t step)
{
    int64_t q = ts / step;
    if (ts % step < 0)
        q--;
    return q * step;
}

gope_status gope_windows_new(const gope_window_conf *conf, size_t n_policies,
                             const gope_estset_t *set, gope_windows_t **out,
                             gope_err *err)
{
    if (conf->size_ms < 0 || conf->slide_ms < 0 || conf->lateness_ms < 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "window durations must not be negative");
    if (conf->size_ms > GOPE_MAX_SPAN_MS || conf->lateness_ms > GOPE_MAX_SPAN_MS)
        return gope_err_set(err, GOPE_ERR_USAGE, "window size and lateness must be under 1000 years");
    if (conf->size_ms > 0 && (conf->slide_ms <= 0 || conf->size_ms % conf->slide_ms != 0))
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "--window (%lld ms) must be a multiple of --slide (%lld ms)",
                            (long long)conf->size_ms, (long long)conf->slide_ms);
    gope_windows_t *w = calloc(1, sizeof *w);
    if (!w)
        goto nomem;
    w->conf = *conf;
    w->set = set;
    w->n_policies = n_policies;
    /* round up so consecutive accumulators stay aligned for double */
    w->acc_size = (gope_acc_size(set) + 15) & ~(size_t)15;
    w->all = conf->size_ms == 0;
    w->wm = INT64_MIN;
    w->next_start = INT64_MIN;
    w->pane_ptrs = calloc(n_policies, sizeof *w->pane_ptrs);
    w->merge_ptrs = calloc(n_policies, sizeof *w->merge_ptrs);
    w->merge_block = malloc(n_policies * w->acc_size);
    if (!w->pane_ptrs || !w->merge_ptrs || !w->merge_block)
        goto nomem;
    for (size_t p = 0; p < n_policies; p++)
        w->merge_ptrs[p] = acc_at(w, w->merge_block, p);
    *out = w;
    return GOPE_OK;
nomem:
    gope_windows_free(w);
    return gope_err_set(err, GOPE_ERR_NOMEM, "window engine: out of memory");
}

void gope_windows_free(gope_windows_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_panes; i++)
        free(w->panes[i].block);
    for (size_t i = 0; i < w->n_spare; i++)
        free(w->spare[i]);
    free(w->panes);
    free(w->spare);
    free(w->pane_ptrs);
    free(w->merge_ptrs);
    free(w->merge_block);
    free(w->marks);
    free(w);
}

bool gope_windows_is_late(const gope_windows_t *w, int64_t ts)
{
    if (w->all || w->wm == INT64_MIN)
        return false;
    /* the last window containing ts starts at its pane and ends size later */
    return floor_to(ts, w->conf.slide_ms) + w->conf.size_ms <= w->wm;
}

/* Index of the first pane with start >= `start` (n_panes when none). */
static size_t pane_lower_bound(const gope_windows_t *w, int64_t start)
{
    size_t lo = 0, hi = w->n_panes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->panes[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static gope_status pane_insert(gope_windows_t *w, size_t at, int64_t start, gope_err *err)
{
    if (w->n_panes == w->cap_panes) {
        size_t cap = w->cap_panes ? w->cap_panes * 2 : 16;
        pane *np = realloc(w->panes, cap * sizeof *np);
        if (!np)
            return gope_err_set(err, GOPE_ERR_NOMEM, "window engine: out of memory");
        w->panes = np;
        w->cap_panes = cap;
    }
    unsigned char *block = w->n_spare ? w->spare[--w->n_spare]
                                      : malloc(w->n_policies * w->acc_size);
    if (!block)
        return gope_err_set(err, GOPE_ERR_NOMEM, "window engine: out of memory");
    for (size_t p = 0; p < w->n_policies; p++)
        gope_acc_init(w->set, acc_at(w, block, p));
    memmove(&w->panes[at + 1], &w->panes[at], (w->n_panes - at) * sizeof *w->panes);
    w->panes[at] = (pane){.start = start, .block = block};
    w->n_panes++;
    return GOPE_OK;
}

static void note_ts(gope_windows_t *w, int64_t ts)
{
    if (!w->any || ts < w->min_ts)
        w->min_ts = ts;
    if (!w->any || ts > w->max_ts)
        w->max_ts = ts;
    w->any = true;
}

gope_status gope_windows_pane(gope_windows_t *w, int64_t ts, gope_acc ***accs,
                              gope_err *err)
{
    note_ts(w, ts); /* the event is being added: it bounds the "all" window */
    int64_t start = w->all ? 0 : floor_to(ts, w->conf.slide_ms);
    size_t at;
    if (w->n_panes && w->panes[w->n_panes - 1].start == start)
        at = w->n_panes - 1; /* the common case: the newest pane */
    else {
        at = pane_lower_bound(w, start);
        if (at == w->n_panes || w->panes[at].start != start) {
            gope_status st = pane_insert(w, at, start, err);
            if (st != GOPE_OK)
                return st;
        }
    }
    for (size_t p = 0; p < w->n_policies; p++)
        w->pane_ptrs[p] = acc_at(w, w->panes[at].block, p);
    *accs = w->pane_ptrs;
    return GOPE_OK;
}

/* Index of the first mark with key >= `key` (n_marks when none). */
static size_t mark_lower_bound(const gope_windows_t *w, int64_t key)
{
    size_t lo = 0, hi = w->n_marks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->marks[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Make room for one more mark (before the emission, so that an emitted
 * window is always remembered). */
static gope_status marks_reserve(gope_windows_t *w, gope_err *err)
{
    if (w->n_marks < w->cap_marks)
        return GOPE_OK;
    size_t cap = w->cap_marks ? w->cap_marks * 2 : 8;
    mark *nm = realloc(w->marks, cap * sizeof *nm);
    if (!nm)
        return gope_err_set(err, GOPE_ERR_NOMEM, "window engine: out of memory");
    w->marks = nm;
    w->cap_marks = cap;
    return GOPE_OK;
}

/* After emitting window `key` with `n` events at `revision`: a window that
 * stays open is (re)marked, a closed one forgotten. */
static void note_emitted(gope_windows_t *w, int64_t key, uint64_t n, uint32_t revision,
                         bool stays_open)
{
    size_t at = mark_lower_bound(w, key);
    bool found = at < w->n_marks && w->marks[at].key == key;
    if (!stays_open) {
        if (found) {
            memmove(&w->marks[at], &w->marks[at + 1], (w->n_marks - at - 1) * sizeof *w->marks);
            w->n_marks--;
        }
        return;
    }
    if (!found) { /* room was reserved */
        memmove(&w->marks[at + 1], &w->marks[at], (w->n_marks - at) * sizeof *w->marks);
        w->n_marks++;
    }
    w->marks[at] = (mark){.key = key, .n = n, .revision = revision};
}

/* Merge panes [first, first + count) and hand the window to `emit` with its
 * revision; `stays_open` for a flush of a window that has not closed. */
static gope_status emit_window(gope_windows_t *w, int64_t start, int64_t end,
                               size_t first, size_t count, bool stays_open,
                               gope_window_emit_fn emit, void *ctx, gope_err *err)
{
    gope_status st = stays_open ? marks_reserve(w, err) : GOPE_OK;
    if (st != GOPE_OK)
        return st;
    for (size_t p = 0; p < w->n_policies; p++) {
        gope_acc_init(w->set, w->merge_ptrs[p]);
        for (size_t i = first; i < first + count; i++)
            gope_acc_merge(w->set, w->merge_ptrs[p], acc_at(w, w->panes[i].block, p));
    }
    const int64_t key = w->all ? 0 : start;
    const uint64_t n = w->n_policies ? gope_acc_n(w->merge_ptrs[0]) : 0;
    size_t at = mark_lower_bound(w, key);
    uint32_t revision = 1;
    if (at < w->n_marks && w->marks[at].key == key)
        revision = w->marks[at].revision + (w->marks[at].n != n);
    gope_window_result res = {
        .start = start, .end = end,
        .accs = (const gope_acc *const *)w->merge_ptrs, .n_policies = w->n_policies,
        .revision = revision,
    };
    st = emit(ctx, &res, err);
    if (st == GOPE_OK)
        note_emitted(w, key, n, revision, stays_open);
    return st;
}

/* Emit, in start order, every window with events whose end <= limit and that
 * starts at or after next_start. `flush` ignores the limit. */
static gope_status emit_closed(gope_windows_t *w, int64_t limit, bool flush,
                               gope_window_emit_fn emit, void *ctx, gope_err *err)
{
    const int64_t size = w->conf.size_ms, slide = w->conf.slide_ms;
    int64_t s = w->next_start;
    size_t i = 0;
    while (w->n_panes) {
        if (s < w->panes[i].start - size + slide)
            s = w->panes[i].start - size + slide; /* no events before: skip */
        if (!flush && s + size > limit)
            break;
        while (i < w->n_panes && w->panes[i].start < s)
            i++;
        if (i == w->n_panes)
            break;
        if (w->panes[i].start >= s + size)
            continue; /* the loop head jumps s to the next pane */
        size_t count = 0;
        while (i + count < w->n_panes && w->panes[i + count].start < s + size)
            count++;
        gope_status st = emit_window(w, s, s + size, i, count, flush, emit, ctx, err);
        if (st != GOPE_OK)
            return st;
        s += slide;
    }
    /* Every window ending at or before the limit is done; later ones stay
     * open even if the loop skipped them for lack of events, because a
     * partially late event may still reach them. */
    if (!flush)
        w->next_start = floor_to(limit - size, slide) + slide;
    return GOPE_OK;
}

/* Keep a released pane block for reuse; free it if the list cannot grow. */
static void keep_spare(gope_windows_t *w, unsigned char *block)
{
    if (w->n_spare == w->cap_spare) {
        size_t cap = w->cap_spare ? w->cap_spare * 2 : 16;
        unsigned char **ns = realloc(w->spare, cap * sizeof *ns);
        if (!ns) {
            free(block);
            return;
        }
        w->spare = ns;
        w->cap_spare = cap;
    }
    w->spare[w->n_spare++] = block;
}

/* Drop panes whose last window has closed (start + size <= watermark). */
static void release_panes(gope_windows_t *w)
{
    size_t drop = 0;
    while (drop < w->n_panes && w->panes[drop].start + w->conf.size_ms <= w->wm)
        drop++;
    if (drop == 0) /* also before the first pane: the clock can move without one */
        return;
    for (size_t i = 0; i < drop; i++)
        keep_spare(w, w->panes[i].block);
    memmove(w->panes, w->panes + drop, (w->n_panes - drop) * sizeof *w->panes);
    w->n_panes -= drop;
}

gope_status gope_windows_advance(gope_windows_t *w, int64_t ts,
                                 gope_window_emit_fn emit, void *ctx, gope_err *err)
{
    note_ts(w, ts);
    return gope_windows_advance_to(w, w->max_ts - w->conf.lateness_ms, emit, ctx, err);
}

gope_status gope_windows_advance_to(gope_windows_t *w, int64_t wm,
                                    gope_window_emit_fn emit, void *ctx, gope_err *err)
{
    if (w->all || wm <= w->wm)
        return GOPE_OK;
    w->wm = wm;
    gope_status st = emit_closed(w, wm, false, emit, ctx, err);
    if (st == GOPE_OK)
        release_panes(w);
    return st;
}

gope_status gope_windows_flush(gope_windows_t *w, gope_window_emit_fn emit,
                               void *ctx, gope_err *err)
{
    if (!w->any)
        return GOPE_OK;
    if (w->all)
        return emit_window(w, w->min_ts, w->max_ts + 1, 0, w->n_panes, true, emit, ctx, err);
    return emit_closed(w, 0, true, emit, ctx, err);
}

int64_t gope_windows_watermark(const gope_windows_t *w) { return w->wm; }

size_t gope_windows_open_panes(const gope_windows_t *w) { return w->n_panes; }

/* ------------------------------------------------------------ checkpoints
 * Body of section WIND: the clock (any, min/max ts, watermark, next_start),
 * every open pane with its accumulators (gope_acc_save words), the marks.
 * The configuration is checked by the caller (section CONF). */

gope_status gope_windows_save(const void *obj, FILE *f, gope_err *err)
{
    const gope_windows_t *w = obj;
    const size_t words = gope_acc_words(w->set);
    uint64_t *buf = malloc(words * sizeof *buf);
    if (!buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "window engine: out of memory");
    gope_ckw_u64(f, w->n_policies);
    gope_ckw_u64(f, words);
    gope_ckw_u32(f, w->any);
    gope_ckw_i64(f, w->min_ts);
    gope_ckw_i64(f, w->max_ts);
    gope_ckw_i64(f, w->wm);
    gope_ckw_i64(f, w->next_start);
    gope_ckw_u64(f, w->n_panes);
    for (size_t i = 0; i < w->n_panes; i++) {
        gope_ckw_i64(f, w->panes[i].start);
        for (size_t p = 0; p < w->n_policies; p++) {
            gope_acc_save(w->set, acc_at(w, w->panes[i].block, p), buf);
            for (size_t k = 0; k < words; k++)
                gope_ckw_u64(f, buf[k]);
        }
    }
    gope_ckw_u64(f, w->n_marks);
    for (size_t i = 0; i < w->n_marks; i++) {
        gope_ckw_i64(f, w->marks[i].key);
        gope_ckw_u64(f, w->marks[i].n);
        gope_ckw_u32(f, w->marks[i].revision);
    }
    free(buf);
    return GOPE_OK;
}

/* One pane: its start (after the previous pane's, aligned to the slide)
 * and its accumulators. */
static gope_status load_pane(gope_windows_t *w, gope_ckr *r, uint64_t *buf, gope_err *err)
{
    const size_t words = gope_acc_words(w->set);
    int64_t start;
    if (!gope_ckr_i64(r, &start))
        return gope_ckr_fail(r, err, "truncated: pane %zu", w->n_panes);
    if ((w->all ? start != 0 : floor_to(start, w->conf.slide_ms) != start) ||
        (w->n_panes && start <= w->panes[w->n_panes - 1].start))
        return gope_ckr_fail(r, err, "pane start %lld out of order or off the slide",
                             (long long)start);
    gope_status st = pane_insert(w, w->n_panes, start, err);
    if (st != GOPE_OK)
        return st;
    for (size_t p = 0; p < w->n_policies; p++) {
        size_t at = r->pos;
        for (size_t k = 0; k < words; k++)
            if (!gope_ckr_u64(r, &buf[k]))
                return gope_ckr_fail(r, err, "truncated: pane %lld, policy %zu",
                                     (long long)start, p);
        if (!gope_acc_load(w->set, acc_at(w, w->panes[w->n_panes - 1].block, p), buf)) {
            r->pos = at;
            return gope_ckr_fail(r, err, "pane %lld, policy %zu: not an accumulator",
                                 (long long)start, p);
        }
    }
    return GOPE_OK;
}

static gope_status load_marks(gope_windows_t *w, gope_ckr *r, gope_err *err)
{
    uint64_t n;
    if (!gope_ckr_u64(r, &n))
        return gope_ckr_fail(r, err, "truncated: mark count");
    if (n > (r->len - r->pos) / 20)
        return gope_ckr_fail(r, err, "%llu marks do not fit in the section",
                             (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        mark m;
        gope_status st = marks_reserve(w, err);
        if (st != GOPE_OK)
            return st;
        gope_ckr_i64(r, &m.key);
        gope_ckr_u64(r, &m.n);
        gope_ckr_u32(r, &m.revision);
        if (m.revision == 0 || m.n == 0 || (i && m.key <= w->marks[i - 1].key))
            return gope_ckr_fail(r, err, "mark %llu: revision %u, %llu events, out of order?",
                                 (unsigned long long)i, m.revision, (unsigned long long)m.n);
        w->marks[w->n_marks++] = m;
    }
    return GOPE_OK;
}

gope_status gope_windows_load(gope_windows_t *w, gope_ckr *r, gope_err *err)
{
    uint64_t n_pol, words, n_panes;
    uint32_t any;
    if (!gope_ckr_u64(r, &n_pol) || !gope_ckr_u64(r, &words) || !gope_ckr_u32(r, &any) ||
        !gope_ckr_i64(r, &w->min_ts) || !gope_ckr_i64(r, &w->max_ts) ||
        !gope_ckr_i64(r, &w->wm) || !gope_ckr_i64(r, &w->next_start) ||
        !gope_ckr_u64(r, &n_panes))
        return gope_ckr_fail(r, err, "truncated: window clock");
    if (n_pol != w->n_policies || words != gope_acc_words(w->set) || any > 1)
        return gope_ckr_fail(r, err, "%llu policies of %llu words (this run: %zu of %zu)",
                             (unsigned long long)n_pol, (unsigned long long)words,
                             w->n_policies, gope_acc_words(w->set));
    w->any = any;
    if (n_panes > (r->len - r->pos) / (8 + 8 * words * n_pol))
        return gope_ckr_fail(r, err, "%llu panes do not fit in the section",
                             (unsigned long long)n_panes);
    uint64_t *buf = malloc(words * sizeof *buf);
    if (!buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "window engine: out of memory");
    gope_status st = GOPE_OK;
    for (uint64_t i = 0; i < n_panes && st == GOPE_OK; i++)
        st = load_pane(w, r, buf, err);
    free(buf);
    if (st == GOPE_OK)
        st = load_marks(w, r, err);
    return st;
}
