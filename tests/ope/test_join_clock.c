/*
 * test_join_clock.c — the per-stream clock (ope/clock.c) and what it drives
 * in the pipeline: the minimum over streams, a waiting stream holding it,
 * an idle stream left out, removal, monotonicity; windows closing by the
 * slowest stream; one stream behaving exactly as the single watermark did.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "join_test.h"

static gope_clock_t *new_clock(void)
{
    gope_clock_t *c;
    gope_err err;
    cr_assert_eq(gope_clock_new(&c, &err), GOPE_OK);
    return c;
}

static void see(gope_clock_t *c, uint32_t s, int64_t ts)
{
    gope_err err;
    cr_assert_eq(gope_clock_observe(c, s, ts, &err), GOPE_OK, "%s", err.msg);
}

Test(clock, the_minimum_over_streams)
{
    gope_clock_t *c = new_clock();
    cr_expect_eq(gope_clock_now(c), INT64_MIN);
    see(c, 0, 100);
    cr_expect_eq(gope_clock_now(c), 100, "one stream: its largest ts");
    see(c, 0, 50);
    cr_expect_eq(gope_clock_now(c), 100, "never back");
    see(c, 3, 70);
    cr_expect_eq(gope_clock_streams(c), 2);
    cr_expect_eq(gope_clock_now(c), 100, "a new stream behind does not move it back");
    see(c, 0, 300);
    cr_expect_eq(gope_clock_now(c), 100, "held by stream 3 at 70");
    see(c, 3, 200);
    cr_expect_eq(gope_clock_now(c), 200);
    see(c, 3, 400);
    cr_expect_eq(gope_clock_now(c), 300);
    gope_clock_free(c);
}

Test(clock, a_waiting_stream_holds_an_idle_one_does_not)
{
    gope_err err;
    gope_clock_t *c = new_clock();
    cr_assert_eq(gope_clock_add(c, 0, &err), GOPE_OK);
    cr_assert_eq(gope_clock_add(c, 1, &err), GOPE_OK);
    see(c, 0, 1000);
    cr_expect_eq(gope_clock_now(c), INT64_MIN, "stream 1 has delivered nothing yet");
    gope_clock_idle(c, 1, true);
    cr_expect_eq(gope_clock_now(c), 1000, "idle: left out");
    see(c, 0, 2000);
    cr_expect_eq(gope_clock_now(c), 2000);
    see(c, 1, 1500); /* data makes it active again, behind the clock */
    cr_expect_eq(gope_clock_now(c), 2000);
    see(c, 0, 3000);
    cr_expect_eq(gope_clock_now(c), 2000, "held at stream 1's 1500, never back");
    see(c, 1, 2500);
    cr_expect_eq(gope_clock_now(c), 2500);
    gope_clock_idle(c, 0, true);
    gope_clock_idle(c, 1, true);
    cr_expect_eq(gope_clock_now(c), 2500, "every stream idle: it stays");
    gope_clock_idle(c, 0, false);
    cr_expect_eq(gope_clock_now(c), 3000);
    gope_clock_free(c);
}

