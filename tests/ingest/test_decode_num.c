/*
 * test_decode_num.c — the fast decoder's number conversion (decode_num.c)
 * against glibc's correctly rounded strtod, bit for bit.
 *
 * Random doubles are printed the ways logs print them (%.17g, %.15g, %.6g,
 * %.3e, and > 19 digits for the strtod fallback), plus random 19-digit
 * mantissas with exponents across and beyond the table (-350..330),
 * subnormals, the overflow and underflow edges, and exact halfway ties,
 * which must round to even. GOPE_NUM_ROUNDS (environment) scales the random
 * part; the default keeps the suite fast (about 2 million conversions).
 * Every conversion goes through both gope_dec_number and its inline front
 * for short integers, gope_dec_number_fast. The grammar is checked too:
 * integer-literal detection, the 2^53 limit of integer fields, and the
 * spellings JSON forbids.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode_int.h"

static char *scratch;

static void setup(void)
{
    scratch = malloc(GOPE_MAX_LINE + 1);
    cr_assert_not_null(scratch);
}

static void teardown(void)
{
    free(scratch);
}

TestSuite(decode_num, .init = setup, .fini = teardown);

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static long rounds(long dflt)
{
    const char *e = getenv("GOPE_NUM_ROUNDS");
    return e && atol(e) > 0 ? atol(e) : dflt;
}

/* Parse `s` with gope_dec_number and its inline front gope_dec_number_fast
 * and strtod; count a failure (and report the first few). */
static size_t failures;

static void check(const char *s)
{
    size_t n = strlen(s);
    double want = strtod(s, NULL);
    char buf[96];
    snprintf(buf, sizeof buf, "%s,\"next\":1}", s); /* as inside a line */
    const char *ends[2] = {s + n, buf + strlen(buf)};
    int variants = n + 16 < sizeof buf ? 4 : 2;
    for (int k = 0; k < variants; k++) {
        bool fast = k & 1;
        const char *p = k < 2 ? s : buf;
        gope_dec_val v;
        const char *end =
            (fast ? gope_dec_number_fast : gope_dec_number)(p, ends[k >> 1], scratch, &v);
        if (end != p + n || memcmp(&v.d, &want, sizeof want) != 0) {
            if (failures++ < 10)
                cr_log_error("%s (%s): got %.17g (end +%td), strtod %.17g", s,
                             fast ? "fast" : "full", v.d, end ? end - p : -1, want);
        }
    }
}

static void checkf(const char *fmt, double d)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, d);
    check(buf);
}

static double random_double(void)
{
    uint64_t bits = rng();
    double d;
    memcpy(&d, &bits, sizeof d);
    return isfinite(d) ? fabs(d) : 1.0;
}

Test(decode_num, random_doubles_in_log_formats)
{
    static const char *const fmts[] = {"%.17g", "%.15g", "%.6g", "%.3e", "%.16e", "%.25e"};
    long n = rounds(150000);
    for (long i = 0; i < n; i++) {
        double d = random_double();
        for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++)
            checkf(fmts[f], d);
        double u = (double)(rng() >> 11) / 9007199254740992.0; /* [0, 1) like ev, probs */
        checkf("%.17g", u);
        checkf("%.17g", u * pow(10, (int)(rng() % 40) - 20));
        checkf("-%.17g", u);
    }
    cr_assert_eq(failures, 0, "%zu mismatches", failures);
}

/* The inline fraction paths (decode_int.h, gope_dec_fraction_fast and
 * gope_dec_fraction_long) take up to 19 digits after a short integer part:
 * every length, with leading zeros (float32 model outputs print as
 * 0.0083126575), mantissas on both sides of 2^53 and of 19 digits, and the
 * cases where they must hand over (more digits, an exponent). */
