/*
 * decode_int.h — internals shared by the two alloc.v1 decoders and their
 * common validator.
 *
 * Both decoders (decode.c, the fast schema-specific one; decode_cjson.c, the
 * cJSON reference) do only the syntax: they reduce a line to a gope_dec_raw,
 * which records for every field of interest the JSON kind of its FIRST
 * occurrence and its value. Everything after the syntax — schema, types,
 * missing fields, value ranges, in the fixed order the contract lists — is
 * decided by one function, gope_dec_validate() (validate.c), so the two
 * decoders cannot drift apart in precedence or in detail texts. A reward.v1
 * line goes through the same two steps: its fields (event_id, ts, reward)
 * are top-level fields of alloc.v1 too, and only the validator tells the
 * two schemas apart.
 *
 * Candidates are folded as they are read: after each element the decoder
 * calls gope_dec_cand_done(), which keeps only the first candidate with a
 * type fault and the first with a missing field. That keeps the type checks
 * of elements past GOPE_MAX_CANDIDATES (whose values are not stored) in the
 * right order without storing them.
 *
 * Integers: an integer field must be an integer literal whose magnitude is
 * below 2^53. Beyond that a double cannot tell two literals apart, so the
 * reference (which only sees cJSON's double) could not reproduce the exact
 * int64; both decoders call such a literal "out of range" instead (`big`).
 */
#ifndef GOPE_DECODE_INT_H
#define GOPE_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gope_ingest.h"

#define GOPE_DEC_NESTING_LIMIT 1000            /* cJSON's CJSON_NESTING_LIMIT */
#define GOPE_DEC_TS_MAX INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define GOPE_DEC_INT_LIMIT 9007199254740992.0  /* 2^53: |integer| must be below */
#define GOPE_DEC_NONE SIZE_MAX                 /* "no such index" */

/* JSON kind of a value; GOPE_DK_ABSENT for a field that does not occur. */
typedef enum {
    GOPE_DK_ABSENT = 0,
    GOPE_DK_NULL,
    GOPE_DK_FALSE,
    GOPE_DK_TRUE,
    GOPE_DK_INT,    /* an integer literal (no '.', no exponent) */
    GOPE_DK_FLOAT,  /* any other number */
    GOPE_DK_STRING,
    GOPE_DK_ARRAY,
    GOPE_DK_OBJECT,
} gope_dec_kind;

/* A scalar as read by a decoder. */
typedef struct {
    uint8_t kind;  /* gope_dec_kind */
    bool big;      /* GOPE_DK_INT with |value| >= 2^53 (i is then 0) */
    int64_t i;     /* GOPE_DK_INT value */
    double d;      /* value of a number of either kind (may be +-inf) */
} gope_dec_val;

/* Top-level fields, in the order of the type checks. */
typedef enum {
    GOPE_F_EVENT_ID = 0,
    GOPE_F_TS,
    GOPE_F_USER_ID,
    GOPE_F_CANDIDATES,
    GOPE_F_ACTION,
    GOPE_F_PROPENSITY,
    GOPE_F_REWARD,
    GOPE_F_PROBS,
    GOPE_F_IS_WHALE,
    GOPE_F_LOGGING_POLICY,
    GOPE_F_LAMBDA_VALUES,
    GOPE_F_UNCERTAINTY_SCORE,
    GOPE_F_CONSTRAINT_VIOLATIONS,
    GOPE_F_SCHEMA, /* checked first, on its own (unknown_schema) */
    GOPE_F_COUNT
} gope_dec_field;

/* Candidate fields, in the order of the type checks. */
typedef enum {
    GOPE_CF_STREAMER_ID = 0,
    GOPE_CF_EV,
    GOPE_CF_SIGMA,
    GOPE_CF_LOAD,
    GOPE_CF_CAPACITY,
    GOPE_CF_WHALES,
    GOPE_CF_COLD_START,
    GOPE_CF_HEAD,
    GOPE_CF_COUNT
} gope_dec_cfield;

/* The key names, indexed by gope_dec_field / gope_dec_cfield. */
extern const char *const gope_dec_field_names[GOPE_F_COUNT];
extern const char *const gope_dec_cfield_names[GOPE_CF_COUNT];

/* An array or object that must hold only numbers (probs, lambda_values,
 * constraint_violations): its size and the first offending element. */
typedef struct {
    size_t n;           /* elements or members, duplicates included */
    size_t not_number;  /* first element that is not a number, or NONE */
    size_t not_finite;  /* first number that is +-inf, or NONE */
} gope_dec_nums;

