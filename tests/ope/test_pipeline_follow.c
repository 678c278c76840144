/*
 * test_pipeline_follow.c — a quiet partition's clock following the others
 * (gope_pipeline_follow, ope/pipeline_parts.c; consume --partials
 * --checkpoint): windows close as if the stream had delivered up to the
 * time followed, later events behind it are late, and the clock never
 * moves back (suite pipeline_follow).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gope_ope.h"
#include "testutil.h"

/* An event at `ts` on stream 0. */
static void event(gope_pipeline_t *p, int id, long ts)
{
    char buf[512];
    int len = snprintf(buf, sizeof buf,
                       "{\"event_id\":\"e%d\",\"ts\":%ld,\"user_id\":\"u\",\"candidates\":"
                       "[{\"streamer_id\":\"a\",\"ev\":1.5},{\"streamer_id\":\"b\",\"ev\":0.5}],"
                       "\"action\":0,\"propensity\":0.5,\"reward\":2}",
                       id, ts);
    gope_line line = {.data = buf, .len = (size_t)len, .lineno = (uint64_t)id};
    gope_err err = {{0}};
    cr_assert_eq(gope_pipeline_line_on(p, 0, "test", &line, &err), GOPE_OK, "%s", err.msg);
}

Test(pipeline_follow, windows_close_and_events_behind_are_late)
{
    char *dir = tu_tmpdir(), out_path[600];
    snprintf(out_path, sizeof out_path, "%s/out.jsonl", dir);
    gope_err err = {{0}};
    gope_policy_set_t *pol = NULL;
    gope_estset_t *set = NULL;
    gope_sink out = {0}, dead = {0};
    gope_pipeline_t *p = NULL;
    gope_pipeline_conf conf = {.window = {.size_ms = 10000, .slide_ms = 10000},
                               .dedupe_horizon_ms = 60000, .require_reward = true};
    cr_assert_eq(gope_policies_default(&pol, &err), GOPE_OK);
    cr_assert_eq(gope_estset_parse("snips", &set, &err), GOPE_OK);
    cr_assert_eq(gope_sink_open(out_path, "--out", NULL, &out, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_pipeline_new(&conf, pol, set, &out, &dead, &p, &err), GOPE_OK);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(p);

    event(p, 1, 1000);
    event(p, 2, 2000);
    cr_expect_eq(s->windows, 0);
    cr_assert_eq(gope_pipeline_follow(p, 0, 25000, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_pipeline_clock(p), 25000);
    cr_expect_eq(gope_pipeline_watermark(p), 25000);
    cr_expect_eq(s->windows, 1, "[0, 10s) closed; [10s, 20s) had no event");
    event(p, 3, 5000);
    cr_expect_eq(s->late, 1, "behind the clock followed");
    cr_assert_eq(gope_pipeline_follow(p, 0, 20000, &err), GOPE_OK);
    cr_expect_eq(gope_pipeline_clock(p), 25000, "never back");
    event(p, 4, 31000);
    cr_expect_eq(gope_pipeline_clock(p), 31000, "its own events move it on");
    cr_expect_eq(s->accepted, 3);
    cr_expect_eq(s->lines_read, s->accepted + s->rejected + s->late);

    gope_pipeline_free(p);
    cr_assert_eq(gope_sink_close(&out, &err), GOPE_OK);
    gope_estset_free(set);
    gope_policies_free(pol);
    tu_rmtree(dir);
}
