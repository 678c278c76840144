/*
 * test_nomem.c — every allocation failure is handled (the SQLite way).
 * For each operation, fail the n-th allocation for n = 0, 1, 2, ... until the
 * operation runs without hitting an injected failure; once in transient mode
 * (only that allocation fails) and once persistent (all later ones fail too).
 * Each run must end in GOPE_OK or GOPE_ERR_NOMEM, never crash, and (under the
 * sanitizer build) leak nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "failalloc.h"
#include "gope_ope.h"
#include "testutil.h"

static gope_status op_policies(void)
{
    gope_policy_set_t *set = NULL;
    gope_err err;
    gope_status st = gope_policies_default(&set, &err);
    gope_policies_free(set);
    return st;
}

static gope_status op_estset(void)
{
    gope_estset_t *set = NULL;
    gope_err err;
    gope_status st = gope_estset_parse("ips,snips,dr_os:lambda=5,sndr", &set, &err);
    gope_result *res = st == GOPE_OK ? gope_result_new(set) : NULL;
    if (st == GOPE_OK && !res)
        st = GOPE_ERR_NOMEM;
    gope_result_free(res);
    gope_estset_free(set);
    return st;
}

static gope_status op_decoder(void)
{
    gope_decoder_t *d = gope_decoder_new();
    gope_decoder_free(d);
    return d ? GOPE_OK : GOPE_ERR_NOMEM;
}

static gope_status op_dedupe(void)
{
    gope_dedupe_t *d = gope_dedupe_new(1000);
    if (!d)
        return GOPE_ERR_NOMEM;
    gope_err err;
    gope_status st = GOPE_OK;
    char id[16];
    for (int i = 0; i < 3000 && st == GOPE_OK; i++) {
        snprintf(id, sizeof id, "%d", i);
        st = gope_dedupe_insert(d, id, strlen(id), i, &err);
    }
    gope_dedupe_free(d);
    return st;
}

static char source_path[256];

static gope_status op_source(void)
{
    gope_source_t *src = NULL;
    gope_err err;
    gope_status st = gope_source_open(source_path, &src, &err);
    gope_line line;
    while (st == GOPE_OK)
        st = gope_source_next(src, &line, &err);
    gope_source_close(src);
    return st == GOPE_EOF ? GOPE_OK : st;
}

Test(nomem, policies) { fa_exhaust(op_policies, "policies"); }
Test(nomem, estimators) { fa_exhaust(op_estset, "estimators"); }
Test(nomem, decoder) { fa_exhaust(op_decoder, "decoder"); }
Test(nomem, dedupe) { fa_exhaust(op_dedupe, "dedupe"); }

Test(nomem, source_zstd)
{
    char *dir = tu_tmpdir();
    const char *text = "{\"a\":1}\nline two\n";
    char z[256];
    size_t n = ZSTD_compress(z, sizeof z, text, strlen(text), 3);
    snprintf(source_path, sizeof source_path, "%s/s.zst", dir);
    cr_assert(tu_write_file(source_path, z, n));
    fa_exhaust(op_source, "source");
    tu_rmtree(dir);
}

/* The whole pipeline over a small hopping-window log with rejects, late
 * lines and duplicates: every allocation in new/line/finish/summary. */
static gope_policy_set_t *pipe_policies;
static gope_estset_t *pipe_set;

static gope_status op_pipeline(void)
{
    gope_pipeline_conf conf = {
        .window = {.size_ms = 4000, .slide_ms = 1000, .lateness_ms = 500},
        .dedupe_horizon_ms = 600000, .require_reward = true,
    };
    gope_sink out = {0}, dead = {0};
    gope_pipeline_t *p = NULL;
    gope_err err;
    gope_status st = gope_sink_file_open("/dev/null", &out, &err);
    if (st == GOPE_OK)
        st = gope_sink_file_open("/dev/null", &dead, &err);
    if (st == GOPE_OK)
        st = gope_pipeline_new(&conf, pipe_policies, pipe_set, &out, &dead, &p, &err);
    char buf[512];
    for (int i = 0; i < 60 && st == GOPE_OK; i++) {
        int ts = i % 10 == 9 ? 100 : 400 * i; /* some late lines */
        int id = i % 7 == 6 ? i - 1 : i;       /* some duplicates */
        int len = snprintf(buf, sizeof buf,
                           "{\"event_id\":\"e%d\",\"ts\":%d,\"user_id\":\"u\",\"candidates\":["
                           "{\"streamer_id\":\"a\",\"ev\":1.5,\"capacity\":3,\"load\":2},"
                           "{\"streamer_id\":\"b\",\"ev\":0.5,\"cold_start\":true}],"
                           "\"action\":%d,\"propensity\":0.5,\"reward\":%d}%s",
                           id, ts, i % 2, i % 3, i % 11 == 10 ? "x" : "");
        gope_line line = {.data = buf, .len = (size_t)len, .lineno = (uint64_t)i + 1};
        st = gope_pipeline_line(p, "mem", &line, &err);
    }
    if (st == GOPE_OK)
        st = gope_pipeline_finish(p, &err);
    if (st == GOPE_OK)
        st = gope_pipeline_summary(p, NULL, &err);
    gope_pipeline_free(p);
    gope_status cs = gope_sink_close(&out, &err);
    gope_status ds = gope_sink_close(&dead, &err);
    return st != GOPE_OK ? st : (cs != GOPE_OK ? cs : ds);
}

Test(nomem, pipeline)
{
    gope_err err;
    cr_assert_eq(gope_policies_default(&pipe_policies, &err), GOPE_OK);
    cr_assert_eq(gope_estset_parse(NULL, &pipe_set, &err), GOPE_OK);
    fa_exhaust(op_pipeline, "pipeline");
    gope_policies_free(pipe_policies);
    gope_estset_free(pipe_set);
}

/* The threaded reader allocates its ring up front; reading then allocates
 * nothing, so the injection counter is never touched from two threads. */
static gope_status op_reader(void)
{
    gope_pipeline_conf conf = {.require_reward = true};
    gope_reader_t *r = NULL;
    gope_err err;
    gope_status st = gope_reader_open(source_path, &conf, 2, &r, &err);
    const gope_decoded *d;
    while (st == GOPE_OK)
        st = gope_reader_next(r, &d, &err);
    gope_reader_close(r);
    return st == GOPE_EOF ? GOPE_OK : st;
}

Test(nomem, reader_threaded)
{
    snprintf(source_path, sizeof source_path, "%s/bad/lines.jsonl", GOPE_TEST_DATA);
    fa_exhaust(op_reader, "reader");
}
