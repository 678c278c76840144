/*
 * test_decode.c — the alloc.v1 decoding contract, rule by rule, on both
 * decoders (gope_decode_line and gope_decode_line_cjson): valid events and
 * their outputs, syntax, size, nesting, schema, types, missing fields,
 * duplicates, the documented divergences and the bad-input corpus. The
 * value checks are in test_decode_values.c; the helpers in decode_test.h.
 *
 * The few documented divergences (see the top of ingest/decode_cjson.c)
 * are asserted explicitly, decoder by decoder; everything else through
 * expect_both(), which requires both decoders to agree.
 */
#include <math.h>

#include "decode_test.h"

gope_decoder_t *decode_test_dec;

TestSuite(decode, .init = decode_test_setup, .fini = decode_test_teardown);

/* ----------------------------------------------------------- valid events */

Test(decode, base_event_and_defaults)
{
    for (int fast = 0; fast < 2; fast++) {
        outcome o = run(fast, with(NULL));
        cr_assert_eq(o.r, GOPE_R_OK, "%s", o.detail);
        cr_expect_str_eq(o.ev.event_id, "e1");
        cr_expect_eq(o.ev.event_id_len, 2);
        cr_expect_eq(o.ev.ts, 1000);
        cr_expect_eq(o.ev.action, 1);
        cr_expect_eq(o.ev.propensity, 0.25);
        cr_expect(o.ev.has_reward && o.ev.reward == 2.5);
        cr_expect(!o.ev.is_whale && !o.ev.has_lambda_values && o.ev.probs == NULL);
        cr_expect_eq(o.ev.n_candidates, 2);
        const gope_candidate *c = o.ev.candidates;
        cr_expect(c[0].ev == 0.5 && c[1].ev == 1.25);
        cr_expect(c[1].sigma == 0 && c[1].load == 0 && c[1].capacity == 0 && c[1].whales == 0 &&
                  !c[1].cold_start && !c[1].head);
        for (int k = 0; k < GOPE_C_COUNT; k++)
            cr_expect_eq(o.ev.lambda_values[k], 0);
    }
}

#define FULL_CAND                                                                        \
    "{\"streamer_id\":\"s9\",\"ev\":3.5,\"sigma\":0.75,\"load\":40,\"capacity\":50,"     \
    "\"whales\":2,\"cold_start\":true,\"head\":true,\"extra\":{\"k\":[1,2,null]}}"

Test(decode, every_field)
{
    const char *line =
        "{\"schema\":\"alloc.v1\",\"event_id\":\"ev-\\u00e9\\\"x\",\"ts\":1735689600000,"
        "\"user_id\":\"u\",\"candidates\":[" C0 "," FULL_CAND "],\"action\":0,"
        "\"propensity\":0.4,\"reward\":0,\"probs\":[0.4,0.6],\"is_whale\":true,"
        "\"logging_policy\":\"lp\",\"lambda_values\":{\"capacity\":1.5,\"coldstart\":-2,"
        "\"head\":0.25,\"whale\":3,\"other\":7},\"uncertainty_score\":-1e300,"
        "\"constraint_violations\":{\"capacity\":1,\"head\":0.5},\"future\":[true]}";
    for (int fast = 0; fast < 2; fast++) {
        outcome o = run(fast, line);
        cr_assert_eq(o.r, GOPE_R_OK, "%s", o.detail);
        cr_expect_str_eq(o.ev.event_id, "ev-\xc3\xa9\"x");
        cr_expect_eq(o.ev.event_id_len, 7);
        cr_expect(o.ev.is_whale && o.ev.has_reward && o.ev.reward == 0);
        cr_expect(o.ev.probs && o.ev.probs[0] == 0.4 && o.ev.probs[1] == 0.6);
        cr_expect(o.ev.has_lambda_values);
        cr_expect(o.ev.lambda_values[GOPE_C_CAPACITY] == 1.5 &&
                  o.ev.lambda_values[GOPE_C_COLDSTART] == -2 &&
                  o.ev.lambda_values[GOPE_C_HEAD] == 0.25 && o.ev.lambda_values[GOPE_C_WHALE] == 3);
        const gope_candidate *c = &o.ev.candidates[1];
        cr_expect(c->ev == 3.5 && c->sigma == 0.75 && c->load == 40 && c->capacity == 50 &&
                  c->whales == 2 && c->cold_start && c->head);
    }
}

