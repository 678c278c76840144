/*
 * gen_numtext.h — shortest round-trip number text, for bench/gen_alloc.c.
 *
 * Included once, by gen_alloc.c only: CMake builds every .c file of bench/
 * into an executable of its own, so the generator's parts are headers of static
 * functions rather than translation units.
 *
 * Production JSON encoders write a double as the shortest text that reads
 * back to the same double, and a float32 field as the shortest text that
 * reads back to the same float. The definitions here are the slow functions
 * (fmt_slow: the first of %.15g/%.16g/%.17g that strtod reads back;
 * float_text_slow: the first of %.1g..%.9g that strtof reads back). They cost
 * ~1 us a number, ~27 us an event: five times the whole budget of a 200k
 * events/s generator. So the fast path computes the same digits exactly with
 * 128-bit integers: for
 * x = m 2^e and k decimal places, x 10^k = m 5^k / 2^-(e+k), so rounding
 * and the read-back test (is q 10^-k strictly inside the rounding interval
 * of x?) are integer comparisons. Numbers outside that exact range (below
 * ~1e-11 or above ~1e15, subnormals) take the slow path. `gen_alloc
 * --self-check N` compares both paths byte for byte.
 */
#ifndef GEN_NUMTEXT_H
#define GEN_NUMTEXT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t pow5[28] = {
    1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u, 1953125u, 9765625u,
    48828125u, 244140625u, 1220703125u, 6103515625u, 30517578125u, 152587890625u,
    762939453125u, 3814697265625u, 19073486328125u, 95367431640625u,
    476837158203125u, 2384185791015625u, 11920928955078125u, 59604644775390625u,
    298023223876953125u, 1490116119384765625u, 7450580596923828125u};
static const double pow10d[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324"
    "25262728293031323334353637383940414243444546474849"
    "50515253545556575859606162636465666768697071727374"
    "75767778798081828384858687888990919293949596979899";
static const uint64_t pow10u[18] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
    10000000000u, 100000000000u, 1000000000000u, 10000000000000u, 100000000000000u,
    1000000000000000u, 10000000000000000u, 100000000000000000u};

/* A positive normal binary number m 2^e, 2^(bits-1) <= m < 2^bits. */
typedef struct {
    uint64_t m;
    int e, bits;
} binary_t;

static bool binary_of_double(double x, binary_t *b)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    int be = (int)(u >> 52 & 0x7ff);
    *b = (binary_t){(u & ((1ull << 52) - 1)) | 1ull << 52, be - 1075, 53};
    return !(u >> 63) && be != 0 && be != 0x7ff;
}

static bool binary_of_float(float x, binary_t *b)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    int be = (int)(u >> 23 & 0xff);
    *b = (binary_t){(u & ((1u << 23) - 1)) | 1u << 23, be - 150, 24};
    return !(u >> 31) && be != 0 && be != 0xff;
}

/* Writes the decimal digits of v backwards, ending at `end`; returns the count. */
static size_t u64_digits(uint64_t v, char *end)
{
    char *p = end;
    for (; v >= 100; v /= 100)
        p -= 2, memcpy(p, digit_pairs + 2 * (v % 100), 2);
    if (v >= 10)
        p -= 2, memcpy(p, digit_pairs + 2 * v, 2);
    else
        *--p = (char)('0' + v);
    return (size_t)(end - p);
}

/* With k decimal places, truncates x 10^k into *t, rounds it half-to-even
 * into *q and says whether q 10^-k reads back as x, i.e. lies inside x's
 * rounding interval (midpoints to the neighbours; the lower gap is half as
 * wide at a power of two; ties go to the even mantissa). Both tests are
 * scaled by 2^(s+2) 10^k, s = -(e+k), so they are exact in 128 bits as long
 * as q has at most 17 digits (a caller whose guess of the digit count was
 * one short discards the wrapped result, see shortest()).
 * @return -1 when k or s is outside the range where that holds. */
static int round_digits(const binary_t *b, int k, uint64_t *q, uint64_t *t)
{
    int s = -(b->e + k);
    if (k < 0 || k > 27 || s < 1 || s > 68)
        return -1;
    uint64_t m = b->m;
    u128 p = (u128)m * pow5[k], v = p >> s, rem = p - (v << s), half = (u128)1 << (s - 1);
    *t = (uint64_t)v;
    v += rem > half || (rem == half && (v & 1));
    u128 a = v << (s + 2), hi = (u128)(4 * m + 2) * pow5[k];
    u128 lo = (u128)(4 * m - (m == 1ull << (b->bits - 1) ? 1 : 2)) * pow5[k];
    *q = (uint64_t)v;
    return (a > lo && a < hi) || (!(m & 1) && (a == lo || a == hi));
}

/* The definition: first of %.15g, %.16g, %.17g that reads back as x. */
static size_t fmt_slow(double x, char *out)
{
    int len = 0;
    for (int p = 15; p <= 17; p++) {
        len = snprintf(out, 32, "%.*g", p, x);
        if (strtod(out, NULL) == x)
            break;
    }
    return (size_t)len;
}

