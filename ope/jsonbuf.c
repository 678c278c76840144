/* jsonbuf.c — JSON text output helpers (see jsonbuf.h). */
#include "jsonbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gope_jbuf_reset(gope_jbuf *b)
{
    b->len = 0;
    b->oom = false;
}

void gope_jbuf_free(gope_jbuf *b)
{
    free(b->data);
    *b = (gope_jbuf){0};
}

static bool reserve(gope_jbuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void gope_jbuf_raw(gope_jbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gope_jbuf_str(gope_jbuf *b, const char *s) { gope_jbuf_raw(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool gope_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

void gope_jbuf_quote(gope_jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    gope_jbuf_raw(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\')
            run++;
        gope_jbuf_raw(b, s + i, run - i);
        if ((i = run) >= n)
            break;
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            gope_jbuf_raw(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            gope_jbuf_raw(b, esc, 6);
            i++;
        } else {
            size_t k = utf8_seq(u + i, n - i);
            if (k)
                gope_jbuf_raw(b, s + i, k);
            else
                gope_jbuf_raw(b, "\xef\xbf\xbd", 3);
            i += k ? k : 1;
        }
    }
    gope_jbuf_raw(b, "\"", 1);
}

void gope_jbuf_key(gope_jbuf *b, const char *key)
{
    if (b->len && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[')
        gope_jbuf_raw(b, ",", 1);
    gope_jbuf_raw(b, "\"", 1);
    gope_jbuf_str(b, key);
    gope_jbuf_raw(b, "\":", 2);
}

void gope_jbuf_i64(gope_jbuf *b, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    gope_jbuf_raw(b, tmp, (size_t)n);
}

void gope_jbuf_u64(gope_jbuf *b, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    gope_jbuf_raw(b, tmp, (size_t)n);
}

void gope_jbuf_num(gope_jbuf *b, double v, bool ok)
{
    if (!ok || !isfinite(v)) {
        gope_jbuf_raw(b, "null", 4);
        return;
    }
    char tmp[40];
    /* the shortest of %.15g..%.17g that reads back exactly */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    gope_jbuf_str(b, tmp);
}

void gope_jbuf_base64(gope_jbuf *b, const char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *u = (const unsigned char *)s;
    gope_jbuf_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)u[i + 1] << 8;
        if (i + 2 < n)
            v |= u[i + 2];
        char out[4] = {tab[v >> 18], tab[(v >> 12) & 63],
                       i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        gope_jbuf_raw(b, out, 4);
    }
    gope_jbuf_raw(b, "\"", 1);
}
