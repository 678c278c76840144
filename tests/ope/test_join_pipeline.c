/*
 * test_join_pipeline.c — the reward join inside the pipeline: accounting
 * (lines_read = accepted + rejected + late + rewards held, exact at the
 * end), orphans in the dead letters with their position, a pending
 * decision holding its window open instead of becoming late, the summary's
 * join block, reward lines without the join, and allocation failures.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "failalloc.h"
#include "gope_ope.h"
#include "join_test.h"

Test(join_pipeline, rewards_are_summed_and_counted)
{
    jt_run r;
    jt_open(&r, 1000, 0, 5000);
    jt_feed(&r, 0, jt_decision("a", 100, -1));
    jt_feed(&r, 0, jt_reward("a", 200, 1.5));
    jt_feed(&r, 0, jt_reward("b", 250, 4)); /* early: b comes later */
    jt_expect_accounting(&r);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->rewards_held, 1);
    cr_expect_eq(s->decisions_pending, 1);
    jt_feed(&r, 0, jt_decision("b", 300, -1));
    jt_feed(&r, 0, jt_reward("a", 400, 2.5));
    jt_feed(&r, 0, jt_decision("c", 500, -1));
    jt_feed(&r, 0, jt_decision("d", 600, 7)); /* inline: bypasses the join */
    jt_expect_accounting(&r);
    cr_expect_eq(s->rewards_held, 0);
    cr_expect_eq(s->decisions_pending, 3);
    jt_finish(&r);
    cr_expect_eq(s->lines_read, 7);
    cr_expect_eq(s->accepted, 7);
    cr_expect_eq(s->rewards_joined, 3);
    cr_expect_eq(s->decisions_defaulted, 1);
    cr_expect_eq(s->decisions_pending, 0);
    /* one window [0,1000): a = 4, b = 4, c = 0, d = 7 */
    cJSON *rec = jt_record(&r, 0, "p");
    cr_assert(rec);
    cr_expect_eq(jt_num(rec, "n"), 4);
    cr_expect_eq(jt_num(rec, "estimates.logged.value"), 15.0 / 4);
    cJSON_Delete(rec);
    cJSON *sum = jt_summary(&r);
    cr_expect_eq(jt_num(sum, "join.reward_wait_ms"), 5000);
    cr_expect_eq(jt_num(sum, "join.rewards_joined"), 3);
    cr_expect_eq(jt_num(sum, "join.decisions_defaulted"), 1);
    cr_expect_eq(jt_num(sum, "join.rewards_orphaned"), 0);
    cJSON_Delete(sum);
    jt_close(&r);
}

Test(join_pipeline, an_orphan_is_a_dead_letter_with_its_position)
{
    jt_run r;
    jt_open(&r, 1000, 0, 100);
    jt_feed(&r, 0, jt_reward("ghost", 50, 3)); /* line 1 */
    jt_feed(&r, 0, jt_decision("a", 60, 1));   /* line 2 */
    jt_expect_accounting(&r);
    cr_expect_eq(r.dead.n, 0, "held, not yet an orphan");
    jt_feed(&r, 0, jt_decision("b", 151, 1)); /* clock 151 > 50 + 100 */
    jt_expect_accounting(&r);
    cr_assert_eq(r.dead.n, 1);
    cJSON *d = cJSON_Parse(r.dead.line[0]);
    cr_assert(d);
    cr_expect_str_eq(cJSON_GetObjectItem(d, "source")->valuestring, "in.jsonl");
    cr_expect_str_eq(cJSON_GetObjectItem(d, "reason")->valuestring, "orphan_reward");
    cr_expect_eq(cJSON_GetObjectItem(d, "line")->valuedouble, 1);
    cr_expect_eq(cJSON_GetObjectItem(d, "offset")->valuedouble, 0);
    cr_expect(strstr(cJSON_GetObjectItem(d, "raw")->valuestring, "\"ghost\""));
    cr_expect(strstr(cJSON_GetObjectItem(d, "detail")->valuestring, "no decision"));
    cJSON_Delete(d);
    jt_finish(&r);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->rejected, 1);
    cr_expect_eq(s->by_reason[GOPE_R_ORPHAN_REWARD], 1);
    cr_expect_eq(s->rewards_orphaned, 1);
    cJSON *sum = jt_summary(&r);
    cr_expect_eq(jt_num(sum, "rejected_by_reason.orphan_reward"), 1);
    cJSON_Delete(sum);
    jt_close(&r);
}