/* %g layout of the significant digits `dig` (len n, no trailing zeros) with
 * decimal exponent x10 at precision p. */
static size_t layout_g(const char *dig, size_t n, int x10, int p, char *out)
{
    size_t o = 0;
    if (x10 < -4 || x10 >= p) {
        out[o++] = dig[0];
        if (n > 1)
            out[o++] = '.', memcpy(out + o, dig + 1, n - 1), o += n - 1;
        o += (size_t)sprintf(out + o, "e%c%02d", x10 < 0 ? '-' : '+', abs(x10));
    } else if (x10 < 0) {
        out[o++] = '0', out[o++] = '.';
        for (int i = -1; i > x10; i--)
            out[o++] = '0';
        memcpy(out + o, dig, n), o += n;
    } else {
        for (size_t i = 0; i <= (size_t)x10; i++)
            out[o++] = i < n ? dig[i] : '0';
        if (n > (size_t)x10 + 1)
            out[o++] = '.', memcpy(out + o, dig + x10 + 1, n - x10 - 1), o += n - x10 - 1;
    }
    return o;
}

/* The fewest significant digits p in [lo, hi] whose rounding reads back as
 * x, as q with decimal exponent d = floor(log10 x). Reading back is monotone
 * in p, so the search walks from `guess` (the usual answer) down while it
 * succeeds, or up until it does: two trials for most numbers. d starts as an
 * estimate from the binary exponent (log2(1 + f) ~ f + 0.043, off by at most
 * 0.013 decades) and the first trial's digit count corrects it.
 * @return 0, or -1 outside the exact integer path. */
static int shortest(const binary_t *b, int lo, int guess, int hi, uint64_t *q, int *p, int *d)
{
    double f = (double)b->m / (double)(1ull << (b->bits - 1)) - 1.0;
    *d = (int)floor(((double)(b->e + b->bits - 1) + f + 0.043) * 0.30102999566398120);
    int up = -1; /* direction, decided by the first trial */
    *p = 0;
    for (int at = guess, tries = 0; at >= lo && at <= hi && tries < 16; tries++) {
        uint64_t v, t;
        int ok = round_digits(b, at - 1 - *d, &v, &t);
        if (ok < 0)
            return -1;
        if (up < 0 && (t < pow10u[at - 1] || t >= pow10u[at])) {
            *d += t < pow10u[at - 1] ? -1 : 1; /* x 10^k must have `at` digits */
            continue;
        }
        if (up < 0)
            up = !ok;
        if (ok)
            *q = v, *p = at;
        if (ok == up) /* up: the first success; down: the first failure */
            break;
        at += up ? 1 : -1;
    }
    return *p ? 0 : -1;
}

/* The %g text of q 10^(d-p+1) (q has p digits, or p+1 after a carry). */
static size_t digits_text(uint64_t q, int p, int d, int precision, char *out)
{
    char dig[24];
    size_t n = u64_digits(q, dig + 24), len = n;
    while (len > 1 && dig[24 - n + len - 1] == '0')
        len--;
    return layout_g(dig + 24 - n, len, d + (int)n - p, precision, out);
}

/* Writes the same text as fmt_slow(x) (at most 24 bytes, no NUL). */
static size_t fmt_double(double x, char *out)
{
    binary_t b;
    uint64_t q;
    int p, d;
    if (x == 0.0)
        return out[0] = '0', 1;
    if (!binary_of_double(x, &b) || shortest(&b, 15, 16, 17, &q, &p, &d) < 0)
        return fmt_slow(x, out);
    return digits_text(q, p, d, p, out);
}

/* The float32 definition: the first of %.1g .. %.9g of (float)x that strtof
 * reads back as (float)x gives the digits and the double strtod reads; the
 * text is that double at %.9g (so 100 stays 100, not 1e+02). */
static double float_text_slow(double x, char *out, size_t *len)
{
    float f = (float)x;
    for (int p = 1; p <= 9; p++) {
        snprintf(out, 32, "%.*g", p, (double)f);
        if (strtof(out, NULL) == f)
            break;
    }
    double v = strtod(out, NULL);
    *len = (size_t)snprintf(out, 32, "%.9g", v); /* the same digits, laid out at %.9g */
    return v;
}

/* ev and sigma come from a float32 model and are serialized the way JSON
 * encoders write a float32 field: its shortest round-trip text (to `out`,
 * at most 24 bytes). Returns the double a reader parses from that text, so
 * the generator's logging policy sees exactly the numbers the replay sees. */
static double float_text(double x, char *out, size_t *len)
{
    binary_t b;
    uint64_t q;
    int p, d;
    if (!binary_of_float((float)x, &b) || shortest(&b, 1, 8, 9, &q, &p, &d) < 0)
        return float_text_slow(x, out, len);
    int k = p - 1 - d; /* the value is q 10^-k: one correctly rounded operation */
    if (k > 22 || k < -22)
        return float_text_slow(x, out, len);
    *len = digits_text(q, p, d, 9, out);
    return k >= 0 ? (double)q / pow10d[k] : (double)q * pow10d[-k];
}

#endif /* GEN_NUMTEXT_H */
