/*
 * test_decode_diff.c — differential test: the fast decoder against the cJSON
 * reference on every line of the three oracle e2e inputs and of the
 * bad-input corpus.
 *
 * For every line both decoders must return the same reason (and, except
 * for invalid_json, whose position texts differ, the same detail); for an
 * accepted line the two events must be identical field by field, doubles
 * bit for bit. Each decoder has its own gope_decoder_t, so the events do
 * not share storage. The oracle inputs contain none of the documented
 * divergences (ingest/decode_cjson.c), so no line is exempt.
 *
 * The oracle's dead-letter files then say which lines the decoder alone
 * must reject: all of them except `duplicate_event_id` and `late`, which are
 * decided later in the pipeline. Only the line numbers are compared; the
 * oracle's reason names are its own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "gope_ingest.h"
#include "testutil.h"

#define E2E GOPE_TEST_DATA "/oracle/e2e/"

/* The whole zstd stream (any number of frames) at `path`, decompressed. */
static char *read_zstd(const char *path, size_t *out_len)
{
    size_t in_len;
    char *in = tu_read_file(path, &in_len);
    cr_assert_not_null(in, "cannot read %s", path);
    ZSTD_DStream *ds = ZSTD_createDStream();
    cr_assert_not_null(ds);
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    ZSTD_inBuffer ib = {in, in_len, 0};
    while (ib.pos < ib.size) {
        if (cap - len < ZSTD_DStreamOutSize()) {
            out = realloc(out, cap *= 2);
            cr_assert_not_null(out);
        }
        ZSTD_outBuffer ob = {out + len, cap - len, 0};
        size_t rc = ZSTD_decompressStream(ds, &ob, &ib);
        cr_assert(!ZSTD_isError(rc), "%s: %s", path, ZSTD_getErrorName(rc));
        len += ob.pos;
    }
    ZSTD_freeDStream(ds);
    free(in);
    *out_len = len;
    return out;
}

static void expect_same_candidate(const gope_candidate *a, const gope_candidate *b,
                                  size_t line, size_t i)
{
    cr_expect(memcmp(&a->ev, &b->ev, sizeof a->ev) == 0, "line %zu cand %zu: ev", line, i);
    cr_expect(memcmp(&a->sigma, &b->sigma, sizeof a->sigma) == 0, "line %zu cand %zu: sigma",
              line, i);
    cr_expect(a->load == b->load && a->capacity == b->capacity && a->whales == b->whales,
              "line %zu cand %zu: integers", line, i);
    cr_expect(a->cold_start == b->cold_start && a->head == b->head, "line %zu cand %zu: flags",
              line, i);
}

static void expect_same_event(const gope_event *a, const gope_event *b, size_t line)
{
    cr_expect(a->event_id_len == b->event_id_len &&
                  memcmp(a->event_id, b->event_id, a->event_id_len + 1) == 0,
              "line %zu: event_id", line);
    cr_expect(a->ts == b->ts && a->action == b->action, "line %zu: ts/action", line);
    cr_expect(memcmp(&a->propensity, &b->propensity, sizeof(double)) == 0 &&
                  memcmp(&a->reward, &b->reward, sizeof(double)) == 0 &&
                  a->has_reward == b->has_reward && a->is_whale == b->is_whale,
              "line %zu: propensity/reward/is_whale", line);
    cr_assert_eq(a->n_candidates, b->n_candidates, "line %zu: candidates", line);
    for (size_t i = 0; i < a->n_candidates; i++)
        expect_same_candidate(&a->candidates[i], &b->candidates[i], line, i);
    cr_assert_eq(!a->probs, !b->probs, "line %zu: probs presence", line);
    if (a->probs)
        cr_expect(memcmp(a->probs, b->probs, a->n_candidates * sizeof(double)) == 0,
                  "line %zu: probs", line);
    cr_expect(a->has_lambda_values == b->has_lambda_values &&
                  memcmp(a->lambda_values, b->lambda_values, sizeof a->lambda_values) == 0,
              "line %zu: lambda_values", line);
}

typedef struct {
    size_t lines, rejected;
    unsigned char *rejected_at; /* [line number] = 1 when rejected, 1-based */
} diff_result;

