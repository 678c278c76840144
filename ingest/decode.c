/*
 * decode.c — the fast alloc.v1 decoder: one pass over the line, no DOM, no
 * allocation.
 *
 * The line is walked once. Members of the top-level object, of each
 * candidate and of lambda_values / constraint_violations are dispatched on
 * their key (a switch on its length, then one memcmp), and only the values
 * the schema needs are converted: numbers by decode_num.c, event_id and
 * schema decoded into fixed buffers. Everything else — unknown keys,
 * duplicates after the first occurrence, values of the wrong kind — is only
 * syntax-checked by decode_scan.c. The result is a gope_dec_raw that
 * validate.c (shared with the cJSON reference) turns into a verdict, so the
 * two decoders agree on every rule by construction.
 *
 * Keys are compared after unescaping: a key without a backslash is compared
 * in place (the common case), one with escapes is decoded into a small
 * buffer first. A leading UTF-8 byte order mark is skipped, as cJSON does.
 */
#include <stdio.h>

#include "decode_int.h"

#define KEY_BUF 32 /* longer than every key we know */

typedef bool (*member_fn)(gope_dec_cur *c, void *ctx, const char *key, size_t len);
typedef bool (*element_fn)(gope_dec_cur *c, void *ctx, size_t idx);

#define IS(lit) (memcmp(key, lit, sizeof lit - 1) == 0)

static int top_field(const char *key, size_t len)
{
    switch (len) {
    case 2: return IS("ts") ? GOPE_F_TS : -1;
    case 5: return IS("probs") ? GOPE_F_PROBS : -1;
    case 6:
        return IS("action") ? GOPE_F_ACTION : IS("reward") ? GOPE_F_REWARD
             : IS("schema") ? GOPE_F_SCHEMA : -1;
    case 7: return IS("user_id") ? GOPE_F_USER_ID : -1;
    case 8: return IS("event_id") ? GOPE_F_EVENT_ID : IS("is_whale") ? GOPE_F_IS_WHALE : -1;
    case 10:
        return IS("candidates") ? GOPE_F_CANDIDATES : IS("propensity") ? GOPE_F_PROPENSITY : -1;
    case 13: return IS("lambda_values") ? GOPE_F_LAMBDA_VALUES : -1;
    case 14: return IS("logging_policy") ? GOPE_F_LOGGING_POLICY : -1;
    case 17: return IS("uncertainty_score") ? GOPE_F_UNCERTAINTY_SCORE : -1;
    case 21: return IS("constraint_violations") ? GOPE_F_CONSTRAINT_VIOLATIONS : -1;
    default: return -1;
    }
}

static int cand_field(const char *key, size_t len)
{
    switch (len) {
    case 2: return IS("ev") ? GOPE_CF_EV : -1;
    case 4: return IS("load") ? GOPE_CF_LOAD : IS("head") ? GOPE_CF_HEAD : -1;
    case 5: return IS("sigma") ? GOPE_CF_SIGMA : -1;
    case 6: return IS("whales") ? GOPE_CF_WHALES : -1;
    case 8: return IS("capacity") ? GOPE_CF_CAPACITY : -1;
    case 10: return IS("cold_start") ? GOPE_CF_COLD_START : -1;
    case 11: return IS("streamer_id") ? GOPE_CF_STREAMER_ID : -1;
    default: return -1;
    }
}

/* The key at c->p ('"'), in place when it has no escape, else into buf. */
static bool read_key(gope_dec_cur *c, char buf[KEY_BUF], const char **key, size_t *len)
{
    const char *q = gope_dec_plain_end(c->p + 1, c->end);
    if (q < c->end && *q == '"') {
        *key = c->p + 1;
        *len = (size_t)(q - *key);
        c->p = q + 1;
        return true;
    }
    *key = buf;
    return gope_dec_string(c, buf, KEY_BUF, len);
}

static bool open_container(gope_dec_cur *c, char close, bool *empty)
{
    if (c->depth >= GOPE_DEC_NESTING_LIMIT)
        return false;
    c->depth++;
    c->p++;
    gope_dec_ws(c);
    *empty = c->p < c->end && *c->p == close;
    c->p += *empty;
    c->depth -= *empty;
    return true;
}

/* After an element: ',' (true, *more) or the closing bracket (true, !*more). */
static bool next_or_close(gope_dec_cur *c, char close, bool *more)
{
    gope_dec_ws(c);
    if (c->p == c->end || (*c->p != ',' && *c->p != close))
        return false;
    *more = *c->p++ == ',';
    c->depth -= !*more;
    gope_dec_ws(c);
    return true;
}

/* The object at c->p: fn(c, ctx, key, len) for each member, at its value. */
static bool each_member(gope_dec_cur *c, member_fn fn, void *ctx)
{
    bool empty, more = true;
    if (!open_container(c, '}', &empty))
        return false;
    while (!empty && more) {
        char buf[KEY_BUF];
        const char *key;
        size_t len;
        if (c->p == c->end || *c->p != '"' || !read_key(c, buf, &key, &len))
            return false;
        gope_dec_ws(c);
        if (c->p == c->end || *c->p != ':')
            return false;
        c->p++;
        gope_dec_ws(c);
        if (c->p == c->end || !fn(c, ctx, key, len) || !next_or_close(c, '}', &more))
            return false;
    }
    return true;
}

