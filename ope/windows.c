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
 */
#include "gope_ope.h"

#include <stdlib.h>
#include <string.h>

/* Bounds on durations keep ts +- size arithmetic far from int64 overflow. */
#define GOPE_MAX_SPAN_MS (INT64_C(1000) * 366 * 86400000)

typedef struct {
    int64_t start;
    unsigned char *block; /* n_policies accumulators of acc_size bytes */
} pane;

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

gope_status gope_windows_pane(gope_windows_t *w, int64_t ts, gope_acc ***accs,
                              gope_err *err)
{
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

/* Merge panes [first, first + count) and hand the window to `emit`. */
static gope_status emit_window(gope_windows_t *w, int64_t start, int64_t end,
                               size_t first, size_t count,
                               gope_window_emit_fn emit, void *ctx, gope_err *err)
{
    for (size_t p = 0; p < w->n_policies; p++) {
        gope_acc_init(w->set, w->merge_ptrs[p]);
        for (size_t i = first; i < first + count; i++)
            gope_acc_merge(w->set, w->merge_ptrs[p], acc_at(w, w->panes[i].block, p));
    }
    gope_window_result res = {
        .start = start, .end = end,
        .accs = (const gope_acc *const *)w->merge_ptrs, .n_policies = w->n_policies,
    };
    return emit(ctx, &res, err);
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
        gope_status st = emit_window(w, s, s + size, i, count, emit, ctx, err);
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
    for (size_t i = 0; i < drop; i++)
        keep_spare(w, w->panes[i].block);
    memmove(w->panes, w->panes + drop, (w->n_panes - drop) * sizeof *w->panes);
    w->n_panes -= drop;
}

static void note_ts(gope_windows_t *w, int64_t ts)
{
    if (!w->any || ts < w->min_ts)
        w->min_ts = ts;
    if (!w->any || ts > w->max_ts)
        w->max_ts = ts;
    w->any = true;
}

gope_status gope_windows_advance(gope_windows_t *w, int64_t ts,
                                 gope_window_emit_fn emit, void *ctx, gope_err *err)
{
    note_ts(w, ts);
    if (w->all)
        return GOPE_OK;
    int64_t wm = w->max_ts - w->conf.lateness_ms;
    if (wm <= w->wm)
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
        return emit_window(w, w->min_ts, w->max_ts + 1, 0, w->n_panes, emit, ctx, err);
    gope_status st = emit_closed(w, 0, true, emit, ctx, err);
    if (st == GOPE_OK) {
        w->wm = INT64_MAX;
        release_panes(w);
    }
    return st;
}

int64_t gope_windows_watermark(const gope_windows_t *w) { return w->wm; }

size_t gope_windows_open_panes(const gope_windows_t *w) { return w->n_panes; }