/* Both decoders on every '\n'-separated line of buf[0, len). */
static diff_result diff_lines(const char *buf, size_t len)
{
    gope_decoder_t *fast = gope_decoder_new(), *ref = gope_decoder_new();
    cr_assert(fast && ref);
    diff_result res = {0, 0, calloc(len + 2, 1)};
    cr_assert_not_null(res.rejected_at);
    for (const char *p = buf; p < buf + len;) {
        const char *e = memchr(p, '\n', (size_t)(buf + len - p));
        if (!e)
            e = buf + len;
        size_t n = ++res.lines;
        gope_event a, b;
        char da[256], db[256];
        gope_reason ra = gope_decode_line(fast, p, (size_t)(e - p), true, &a, da, sizeof da);
        gope_reason rb = gope_decode_line_cjson(ref, p, (size_t)(e - p), true, &b, db, sizeof db);
        cr_assert_eq(ra, rb, "line %zu: fast %s (%s), cjson %s (%s)", n, gope_reason_name(ra), da,
                     gope_reason_name(rb), db);
        if (ra != GOPE_R_INVALID_JSON)
            cr_expect_str_eq(da, db, "line %zu: details differ", n);
        if (ra == GOPE_R_OK) {
            expect_same_event(&a, &b, n);
        } else {
            res.rejected_at[n] = 1;
            res.rejected++;
        }
        p = e + 1;
    }
    gope_decoder_free(fast);
    gope_decoder_free(ref);
    return res;
}

/* Every line of the oracle's dead-letter view that the decoder decides
 * must be one the decoder rejected, and vice versa. */
static void expect_oracle_rejections(const char *deadletter, const diff_result *res)
{
    cJSON *dl = tu_read_jsonl(deadletter);
    cr_assert_not_null(dl, "cannot read %s", deadletter);
    size_t decoder_rejects = 0;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, dl) {
        const char *reason = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "reason"));
        double line = cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "line"));
        cr_assert(reason && line >= 1 && line <= (double)res->lines);
        if (strcmp(reason, "duplicate_event_id") == 0 || strcmp(reason, "late") == 0) {
            cr_expect(!res->rejected_at[(size_t)line], "line %.0f (%s) must decode", line, reason);
            continue;
        }
        decoder_rejects++;
        cr_expect(res->rejected_at[(size_t)line], "line %.0f (%s) must be rejected", line, reason);
    }
    cr_expect_eq(res->rejected, decoder_rejects, "rejected %zu lines, oracle %zu",
                 res->rejected, decoder_rejects);
    cJSON_Delete(dl);
}

static void diff_plain_case(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, E2E "%s/input.jsonl", dir);
    size_t len;
    char *buf = tu_read_file(path, &len);
    cr_assert_not_null(buf, "cannot read %s", path);
    diff_result res = diff_lines(buf, len);
    snprintf(path, sizeof path, E2E "%s/deadletter.expected.jsonl", dir);
    expect_oracle_rejections(path, &res);
    free(res.rejected_at);
    free(buf);
}

Test(decode_diff, case1_all_k10)
{
    diff_plain_case("case1_all_k10");
}

Test(decode_diff, case3_edge)
{
    diff_plain_case("case3_edge");
}

Test(decode_diff, case2_hopping_zst)
{
    size_t len;
    char *buf = read_zstd(E2E "case2_hopping_zst/input.jsonl.zst", &len);
    diff_result res = diff_lines(buf, len);
    cr_expect_eq(res.lines, 21053);
    /* 1053 rejected lines in the run summary, of which 37 are duplicates
     * found by the pipeline; the 112 late lines decode fine */
    cr_expect_eq(res.rejected, 1053 - 37);
    expect_oracle_rejections(E2E "case2_hopping_zst/deadletter.expected.jsonl", &res);
    free(res.rejected_at);
    free(buf);
}

Test(decode_diff, bad_corpus)
{
    size_t len;
    char *buf = tu_read_file(GOPE_TEST_DATA "/bad/lines.jsonl", &len);
    cr_assert_not_null(buf);
    diff_result res = diff_lines(buf, len);
    cr_expect_eq(res.rejected, res.lines, "every corpus line is bad");
    free(res.rejected_at);
    free(buf);
}

/* Candidates in and around the layout the fast decoder reads without its
 * key matcher (ingest/decode.c, usual_members): the usual order, other
 * orders, whitespace, duplicates, unknown and escaped keys, values of the
 * wrong kind and bad values at each place. Each is tried as the first and
 * as the second of two candidates. */
