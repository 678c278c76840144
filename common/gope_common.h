/*
 * gope_common.h — status codes, error reports and compensated summation
 * shared by every giftope library (ingest, ope, estimators, sim).
 *
 * Errors follow the librdkafka/zstd habit: functions return a gope_status and
 * write a human-readable reason into a caller-owned gope_err, naming the input
 * and position ("logs/a.jsonl.zst: byte 1042: truncated zstd frame").
 * Library code never prints and never exits.
 */
#ifndef GOPE_COMMON_H
#define GOPE_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GOPE_OK = 0,
    GOPE_EOF = 1,          /* end of input, not an error */
    GOPE_ERR_NOMEM = -1,   /* an allocation failed */
    GOPE_ERR_IO = -2,      /* read/write failed, or corrupt/truncated input */
    GOPE_ERR_USAGE = -3,   /* bad option, bad configuration file */
    GOPE_ERR_INPUT = -4,   /* malformed data that cannot be skipped */
} gope_status;

/* A caller-owned error report. `msg` is always NUL-terminated. */
typedef struct {
    char msg[512];
} gope_err;

/*! gope_strerror() : a constant name for `st` ("out of memory", ...). */
const char *gope_strerror(gope_status st);

/*! gope_err_set() : printf-style write into `err` (NULL allowed).
 * @return `st`, so callers can `return gope_err_set(err, GOPE_ERR_IO, ...)`. */
gope_status gope_err_set(gope_err *err, gope_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Neumaier compensated sum. `s + c` is the running total; the compensation
 * term carries the low-order bits that plain addition would drop, so sums of
 * heavy-tailed terms (one whale gift among millions of zeros) stay accurate to
 * a few ulps regardless of order. Two sums merge exactly as well as one pass.
 */
typedef struct {
    double s, c;
} gope_ksum;

static inline void gope_ksum_add(gope_ksum *k, double x)
{
    double t = k->s + x;
    if (__builtin_fabs(k->s) >= __builtin_fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}

static inline void gope_ksum_merge(gope_ksum *into, const gope_ksum *from)
{
    gope_ksum_add(into, from->s);
    gope_ksum_add(into, from->c);
}

static inline double gope_ksum_value(const gope_ksum *k) { return k->s + k->c; }

#endif /* GOPE_COMMON_H */
