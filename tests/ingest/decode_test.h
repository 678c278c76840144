/*
 * decode_test.h — helpers shared by the decoder tests (test_decode.c,
 * test_decode_values.c): one valid base event, lines derived from it, and
 * running both decoders on a line.
 *
 * A field is overridden by PREPENDING it to the base event ("first
 * occurrence wins" is itself part of the contract) and removed by naming
 * it in `omit`, so each test states only what it changes. expect_both()
 * asserts that both decoders return the wanted reason and the same detail.
 * Everything is static inline: each test file uses a different subset.
 */
#ifndef GOPE_DECODE_TEST_H
#define GOPE_DECODE_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_ingest.h"

/* The decoder of the running test, defined in test_decode.c; each suite
 * makes it in .init and frees it in .fini. */
extern gope_decoder_t *decode_test_dec;

static inline void decode_test_setup(void)
{
    decode_test_dec = gope_decoder_new();
    cr_assert_not_null(decode_test_dec);
}

static inline void decode_test_teardown(void)
{
    gope_decoder_free(decode_test_dec);
}

/* ------------------------------------------------------------------ lines */

#define C0 "{\"streamer_id\":\"s0\",\"ev\":0.5}"
#define C1 "{\"streamer_id\":\"s1\",\"ev\":1.25}"

static const char *const base_fields[] = {
    "\"event_id\":\"e1\"", "\"ts\":1000", "\"user_id\":\"u1\"",
    "\"candidates\":[" C0 "," C1 "]", "\"action\":1", "\"propensity\":0.25",
    "\"reward\":2.5",
};

/* The base event with `prefix` members first and the field `omit` left out
 * (NULL: none). The returned buffer is static: one line at a time. */
static inline const char *line_with(const char *prefix, const char *omit)
{
    static char buf[1 << 20];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{%s", prefix ? prefix : "");
    bool first = true; /* a prefix ends with its own ',' */
    for (size_t i = 0; i < sizeof base_fields / sizeof base_fields[0]; i++) {
        if (omit && strncmp(base_fields[i] + 1, omit, strlen(omit)) == 0 &&
            base_fields[i][strlen(omit) + 1] == '"')
            continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", first ? "" : ",", base_fields[i]);
        first = false;
    }
    snprintf(buf + n, sizeof buf - n, "}");
    return buf;
}

static inline const char *with(const char *prefix)
{
    return line_with(prefix, NULL);
}

/* ---------------------------------------------------------------- running */

typedef struct {
    gope_reason r;
    char detail[256];
    gope_event ev;
} outcome;

static inline outcome run_n(bool fast, const char *line, size_t len, bool require_reward)
{
    outcome o;
    memset(&o, 0, sizeof o);
    gope_reason (*decode)(gope_decoder_t *, const char *, size_t, bool, gope_event *, char *,
                          size_t) = fast ? gope_decode_line : gope_decode_line_cjson;
    o.r = decode(decode_test_dec, line, len, require_reward, &o.ev, o.detail, sizeof o.detail);
    return o;
}

static inline outcome run(bool fast, const char *line)
{
    return run_n(fast, line, strlen(line), true);
}

/* Both decoders return `want` with the same detail, which contains
 * `detail` (NULL: anything); returns the fast decoder's outcome. */
static inline outcome expect_both_n(const char *line, size_t len, bool require_reward,
                             gope_reason want, const char *detail)
{
    outcome ref = run_n(false, line, len, require_reward);
    outcome fast = run_n(true, line, len, require_reward);
    cr_expect_eq(fast.r, want, "fast: %s (%s), want %s: %.200s", gope_reason_name(fast.r),
                 fast.detail, gope_reason_name(want), line);
    cr_expect_eq(ref.r, want, "cjson: %s (%s), want %s: %.200s", gope_reason_name(ref.r),
                 ref.detail, gope_reason_name(want), line);
    if (want != GOPE_R_INVALID_JSON)
        cr_expect_str_eq(fast.detail, ref.detail, "details differ: %.200s", line);
    if (detail)
        cr_expect(strstr(fast.detail, detail) != NULL, "detail '%s' lacks '%s': %.200s",
                  fast.detail, detail, line);
    return fast;
}

static inline outcome expect_both(const char *line, gope_reason want, const char *detail)
{
    return expect_both_n(line, strlen(line), true, want, detail);
}

typedef struct {
    const char *prefix, *detail;
} case_t;

/* Field faults name the path exactly; value faults contain the text. */
static inline void expect_cases(const case_t *cases, size_t n, gope_reason want)
{
    bool exact = want == GOPE_R_WRONG_TYPE || want == GOPE_R_MISSING_FIELD;
    for (size_t i = 0; i < n; i++) {
        outcome o = expect_both(with(cases[i].prefix), want, cases[i].detail);
        if (exact)
            cr_expect_str_eq(o.detail, cases[i].detail, "for %s", cases[i].prefix);
    }
}

#define CAND_WITH(extra) "\"candidates\":[" C0 ",{\"streamer_id\":\"s\",\"ev\":1," extra "}],"

/* A candidates array of `n` copies of C0, with `odd` at index `at`. */
static inline char *many_candidates(size_t n, size_t at, const char *odd)
{
    size_t cap = (n + 1) * (strlen(C0) + strlen(odd) + 2) + 64;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    size_t k = (size_t)sprintf(s, "\"candidates\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(s + k, "%s%s", i ? "," : "", i == at ? odd : C0);
    sprintf(s + k, "],");
    return s;
}

#endif /* GOPE_DECODE_TEST_H */
