/*
 * decode_scan.c — the JSON lexical layer of the fast decoder: strings,
 * scalars, and syntax-checking whole values that the schema does not use.
 *
 * The grammar is RFC 8259, with three limits chosen so that cJSON (the
 * reference decoder) and this code accept exactly the same lines:
 *   - containers nest at most 1000 deep (cJSON's CJSON_NESTING_LIMIT, with
 *     its exact behaviour: the 1000th level is fine, the 1001st fails);
 *   - a \u escape must encode a valid code point: a high surrogate must be
 *     followed by a low one, a lone low surrogate is an error (where cJSON
 *     fails too);
 *   - U+0000 may not appear in a string, not even escaped: cJSON keeps
 *     strings NUL-terminated and would silently cut them (RFC 8259 lets an
 *     implementation limit the characters of strings).
 * Raw bytes >= 0x80 are copied as they are; invalid UTF-8 is not checked
 * (cJSON does not check it either).
 *
 * Skipping is iterative: one bit per open container says whether it is an
 * object, so a 1000-deep value costs 128 bytes of stack, not 1000 frames.
 */
#include "decode_int.h"

static int hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int ch = (unsigned char)p[i], lc = ch | 0x20;
        int d = ch >= '0' && ch <= '9' ? ch - '0' : lc >= 'a' && lc <= 'f' ? lc - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static size_t utf8_encode(long cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t i = n - 1; i > 0; i--, cp >>= 6)
        out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[n] | cp);
    return n;
}

/* The escape sequence at `p` (a backslash): its UTF-8 bytes go to `out`.
 * @return the byte after the sequence, or NULL if it is invalid. */
static const char *unescape(const char *p, const char *end, char out[4], size_t *n)
{
    static const char from[8] = {'"', '\\', '/', 'b', 'f', 'n', 'r', 't'};
    static const char to[8] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t'};
    if (end - p < 2)
        return NULL;
    const char *s = memchr(from, p[1], sizeof from);
    if (s) {
        out[0] = to[s - from];
        *n = 1;
        return p + 2;
    }
    if (p[1] != 'u')
        return NULL;
    long cp = hex4(p + 2, end);
    p += 6;
    if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return NULL; /* bad hex digits, U+0000, lone low surrogate */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return NULL;
        long low = hex4(p + 2, end);
        if (low < 0xDC00 || low > 0xDFFF)
            return NULL;
        cp = 0x10000 + ((cp & 0x3FF) << 10 | (low & 0x3FF));
        p += 6;
    }
    *n = utf8_encode(cp, out);
    return p;
}

static void put(char *buf, size_t cap, size_t at, const char *src, size_t n)
{
    if (buf && at < cap)
        memcpy(buf + at, src, n < cap - at ? n : cap - at);
}

bool gope_dec_string(gope_dec_cur *c, char *buf, size_t cap, size_t *len)
{
    const char *p = c->p + 1, *end = c->end;
    size_t n = 0;
    for (;;) {
        const char *q = gope_dec_plain_end(p, end);
        put(buf, cap, n, p, (size_t)(q - p));
        n += (size_t)(q - p);
        if (q == end || (unsigned char)*q < 0x20)
            return false; /* unterminated, or a raw control byte */
        if (*q == '"') {
            c->p = q + 1;
            *len = n;
            return true;
        }
        char u[4];
        size_t un;
        p = unescape(q, end, u, &un);
        if (!p)
            return false;
        put(buf, cap, n, u, un);
        n += un;
    }
}

static bool literal(gope_dec_cur *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A string, number, true, false or null. */
static bool scalar(gope_dec_cur *c, gope_dec_val *v)
{
    size_t n;
    switch (*c->p) {
    case '"':
        v->kind = GOPE_DK_STRING;
        return gope_dec_string(c, NULL, 0, &n);
    case 't':
        v->kind = GOPE_DK_TRUE;
        return literal(c, "true", 4);
    case 'f':
        v->kind = GOPE_DK_FALSE;
        return literal(c, "false", 5);
    case 'n':
        v->kind = GOPE_DK_NULL;
        return literal(c, "null", 4);
    default: {
        const char *after = gope_dec_number(c->p, c->end, c->scratch, v);
        if (after)
            c->p = after;
        return after != NULL;
    }
    }
}

/* After '{' or ',' in an object: "key" ws ':' ws. */
static bool member_key(gope_dec_cur *c)
{
    size_t n;
    if (c->p == c->end || *c->p != '"' || !gope_dec_string(c, NULL, 0, &n))
        return false;
    gope_dec_ws(c);
    if (c->p == c->end || *c->p != ':')
        return false;
    c->p++;
    gope_dec_ws(c);
    return true;
}

/* After a value inside `top` open containers: consume ',' (and the next
 * key) or closing brackets. @return 1 when another value follows, 0 when
 * all `top` containers are closed, -1 on a syntax error. */
static int after_value(gope_dec_cur *c, const uint64_t *is_obj, unsigned *top)
{
    while (*top > 0) {
        bool obj = is_obj[(*top - 1) / 64] >> ((*top - 1) % 64) & 1;
        gope_dec_ws(c);
        if (c->p == c->end)
            return -1;
        if (*c->p == ',') {
            c->p++;
            gope_dec_ws(c);
            return obj && !member_key(c) ? -1 : 1;
        }
        if (*c->p != (obj ? '}' : ']'))
            return -1;
        c->p++;
        c->depth--;
        (*top)--;
    }
    return 0;
}

bool gope_dec_skip(gope_dec_cur *c)
{
    uint64_t is_obj[(GOPE_DEC_NESTING_LIMIT + 63) / 64];
    unsigned top = 0;
    for (;;) {
        if (c->p == c->end)
            return false;
        char ch = *c->p;
        if (ch == '[' || ch == '{') {
            if (c->depth >= GOPE_DEC_NESTING_LIMIT)
                return false;
            c->depth++;
            uint64_t bit = UINT64_C(1) << (top % 64);
            is_obj[top / 64] = ch == '{' ? is_obj[top / 64] | bit : is_obj[top / 64] & ~bit;
            top++;
            c->p++;
            gope_dec_ws(c);
            if (c->p < c->end && *c->p == (ch == '{' ? '}' : ']')) {
                c->p++;
                c->depth--;
                top--;
            } else {
                if (ch == '{' && !member_key(c))
                    return false;
                continue; /* the first element */
            }
        } else {
            gope_dec_val v;
            if (!scalar(c, &v))
                return false;
        }
        int more = after_value(c, is_obj, &top);
        if (more <= 0)
            return more == 0;
    }
}

bool gope_dec_value(gope_dec_cur *c, gope_dec_val *v)
{
    *v = (gope_dec_val){0};
    if (c->p == c->end)
        return false;
    if (*c->p == '[' || *c->p == '{') {
        v->kind = *c->p == '[' ? GOPE_DK_ARRAY : GOPE_DK_OBJECT;
        return gope_dec_skip(c);
    }
    return scalar(c, v);
}
