/*
 * test_join.c — the reward join on its own (ope/join.c): rewards summed,
 * early rewards, expiry, orphans with their source position, the exact wait
 * boundary, the order things leave in, memory that empties as the clock
 * passes, save/load round trips, and allocation failures.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "gope_ope.h"

#define WAIT 1000
#define MAXOUT 256

/* What left the join, in order. */
typedef struct {
    char what[MAXOUT];        /* 'R' released, 'O' orphan */
    int64_t ts[MAXOUT];
    double reward[MAXOUT];    /* released: obs[0].r */
    uint32_t n_rewards[MAXOUT];
    double w1[MAXOUT];        /* released: obs[1].w */
    char source[MAXOUT][32], raw[MAXOUT][64], detail[MAXOUT][320];
    uint64_t lineno[MAXOUT], offset[MAXOUT];
    size_t n;
} sink;

static gope_status on_release(void *ctx, int64_t ts, gope_obs *obs, uint32_t n_rewards,
                              gope_err *err)
{
    (void)err;
    sink *s = ctx;
    cr_assert_lt(s->n, MAXOUT);
    s->what[s->n] = 'R';
    s->ts[s->n] = ts;
    s->reward[s->n] = obs[0].r;
    cr_expect_eq(obs[1].r, obs[0].r, "every policy sees the same reward");
    s->w1[s->n] = obs[1].w;
    s->n_rewards[s->n++] = n_rewards;
    return GOPE_OK;
}

static gope_status on_orphan(void *ctx, const char *source, const gope_line *line,
                             const char *detail, gope_err *err)
{
    (void)err;
    sink *s = ctx;
    cr_assert_lt(s->n, MAXOUT);
    s->what[s->n] = 'O';
    snprintf(s->source[s->n], sizeof s->source[0], "%s", source);
    snprintf(s->raw[s->n], sizeof s->raw[0], "%.*s", (int)line->len, line->data);
    snprintf(s->detail[s->n], sizeof s->detail[0], "%s", detail);
    s->lineno[s->n] = line->lineno;
    s->offset[s->n++] = line->offset;
    return GOPE_OK;
}

typedef struct {
    gope_join_t *j;
    sink out;
    gope_join_out cb;
} fixture;

static void setup(fixture *f, int64_t wait)
{
    gope_err err;
    gope_join_conf c = {.wait_ms = wait, .n_obs = 2};
    memset(&f->out, 0, sizeof f->out);
    f->cb = (gope_join_out){.release = on_release, .orphan = on_orphan, .ctx = &f->out};
    cr_assert_eq(gope_join_new(&c, &f->j, &err), GOPE_OK, "%s", err.msg);
}

static void decision(fixture *f, const char *id, int64_t ts, uint32_t want_joined)
{
    gope_err err;
    gope_obs obs[2] = {{.w = 1, .q = 2, .v = 3}, {.w = (double)ts / 7, .q = 0.5, .v = 0.25}};
    uint32_t joined = 99;
    cr_assert_eq(gope_join_decision(f->j, id, strlen(id), ts, obs, &joined, &err), GOPE_OK);
    cr_expect_eq(joined, want_joined, "decision %s joined %u held rewards", id, joined);
}

static void reward(fixture *f, const char *id, int64_t ts, double r, uint64_t lineno,
                   bool want_joined)
{
    gope_err err;
    char raw[64];
    snprintf(raw, sizeof raw, "{\"event_id\":\"%s\",\"ts\":%lld}", id, (long long)ts);
    gope_line line = {.data = raw, .len = strlen(raw), .lineno = lineno,
                      .offset = lineno * 100, .full_len = strlen(raw)};
    bool joined;
    cr_assert_eq(gope_join_reward(f->j, id, strlen(id), ts, r, "rewards.jsonl", &line, &joined,
                                  &err), GOPE_OK);
    cr_expect_eq(joined, want_joined, "reward %s at %lld", id, (long long)ts);
}

static void clock_at(fixture *f, int64_t now)
{
    gope_err err;
    cr_assert_eq(gope_join_advance(f->j, now, &f->cb, &err), GOPE_OK);
}

Test(join, rewards_after_the_decision_are_summed)
{
    fixture f;
    setup(&f, WAIT);
    decision(&f, "a", 100, 0);
    reward(&f, "a", 200, 1.5, 1, true);
    reward(&f, "a", 300, 2.25, 2, true);
    reward(&f, "a", 1100, 4, 3, true); /* exactly ts + wait: still within */
    clock_at(&f, 1100);                /* 100 + 1000 is not < 1100 */
    cr_expect_eq(f.out.n, 0);
    cr_expect_eq(gope_join_pending(f.j), 1);
    clock_at(&f, 1101);
    cr_assert_eq(f.out.n, 1);
    cr_expect_eq(f.out.what[0], 'R');
    cr_expect_eq(f.out.ts[0], 100);
    cr_expect_eq(f.out.reward[0], 7.75);
    cr_expect_eq(f.out.n_rewards[0], 3);
    cr_expect_eq(f.out.w1[0], 100.0 / 7, "the observations come back as given");
    cr_expect_eq(gope_join_pending(f.j), 0);
    gope_join_free(f.j);
}

