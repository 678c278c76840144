/*
 * join_test.h — a pipeline on two small policies with in-memory sinks, for
 * the tests of the reward join and the stream clock (test_join_pipeline.c,
 * test_join_clock.c): lines built from a few parameters, fed with their
 * position, the window records and the summary read back as JSON.
 * Everything is static inline: each test file uses a different subset.
 */
#ifndef GOPE_JOIN_TEST_H
#define GOPE_JOIN_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "gope_ope.h"

/* --------------------------------------------------------- a memory sink */

typedef struct {
    char **line;
    size_t n, cap;
} jt_lines;

static inline gope_status jt_write(void *ctx, const char *key, const char *line, size_t len,
                                   gope_err *err)
{
    (void)key;
    jt_lines *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nl = realloc(l->line, cap * sizeof *nl);
        if (!nl)
            return gope_err_set(err, GOPE_ERR_NOMEM, "test sink: out of memory");
        l->line = nl;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return gope_err_set(err, GOPE_ERR_NOMEM, "test sink: out of memory");
    memcpy(copy, line, len);
    copy[len] = '\0';
    l->line[l->n++] = copy;
    return GOPE_OK;
}

static inline gope_status jt_sink_close(void *ctx, gope_err *err)
{
    (void)err;
    jt_lines *l = ctx;
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    free(l->line);
    *l = (jt_lines){0};
    return GOPE_OK;
}

static const gope_sink_ops jt_sink_ops = {.name = "memory", .write = jt_write, .close = jt_sink_close};

/* ------------------------------------------------------------------ a run */

typedef struct {
    gope_policy_set_t *pol;
    gope_estset_t *set;
    gope_pipeline_t *p;
    jt_lines out, dead;
    gope_sink out_sink, dead_sink;
    uint64_t lineno, offset;
    gope_err err;
} jt_run;

#define JT_POLICIES "[{\"name\":\"p\",\"select\":\"greedy\"},{\"name\":\"q\",\"select\":\"uniform\"}]"

/* Open a run: tumbling windows of `window` ms (0: all), `lateness`, and the
 * reward join with `wait` ms (-1: no join, rewards inline). */
static inline gope_status jt_try_open(jt_run *r, int64_t window, int64_t lateness,
                                      int64_t wait)
{
    memset(r, 0, sizeof *r);
    r->out_sink = (gope_sink){&jt_sink_ops, &r->out};
    r->dead_sink = (gope_sink){&jt_sink_ops, &r->dead};
    gope_pipeline_conf c = {
        .window = {.size_ms = window, .slide_ms = window, .lateness_ms = lateness},
        .dedupe_horizon_ms = 600000, .require_reward = true,
        .join = wait >= 0, .reward_wait_ms = wait >= 0 ? wait : 0,
    };
    gope_status st = gope_policies_parse(JT_POLICIES, strlen(JT_POLICIES), "test", &r->pol,
                                         &r->err);
    if (st == GOPE_OK)
        st = gope_estset_parse("snips", &r->set, &r->err);
    if (st == GOPE_OK)
        st = gope_pipeline_new(&c, r->pol, r->set, &r->out_sink, &r->dead_sink, &r->p, &r->err);
    return st;
}

static inline void jt_open(jt_run *r, int64_t window, int64_t lateness, int64_t wait)
{
    cr_assert_eq(jt_try_open(r, window, lateness, wait), GOPE_OK, "%s", r->err.msg);
}

static inline void jt_close(jt_run *r)
{
    gope_pipeline_free(r->p);
    gope_estset_free(r->set);
    gope_policies_free(r->pol);
    jt_sink_close(&r->out, NULL);
    jt_sink_close(&r->dead, NULL);
}

/* A decision (reward < 0: without reward) and a reward.v1 line; each in a
 * static buffer of its own, valid until the next call of the same helper. */