Test(decode, reward_required_only_on_request)
{
    const char *line = line_with(NULL, "reward");
    outcome o = expect_both_n(line, strlen(line), false, GOPE_R_OK, NULL);
    cr_expect(!o.ev.has_reward && o.ev.reward == 0);
    expect_both(line, GOPE_R_MISSING_FIELD, "reward");
}

Test(decode, whitespace_bom_and_unterminated_input)
{
    expect_both(" \t{ \"event_id\" : \"e1\" , \"ts\" : 1 ,\"user_id\":\"u\",\"candidates\":"
                "[ " C0 " ] ,\"action\":0,\"propensity\":1,\"reward\":0 } \r\n\t ",
                GOPE_R_OK, NULL);
    char buf[4096];
    const char *base = with(NULL);
    size_t n = strlen(base);
    cr_assert_lt(n + 8, sizeof buf);
    memcpy(buf, "\xEF\xBB\xBF", 3);
    memcpy(buf + 3, base, n + 1);
    expect_both(buf, GOPE_R_OK, NULL);
    /* len excludes the bytes after the line: they must not be read */
    memcpy(buf, base, n);
    memcpy(buf + n, "GARBAGE", 8);
    expect_both_n(buf, n, true, GOPE_R_OK, NULL);
}

Test(decode, outputs_reset_between_lines)
{
    for (int fast = 0; fast < 2; fast++) {
        outcome o = run(fast, "{\"event_id\":\"a\",\"ts\":1,\"user_id\":\"u\",\"candidates\":["
                              FULL_CAND "," FULL_CAND "],\"action\":0,\"propensity\":0.5,"
                              "\"reward\":1,\"probs\":[0.5,0.5],\"is_whale\":true,"
                              "\"lambda_values\":{\"head\":2}}");
        cr_assert_eq(o.r, GOPE_R_OK, "%s", o.detail);
        o = run(fast, "{\"event_id\":\"b\",\"ts\":2,\"user_id\":\"u\",\"candidates\":[" C0
                      "],\"action\":0,\"propensity\":1,\"reward\":0}");
        cr_assert_eq(o.r, GOPE_R_OK, "%s", o.detail);
        cr_expect(o.ev.n_candidates == 1 && o.ev.probs == NULL && !o.ev.is_whale);
        cr_expect(!o.ev.has_lambda_values && o.ev.lambda_values[GOPE_C_HEAD] == 0);
        const gope_candidate *c = o.ev.candidates;
        cr_expect(c->capacity == 0 && c->load == 0 && c->sigma == 0 && !c->head);
    }
}

/* ----------------------------------------------------------- syntax, size */

Test(decode, line_too_long)
{
    size_t n = GOPE_MAX_LINE + 1;
    char *buf = malloc(n + 1);
    cr_assert_not_null(buf);
    const char *base = with(NULL);
    size_t bl = strlen(base);
    memcpy(buf, base, bl);
    memset(buf + bl, ' ', n - bl);
    expect_both_n(buf, GOPE_MAX_LINE, true, GOPE_R_OK, NULL); /* exactly the limit */
    expect_both_n(buf, n, true, GOPE_R_LINE_TOO_LONG, "1048577");
    free(buf);
}