/* One line reduced to what the validator needs. */
typedef struct {
    gope_dec_val f[GOPE_F_COUNT];
    int schema_is;                        /* the gope_event_kind whose schema
                                           * "schema" names exactly, or -1 */
    size_t event_id_len;                  /* decoded bytes, may exceed 128 */
    char event_id[GOPE_MAX_EVENT_ID + 1]; /* its first 128 bytes, NUL-ended */
    size_t n_cand;                        /* elements of "candidates" */
    size_t cand_type_at;                  /* first candidate with a type fault */
    int cand_type_field;                  /* its field, -1: not an object */
    size_t cand_missing_at;               /* first candidate missing a field */
    int cand_missing_field;
    gope_dec_nums probs, lambda, cv;      /* cv: constraint_violations */
    double lambda_values[GOPE_C_COUNT];   /* first occurrence of each name */
    bool lambda_seen[GOPE_C_COUNT];
} gope_dec_raw;

/* Candidate flags: integer field f is out of range; capacity was given. */
#define GOPE_DEC_BIG(f) ((uint16_t)(1u << (f)))
#define GOPE_DEC_HAS_CAPACITY ((uint16_t)(1u << GOPE_CF_COUNT))

struct gope_decoder_s {
    gope_dec_raw raw;
    gope_candidate *cands; /* GOPE_MAX_CANDIDATES + 1; the last one is scratch
                            * for elements past the limit */
    uint16_t *cand_flags;  /* per candidate: GOPE_DEC_BIG(f), GOPE_DEC_HAS_CAPACITY */
    double *probs;         /* GOPE_MAX_CANDIDATES entries */
    char *scratch;         /* GOPE_MAX_LINE + 1: NUL-terminated copies */
};

/* ------------------------------------------------- shared by both decoders */

/*! gope_dec_reset() : forget the previous line. */
void gope_dec_reset(gope_decoder_t *dec);

/*! gope_dec_cand_slot() : the storage for candidate `idx`, reset to the
 * defaults (the scratch slot past GOPE_MAX_CANDIDATES). */
static inline size_t gope_dec_cand_slot(gope_decoder_t *dec, size_t idx)
{
    size_t slot = idx < GOPE_MAX_CANDIDATES ? idx : GOPE_MAX_CANDIDATES;
    dec->cands[slot] = (gope_candidate){0};
    dec->cand_flags[slot] = 0;
    return slot;
}

/*! gope_dec_cand_store() : record the first occurrence `v` of field `f` of
 * the candidate in `slot`. A value of the wrong kind stores a harmless 0
 * (its i and d are 0) and is reported by the type checks anyway. */
static inline void gope_dec_cand_store(gope_decoder_t *dec, size_t slot,
                                       gope_dec_cfield f, const gope_dec_val *v)
{
    gope_candidate *c = &dec->cands[slot];
    bool is_int = v->kind == GOPE_DK_INT, num = is_int || v->kind == GOPE_DK_FLOAT;
    uint16_t big = v->big ? GOPE_DEC_BIG(f) : 0;
    switch (f) {
    case GOPE_CF_EV: c->ev = num ? v->d : 0; break;
    case GOPE_CF_SIGMA: c->sigma = num ? v->d : 0; break;
    case GOPE_CF_LOAD: c->load = v->i; dec->cand_flags[slot] |= big; break;
    case GOPE_CF_WHALES: c->whales = v->i; dec->cand_flags[slot] |= big; break;
    case GOPE_CF_CAPACITY:
        c->capacity = v->i;
        dec->cand_flags[slot] |= big | (is_int ? GOPE_DEC_HAS_CAPACITY : 0);
        break;
    case GOPE_CF_COLD_START: c->cold_start = v->kind == GOPE_DK_TRUE; break;
    case GOPE_CF_HEAD: c->head = v->kind == GOPE_DK_TRUE; break;
    default: break; /* streamer_id: only its kind matters */
    }
}

/*! gope_dec_cand_done() : fold candidate `idx` into the fault summary.
 * `kinds` holds the kind of each field's first occurrence; NULL means the
 * element is not an object. */
void gope_dec_cand_done(gope_decoder_t *dec, size_t idx, const uint8_t *kinds);

/*! gope_dec_nums_add() : fold one element of a numbers-only container. */
static inline void gope_dec_nums_add(gope_dec_nums *ns, const gope_dec_val *v)
{
    bool num = v->kind == GOPE_DK_INT || v->kind == GOPE_DK_FLOAT;
    if (!num && ns->not_number == GOPE_DEC_NONE)
        ns->not_number = ns->n;
    if (num && !(v->d - v->d == 0) && ns->not_finite == GOPE_DEC_NONE)
        ns->not_finite = ns->n;
    ns->n++;
}