Test(decode_num, short_fractions_of_every_length)
{
    char buf[64];
    long n = rounds(20000);
    for (long i = 0; i < n; i++) {
        double u = (double)(rng() >> 11) / 9007199254740992.0;
        for (int prec = 1; prec <= 20; prec++) {
            snprintf(buf, sizeof buf, "%.*f", prec, u);
            check(buf);
            snprintf(buf, sizeof buf, "%.*f", prec, u * pow(10, (int)(rng() % 8)));
            check(buf);
            snprintf(buf, sizeof buf, "%.*f", prec, u / pow(10, (int)(rng() % 4)));
            check(buf);
            snprintf(buf, sizeof buf, "%.*fe%d", prec, u, (int)(rng() % 7) - 3);
            check(buf);
        }
    }
    static const char *const edges[] = {
        "0.9007199254740992", "9.007199254740993", "9007199.254740993", "1234567.123456789012",
        "1234567.1234567890123", "0.000000000000001", "0.0000000000000001", "9.99999999999999",
        "1.5", "-0.25", "-1234567.5", "12.000000000000000", "0.10409622097794129",
        "0.999999999999999999", "9.999999999999999999", "0.000000000000000001",
        "12.34567890123456789", "1.234567890123456789e5", "0.1234567890123456e-3",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check(edges[i]);
    cr_assert_eq(failures, 0, "%zu mismatches", failures);
}

Test(decode_num, mantissas_with_extreme_exponents)
{
    char buf[64];
    long n = rounds(150000);
    for (long i = 0; i < n; i++) {
        unsigned long long w = rng() % 10000000000000000000u;
        snprintf(buf, sizeof buf, "%llue%d", w >> (rng() % 64), (int)(rng() % 681) - 350);
        check(buf);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)(rng() >> (rng() % 64)));
        check(buf);
    }
    cr_assert_eq(failures, 0, "%zu mismatches", failures);
}

Test(decode_num, subnormals_and_edges)
{
    long n = rounds(100000);
    for (long i = 0; i < n; i++) {
        uint64_t bits = rng() >> 12; /* exponent field 0: subnormal */
        double d;
        memcpy(&d, &bits, sizeof d);
        checkf("%.17g", d);
        checkf("%.6g", d);
    }
    static const char *const edges[] = {
        "0", "-0", "0.0", "-0.0", "0e7", "1e400", "1e-400", "1e308", "1e309",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "2.2250738585072011e-308", "2.2250738585072014e-308", "2.2250738585072012e-308",
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "5e-324", "3e-324", "1e-999999999999", "1e99999999999999999999", "123e-342",
        "9999999999999999999e-343", "1e23", "8.98846567431158e307", "7.2057594037927933e16",
        "0.1", "0.30000000000000004", "1e22", "1e-22", "9007199254740993", "9007199254740995",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "0.0000000000000000000000000000000000000000000000000000000000000000001",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check(edges[i]);
    cr_assert_eq(failures, 0, "%zu mismatches", failures);
}

/* Exact midpoints between two doubles round to the even one. */
Test(decode_num, halfway_ties_round_to_even)
{
    char buf[64];
    for (long i = 0; i < rounds(50000); i++) {
        uint64_t n53 = (UINT64_C(1) << 53) | (rng() >> 11);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)(n53 | 1)); /* ulp 2: tie */
        check(buf);
        uint64_t n52 = (UINT64_C(1) << 52) | (rng() >> 12);
        snprintf(buf, sizeof buf, "%llu.5", (unsigned long long)n52); /* ulp 1 */
        check(buf);
        uint64_t n51 = (UINT64_C(1) << 51) | (rng() >> 13);
        snprintf(buf, sizeof buf, "%llu.%s", (unsigned long long)n51, rng() & 1 ? "25" : "75");
        check(buf);
        uint64_t big = (UINT64_C(1) << 63) | (rng() >> 1); /* ulp 2048: tie at 1024 */
        big = (big & ~UINT64_C(2047)) | 1024;
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)big);
        check(buf);
        /* m * 10^3 with m = 128 j, j odd: an odd multiple of 1024 in
         * [2^63, 2^64), where doubles are 2048 apart: a tie with q > 0 */
        uint64_t j = (UINT64_C(72057594037928) + rng() % UINT64_C(72057594037927)) | 1;
        snprintf(buf, sizeof buf, "%llue3", (unsigned long long)(128 * j));
        check(buf);
    }
    cr_assert_eq(failures, 0, "%zu mismatches", failures);
}

Test(decode_num, long_numbers_use_the_fallback)
{
    size_t n = 200000;
    char *s = malloc(n + 8);
    cr_assert_not_null(s);
    memcpy(s, "0.", 2);
    memset(s + 2, '0', n);
    memcpy(s + n, "17", 3); /* 0.000...017 */
    check(s);
    memset(s, '7', n);
    s[n] = '\0'; /* a 200000-digit integer: inf, an out-of-range integer */
    gope_dec_val v;
    cr_assert_eq(gope_dec_number(s, s + n, scratch, &v), s + n);
    cr_expect(v.kind == GOPE_DK_INT && v.big && isinf(v.d));
    free(s);
    cr_assert_eq(failures, 0, "%zu mismatches", failures);
}

