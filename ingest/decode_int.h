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
 * decoders cannot drift apart in precedence or in detail texts.
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
    bool schema_ok;                       /* "schema" is exactly "alloc.v1" */
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
size_t gope_dec_cand_slot(gope_decoder_t *dec, size_t idx);

/*! gope_dec_cand_store() : record the first occurrence `v` of field `f` of
 * the candidate in `slot`; values of a wrong kind are not stored. */
static inline void gope_dec_cand_store(gope_decoder_t *dec, size_t slot,
                                       gope_dec_cfield f, const gope_dec_val *v)
{
    gope_candidate *c = &dec->cands[slot];
    bool num = v->kind == GOPE_DK_INT || v->kind == GOPE_DK_FLOAT;
    int64_t *ip = f == GOPE_CF_LOAD ? &c->load
                : f == GOPE_CF_CAPACITY ? &c->capacity
                : f == GOPE_CF_WHALES ? &c->whales : NULL;
    if (ip && v->kind == GOPE_DK_INT) {
        *ip = v->i;
        if (v->big)
            dec->cand_flags[slot] |= GOPE_DEC_BIG(f);
        if (f == GOPE_CF_CAPACITY)
            dec->cand_flags[slot] |= GOPE_DEC_HAS_CAPACITY;
    } else if (f == GOPE_CF_EV && num) {
        c->ev = v->d;
    } else if (f == GOPE_CF_SIGMA && num) {
        c->sigma = v->d;
    } else if (f == GOPE_CF_COLD_START) {
        c->cold_start = v->kind == GOPE_DK_TRUE;
    } else if (f == GOPE_CF_HEAD) {
        c->head = v->kind == GOPE_DK_TRUE;
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

/*! gope_dec_lambda_member() : fold member `name` (`len` decoded bytes) of
 * lambda_values: the first number for each constraint name is kept. */
void gope_dec_lambda_member(gope_dec_raw *raw, const char *name, size_t len,
                            const gope_dec_val *v);

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

static inline void gope_dec_ws(gope_dec_cur *c)
{
    while (c->p < c->end && gope_dec_is_ws(*c->p))
        c->p++;
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
 * control bytes, bad escapes, lone surrogates and U+0000 (see decode.c).
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