Test(join_pipeline, end_of_input_orphans_every_held_reward)
{
    jt_run r;
    jt_open(&r, 0, 0, 600000);
    jt_feed(&r, 0, jt_decision("a", 10, -1));
    jt_feed(&r, 0, jt_reward("x", 20, 1));
    jt_feed(&r, 0, jt_reward("y", 30, 1));
    cr_expect_eq(r.dead.n, 0);
    jt_finish(&r);
    cr_expect_eq(r.dead.n, 2);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->decisions_defaulted, 1);
    cr_expect_eq(s->rewards_orphaned, 2);
    cr_expect_eq(s->rewards_held, 0);
    cr_expect_eq(s->lines_read, s->accepted + s->rejected + s->late);
    jt_close(&r);
}

/* A decision waiting for its reward holds the window watermark: its window
 * stays open past the lateness until its wait ends, and it is never late. */
Test(join_pipeline, a_pending_decision_is_never_late)
{
    jt_run r;
    jt_open(&r, 1000, 0, 5000);
    jt_feed(&r, 0, jt_decision("slow", 500, -1));
    for (int i = 1; i <= 5; i++) { /* the clock runs to 5500 */
        char id[8];
        snprintf(id, sizeof id, "f%d", i);
        jt_feed(&r, 0, jt_decision(id, 500 + 1000 * i - 1, 1));
    }
    cr_expect_eq(r.out.n, 0, "no window closes while 'slow' waits");
    jt_feed(&r, 0, jt_reward("slow", 4000, 9));
    jt_feed(&r, 0, jt_decision("late?", 700, 1)); /* 700: in the held window */
    jt_feed(&r, 0, jt_decision("go", 5501, 1)); /* releases slow: 500 + 5000 < 5501 */
    jt_expect_accounting(&r);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->late, 0);
    cJSON *rec = jt_record(&r, 0, "p");
    cr_assert(rec, "the window [0,1000) closed once slow was released");
    cr_expect_eq(jt_num(rec, "n"), 2);
    cr_expect_eq(jt_num(rec, "estimates.logged.value"), 5, "(9 + 1) / 2");
    cJSON_Delete(rec);
    jt_finish(&r);
    jt_close(&r);
}

Test(join_pipeline, without_the_join_a_reward_line_is_an_unknown_schema)
{
    jt_run r;
    jt_open(&r, 1000, 0, -1);
    jt_feed(&r, 0, jt_reward("a", 10, 1));
    jt_feed(&r, 0, jt_decision("a", 10, -1));
    jt_finish(&r);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->by_reason[GOPE_R_UNKNOWN_SCHEMA], 1);
    cr_expect_eq(s->by_reason[GOPE_R_MISSING_FIELD], 1);
    cr_assert_eq(r.dead.n, 2);
    cr_expect(strstr(r.dead.line[0], "rewards are not joined"), "%s", r.dead.line[0]);
    cJSON *sum = jt_summary(&r);
    cr_expect_null(cJSON_GetObjectItem(sum, "join"), "no join block without the join");
    cJSON_Delete(sum);
    jt_close(&r);
}

Test(join_pipeline, duplicates_are_refused_before_the_join)
{
    jt_run r;
    jt_open(&r, 1000, 0, 5000);
    jt_feed(&r, 0, jt_decision("a", 10, -1));
    jt_feed(&r, 0, jt_decision("a", 20, -1));
    jt_feed(&r, 0, jt_reward("a", 30, 2));
    jt_finish(&r);
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r.p);
    cr_expect_eq(s->by_reason[GOPE_R_DUPLICATE_EVENT_ID], 1);
    cr_expect_eq(s->rewards_joined, 1);
    cr_expect_eq(s->accepted, 2);
    jt_close(&r);
}

/* ------------------------------------------------------ allocation failures */

static gope_status nomem_pipeline(void)
{
    jt_run r;
    gope_status st = jt_try_open(&r, 1000, 0, 300);
    for (int i = 0; i < 80 && st == GOPE_OK; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%d", i / 2);
        const char *line = i % 2 ? jt_reward(id, 100 * i + 50, 1)
                                 : jt_decision(id, 100 * i, i % 4 ? -1 : 2);
        st = jt_try_feed(&r, (uint32_t)(i % 3), line);
        if (st == GOPE_OK && i == 40)
            st = gope_pipeline_stream_idle(r.p, 2, true, &r.err);
    }
    if (st == GOPE_OK)
        st = gope_pipeline_finish(r.p, &r.err);
    if (st == GOPE_OK)
        st = gope_pipeline_summary(r.p, NULL, &r.err);
    jt_close(&r);
    return st;
}

Test(join_pipeline, allocation_failures)
{
    fa_exhaust(nomem_pipeline, "pipeline with the reward join");
}