Test(decode_diff, candidate_layouts)
{
    static const char *const cands[] = {
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"sigma\":0.1,\"load\":3,\"capacity\":10}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"sigma\":0.1,\"load\":3,\"capacity\":10,"
        "\"whales\":2,\"cold_start\":true,\"head\":false}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"load\":3,\"head\":true}",
        "{\"streamer_id\":\"s1\",\"sigma\":0.1,\"ev\":0.5}",
        "{\"ev\":0.5,\"streamer_id\":\"s1\"}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"ev\":7,\"sigma\":0.1}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"sigma\":0.1,\"load\":3,\"ev\":9}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"extra\":[1,{\"a\":2}],\"sigma\":0.1}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"sigma\":0.1,\"load\":3,\"capacity\":10,\"x\":1}",
        "{\"streamer_id\":\"s1\",\"head\":true,\"cold_start\":false,\"ev\":0.5}",
        "{\"streamer_id\": \"s1\",\"ev\":\t0.5 ,\"sigma\" :0.1, \"load\":3 }",
        "{ \"streamer_id\":\"s1\",\"ev\":0.5}",
        "{\"streamer_id\":\"s1\",\"\\u0065v\":0.5}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"ev\\u0020\":1}",
        "{\"streamer_id\":\"s\\\"1\",\"ev\":0.5}",
        "{\"streamer_id\":7,\"ev\":0.5}",
        "{\"streamer_id\":\"s1\",\"ev\":\"0.5\",\"sigma\":null}",
        "{\"streamer_id\":\"s1\",\"ev\":[0.5],\"sigma\":{\"a\":[]}}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"load\":9007199254740993}",
        "{\"streamer_id\":\"s1\",\"ev\":-1,\"sigma\":0.1}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5",
        "{\"streamer_id\":\"s1\",\"ev\":",
        "{\"streamer_id\":\"s1\",\"ev\":tru}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5}}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"cold_start\":1}",
        "{\"streamer_id\":\"s1\"}",
        "{\"streamer_id\":\"s1\",\"ev\":0.5,\"sigma\":0.1,\"load\":3,\"capacity\":10,"
        "\"whales\":2,\"cold_start\":true,\"head\":false,\"head\":true}",
    };
    static const char *const other = "{\"streamer_id\":\"s2\",\"ev\":0.25}";
    const size_t n = sizeof cands / sizeof cands[0];
    char *buf = malloc(2 * n * 512);
    cr_assert_not_null(buf);
    size_t len = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        const char *c = cands[i / 2];
        int k = snprintf(buf + len, 512,
                         "{\"schema\":\"alloc.v1\",\"event_id\":\"e%zu\",\"ts\":1000,"
                         "\"user_id\":\"u\",\"candidates\":[%s,%s],\"action\":0,"
                         "\"propensity\":0.5,\"reward\":1}\n",
                         i, i % 2 ? other : c, i % 2 ? c : other);
        cr_assert(k > 0 && k < 512);
        len += (size_t)k;
    }
    diff_result res = diff_lines(buf, len);
    cr_expect_eq(res.lines, 2 * n);
    cr_expect_lt(res.rejected, res.lines, "some layouts are valid events");
    cr_expect_gt(res.rejected, 0, "some are not");
    free(res.rejected_at);
    free(buf);
}

/* Event objects in and around the layout the fast decoder reads without
 * its key matcher (ingest/decode.c, usual_top_members). */
Test(decode_diff, event_layouts)
{
    static const char *const lines[] = {
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"is_whale\":true,"
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"probs\":[1],\"reward\":2,\"logging_policy\":\"l\",\"lambda_values\":{\"head\":0.5},"
        "\"uncertainty_score\":0.1}",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2}",
        "{\"schema\":\"alloc.v1\",\"ts\":1,\"event_id\":\"e\",\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2}",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"x\":[{}],"
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2,\"ts\":5}",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2,\"schema\":\"x\",\"event_id\":7}",
        "{\"schema\": \"alloc.v1\",\"event_id\":\t\"e\",\"ts\" :1, \"user_id\":\"u\","
        "\"candidates\": [ {\"streamer_id\":\"s\",\"ev\":1} ] ,\"action\":0,\"propensity\":1,"
        "\"reward\":2 }",
        "{ \"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2}",
        "{\"schema\":\"reward.v1\",\"event_id\":\"e\",\"ts\":1,\"reward\":2}",
        "{\"schema\":\"alloc.v2\",\"event_id\":\"e\"}",
        "{\"schema\":1,\"event_id\":\"e\"}",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\\u0041\",\"ts\":1.5,\"user_id\":\"u\","
        "\"candidates\":{},\"action\":0,\"propensity\":1,\"reward\":2}",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2,}",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":",
        "{\"schema\":\"alloc.v1\",\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\","
        "\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1}],\"action\":0,\"propensity\":1,"
        "\"reward\":2}x",
    };
    const size_t n = sizeof lines / sizeof lines[0];
    char buf[8192];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + len, sizeof buf - len, "%s\n", lines[i]);
        cr_assert(k > 0 && (size_t)k < sizeof buf - len);
        len += (size_t)k;
    }
    diff_result res = diff_lines(buf, len);
    cr_expect_eq(res.lines, n);
    cr_expect_lt(res.rejected, res.lines, "some layouts are valid events");
    cr_expect_gt(res.rejected, 0, "some are not");
    free(res.rejected_at);
}
