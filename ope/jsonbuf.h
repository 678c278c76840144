/*
 * jsonbuf.h — a growable byte buffer for writing JSON lines (internal).
 *
 * Output records are small and few (one per window and policy), so clarity
 * wins over speed here: snprintf for numbers, one append per token. A failed
 * allocation sets `oom` and turns later appends into no-ops, so a writer checks
 * once at the end instead of after every token.
 */
#ifndef GOPE_JSONBUF_H
#define GOPE_JSONBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len, cap;
    bool oom;
} gope_jbuf;

void gope_jbuf_reset(gope_jbuf *b);
void gope_jbuf_free(gope_jbuf *b);
void gope_jbuf_raw(gope_jbuf *b, const char *s, size_t n);
void gope_jbuf_str(gope_jbuf *b, const char *s); /* raw C string */
/* A JSON string literal of `n` bytes; invalid UTF-8 bytes become U+FFFD. */
void gope_jbuf_quote(gope_jbuf *b, const char *s, size_t n);
/* "key": prefix (key is a plain ASCII literal), with a comma when needed. */
void gope_jbuf_key(gope_jbuf *b, const char *key);
void gope_jbuf_i64(gope_jbuf *b, int64_t v);
void gope_jbuf_u64(gope_jbuf *b, uint64_t v);
/* Shortest exact form (%.17g); `ok` false or a non-finite value prints null. */
void gope_jbuf_num(gope_jbuf *b, double v, bool ok);
/* Is the buffer's UTF-8 valid for these bytes? (decides raw vs raw_base64) */
bool gope_utf8_valid(const char *s, size_t n);
void gope_jbuf_base64(gope_jbuf *b, const char *s, size_t n);

#endif /* GOPE_JSONBUF_H */
