/*
 * test_windows.c — the pane-based window engine: boundaries, hopping overlap,
 * lateness (within, partial, full), empty windows, flush, "all", memory bound.
 * Each event carries reward = 1 so a window's n is its event count.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "gope_ope.h"

#define MAXW 4096

typedef struct {
    int64_t start[MAXW], end[MAXW];
    uint64_t n[MAXW];
    size_t count;
} emitted;

static gope_status collect(void *ctx, const gope_window_result *w, gope_err *err)
{
    (void)err;
    emitted *e = ctx;
    cr_assert_lt(e->count, MAXW);
    if (e->count)
        cr_assert_gt(w->start, e->start[e->count - 1], "windows come in start order");
    e->start[e->count] = w->start;
    e->end[e->count] = w->end;
    e->n[e->count] = gope_acc_n(w->accs[0]);
    e->count++;
    return GOPE_OK;
}

typedef struct {
    gope_estset_t *set;
    gope_windows_t *win;
    emitted out;
    uint64_t late;
} fixture;

static void setup(fixture *f, int64_t size, int64_t slide, int64_t lateness)
{
    gope_err err;
    cr_assert_eq(gope_estset_parse("ips", &f->set, &err), GOPE_OK);
    gope_window_conf c = {size, slide, lateness};
    cr_assert_eq(gope_windows_new(&c, 1, f->set, &f->win, &err), GOPE_OK, "%s", err.msg);
    f->out.count = 0;
    f->late = 0;
}

static void feed(fixture *f, int64_t ts)
{
    gope_err err;
    if (gope_windows_is_late(f->win, ts)) {
        f->late++;
        return;
    }
    gope_acc **accs;
    cr_assert_eq(gope_windows_pane(f->win, ts, &accs, &err), GOPE_OK);
    gope_obs o = {1, 1, 0, 0};
    gope_acc_add(f->set, accs[0], &o);
    cr_assert_eq(gope_windows_advance(f->win, ts, collect, &f->out, &err), GOPE_OK);
}

static void finish(fixture *f)
{
    gope_err err;
    cr_assert_eq(gope_windows_flush(f->win, collect, &f->out, &err), GOPE_OK);
    gope_windows_free(f->win);
    gope_estset_free(f->set);
}

Test(windows, tumbling_boundaries_are_half_open)
{
    fixture f;
    setup(&f, 1000, 1000, 0);
    feed(&f, 0);    /* [0,1000) */
    feed(&f, 999);  /* [0,1000) */
    feed(&f, 1000); /* closes [0,1000), opens [1000,2000) */
    feed(&f, 2500);
    finish(&f);
    cr_assert_eq(f.out.count, 3);
    cr_expect_eq(f.out.start[0], 0);
    cr_expect_eq(f.out.end[0], 1000);
    cr_expect_eq(f.out.n[0], 2);
    cr_expect_eq(f.out.start[1], 1000);
    cr_expect_eq(f.out.n[1], 1);
    cr_expect_eq(f.out.start[2], 2000);
    cr_expect_eq(f.out.n[2], 1);
}

Test(windows, hopping_event_in_size_over_slide_windows)
{
    fixture f;
    setup(&f, 4000, 1000, 0);
    feed(&f, 5500);
    finish(&f);
    /* windows containing 5500: starts 2000, 3000, 4000, 5000 */
    cr_assert_eq(f.out.count, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_expect_eq(f.out.start[i], 2000 + 1000 * (int64_t)i);
        cr_expect_eq(f.out.end[i], f.out.start[i] + 4000);
        cr_expect_eq(f.out.n[i], 1);
    }
}

Test(windows, hopping_counts_match_brute_force)
{
    fixture f;
    setup(&f, 3000, 1000, 1500);
    int64_t ts[400];
    unsigned seed = 12345;
    for (int i = 0; i < 400; i++) {
        seed = seed * 1103515245u + 12345u;
        ts[i] = 50 * i + (int64_t)(seed >> 16) % 2000 - 1000; /* out of order */
        if (ts[i] < 0)
            ts[i] = 0;
    }
    bool accepted[400];
    for (int i = 0; i < 400; i++) {
        accepted[i] = !gope_windows_is_late(f.win, ts[i]);
        feed(&f, ts[i]);
    }
    finish(&f);
    /* brute force: a window [s, s+3000) counts accepted events inside it
     * that arrived while it was still open (watermark < end). */
    for (size_t w = 0; w < f.out.count; w++) {
        int64_t s = f.out.start[w], e = f.out.end[w], wm = INT64_MIN, maxts = INT64_MIN;
        uint64_t n = 0;
        for (int i = 0; i < 400; i++) {
            if (accepted[i] && ts[i] >= s && ts[i] < e && wm < e)
                n++;
            if (accepted[i] && ts[i] > maxts) {
                maxts = ts[i];
                wm = maxts - 1500;
            }
        }
        cr_expect_eq(f.out.n[w], n, "window %lld: got %llu want %llu", (long long)s,
                     (unsigned long long)f.out.n[w], (unsigned long long)n);
    }
}