Test(decode, invalid_json)
{
    static const char *const bad[] = {
        "", " ", "\r", "{", "}", "{\"event_id\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}",
        "{'a':1}", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":1}x", "{\"a\":1}{}",
        "{\"a\":1} 1", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}", "{\"a\":nan}",
        "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}", "{\"a\":\"x}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"\\uDC00\"}", "{\"a\":\"\\uD800\"}",
        "{\"a\":\"\\uD800\\u0041\"}", "{\"a\":\"\\uD800x\"}", "{\"a\":\"\\u00zz\"}",
        "{\"a\":\"\\u0000\"}", "{\"a\\u0000\":1}", "{\"a\":\"tab\there\"}",
        "{\"a\":\"nl\nhere\"}", "{\"a\":1}\f", "\x01{\"a\":1}", "{\"a\":\x7f}", "{\"a\":+1}",
        "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":--1}", "{\"a\":0x10}",
        "{\"a\":1.5.3}", "{/*c*/\"a\":1}", "{\"a\":1\"b\":2}", "[1,2", "\"abc",
        "\xEF\xBB\xBF", "\xEF\xBB", "{\"a\":[}", "{\"a\":{\"b\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_both(bad[i], GOPE_R_INVALID_JSON, NULL);
    /* the same faults inside an otherwise valid event */
    expect_both(with("\"x\":[1,],"), GOPE_R_INVALID_JSON, NULL);
    expect_both(with("\"user_id\":\"a\tb\","), GOPE_R_INVALID_JSON, NULL);
    expect_both(with("\"event_id\":\"a\\u0000b\","), GOPE_R_INVALID_JSON, NULL);
    /* a NUL byte: cJSON would stop reading there */
    char buf[4096];
    size_t n = strlen(with(NULL));
    memcpy(buf, with(NULL), n);
    memcpy(buf + n, "\0x", 2);
    expect_both_n(buf, n + 2, true, GOPE_R_INVALID_JSON, NULL);
    buf[3] = '\0';
    expect_both_n(buf, n, true, GOPE_R_INVALID_JSON, NULL);
}

Test(decode, valid_escapes_and_surrogates)
{
    outcome o = expect_both(with("\"event_id\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9"
                                 "\\u20AC\\uD83D\\uDE00\","),
                            GOPE_R_OK, NULL);
    cr_expect_str_eq(o.ev.event_id, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    expect_both(with("\"user_id\":\"\xff\xfe raw bytes\","), GOPE_R_OK, NULL); /* not UTF-8 */
}

/* Build `depth` nested arrays around `inner`, as the value of "x". */
static char *nested(const char *prefix, int depth, const char *suffix)
{
    size_t n = strlen(prefix) + 2 * (size_t)depth + strlen(suffix) + 1;
    char *s = malloc(n);
    cr_assert_not_null(s);
    size_t k = (size_t)sprintf(s, "%s", prefix);
    memset(s + k, '[', (size_t)depth);
    memset(s + k + depth, ']', (size_t)depth);
    strcpy(s + k + 2 * (size_t)depth, suffix);
    return s;
}

Test(decode, nesting_limit_is_cjsons)
{
    /* the top-level object is level 1, so 999 arrays inside reach 1000 */
    char *ok = nested("{\"x\":", 999, "}");
    char *deep = nested("{\"x\":", 1000, "}");
    expect_both(ok, GOPE_R_MISSING_FIELD, "event_id");
    expect_both(deep, GOPE_R_INVALID_JSON, NULL);
    free(ok);
    free(deep);
    /* inside a candidate (level 3): 997 more levels are fine, 998 are not */
    char *c_ok = nested("{\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{"
                        "\"streamer_id\":\"s\",\"ev\":1,\"x\":", 997,
                        "}],\"action\":0,\"propensity\":1,\"reward\":0}");
    char *c_deep = nested("{\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{"
                          "\"streamer_id\":\"s\",\"ev\":1,\"x\":", 998,
                          "}],\"action\":0,\"propensity\":1,\"reward\":0}");
    expect_both(c_ok, GOPE_R_OK, NULL);
    expect_both(c_deep, GOPE_R_INVALID_JSON, NULL);
    free(c_ok);
    free(c_deep);
    char *top_ok = nested("", 1000, "");
    char *top_deep = nested("", 1001, "");
    expect_both(top_ok, GOPE_R_NOT_OBJECT, NULL);
    expect_both(top_deep, GOPE_R_INVALID_JSON, NULL);
    free(top_ok);
    free(top_deep);
}

Test(decode, not_object)
{
    static const char *const tops[] = {"[]", "[{}]", "\"x\"", "1", "-2.5e3", "null", "true",
                                       "false", " [1,{\"a\":[]}] "};
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
        expect_both(tops[i], GOPE_R_NOT_OBJECT, NULL);
}

/* ------------------------------------------------------- schema and types */

Test(decode, unknown_schema)
{
    static const char *const bad[] = {"\"alloc.v2\"", "\"ALLOC.V1\"", "\"\"", "\"alloc.v1 \"",
                                      "1", "null", "true", "[\"alloc.v1\"]", "{}"};
    char prefix[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(prefix, sizeof prefix, "\"schema\":%s,", bad[i]);
        expect_both(with(prefix), GOPE_R_UNKNOWN_SCHEMA, "schema");
    }
    expect_both(with("\"schema\":\"alloc\\u002ev1\","), GOPE_R_OK, NULL);
    expect_both(with("\"schema\":\"alloc.v1\",\"schema\":\"x\","), GOPE_R_OK, NULL);
    /* before the type checks */
    expect_both(with("\"ts\":\"x\",\"schema\":\"v2\","), GOPE_R_UNKNOWN_SCHEMA, NULL);
}

Test(decode, wrong_type_each_field)
{
    static const case_t cases[] = {
        {"\"event_id\":1,", "event_id"}, {"\"event_id\":null,", "event_id"},
        {"\"ts\":\"1000\",", "ts"}, {"\"ts\":1.5,", "ts"}, {"\"ts\":true,", "ts"},
        {"\"ts\":null,", "ts"}, {"\"ts\":[1],", "ts"}, {"\"user_id\":5,", "user_id"},
        {"\"candidates\":{},", "candidates"}, {"\"candidates\":\"x\",", "candidates"},
        {"\"candidates\":null,", "candidates"}, {"\"action\":1.5,", "action"},
        {"\"action\":\"1\",", "action"}, {"\"action\":false,", "action"},
        {"\"propensity\":\"0.5\",", "propensity"}, {"\"propensity\":true,", "propensity"},
        {"\"reward\":\"1\",", "reward"}, {"\"reward\":null,", "reward"},
        {"\"probs\":{},", "probs"}, {"\"probs\":0.5,", "probs"},
        {"\"probs\":[0.5,\"x\"],", "probs[1]"}, {"\"probs\":[null],", "probs[0]"},
        {"\"is_whale\":1,", "is_whale"}, {"\"is_whale\":\"true\",", "is_whale"},
        {"\"is_whale\":null,", "is_whale"}, {"\"logging_policy\":1,", "logging_policy"},
        {"\"lambda_values\":[],", "lambda_values"}, {"\"lambda_values\":1,", "lambda_values"},
        {"\"lambda_values\":{\"capacity\":\"x\"},", "lambda_values member #0"},
        {"\"lambda_values\":{\"a\":1,\"b\":[]},", "lambda_values member #1"},
        {"\"uncertainty_score\":\"x\",", "uncertainty_score"},
        {"\"constraint_violations\":1,", "constraint_violations"},
        {"\"constraint_violations\":{\"a\":true},", "constraint_violations member #0"},
        {"\"candidates\":[1],", "candidates[0]"},
        {"\"candidates\":[" C0 ",\"x\"],", "candidates[1]"},
        {"\"candidates\":[" C0 ",[]],", "candidates[1]"},
        {"\"candidates\":[{\"streamer_id\":1,\"ev\":1}],", "candidates[0].streamer_id"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":\"1\"}],", "candidates[0].ev"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"sigma\":true}],",
         "candidates[0].sigma"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"load\":1.5}],", "candidates[0].load"},
        {"\"candidates\":[" C0 ",{\"streamer_id\":\"s\",\"ev\":1,\"capacity\":\"3\"}],",
         "candidates[1].capacity"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"whales\":null}],",
         "candidates[0].whales"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"cold_start\":1}],",
         "candidates[0].cold_start"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"head\":\"no\"}],",
         "candidates[0].head"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_WRONG_TYPE);
}

Test(decode, wrong_type_order_is_fixed)
{
    static const case_t cases[] = {
        /* document order does not matter: event_id before ts */
        {"\"ts\":\"x\",\"event_id\":1,", "event_id"},
        {"\"constraint_violations\":[],\"probs\":{},", "probs"},
        /* every top-level field before any candidate */
        {"\"candidates\":[{\"streamer_id\":1,\"ev\":1}],\"logging_policy\":2,", "logging_policy"},
        /* candidates in index order, fields in their fixed order */
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"head\":0},{\"ev\":\"x\"}],",
         "candidates[0].head"},
        {"\"candidates\":[{\"head\":0,\"ev\":[],\"streamer_id\":2}],", "candidates[0].streamer_id"},
        /* types before missing fields */
        {"\"candidates\":[{\"ev\":1},{\"streamer_id\":\"s\",\"ev\":null}],", "candidates[1].ev"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_WRONG_TYPE);
    expect_both(line_with("\"ts\":\"x\",", "event_id"), GOPE_R_WRONG_TYPE, "ts");
}

Test(decode, candidates_past_the_limit_are_still_type_checked)
{
    char *p = many_candidates(2000, 1500, "{\"streamer_id\":\"s\",\"ev\":true}");
    expect_both(with(p), GOPE_R_WRONG_TYPE, "candidates[1500].ev");
    free(p);
    p = many_candidates(2000, 1999, "{\"ev\":1}");
    expect_both(with(p), GOPE_R_MISSING_FIELD, "candidates[1999].streamer_id");
    free(p);
    p = many_candidates(1025, 0, C0);
    expect_both(with(p), GOPE_R_BAD_CANDIDATES, "1025");
    free(p);
    p = many_candidates(1024, 1023, C1);
    outcome o = expect_both(with(p), GOPE_R_OK, NULL);
    cr_expect(o.ev.n_candidates == 1024 && o.ev.candidates[1023].ev == 1.25);
    free(p);
}

/* --------------------------------------------------------- missing fields */

Test(decode, missing_each_field)
{
    static const char *const required[] = {"event_id", "ts", "user_id", "candidates",
                                           "action", "propensity", "reward"};
    for (size_t i = 0; i < 7; i++) {
        outcome o = expect_both(line_with(NULL, required[i]), GOPE_R_MISSING_FIELD, NULL);
        cr_expect_str_eq(o.detail, required[i]);
    }
    static const case_t cases[] = {
        {"\"candidates\":[{\"ev\":1}],", "candidates[0].streamer_id"},
        {"\"candidates\":[" C0 ",{\"streamer_id\":\"s\"}],", "candidates[1].ev"},
        {"\"candidates\":[" C0 ",{\"streamer_id\":\"s\"},{\"ev\":1}],", "candidates[1].ev"},
        {"\"candidates\":[{}],", "candidates[0].streamer_id"},
        /* keys are case-sensitive and compared after unescaping */
        {"\"candidates\":[{\"streamer_id\":\"s\",\"EV\":1}],", "candidates[0].ev"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_MISSING_FIELD);
    /* top-level order: ts before action; before any candidate */
    expect_both(line_with("\"candidates\":[{}],", "action"), GOPE_R_MISSING_FIELD, "action");
    const char *both = "{\"event_id\":\"e\",\"user_id\":\"u\",\"candidates\":[" C0 "],"
                       "\"propensity\":1,\"reward\":0}";
    expect_both(both, GOPE_R_MISSING_FIELD, "ts");
}

Test(decode, null_is_a_wrong_type_not_absent)
{
    expect_both(with("\"reward\":null,"), GOPE_R_WRONG_TYPE, "reward");
    expect_both(with("\"sigma\":null,"), GOPE_R_OK, NULL); /* unknown at top level */
    expect_both(with("\"probs\":null,"), GOPE_R_WRONG_TYPE, "probs");
}

Test(decode, duplicates_first_occurrence_wins)
{
    outcome o = expect_both(with("\"ts\":5,\"ts\":\"x\","), GOPE_R_OK, NULL);
    cr_expect_eq(o.ev.ts, 5);
    expect_both(with("\"ts\":\"x\",\"ts\":5,"), GOPE_R_WRONG_TYPE, "ts");
    o = expect_both(with("\"t\\u0073\":7,"), GOPE_R_OK, NULL); /* "ts" after unescaping */
    cr_expect_eq(o.ev.ts, 7);
    expect_both(with("\"ts\":5,\"ts\":[1,}"), GOPE_R_INVALID_JSON, NULL); /* still parsed */
    o = expect_both(with("\"candidates\":[{\"streamer_id\":\"s\",\"ev\":2,\"ev\":-1,"
                         "\"load\":3,\"load\":\"x\"}],\"action\":0,\"propensity\":1,"),
                    GOPE_R_OK, NULL);
    cr_expect(o.ev.candidates[0].ev == 2 && o.ev.candidates[0].load == 3);
    o = expect_both(with("\"lambda_values\":{\"head\":1,\"head\":2},"), GOPE_R_OK, NULL);
    cr_expect_eq(o.ev.lambda_values[GOPE_C_HEAD], 1);
    /* later duplicates still have to be numbers: the container is "of numbers" */
    expect_both(with("\"lambda_values\":{\"head\":1,\"head\":\"x\"},"), GOPE_R_WRONG_TYPE,
                "lambda_values member #1");
}

Test(decode, unknown_fields_ignored_but_parsed)
{
    expect_both(with("\"x\":{\"a\":[1,-2.5e-3,{\"b\":null}],\"c\":\"\\u00e9\"},\"y\":[],"),
                GOPE_R_OK, NULL);
    expect_both(with("\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"z\":{\"q\":[true]}}],"
                     "\"action\":0,\"propensity\":1,"),
                GOPE_R_OK, NULL);
    expect_both(with("\"x\":{\"a\":[1,]},"), GOPE_R_INVALID_JSON, NULL);
    expect_both(with("\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"z\":tru}],"),
                GOPE_R_INVALID_JSON, NULL);
}

/* ----------------------------------------------------- documented divergences */

/* The cases listed at the top of ingest/decode_cjson.c: cJSON cannot see
 * them; the fast decoder is the correct one. */
Test(decode, documented_divergences)
{
    static const struct {
        const char *prefix;
        gope_reason fast, ref;
    } cases[] = {
        {"\"propensity\":01,", GOPE_R_INVALID_JSON, GOPE_R_OK},
        {"\"propensity\":1.,", GOPE_R_INVALID_JSON, GOPE_R_OK},
        {"\"propensity\":-.5,", GOPE_R_INVALID_JSON, GOPE_R_BAD_PROPENSITY},
        {"\"x\":1.e5,", GOPE_R_INVALID_JSON, GOPE_R_OK},
        {"\"x\":00,", GOPE_R_INVALID_JSON, GOPE_R_OK},
        {"\"ts\":1e3,", GOPE_R_WRONG_TYPE, GOPE_R_OK},
        {"\"action\":1.0,", GOPE_R_WRONG_TYPE, GOPE_R_OK},
        {"\"ts\":-0.0,", GOPE_R_WRONG_TYPE, GOPE_R_OK},
        {"\"ts\":1e400,", GOPE_R_WRONG_TYPE, GOPE_R_BAD_TS},
        {CAND_WITH("\"load\":5.0"), GOPE_R_WRONG_TYPE, GOPE_R_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *line = with(cases[i].prefix);
        outcome f = run(true, line), r = run(false, line);
        cr_expect_eq(f.r, cases[i].fast, "fast %s: %s", gope_reason_name(f.r), line);
        cr_expect_eq(r.r, cases[i].ref, "cjson %s: %s", gope_reason_name(r.r), line);
    }
    cr_expect_eq(run(false, with("\"ts\":1e3,")).ev.ts, 1000);
}

Test(decode, detail_buffer_is_optional_and_bounded)
{
    const char *line = with("\"ts\":-1,");
    size_t n = strlen(line);
    gope_event ev;
    cr_expect_eq(gope_decode_line(decode_test_dec, line, n, true, &ev, NULL, 0), GOPE_R_BAD_TS);
    cr_expect_eq(gope_decode_line_cjson(decode_test_dec, line, n, true, &ev, NULL, 0),
                 GOPE_R_BAD_TS);
    char small[5];
    cr_expect_eq(gope_decode_line(decode_test_dec, line, n, true, &ev, small, sizeof small),
                 GOPE_R_BAD_TS);
    cr_expect_str_eq(small, "ts -");
}

/* ------------------------------------------------------------ the corpus */

/* tests/data/bad/lines.jsonl, one expected reason name per line in
 * expected.txt: both decoders agree with it, and every reason a decoder can
 * return is there, several times. */
Test(decode, bad_corpus)
{
    FILE *lines = fopen(GOPE_TEST_DATA "/bad/lines.jsonl", "rb");
    FILE *want = fopen(GOPE_TEST_DATA "/bad/expected.txt", "r");
    cr_assert(lines && want);
    size_t cap = 0, count[GOPE_R_COUNT] = {0}, lineno = 0;
    char *buf = NULL, name[64];
    ssize_t len;
    while ((len = getline(&buf, &cap, lines)) > 0) {
        lineno++;
        if (buf[len - 1] == '\n')
            len--;
        cr_assert_eq(fscanf(want, "%63s", name), 1, "expected.txt ends before line %zu", lineno);
        gope_reason r = GOPE_R_OK;
        while (r < GOPE_R_COUNT && strcmp(gope_reason_name(r), name) != 0)
            r++;
        cr_assert_lt(r, GOPE_R_COUNT, "line %zu: unknown reason %s", lineno, name);
        count[r]++;
        outcome f = run_n(true, buf, (size_t)len, true), c = run_n(false, buf, (size_t)len, true);
        cr_expect_eq(f.r, r, "line %zu: fast %s (%s), want %s", lineno, gope_reason_name(f.r),
                     f.detail, name);
        cr_expect_eq(c.r, r, "line %zu: cjson %s (%s), want %s", lineno, gope_reason_name(c.r),
                     c.detail, name);
    }
    cr_expect_eq(fscanf(want, "%63s", name), EOF, "expected.txt has more lines");
    for (gope_reason r = GOPE_R_INVALID_JSON; r < GOPE_R_DUPLICATE_EVENT_ID; r++)
        cr_expect_geq(count[r], r == GOPE_R_LINE_TOO_LONG ? 1u : 5u, "%s: only %zu lines",
                      gope_reason_name(r), count[r]);
    free(buf);
    fclose(lines);
    fclose(want);
}
