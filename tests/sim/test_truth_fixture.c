/*
 * test_truth_fixture.c — the helpers of truth_fixture.h (no tests of its
 * own; named test_* so that the suite's glob links it).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "simworld.h"
#include "testutil.h"
#include "truth_fixture.h"

gope_world_conf trf_world(uint32_t users, uint32_t streamers, uint32_t round)
{
    gope_world_conf c = tu_world_preset("giftlive-v2");
    c.n_users = users;
    c.n_streamers = streamers;
    c.round_users = round;
    return c;
}

gope_policy_set_t *trf_policies(const char *json)
{
    gope_policy_set_t *set = NULL;
    gope_err err;
    gope_status st = json ? gope_policies_parse(json, strlen(json), "test", &set, &err)
                          : gope_policies_default(&set, &err);
    cr_assert_eq(st, GOPE_OK, "%s", err.msg);
    return set;
}

size_t trf_policy_index(const gope_policy_set_t *set, const char *name)
{
    for (size_t i = 0; i < gope_policies_count(set); i++)
        if (strcmp(gope_policy_name(set, i), name) == 0)
            return i;
    cr_assert_fail("no policy %s", name);
    return 0;
}

const char *trf_path(trf_tmp *f, const char *name)
{
    if (!f->dir)
        cr_assert((f->dir = tu_tmpdir()));
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    return f->path;
}

const char *trf_write(trf_tmp *f, const char *name, const char *text)
{
    const char *p = trf_path(f, name);
    cr_assert(tu_write_file(p, text, strlen(text)));
    return p;
}

static gope_status add_outcome(void *ctx, const gope_sim_step *step, gope_err *err)
{
    (void)err;
    return gope_metrics_add(ctx, step->outcome);
}

trf_direct trf_run_direct(const gope_world_conf *wc, uint64_t seed, const gope_policy_set_t *set,
                          const char *spec, uint64_t decisions)
{
    trf_direct r;
    gope_err err;
    gope_sim_world_t *w = NULL;
    gope_sim_allocator a;
    gope_metrics_conf mc;
    cr_assert_eq(gope_sim_world_new(wc, seed, &w, &err), GOPE_OK, "%s", err.msg);
    gope_simtruth_metrics_conf(w, &mc);
    gope_metrics_t *m = gope_metrics_new(&mc);
    cr_assert(m);
    cr_assert_eq(gope_sim_allocator_new(spec, set, w, &a, &err), GOPE_OK, "%s", err.msg);
    const gope_sim_run_conf rc = {.decisions = decisions, .on_step = add_outcome, .ctx = m};
    cr_assert_eq(gope_sim_run(w, &a, &rc, &r.sum, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_metrics_finish(m, &r.m, &err), GOPE_OK, "%s", err.msg);
    gope_sim_allocator_free(&a);
    gope_metrics_free(m);
    gope_sim_world_free(w);
    return r;
}

/* The log writer, and the test's own callback after it. */
typedef struct {
    gope_sim_log_t *log;
    gope_sim_step_fn also;
    void *ctx;
} tee;

static gope_status tee_step(void *ctx, const gope_sim_step *step, gope_err *err)
{
    const tee *t = ctx;
    gope_status st = gope_sim_log_write(t->log, step, err);
    return st || !t->also ? st : t->also(t->ctx, step, err);
}

double trf_sim_log(const gope_world_conf *wc, const gope_policy_set_t *set, const char *spec,
                   const char *path, gope_sim_step_fn also, void *ctx)
{
    gope_err err;
    tee t = {NULL, also, ctx};
    gope_ksum v_static = {0, 0};
    cr_assert_eq(gope_sim_log_open(path, &t.log, &err), GOPE_OK, "%s", err.msg);
    for (uint64_t seed = 3; seed <= 4; seed++) {
        gope_sim_world_t *w = NULL;
        gope_sim_allocator a;
        gope_sim_summary sum;
        cr_assert_eq(gope_sim_world_new(wc, seed, &w, &err), GOPE_OK, "%s", err.msg);
        cr_assert_eq(gope_sim_allocator_new(spec, set, w, &a, &err), GOPE_OK, "%s", err.msg);
        const gope_sim_run_conf rc = {.decisions = 250, .on_step = tee_step, .ctx = &t};
        cr_assert_eq(gope_sim_run(w, &a, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
        gope_ksum_add(&v_static, sum.v_static * 250);
        gope_sim_allocator_free(&a);
        gope_sim_world_free(w);
    }
    cr_assert_eq(gope_sim_log_close(t.log, &err), GOPE_OK, "%s", err.msg);
    return gope_ksum_value(&v_static) / 500;
}

bool trf_close12(double got, double want)
{
    return fabs(got - want) <= 1e-12 * fmax(fabs(got), fabs(want));
}

gope_status trf_make_truth(const gope_simtruth_conf *c, const char *log, const char *out,
                           size_t *lines, gope_err *err)
{
    gope_simtruth_t *t = NULL;
    gope_sink sink = {0};
    gope_status st = gope_simtruth_new(c, &t, err);
    if (st == GOPE_OK && lines)
        *lines = gope_simtruth_lines(t);
    if (st == GOPE_OK && log)
        st = gope_simtruth_static(t, log, err);
    if (st == GOPE_OK)
        st = gope_simtruth_online(t, err);
    if (st == GOPE_OK)
        st = gope_sink_file_open(out, &sink, err);
    if (st == GOPE_OK)
        st = gope_simtruth_write(t, &sink, err);
    gope_status cs = gope_sink_close(&sink, err);
    gope_simtruth_free(t);
    return st ? st : cs;
}

gope_status trf_oom_truth(const char *dir, const char *logging, uint64_t seeds,
                          const char *const *allocators, size_t n_allocators, unsigned jobs)
{
    gope_world_conf wc = trf_world(40, 6, 5);
    gope_policy_set_t *set = NULL;
    gope_err err;
    char log[600], out[600];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    snprintf(out, sizeof out, "%s/truth.jsonl", dir);
    gope_status st = gope_policies_parse(TRF_POLICIES, strlen(TRF_POLICIES), "t", &set, &err);
    if (st == GOPE_OK) {
        const gope_simtruth_conf c = {&wc, "tiny", set, logging, 1, seeds, 12,
                                      NULL, NULL, allocators, n_allocators, jobs};
        st = trf_make_truth(&c, log, out, NULL, &err);
    }
    gope_policies_free(set);
    if (st == GOPE_ERR_NOMEM)
        cr_expect(strstr(err.msg, "out of memory"), "%s", err.msg);
    return st;
}

cJSON *trf_truth_lines(const gope_simtruth_conf *c, const char *log, trf_tmp *f)
{
    gope_err err;
    size_t n;
    const char *out = trf_path(f, "truth.jsonl");
    cr_assert_eq(trf_make_truth(c, log, out, &n, &err), GOPE_OK, "%s", err.msg);
    cJSON *lines = tu_read_jsonl(out);
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), (int)n + 1);
    return lines;
}

const cJSON *trf_line_of(const cJSON *lines, const char *policy)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, lines)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(l, "policy");
        if (cJSON_IsString(p) && strcmp(p->valuestring, policy) == 0)
            return l;
    }
    cr_assert_fail("no line for %s", policy);
    return NULL;
}