Test(join, early_rewards_wait_for_their_decision)
{
    fixture f;
    setup(&f, WAIT);
    reward(&f, "a", 500, 1, 1, false);
    reward(&f, "a", 600, 2, 2, false);
    reward(&f, "b", 600, 5, 3, false);
    cr_expect_eq(gope_join_held(f.j), 3);
    cr_expect_eq(gope_join_oldest(f.j), INT64_MAX, "rewards do not hold windows");
    decision(&f, "a", 400, 2);
    cr_expect_eq(gope_join_held(f.j), 1);
    cr_expect_eq(gope_join_oldest(f.j), 400);
    clock_at(&f, INT64_MAX);
    cr_assert_eq(f.out.n, 2);
    cr_expect_eq(f.out.what[0], 'R');
    cr_expect_eq(f.out.reward[0], 3);
    cr_expect_eq(f.out.what[1], 'O', "b never came");
    gope_join_free(f.j);
}

Test(join, a_decision_without_reward_is_defaulted_when_its_wait_ends)
{
    fixture f;
    setup(&f, WAIT);
    decision(&f, "a", 0, 0);
    decision(&f, "b", 50, 0);
    clock_at(&f, 1000);
    cr_expect_eq(f.out.n, 0);
    clock_at(&f, 1001);
    cr_assert_eq(f.out.n, 1);
    cr_expect_eq(f.out.reward[0], 0);
    cr_expect_eq(f.out.n_rewards[0], 0);
    cr_expect_eq(gope_join_oldest(f.j), 50);
    /* a reward after its decision was released is an orphan */
    reward(&f, "a", 900, 1, 7, false);
    clock_at(&f, 1900);
    cr_assert_eq(f.out.n, 2, "b goes; the reward waits its own wait: 900 + 1000");
    cr_expect_eq(f.out.what[1], 'R');
    cr_expect_eq(f.out.ts[1], 50);
    clock_at(&f, 1901);
    cr_assert_eq(f.out.n, 3);
    cr_expect_eq(f.out.what[2], 'O');
    gope_join_free(f.j);
}

Test(join, an_orphan_names_its_line_and_why)
{
    fixture f;
    setup(&f, WAIT);
    reward(&f, "lonely", 10, 1, 42, false);
    decision(&f, "far", 5000, 0);
    reward(&f, "far", 6001, 2, 43, false); /* 1001 ms after its decision */
    clock_at(&f, INT64_MAX);
    cr_assert_eq(f.out.n, 3);
    cr_expect_eq(f.out.what[0], 'O');
    cr_expect_str_eq(f.out.source[0], "rewards.jsonl");
    cr_expect_str_eq(f.out.raw[0], "{\"event_id\":\"lonely\",\"ts\":10}");
    cr_expect_eq(f.out.lineno[0], 42);
    cr_expect_eq(f.out.offset[0], 4200);
    cr_expect(strstr(f.out.detail[0], "no decision within the reward wait of 1000 ms"),
              "%s", f.out.detail[0]);
    cr_expect_eq(f.out.what[1], 'R');
    cr_expect_eq(f.out.reward[1], 0);
    cr_expect_eq(f.out.what[2], 'O');
    cr_expect_eq(f.out.lineno[2], 43);
    cr_expect(strstr(f.out.detail[2], "(ts 5000) is 1001 ms away"), "%s", f.out.detail[2]);
    gope_join_free(f.j);
}

Test(join, the_wait_is_symmetric_and_exact)
{
    fixture f;
    setup(&f, WAIT);
    /* early rewards: at d - wait joins, at d - wait - 1 does not */
    reward(&f, "a", 1000, 1, 1, false);
    reward(&f, "a", 999, 2, 2, false);
    decision(&f, "a", 2000, 1);
    cr_expect_eq(gope_join_held(f.j), 1);
    /* late rewards: at d + wait joins, at d + wait + 1 does not */
    reward(&f, "a", 3000, 4, 3, true);
    reward(&f, "a", 3001, 8, 4, false);
    clock_at(&f, INT64_MAX);
    cr_assert_eq(f.out.n, 3);
    /* in (ts, arrival) order: the orphan at 999, the decision at 2000, the
     * orphan at 3001 */
    cr_expect_eq(f.out.what[0], 'O');
    cr_expect_eq(f.out.lineno[0], 2);
    cr_expect_eq(f.out.what[1], 'R');
    cr_expect_eq(f.out.reward[1], 5);
    cr_expect_eq(f.out.what[2], 'O');
    cr_expect_eq(f.out.lineno[2], 4);
    gope_join_free(f.j);
}