Test(clock, streams_come_and_go)
{
    gope_err err;
    gope_clock_t *c = new_clock();
    see(c, 1, 50);
    see(c, 0, 100);
    cr_expect_eq(gope_clock_now(c), 50);
    gope_clock_remove(c, 1);
    cr_expect_eq(gope_clock_now(c), 100, "revoked: no longer counts");
    cr_expect_eq(gope_clock_streams(c), 1);
    gope_clock_remove(c, 1); /* absent: nothing */
    gope_clock_idle(c, 9, true);
    cr_assert_eq(gope_clock_add(c, 7, &err), GOPE_OK);
    cr_assert_eq(gope_clock_add(c, 7, &err), GOPE_OK);
    cr_expect_eq(gope_clock_streams(c), 2);
    see(c, 0, 200);
    cr_expect_eq(gope_clock_now(c), 100, "stream 7 waits");
    gope_clock_remove(c, 7);
    cr_expect_eq(gope_clock_now(c), 200);
    cr_expect_eq(gope_clock_add(c, GOPE_CLOCK_MAX_STREAMS, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_clock_observe(c, GOPE_CLOCK_MAX_STREAMS, 1, &err), GOPE_ERR_USAGE);
    gope_clock_free(c);
    gope_clock_free(NULL);
}

/* Windows close by the slowest stream, and an idle one stops holding them. */
Test(clock, windows_follow_the_slowest_stream)
{
    jt_run r;
    jt_open(&r, 1000, 0, -1);
    gope_err err;
    cr_assert_eq(gope_pipeline_stream_add(r.p, 0, &err), GOPE_OK);
    cr_assert_eq(gope_pipeline_stream_add(r.p, 1, &err), GOPE_OK);
    jt_feed(&r, 0, jt_decision("a", 100, 1));
    jt_feed(&r, 0, jt_decision("b", 2500, 1));
    cr_expect_eq(gope_pipeline_clock(r.p), INT64_MIN);
    cr_expect_eq(r.out.n, 0, "stream 1 has not started");
    jt_feed(&r, 1, jt_decision("c", 900, 1));
    cr_expect_eq(gope_pipeline_clock(r.p), 900);
    cr_expect_eq(r.out.n, 0);
    jt_feed(&r, 1, jt_decision("d", 1200, 1));
    cr_expect_eq(r.out.n, 2, "[0,1000) closed: both streams are past it");
    cJSON *rec = jt_record(&r, 0, "p");
    cr_assert(rec);
    cr_expect_eq(jt_num(rec, "n"), 2);
    cJSON_Delete(rec);
    cr_assert_eq(gope_pipeline_stream_idle(r.p, 1, true, &err), GOPE_OK);
    cr_expect_eq(gope_pipeline_clock(r.p), 2500);
    cr_expect_eq(r.out.n, 4, "stream 1 idle: [1000,2000) closes on stream 0's time");
    /* stream 1 comes back with an event whose window has closed: late */
    jt_feed(&r, 1, jt_decision("e", 1500, 1));
    cr_expect_eq(gope_pipeline_stats_get(r.p)->late, 1);
    cr_assert_eq(gope_pipeline_stream_remove(r.p, 1, &err), GOPE_OK);
    jt_feed(&r, 0, jt_decision("f", 3100, 1));
    cr_expect_eq(r.out.n, 6);
    jt_finish(&r);
    jt_expect_accounting(&r);
    cr_expect_eq(gope_pipeline_stream_add(r.p, GOPE_CLOCK_MAX_STREAMS, &err), GOPE_ERR_USAGE);
    cr_expect_eq(jt_try_feed(&r, GOPE_CLOCK_MAX_STREAMS, jt_decision("g", 1, 1)),
                 GOPE_ERR_USAGE);
    cr_expect_eq(gope_pipeline_stats_get(r.p)->lines_read, 6, "a refused stream reads nothing");
    jt_close(&r);
}

/* With the join, the clock that releases decisions is the stream clock
 * minus the lateness, so a lagging stream holds the join as well. */
Test(clock, the_join_waits_for_the_slowest_stream)
{
    jt_run r;
    jt_open(&r, 1000, 200, 1000);
    jt_feed(&r, 0, jt_decision("a", 100, -1));
    jt_feed(&r, 1, jt_reward("z", 100, 1));
    jt_feed(&r, 0, jt_decision("b", 5000, 1));
    cr_expect_eq(gope_pipeline_stats_get(r.p)->decisions_pending, 1, "stream 1 is at 100");
    jt_feed(&r, 1, jt_reward("a", 1050, 2)); /* 950 after a: within the wait */
    jt_feed(&r, 1, jt_reward("y", 1301, 1));  /* clock 1301 - 200 > 100 + 1000 */
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->decisions_pending, 0);
    cr_expect_eq(s->rewards_joined, 1);
    cr_expect_eq(s->rewards_orphaned, 1, "z's wait ended with a's");
    cr_expect_eq(s->rewards_held, 1, "y waits its own wait");
    jt_finish(&r);
    cr_expect_eq(s->rewards_orphaned, 2);
    jt_expect_accounting(&r);
    jt_close(&r);
}

/* Every line on one stream, whichever its number, and the records come out
 * when max ts - lateness passes a window's end, as they always did. */
Test(clock, one_stream_is_the_single_watermark)
{
    jt_run a, b;
    jt_open(&a, 1000, 300, -1);
    jt_open(&b, 1000, 300, -1);
    static const int64_t ts[] = {10, 900, 1200, 1299, 1300, 800, 2950, 1500, 4000, 100};
    size_t emitted_after[sizeof ts / sizeof ts[0]];
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        char id[8];
        snprintf(id, sizeof id, "e%zu", i);
        const char *line = jt_decision(id, ts[i], (double)i);
        jt_feed(&a, 0, line);
        jt_feed(&b, 5, line);
        emitted_after[i] = a.out.n;
    }
    cr_expect_eq(emitted_after[3], 0, "1299 - 300 < 1000");
    cr_expect_eq(emitted_after[4], 2, "1300 - 300 closes [0,1000)");
    cr_expect_eq(emitted_after[5], 2, "800 is late: nothing more");
    jt_finish(&a);
    jt_finish(&b);
    cr_expect_eq(gope_pipeline_stats_get(a.p)->late, 3, "800, 1500 after 2950, 100");
    cr_assert_eq(a.out.n, b.out.n);
    for (size_t i = 0; i < a.out.n; i++)
        cr_expect_str_eq(a.out.line[i], b.out.line[i]);
    jt_close(&a);
    jt_close(&b);
}