Test(windows, lateness_partial_and_full)
{
    fixture f;
    setup(&f, 2000, 1000, 500);
    feed(&f, 10000); /* wm 9500 */
    feed(&f, 9600);  /* within lateness: windows [8000,10000) and [9000,11000) open */
    feed(&f, 12700); /* wm 12200: closes windows ending <= 12200 */
    /* 11100 lies in [10000,12000) (closed) and [11000,13000) (open): partial */
    cr_expect_not(gope_windows_is_late(f.win, 11100));
    feed(&f, 11100);
    /* 9999 lies in [8000,10000) and [9000,11000): both closed: late */
    cr_expect(gope_windows_is_late(f.win, 9999));
    feed(&f, 9999);
    finish(&f);
    cr_expect_eq(f.late, 1);
    /* [8000,10000): 9600 -> n 1; [9000,11000): 9600,10000 -> 2;
     * [10000,12000): 10000 -> 1 (11100 came after it closed);
     * [11000,13000): 11100, 12700 -> 2; [12000,14000): 12700 -> 1 */
    int64_t want_start[] = {8000, 9000, 10000, 11000, 12000};
    uint64_t want_n[] = {1, 2, 1, 2, 1};
    cr_assert_eq(f.out.count, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(f.out.start[i], want_start[i]);
        cr_expect_eq(f.out.n[i], want_n[i], "window %lld", (long long)want_start[i]);
    }
}

Test(windows, empty_windows_are_not_emitted_and_gaps_are_cheap)
{
    fixture f;
    setup(&f, 60000, 1000, 0);
    feed(&f, 1000);
    feed(&f, INT64_C(10) * 365 * 86400000); /* ten years later */
    finish(&f);
    cr_expect_eq(f.out.count, 120, "60 windows around each event, none between");
}

Test(windows, watermark_equal_to_end_closes)
{
    fixture f;
    setup(&f, 1000, 1000, 0);
    feed(&f, 10);
    feed(&f, 1000); /* wm 1000 == end of [0,1000) */
    cr_expect_eq(f.out.count, 1);
    cr_expect(gope_windows_is_late(f.win, 999));
    finish(&f);
}

Test(windows, all_spans_min_to_max_plus_one)
{
    fixture f;
    setup(&f, 0, 0, 0);
    feed(&f, 5000);
    feed(&f, 100);
    feed(&f, 7000);
    cr_expect_not(gope_windows_is_late(f.win, 0));
    finish(&f);
    cr_assert_eq(f.out.count, 1);
    cr_expect_eq(f.out.start[0], 100);
    cr_expect_eq(f.out.end[0], 7001);
    cr_expect_eq(f.out.n[0], 3);
}

Test(windows, nothing_accepted_emits_nothing)
{
    fixture f;
    setup(&f, 0, 0, 0);
    finish(&f);
    cr_expect_eq(f.out.count, 0);
    setup(&f, 1000, 500, 0);
    finish(&f);
    cr_expect_eq(f.out.count, 0);
}

Test(windows, panes_are_released)
{
    fixture f;
    setup(&f, 3600000, 300000, 60000);
    for (int64_t i = 0; i < 200000; i++)
        feed(&f, i * 1000);
    cr_expect_leq(gope_windows_open_panes(f.win), 14, "open panes %zu",
                  gope_windows_open_panes(f.win));
    size_t open = gope_windows_open_panes(f.win);
    gope_err err;
    cr_assert_eq(gope_windows_flush(f.win, collect, &f.out, &err), GOPE_OK);
    /* a flush emits the open windows but keeps them, for a checkpoint */
    cr_expect_eq(gope_windows_open_panes(f.win), open);
    gope_windows_free(f.win);
    gope_estset_free(f.set);
}

Test(windows, slide_must_divide_size)
{
    gope_estset_t *set;
    gope_windows_t *w = NULL;
    gope_err err;
    cr_assert_eq(gope_estset_parse("ips", &set, &err), GOPE_OK);
    gope_window_conf c = {1000, 300, 0};
    cr_expect_eq(gope_windows_new(&c, 1, set, &w, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "multiple"), "%s", err.msg);
    gope_window_conf c2 = {1000, 2000, 0};
    cr_expect_eq(gope_windows_new(&c2, 1, set, &w, &err), GOPE_ERR_USAGE);
    gope_estset_free(set);
}

Test(duration, units_and_errors)
{
    int64_t ms;
    gope_err err;
    cr_expect_eq(gope_duration_parse("90s", "--w", &ms, &err), GOPE_OK);
    cr_expect_eq(ms, 90000);
    cr_expect_eq(gope_duration_parse("5m", "--w", &ms, &err), GOPE_OK);
    cr_expect_eq(ms, 300000);
    cr_expect_eq(gope_duration_parse("1h", "--w", &ms, &err), GOPE_OK);
    cr_expect_eq(ms, 3600000);
    cr_expect_eq(gope_duration_parse("1d", "--w", &ms, &err), GOPE_OK);
    cr_expect_eq(ms, 86400000);
    cr_expect_eq(gope_duration_parse("250ms", "--w", &ms, &err), GOPE_OK);
    cr_expect_eq(ms, 250);
    cr_expect_eq(gope_duration_parse("1500", "--w", &ms, &err), GOPE_OK);
    cr_expect_eq(ms, 1500);
    const char *bad[] = {"", "-5m", "5x", "m", "1.5h", "99999999999999999999d", "5 m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(gope_duration_parse(bad[i], "--window", &ms, &err), GOPE_ERR_USAGE,
                     "'%s'", bad[i]);
        cr_expect(strstr(err.msg, "--window"), "message names the option: %s", err.msg);
    }
}