Test(join, a_zero_wait_joins_only_the_same_ts)
{
    fixture f;
    setup(&f, 0);
    decision(&f, "a", 10, 0);
    reward(&f, "a", 10, 1, 1, true);
    reward(&f, "a", 11, 1, 2, false);
    clock_at(&f, 10);
    cr_expect_eq(f.out.n, 0);
    clock_at(&f, 11);
    cr_expect_eq(f.out.n, 1);
    gope_join_free(f.j);
}

Test(join, ties_leave_in_arrival_order)
{
    fixture f;
    setup(&f, WAIT);
    decision(&f, "c", 100, 0);
    reward(&f, "x", 100, 1, 1, false);
    decision(&f, "a", 100, 0);
    decision(&f, "b", 100, 0);
    clock_at(&f, INT64_MAX);
    cr_assert_eq(f.out.n, 4);
    cr_expect_eq(f.out.what[0], 'R');
    cr_expect_eq(f.out.what[1], 'O');
    cr_expect_eq(f.out.what[2], 'R');
    cr_expect_eq(f.out.what[3], 'R');
    gope_join_free(f.j);
}

/* The join holds only what is inside the wait: a long stream keeps it small. */
Test(join, memory_is_bounded_by_the_wait)
{
    fixture f;
    setup(&f, WAIT);
    char id[32];
    size_t most = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t ts = (int64_t)i * 10; /* 100 events per wait */
        snprintf(id, sizeof id, "e%d", i);
        decision(&f, id, ts, 0);
        if (i % 3 == 0) {
            snprintf(id, sizeof id, "e%d", i - 30); /* 300 ms later */
            reward(&f, id, ts, 1, (uint64_t)i, i >= 30);
        }
        f.out.n = 0; /* the sink's arrays are only for the small tests */
        clock_at(&f, ts);
        size_t now = gope_join_pending(f.j) + gope_join_held(f.j);
        most = now > most ? now : most;
    }
    /* 101 decisions inside one wait, plus the 10 rewards of the first 300 ms
     * that have no decision and are held for their own wait */
    cr_expect_leq(most, 111, "at most the events of one wait (%zu)", most);
    cr_expect_geq(most, 101);
    clock_at(&f, INT64_MAX);
    cr_expect_eq(gope_join_pending(f.j) + gope_join_held(f.j), 0);
    gope_join_free(f.j);
}

Test(join, bad_configuration)
{
    gope_err err;
    gope_join_t *j = NULL;
    gope_join_conf neg = {.wait_ms = -1, .n_obs = 1}, none = {.wait_ms = 1, .n_obs = 0};
    cr_expect_eq(gope_join_new(&neg, &j, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "--reward-wait"));
    cr_expect_eq(gope_join_new(&none, &j, &err), GOPE_ERR_USAGE);
    gope_join_free(NULL);
}

/* --------------------------------------------------------------- save/load */

static FILE *saved(const gope_join_t *j)
{
    gope_err err;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(gope_join_save(j, f, &err), GOPE_OK, "%s", err.msg);
    fputs("TAIL", f); /* the state is self-delimiting */
    rewind(f);
    return f;
}

/* The same history, once straight through and once saved and loaded in the
 * middle, must give the same releases and orphans, doubles bit for bit. */
static void history(fixture *f, int part)
{
    if (part == 0) {
        decision(f, "a", 100, 0);
        reward(f, "a", 150, 0.1, 1, true);
        reward(f, "b", 120, 0.7, 2, false);
        reward(f, "b", 130, 0.2, 3, false);
        reward(f, "c", 140, 1e-17, 4, false);
        decision(f, "z", 90, 0);
    } else {
        reward(f, "a", 160, 0.2, 5, true);
        decision(f, "b", 200, 2);
        reward(f, "a", 1101, 3, 6, false);
        clock_at(f, INT64_MAX);
    }
}