/*! gope_dec_lambda_member() : fold a member of lambda_values whose name is
 * constraint `c` (-1: another name): the first value of each is kept. */
void gope_dec_lambda_member(gope_dec_raw *raw, int c, const gope_dec_val *v);

/*! gope_dec_fail() : write the printf-style detail (when `detail` is not
 * NULL and `size` > 0). @return `r`. */
gope_reason gope_dec_fail(gope_reason r, char *detail, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*! gope_dec_validate() : the checks after the syntax, in the contract's
 * order (schema, types, missing fields, values); fills `out` on success. */
gope_reason gope_dec_validate(gope_decoder_t *dec, bool require_reward,
                              gope_event *out, char *detail, size_t detail_size);

/* ------------------------------------------------- fast decoder internals */

/*! gope_dec_number() : parse the strict JSON number that starts at `p`
 * (< end): kind INT or FLOAT, the correctly rounded double, and for an
 * integer literal its int64 (or `big`). `scratch` (GOPE_MAX_LINE + 1 bytes)
 * holds the NUL-terminated copy for the rare strtod fallback.
 * @return the end of the number, or NULL if `p` does not start one. */
const char *gope_dec_number(const char *p, const char *end, char *scratch,
                            gope_dec_val *v);

/*! gope_dec_number_rest() : the same, for a number starting at `start`
 * whose integer part has been read up to `p`, with value `w` (mod 2^64). */
const char *gope_dec_number_rest(const char *start, const char *p, const char *end,
                                 uint64_t w, char *scratch, gope_dec_val *v);

/* SWAR digit parsing: eight ASCII bytes in one 64-bit word, first byte in
 * the lowest lane, so only on little-endian machines (elsewhere the byte
 * loops are used). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GOPE_DEC_SWAR 1
#define GOPE_DEC_ZEROS 0x3030303030303030u

/*! gope_dec_leading_digits() : how many of the 8 bytes of v are digits
 * before the first non-digit (0..8). A byte is a digit when it is 0x3X and
 * stays 0x3X when 6 is added; a carry between lanes only starts at a byte
 * >= 0xFA, itself a non-digit, and only disturbs the lanes above it, so the
 * first non-digit is always found exactly. */
static inline unsigned gope_dec_leading_digits(uint64_t v)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0u, low7 = 0x7F7F7F7F7F7F7F7Fu;
    uint64_t m = ((v & hi) ^ GOPE_DEC_ZEROS) | (((v + 0x0606060606060606u) & hi) ^ GOPE_DEC_ZEROS);
    uint64_t nondigit = (((m & low7) + low7) | m) & ~low7; /* top bit: lane != 0 */
    return nondigit ? (unsigned)__builtin_ctzll(nondigit) >> 3 : 8;
}

/*! gope_dec_digits_value() : the value of the first n (0..8) bytes of v,
 * all digits. They are shifted to the top lanes and padded with '0's, then
 * combined as pairs, quads and the whole with multiplications that never
 * carry between lanes: no branch per digit. */
static inline uint64_t gope_dec_digits_value(uint64_t v, unsigned n)
{
    v = n == 0 ? GOPE_DEC_ZEROS : n == 8 ? v : (v << (64 - 8 * n)) | (GOPE_DEC_ZEROS >> (8 * n));
    v -= GOPE_DEC_ZEROS;
    v = v * 10 + (v >> 8); /* lane 2k: the two-digit number of digits 2k, 2k+1 */
    const uint64_t pairs = 0x000000FF000000FFu;
    return ((v & pairs) * (100 + (UINT64_C(1000000) << 32)) +
            ((v >> 16) & pairs) * (1 + (UINT64_C(10000) << 32))) >> 32;
}
#else
#define GOPE_DEC_SWAR 0
#endif

#if GOPE_DEC_SWAR
/*! gope_dec_fraction() : the fraction of a float of the logs, without a
 * loop. The integer part (value w, `int_digits` <= 7 digits, sign `neg`) is
 * read and a '.' is at f[-1]. Up to 19 digits in all, with no exponent, are
 * read with two or three 8-byte loads and rounded by the tiers of
 * gope_dec_number (Clinger's one division, then Eisel–Lemire), so the bits
 * are the same. @return the end of the number, or NULL when
 * gope_dec_number_rest must decide (fewer than 16 bytes left in the line,
 * more digits, an exponent, no digit at all, or a product Eisel–Lemire
 * cannot round). */