/* The array at c->p: fn(c, ctx, i) for each element; *n = their count. */
static bool each_element(gope_dec_cur *c, element_fn fn, void *ctx, size_t *n)
{
    bool empty, more = true;
    *n = 0;
    if (!open_container(c, ']', &empty))
        return false;
    for (; !empty && more; (*n)++) {
        if (c->p == c->end || !fn(c, ctx, *n) || !next_or_close(c, ']', &more))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------- candidates */

typedef struct {
    gope_decoder_t *dec;
    size_t slot;
    uint8_t kinds[GOPE_CF_COUNT];
} cand_ctx;

static bool cand_member(gope_dec_cur *c, void *ctx, const char *key, size_t len)
{
    cand_ctx *cc = ctx;
    int f = cand_field(key, len);
    if (f < 0 || cc->kinds[f] != GOPE_DK_ABSENT)
        return gope_dec_skip(c);
    gope_dec_val v;
    if (!gope_dec_value(c, &v))
        return false;
    cc->kinds[f] = v.kind;
    gope_dec_cand_store(cc->dec, cc->slot, (gope_dec_cfield)f, &v);
    return true;
}

static bool candidate(gope_dec_cur *c, void *ctx, size_t idx)
{
    gope_decoder_t *dec = ctx;
    if (*c->p != '{') {
        gope_dec_cand_done(dec, idx, NULL);
        return gope_dec_skip(c);
    }
    cand_ctx cc = {.dec = dec, .slot = gope_dec_cand_slot(dec, idx)};
    if (!each_member(c, cand_member, &cc))
        return false;
    gope_dec_cand_done(dec, idx, cc.kinds);
    return true;
}

/* ------------------------------------------------- containers of numbers */

static bool prob(gope_dec_cur *c, void *ctx, size_t idx)
{
    gope_decoder_t *dec = ctx;
    gope_dec_val v;
    if (!gope_dec_value(c, &v))
        return false;
    if (idx < GOPE_MAX_CANDIDATES)
        dec->probs[idx] = v.d;
    gope_dec_nums_add(&dec->raw.probs, &v);
    return true;
}

static bool lambda_member(gope_dec_cur *c, void *ctx, const char *key, size_t len)
{
    gope_dec_val v;
    if (!gope_dec_value(c, &v))
        return false;
    gope_dec_lambda_member(ctx, key, len, &v);
    return true;
}

static bool cv_member(gope_dec_cur *c, void *ctx, const char *key, size_t len)
{
    (void)key;
    (void)len;
    gope_dec_val v;
    if (!gope_dec_value(c, &v))
        return false;
    gope_dec_nums_add(ctx, &v);
    return true;
}

/* -------------------------------------------------------------- top level */

/* A field whose value has the kind the schema wants gets parsed for real;
 * any other value is read generically and only its kind is recorded. */
static bool top_member(gope_dec_cur *c, void *ctx, const char *key, size_t len)
{
    gope_decoder_t *dec = ctx;
    gope_dec_raw *raw = &dec->raw;
    int f = top_field(key, len);
    if (f < 0 || raw->f[f].kind != GOPE_DK_ABSENT)
        return gope_dec_skip(c);
    gope_dec_val *v = &raw->f[f];
    char ch = *c->p;
    if (f == GOPE_F_CANDIDATES && ch == '[') {
        v->kind = GOPE_DK_ARRAY;
        return each_element(c, candidate, dec, &raw->n_cand);
    }
    if (f == GOPE_F_PROBS && ch == '[') {
        v->kind = GOPE_DK_ARRAY;
        size_t n;
        return each_element(c, prob, dec, &n);
    }
    if ((f == GOPE_F_LAMBDA_VALUES || f == GOPE_F_CONSTRAINT_VIOLATIONS) && ch == '{') {
        v->kind = GOPE_DK_OBJECT;
        return f == GOPE_F_LAMBDA_VALUES ? each_member(c, lambda_member, raw)
                                         : each_member(c, cv_member, &raw->cv);
    }
    if (f == GOPE_F_EVENT_ID && ch == '"') {
        v->kind = GOPE_DK_STRING;
        return gope_dec_string(c, raw->event_id, GOPE_MAX_EVENT_ID, &raw->event_id_len);
    }
    if (f == GOPE_F_SCHEMA && ch == '"') {
        char s[8];
        size_t n;
        v->kind = GOPE_DK_STRING;
        if (!gope_dec_string(c, s, sizeof s, &n))
            return false;
        raw->schema_ok = n == 8 && memcmp(s, "alloc.v1", 8) == 0;
        return true;
    }
    return gope_dec_value(c, v);
}

gope_reason gope_decode_line(gope_decoder_t *dec, const char *line, size_t len,
                             bool require_reward, gope_event *out,
                             char *detail, size_t detail_size)
{
    if (len > GOPE_MAX_LINE) {
        if (detail && detail_size)
            snprintf(detail, detail_size, "%zu bytes, limit %u", len, GOPE_MAX_LINE);
        return GOPE_R_LINE_TOO_LONG;
    }
    gope_dec_reset(dec);
    gope_dec_cur c = {.p = line, .end = line + len, .depth = 0, .scratch = dec->scratch};
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;
    gope_dec_ws(&c);
    bool object = c.p < c.end && *c.p == '{';
    bool ok = c.p < c.end && (object ? each_member(&c, top_member, dec) : gope_dec_skip(&c));
    if (ok) {
        gope_dec_ws(&c);
        ok = c.p == c.end;
    }
    if (!ok) {
        if (detail && detail_size)
            snprintf(detail, detail_size, "not one JSON value (byte %zu)", (size_t)(c.p - line));
        return GOPE_R_INVALID_JSON;
    }
    if (!object) {
        if (detail && detail_size)
            snprintf(detail, detail_size, "top level is not an object");
        return GOPE_R_NOT_OBJECT;
    }
    return gope_dec_validate(dec, require_reward, out, detail, detail_size);
}