/* `s` followed by "," as in a line (so the inline path has 8 bytes to
 * look at), read by both paths, which must agree. */
static gope_dec_val parse_ok(const char *s)
{
    char buf[64];
    size_t n = strlen(s);
    snprintf(buf, sizeof buf, "%s,\"x\":12345678", s);
    gope_dec_val v, w;
    const char *end = gope_dec_number(buf, buf + strlen(buf), scratch, &v);
    cr_assert_eq(end, buf + n, "%s not read whole", s);
    end = gope_dec_number_fast(buf, buf + strlen(buf), scratch, &w);
    cr_assert_eq(end, buf + n, "%s not read whole (fast)", s);
    cr_assert(v.kind == w.kind && v.big == w.big && v.i == w.i && memcmp(&v.d, &w.d, 8) == 0,
              "%s: paths differ", s);
    return v;
}

Test(decode_num, integer_literals)
{
    gope_dec_val v = parse_ok("123");
    cr_expect(v.kind == GOPE_DK_INT && !v.big && v.i == 123 && v.d == 123);
    static const char *const small[] = {"0", "7", "-7", "1234567", "-1234567", "12345678"};
    static const int64_t small_i[] = {0, 7, -7, 1234567, -1234567, 12345678};
    for (size_t i = 0; i < 6; i++) {
        v = parse_ok(small[i]);
        cr_expect(v.kind == GOPE_DK_INT && v.i == small_i[i], "%s", small[i]);
    }
    v = parse_ok("-0");
    cr_expect(v.kind == GOPE_DK_INT && v.i == 0 && signbit(v.d));
    v = parse_ok("9007199254740991");
    cr_expect(v.kind == GOPE_DK_INT && !v.big && v.i == 9007199254740991);
    v = parse_ok("-9007199254740991");
    cr_expect(v.kind == GOPE_DK_INT && !v.big && v.i == -9007199254740991);
    static const char *const big[] = {"9007199254740992", "-9007199254740992",
                                      "9223372036854775808", "123456789012345678901234567890"};
    for (size_t i = 0; i < 4; i++) {
        v = parse_ok(big[i]);
        cr_expect(v.kind == GOPE_DK_INT && v.big, "%s is out of range", big[i]);
    }
    static const char *const floats[] = {"1.0", "1e2", "5.0", "1E3", "-0.0", "1e400", "0.5"};
    for (size_t i = 0; i < 7; i++)
        cr_expect_eq(parse_ok(floats[i]).kind, GOPE_DK_FLOAT, "%s", floats[i]);
}

Test(decode_num, json_grammar)
{
    static const char *const bad[] = {"-", "+1", ".5", "1.", "1.e5", "1e", "1e+", "--1",
                                      "-.5", "", "a", "-a", "1.x", "1e-x"};
    gope_dec_val v;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_null(gope_dec_number(bad[i], bad[i] + strlen(bad[i]), scratch, &v), "%s",
                       bad[i]);
    /* A number ends where the grammar does; the caller rejects what follows. */
    static const struct {
        const char *s;
        size_t len;
    } stops[] = {{"01", 1}, {"-01", 2}, {"00.5", 1}, {"1.5.3", 3}, {"1e5e3", 3},
                 {"12,", 2}, {"0x10", 1}, {"7]", 1}, {"1.25e+03}", 8}};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s          ", stops[i].s); /* room for 8-byte reads */
        cr_expect_eq(gope_dec_number(buf, buf + strlen(buf), scratch, &v), buf + stops[i].len,
                     "%s", buf);
        cr_expect_eq(gope_dec_number_fast(buf, buf + strlen(buf), scratch, &v),
                     buf + stops[i].len, "%s (fast)", buf);
    }
    /* The line need not be NUL-terminated: the end bound is honoured. */
    static const char digits[] = "12345";
    cr_expect_eq(gope_dec_number(digits, digits + 3, scratch, &v), digits + 3);
    cr_expect_eq(v.i, 123);
}