const char *gope_dec_fraction(const char *f, const char *end, uint64_t w, unsigned int_digits,
                              bool neg, gope_dec_val *v);
#endif

/*! gope_dec_number_fast() : gope_dec_number(), with an integer part of up
 * to 7 digits (load, whales, action, the "0" of 0.125...) and the common
 * short fractions read inline. */
static inline const char *gope_dec_number_fast(const char *p, const char *end, char *scratch,
                                               gope_dec_val *v)
{
#if GOPE_DEC_SWAR
    bool neg = *p == '-';
    const char *d = p + neg;
    if (end - d >= 8) {
        const char *after;
        unsigned d0 = (unsigned char)*d - '0';
        if (d0 < 10 && d[1] == '.') { /* 0.27832386: the commonest number of the logs */
            after = gope_dec_fraction(d + 2, end, d0, 1, neg, v);
            return after ? after : gope_dec_number_rest(p, d + 1, end, d0, scratch, v);
        }
        unsigned d1 = (unsigned char)d[1] - '0', short_n = d1 < 10 ? 2 : 1;
        char next = d[short_n];
        if (d0 < 10 && !(short_n == 2 && d0 == 0) && (unsigned char)(next - '0') >= 10 &&
            next != '.' && (next | 0x20) != 'e') { /* load, capacity, action: 1 or 2 digits */
            int64_t i = short_n == 1 ? (int64_t)d0 : (int64_t)(d0 * 10 + d1);
            *v = (gope_dec_val){.kind = GOPE_DK_INT, .i = neg ? -i : i,
                                .d = neg ? -(double)i : (double)i};
            return d + short_n;
        }
        uint64_t x;
        memcpy(&x, d, 8);
        unsigned n = gope_dec_leading_digits(x);
        if (n > 0 && n < 8 && (n == 1 || *d != '0')) {
            uint64_t w = gope_dec_digits_value(x, n);
            next = d[n];
            if (next == '.' && (after = gope_dec_fraction(d + n + 1, end, w, n, neg, v)))
                return after;
            if (next == '.' || next == 'e' || next == 'E') /* e.g. 0.125: fraction next */
                return gope_dec_number_rest(p, d + n, end, w, scratch, v);
            int64_t i = (int64_t)w;
            *v = (gope_dec_val){.kind = GOPE_DK_INT, .i = neg ? -i : i,
                                .d = neg ? -(double)i : (double)i};
            return d + n;
        }
    }
#endif
    return gope_dec_number(p, end, scratch, v);
}

/* A read position inside one line. */
typedef struct {
    const char *p, *end;
    unsigned depth;  /* containers open around p */
    char *scratch;
} gope_dec_cur;

static inline bool gope_dec_is_ws(char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

/* Skip whitespace. Compact JSON has none, so one compare (every whitespace
 * byte is <= ' ', almost nothing else is) settles the common case. */
static inline const char *gope_dec_skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= ' ' && gope_dec_is_ws(*p))
        p++;
    return p;
}

static inline void gope_dec_ws(gope_dec_cur *c)
{
    c->p = gope_dec_skip_ws(c->p, c->end);
}

/*! gope_dec_plain_end() : the first byte at or after `p` that ends a run of
 * plain string bytes: '"', '\\', a control byte (< 0x20), or `end`. Eight
 * bytes at a time (SWAR) where the byte order allows. */
static inline const char *gope_dec_plain_end(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t v, q, b;
        memcpy(&v, p, 8);
        q = v ^ (ones * '"');
        b = v ^ (ones * '\\');
        /* the lowest flagged byte is exact: borrows only run upwards */
        uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v);
        hit &= highs;
        if (hit)
            return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
        p++;
    return p;
}

/*! gope_dec_string() : read the string whose opening quote is at c->p and
 * leave c->p after its closing quote. The decoded bytes go to `buf` (up to
 * `cap` of them; buf may be NULL) and their full count to *len. Rejects raw
 * control bytes, bad escapes, lone surrogates and U+0000 (decode_scan.c).
 * @return false on a syntax error. */
bool gope_dec_string(gope_dec_cur *c, char *buf, size_t cap, size_t *len);

/*! gope_dec_value() : read any JSON value at c->p (after whitespace) into
 * `v` (containers are syntax-checked and only their kind kept).
 * @return false on a syntax error. */
bool gope_dec_value(gope_dec_cur *c, gope_dec_val *v);

/*! gope_dec_skip() : syntax-check any JSON value at c->p and move past it,
 * honouring the nesting limit. @return false on a syntax error. */
bool gope_dec_skip(gope_dec_cur *c);

#endif /* GOPE_DECODE_INT_H */