Test(join, save_and_load_round_trip)
{
    fixture a, b;
    setup(&a, WAIT);
    history(&a, 0);
    history(&a, 1);

    setup(&b, WAIT);
    history(&b, 0);
    FILE *file = saved(b.j);
    gope_join_free(b.j);
    sink before = b.out;
    setup(&b, WAIT);
    gope_err err;
    cr_assert_eq(gope_join_load(b.j, file, &err), GOPE_OK, "%s", err.msg);
    char tail[8] = {0};
    cr_expect_eq(fread(tail, 1, 4, file), 4);
    cr_expect_str_eq(tail, "TAIL");
    fclose(file);
    cr_expect_eq(gope_join_pending(b.j), 2);
    cr_expect_eq(gope_join_held(b.j), 3);
    cr_expect_eq(gope_join_oldest(b.j), 90);
    b.out = before;
    history(&b, 1);

    cr_assert_eq(a.out.n, b.out.n);
    cr_assert_eq(a.out.n, 5);
    for (size_t i = 0; i < a.out.n; i++) {
        cr_expect_eq(a.out.what[i], b.out.what[i], "#%zu", i);
        cr_expect_eq(a.out.ts[i], b.out.ts[i], "#%zu", i);
        cr_expect(memcmp(&a.out.reward[i], &b.out.reward[i], sizeof(double)) == 0,
                  "#%zu: %.17g vs %.17g", i, a.out.reward[i], b.out.reward[i]);
        cr_expect(memcmp(&a.out.w1[i], &b.out.w1[i], sizeof(double)) == 0, "#%zu", i);
        cr_expect_eq(a.out.n_rewards[i], b.out.n_rewards[i]);
        cr_expect_str_eq(a.out.detail[i], b.out.detail[i]);
        cr_expect_str_eq(a.out.raw[i], b.out.raw[i]);
        cr_expect_str_eq(a.out.source[i], b.out.source[i]);
        cr_expect_eq(a.out.lineno[i], b.out.lineno[i]);
        cr_expect_eq(a.out.offset[i], b.out.offset[i]);
    }
    gope_join_free(a.j);
    gope_join_free(b.j);
}

Test(join, load_refuses_what_it_cannot_use)
{
    fixture f, g;
    gope_err err;
    setup(&f, WAIT);
    history(&f, 0);
    FILE *file = saved(f.j);

    /* into a join that is not empty */
    cr_expect_eq(gope_join_load(f.j, file, &err), GOPE_ERR_USAGE);
    /* into another wait */
    setup(&g, WAIT + 1);
    rewind(file);
    cr_expect_eq(gope_join_load(g.j, file, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "wait"), "%s", err.msg);
    gope_join_free(g.j);

    /* every truncation is refused and leaves the join empty */
    fseek(file, 0, SEEK_END);
    long size = ftell(file) - 4;
    char *bytes = malloc((size_t)size);
    rewind(file);
    cr_assert_eq(fread(bytes, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    setup(&g, WAIT);
    for (long cut = 0; cut < size; cut++) {
        FILE *t = tmpfile();
        fwrite(bytes, 1, (size_t)cut, t);
        rewind(t);
        cr_expect_eq(gope_join_load(g.j, t, &err), GOPE_ERR_INPUT, "cut at %ld", cut);
        cr_expect_eq(gope_join_pending(g.j) + gope_join_held(g.j), 0);
        fclose(t);
    }
    /* and a flipped magic */
    bytes[0] ^= 1;
    FILE *t = tmpfile();
    fwrite(bytes, 1, (size_t)size, t);
    rewind(t);
    cr_expect_eq(gope_join_load(g.j, t, &err), GOPE_ERR_INPUT);
    fclose(t);
    free(bytes);
    gope_join_free(g.j);
    gope_join_free(f.j);
}

/* ------------------------------------------------------- allocation failures */

static gope_status nomem_run(void)
{
    gope_join_conf c = {.wait_ms = 50, .n_obs = 3};
    gope_join_t *j = NULL, *k = NULL;
    gope_err err;
    gope_status st = gope_join_new(&c, &j, &err);
    sink out = {0};
    gope_join_out cb = {.release = on_release, .orphan = on_orphan, .ctx = &out};
    gope_obs obs[3] = {{1, 0, 1, 1}, {2, 0, 2, 2}, {3, 0, 3, 3}};
    char id[16];
    gope_line line = {.data = "r", .len = 1, .lineno = 1};
    for (int i = 0; i < 300 && st == GOPE_OK; i++) {
        uint32_t nj;
        bool joined;
        snprintf(id, sizeof id, "e%d", i % 150);
        if (i % 2)
            st = gope_join_decision(j, id, strlen(id), i, obs, &nj, &err);
        else
            st = gope_join_reward(j, id, strlen(id), i, 1, "src", &line, &joined, &err);
        out.n = 0;
        if (st == GOPE_OK && i % 100 == 99)
            st = gope_join_advance(j, i, &cb, &err);
    }
    if (st == GOPE_OK) {
        FILE *f = tmpfile();
        cr_assert_not_null(f);
        st = gope_join_save(j, f, &err);
        rewind(f);
        if (st == GOPE_OK)
            st = gope_join_new(&c, &k, &err);
        if (st == GOPE_OK)
            st = gope_join_load(k, f, &err);
        fclose(f);
    }
    if (st == GOPE_OK) {
        out.n = 0;
        st = gope_join_advance(k, INT64_MAX, &cb, &err);
    }
    gope_join_free(j);
    gope_join_free(k);
    return st;
}

Test(join, allocation_failures)
{
    fa_exhaust(nomem_run, "join");
}