static inline const char *jt_decision(const char *id, int64_t ts, double reward)
{
    static char buf[512], tail[64];
    if (reward >= 0)
        snprintf(tail, sizeof tail, ",\"reward\":%.17g", reward);
    else
        tail[0] = '\0';
    snprintf(buf, sizeof buf,
             "{\"event_id\":\"%s\",\"ts\":%lld,\"user_id\":\"u\",\"candidates\":["
             "{\"streamer_id\":\"a\",\"ev\":1.5},{\"streamer_id\":\"b\",\"ev\":0.5}],"
             "\"action\":0,\"propensity\":0.5%s}",
             id, (long long)ts, tail);
    return buf;
}

static inline const char *jt_reward(const char *id, int64_t ts, double reward)
{
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"schema\":\"reward.v1\",\"event_id\":\"%s\",\"ts\":%lld,\"reward\":%.17g}", id,
             (long long)ts, reward);
    return buf;
}

/* Feed `text` as the next line of "in.jsonl", on `stream`. */
static inline gope_status jt_try_feed(jt_run *r, uint32_t stream, const char *text)
{
    size_t len = strlen(text);
    gope_line line = {.data = text, .len = len, .lineno = ++r->lineno, .offset = r->offset,
                      .full_len = len};
    r->offset += len + 1;
    return gope_pipeline_line_on(r->p, stream, "in.jsonl", &line, &r->err);
}

static inline void jt_feed(jt_run *r, uint32_t stream, const char *text)
{
    cr_assert_eq(jt_try_feed(r, stream, text), GOPE_OK, "%s", r->err.msg);
}

static inline void jt_finish(jt_run *r)
{
    cr_assert_eq(gope_pipeline_finish(r->p, &r->err), GOPE_OK, "%s", r->err.msg);
    cr_assert_eq(gope_pipeline_stats_get(r->p)->rewards_held, 0);
}

static inline void jt_expect_accounting(const jt_run *r)
{
    const gope_pipeline_stats *s = gope_pipeline_stats_get(r->p);
    cr_expect_eq(s->lines_read, s->accepted + s->rejected + s->late + s->rewards_held,
                 "lines_read %llu = accepted %llu + rejected %llu + late %llu + held %llu",
                 (unsigned long long)s->lines_read, (unsigned long long)s->accepted,
                 (unsigned long long)s->rejected, (unsigned long long)s->late,
                 (unsigned long long)s->rewards_held);
}

/* -------------------------------------------------------------- reading */

/* The member at a dotted path, as a number (cr_assert when missing). */
static inline double jt_num(const cJSON *o, const char *path)
{
    char key[64];
    const char *p = path;
    while (o) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        o = cJSON_GetObjectItem(o, key);
        if (!dot)
            break;
        p = dot + 1;
    }
    cr_assert(o && cJSON_IsNumber(o), "no number at %s", path);
    return o->valuedouble;
}

/* The record of the window starting at `start` for `policy`, or NULL;
 * cJSON_Delete() it. */
static inline cJSON *jt_record(const jt_run *r, int64_t start, const char *policy)
{
    for (size_t i = 0; i < r->out.n; i++) {
        cJSON *o = cJSON_Parse(r->out.line[i]);
        cr_assert(o, "output line %zu is JSON", i);
        const cJSON *pol = cJSON_GetObjectItem(o, "policy");
        const cJSON *w = cJSON_GetObjectItem(o, "window");
        if (pol && w && strcmp(pol->valuestring, policy) == 0 &&
            cJSON_GetObjectItem(w, "start")->valuedouble == (double)start)
            return o;
        cJSON_Delete(o);
    }
    return NULL;
}

/* Write the summary and return it parsed; cJSON_Delete() it. */
static inline cJSON *jt_summary(jt_run *r)
{
    cr_assert_eq(gope_pipeline_summary(r->p, NULL, &r->err), GOPE_OK, "%s", r->err.msg);
    cJSON *o = cJSON_Parse(r->out.line[r->out.n - 1]);
    cr_assert(o);
    return o;
}

#endif /* GOPE_JOIN_TEST_H */
