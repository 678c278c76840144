/*
 * ckpt_io.c — little-endian numbers and tagged sections of checkpoint files
 * (see ckpt_int.h). Kept apart from checkpoint.c (the file: header,
 * checksum, atomic replace) so each stage's save/load only sees bytes.
 */
#include "ckpt_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SECTION_HEADER 16 /* tag, u32 version, u64 length */

static void put_le(FILE *f, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    fwrite(b, 1, (size_t)bytes, f);
}

void gope_ckw_u32(FILE *f, uint32_t v) { put_le(f, v, 4); }

void gope_ckw_u64(FILE *f, uint64_t v) { put_le(f, v, 8); }

void gope_ckw_i64(FILE *f, int64_t v) { put_le(f, (uint64_t)v, 8); }

void gope_ckw_f64(FILE *f, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_le(f, u, 8);
}

void gope_ckw_str(FILE *f, const char *s)
{
    size_t n = strlen(s);
    gope_ckw_u32(f, (uint32_t)n);
    fwrite(s, 1, n, f);
}

gope_status gope_ckw_section(FILE *f, const char *tag, uint32_t version, gope_ckw_body_fn body,
                             const void *obj, gope_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return gope_err_set(err, GOPE_ERR_NOMEM, "checkpoint: section %s: out of memory", tag);
    gope_status st = body(obj, m, err);
    bool bad = ferror(m) != 0;
    if (fclose(m) != 0)
        bad = true;
    if (st == GOPE_OK && bad)
        st = gope_err_set(err, GOPE_ERR_NOMEM, "checkpoint: section %s: out of memory", tag);
    if (st == GOPE_OK) {
        fwrite(tag, 1, 4, f);
        gope_ckw_u32(f, version);
        gope_ckw_u64(f, len);
        fwrite(buf, 1, len, f);
    }
    free(buf);
    return st;
}

static bool get_le(gope_ckr *r, uint64_t *v, int bytes)
{
    if (r->len - r->pos < (size_t)bytes)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)r->data[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)bytes;
    *v = x;
    return true;
}

bool gope_ckr_u32(gope_ckr *r, uint32_t *v)
{
    uint64_t x;
    if (!get_le(r, &x, 4))
        return false;
    *v = (uint32_t)x;
    return true;
}

bool gope_ckr_u64(gope_ckr *r, uint64_t *v) { return get_le(r, v, 8); }

bool gope_ckr_i64(gope_ckr *r, int64_t *v)
{
    uint64_t x;
    if (!get_le(r, &x, 8))
        return false;
    *v = (int64_t)x;
    return true;
}

bool gope_ckr_f64(gope_ckr *r, double *v)
{
    uint64_t x;
    if (!get_le(r, &x, 8))
        return false;
    memcpy(v, &x, sizeof *v);
    return true;
}

bool gope_ckr_str(gope_ckr *r, char *buf, size_t size)
{
    size_t at = r->pos;
    uint32_t n;
    if (!gope_ckr_u32(r, &n) || n >= size || r->len - r->pos < n) {
        r->pos = at;
        return false;
    }
    memcpy(buf, r->data + r->pos, n);
    buf[n] = '\0';
    r->pos += n;
    return true;
}

gope_status gope_ckr_fail(const gope_ckr *r, gope_err *err, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return gope_err_set(err, GOPE_ERR_INPUT, "%s: byte %zu: %s", r->name, r->base + r->pos,
                        what);
}

gope_status gope_ckr_section(gope_ckr *r, const char *tag, uint32_t max_version, gope_ckr *sub,
                             uint32_t *version, gope_err *err)
{
    if (r->len - r->pos < SECTION_HEADER)
        return gope_ckr_fail(r, err, "section %s missing (%zu bytes left)", tag,
                             r->len - r->pos);
    const unsigned char *t = r->data + r->pos;
    if (memcmp(t, tag, 4) != 0) {
        char found[5];
        for (int i = 0; i < 4; i++)
            found[i] = t[i] >= 0x20 && t[i] < 0x7f ? (char)t[i] : '?';
        found[4] = '\0';
        return gope_ckr_fail(r, err, "expected section %s, found \"%s\"", tag, found);
    }
    size_t at = r->pos;
    uint64_t len = 0;
    r->pos += 4;
    gope_ckr_u32(r, version);
    gope_ckr_u64(r, &len);
    if (*version == 0 || *version > max_version) {
        r->pos = at;
        return gope_ckr_fail(r, err, "section %s has layout version %u; this giftope reads 1 to %u",
                             tag, *version, max_version);
    }
    if (len > r->len - r->pos) {
        r->pos = at;
        return gope_ckr_fail(r, err, "section %s of %llu bytes runs past the end (%zu left)",
                             tag, (unsigned long long)len, r->len - at - SECTION_HEADER);
    }
    *sub = (gope_ckr){.data = r->data + r->pos, .len = (size_t)len, .base = r->base + r->pos,
                      .name = r->name};
    r->pos += (size_t)len;
    return GOPE_OK;
}

gope_status gope_ckr_end(const gope_ckr *r, const char *tag, gope_err *err)
{
    if (r->pos == r->len)
        return GOPE_OK;
    return gope_ckr_fail(r, err, "%zu bytes left over at the end of section %s",
                         r->len - r->pos, tag);
}
