/*
 * logwrite.c — the simulator's alloc.v1 log writer (gope_sim_log_*).
 *
 * A line of the giftlive-v2 world carries 500 candidates, each with three
 * doubles (ev, sigma, true_ev), plus 500 probabilities: about 2,000 numbers
 * per decision. Printed with snprintf("%.17g") (~390 ns each on the bench
 * machine) the writer would run at ~1,300 lines/s, far behind the engine, so
 * numbers go through put_num(): the same text as "%.17g", byte for byte
 * (tests/sim/test_logwrite.c compares it with snprintf), computed exactly in
 * 128-bit integer arithmetic for the magnitudes a log holds (1e-11 .. 1e17)
 * and by snprintf outside that range. "%.17g" rather than the shortest
 * round-trip form keeps that equivalence simple to state and to test.
 *
 * Each line is built in one buffer grown to a bound computed before writing
 * (so the hot loop has no capacity checks), then goes to stdio or, for a
 * path ending in ".zst", through a zstd stream (level 3) whose output is
 * written whenever the compressor hands some out; or, for a log opened with
 * gope_sim_log_open_lines, to a line callback keyed by the event id (how
 * `giftope sim --out kafka:TOPIC` streams to a topic). Errors are reported when
 * they happen and again, at the latest, by close (fflush/fclose), so a full
 * disk is never silent.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "gope_sim.h"

#define ZSTD_LEVEL 3
#define FILE_BUFFER (1u << 20)
#define CAND_MAX 256  /* bytes of one candidate object at most, comma included */
#define PROB_MAX 32   /* bytes of one probs entry at most, comma included */
#define FIXED_MAX 640 /* everything else, quoted strings excluded */

struct gope_sim_log_s {
    FILE *fp;                  /* NULL: lines go to line_fn */
    gope_sim_line_fn line_fn;
    void *line_ctx;
    bool is_stdout;
    char *file_buf;            /* stdio buffer of a file we opened */
    ZSTD_CStream *zc;          /* NULL: plain output */
    char *zout;
    size_t zout_cap;
    char *line;                /* the line being built */
    size_t line_cap;
    gope_jbuf quoted;          /* event_id and logging_policy as JSON strings */
    char path[];               /* as given, "<stdout>" for "-" */
};

/* ------------------------------------------------------------ numbers */

__extension__ typedef unsigned __int128 u128;

static const uint64_t pow5[28] = {
    1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull,
    1953125ull, 9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull,
    30517578125ull, 152587890625ull, 762939453125ull, 3814697265625ull,
    19073486328125ull, 95367431640625ull, 476837158203125ull, 2384185791015625ull,
    11920928955078125ull, 59604644775390625ull, 298023223876953125ull,
    1490116119384765625ull, 7450580596923828125ull,
};

/* Copies the string literal `s` to `p`; the value is the end of the copy, so
 * a field is one line: p = put_num(LIT(p, ",\"ev\":"), v). */
#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, 0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* The 17 significant digits of v > 0 (normal), correctly rounded (ties to
 * even, as glibc's printf), as an integer in [1e16, 1e17) and the decimal
 * exponent X of v after rounding. v * 10^(16-X) = m 5^(16-X) 2^(e+16-X) is
 * exact in 128 bits while 0 <= 16-X <= 27 (m < 2^53, 5^27 < 2^63).
 * @return false outside that range. */
static bool digits17(double v, uint64_t *digits, int *exp10)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int biased = (int)(bits >> 52 & 0x7ff);
    if (biased == 0)
        return false; /* subnormal */
    const uint64_t m = (bits & ((1ull << 52) - 1)) | 1ull << 52;
    const int e = biased - 1075;
    /* floor(log10(2^(e+52))), X itself or one less: 78913 / 2^18 ~ log10 2,
     * and >> of a negative product floors (arithmetic shift, gcc and clang) */
    int x = ((e + 52) * 78913) >> 18;
    for (int tries = 0; tries < 3; tries++) {
        const int pw = 16 - x;
        if (pw < 0 || pw > 27)
            return false;
        const u128 n = (u128)m * pow5[pw];
        const int sh = e + pw;
        uint64_t q;
        if (sh >= 0) {
            q = (uint64_t)(n << sh); /* exact: v 10^pw < 1e18 here */
        } else {
            const int s = -sh; /* 1 .. 67: q >= 1e15 > 2^49, n < 2^116 */
            const u128 rem = n & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
            q = (uint64_t)(n >> s);
            q += rem > half || (rem == half && (q & 1));
        }
        if (q >= 100000000000000000ull)
            x++;
        else if (q < 10000000000000000ull)
            x--;
        else {
            *digits = q;
            *exp10 = x;
            return true;
        }
    }
    return false;
}

static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                               "25262728293031323334353637383940414243444546474849"
                               "50515253545556575859606162636465666768697071727374"
                               "75767778798081828384858687888990919293949596979899";

/* v < 10^8 as exactly 8 digits, two at a time (independent halves). */
static void put8(char *d, uint32_t v)
{
    const uint32_t a = v / 10000, b = v % 10000;
    memcpy(d, pairs + a / 100 * 2, 2);
    memcpy(d + 2, pairs + a % 100 * 2, 2);
    memcpy(d + 4, pairs + b / 100 * 2, 2);
    memcpy(d + 6, pairs + b % 100 * 2, 2);
}

/* "%.17g" of digits * 10^(x-16) (C11 7.21.6.1): fixed notation when
 * -4 <= x < 17, else exponent notation; trailing zeros removed. */
static char *put_g17(char *p, uint64_t digits, int x)
{
    char d[17];
    const uint32_t hi = (uint32_t)(digits / 100000000);
    d[0] = (char)('0' + hi / 100000000);
    put8(d + 1, hi % 100000000);
    put8(d + 9, (uint32_t)(digits % 100000000));
    int nd = 17;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    if (x < -4) { /* x >= -11 on this path */
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        p = LIT(p, "e-");
        memcpy(p, pairs + -x * 2, 2);
        p += 2;
    } else if (x >= 0) { /* x <= 16 */
        memcpy(p, d, (size_t)x + 1);
        p += x + 1;
        if (nd > x + 1) {
            *p++ = '.';
            memcpy(p, d + x + 1, (size_t)(nd - x - 1));
            p += nd - x - 1;
        }
    } else {
        p = LIT(p, "0.");
        for (int i = 0; i < -x - 1; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)nd);
        p += nd;
    }
    return p;
}

/* v as "%.17g" would print it (at most 24 bytes); a non-finite v is written
 * as null, which replay rejects as a wrong type: never a silent bad number. */
static char *put_num(char *p, double v)
{
    if (!isfinite(v))
        return LIT(p, "null");
    if (signbit(v)) {
        *p++ = '-';
        v = -v;
    }
    if (v < 1e17 && v == (double)(uint64_t)v)
        return put_u64(p, (uint64_t)v);
    uint64_t digits;
    int x;
    if (digits17(v, &digits, &x))
        return put_g17(p, digits, x);
    return p + snprintf(p, 25, "%.17g", v);
}

/* ------------------------------------------------------------- output */

static gope_status io_fail(const gope_sim_log_t *log, gope_err *err)
{
    return gope_err_set(err, GOPE_ERR_IO, "%s: write failed: %s", log->path, strerror(errno));
}

/* `len` bytes to the file, through the compressor when there is one;
 * `mode` ZSTD_e_end finishes the frame. */
static gope_status emit(gope_sim_log_t *log, const char *data, size_t len,
                        ZSTD_EndDirective mode, gope_err *err)
{
    if (!log->zc)
        return fwrite(data, 1, len, log->fp) == len ? GOPE_OK : io_fail(log, err);
    ZSTD_inBuffer in = {data, len, 0};
    size_t left;
    do {
        ZSTD_outBuffer out = {log->zout, log->zout_cap, 0};
        left = ZSTD_compressStream2(log->zc, &out, &in, mode);
        if (ZSTD_isError(left))
            return gope_err_set(err, GOPE_ERR_IO, "%s: zstd: %s", log->path,
                                ZSTD_getErrorName(left));
        if (out.pos && fwrite(log->zout, 1, out.pos, log->fp) != out.pos)
            return io_fail(log, err);
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
    return GOPE_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void log_free(gope_sim_log_t *log)
{
    ZSTD_freeCStream(log->zc);
    free(log->zout);
    free(log->line);
    gope_jbuf_free(&log->quoted);
    free(log->file_buf);
    free(log);
}

gope_status gope_sim_log_open(const char *path, gope_sim_log_t **out, gope_err *err)
{
    const bool is_stdout = strcmp(path, "-") == 0;
    const char *name = is_stdout ? "<stdout>" : path;
    gope_sim_log_t *log = calloc(1, sizeof *log + strlen(name) + 1);
    *out = NULL;
    if (!log)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", name);
    strcpy(log->path, name);
    log->is_stdout = is_stdout;
    if (ends_with(path, ".zst")) {
        log->zout_cap = ZSTD_CStreamOutSize();
        log->zc = ZSTD_createCStream();
        log->zout = malloc(log->zout_cap);
        if (!log->zc || !log->zout ||
            ZSTD_isError(ZSTD_CCtx_setParameter(log->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL))) {
            log_free(log);
            return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", name);
        }
    }
    if (!is_stdout && !(log->file_buf = malloc(FILE_BUFFER))) {
        log_free(log);
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", name);
    }
    log->fp = is_stdout ? stdout : fopen(path, "wb");
    if (!log->fp) {
        gope_status st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot open for writing: %s",
                                      path, strerror(errno));
        log_free(log);
        return st;
    }
    if (!is_stdout)
        setvbuf(log->fp, log->file_buf, _IOFBF, FILE_BUFFER);
    *out = log;
    return GOPE_OK;
}

gope_status gope_sim_log_open_lines(const char *name, gope_sim_line_fn fn, void *ctx,
                                    gope_sim_log_t **out, gope_err *err)
{
    gope_sim_log_t *log = calloc(1, sizeof *log + strlen(name) + 1);
    *out = NULL;
    if (!log)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", name);
    strcpy(log->path, name);
    log->line_fn = fn;
    log->line_ctx = ctx;
    *out = log;
    return GOPE_OK;
}

/* One candidate object, with its leading comma when not the first. */
static char *put_candidate(char *p, const gope_sim_step *st, size_t j)
{
    const gope_candidate *c = &st->event->candidates[j];
    if (j)
        *p++ = ',';
    p = put_u64(LIT(p, "{\"streamer_id\":\"s"), st->streamers[j]);
    p = put_num(LIT(p, "\",\"ev\":"), c->ev);
    p = put_num(LIT(p, ",\"sigma\":"), c->sigma);
    p = put_i64(LIT(p, ",\"load\":"), c->load);
    if (c->capacity > 0)
        p = put_i64(LIT(p, ",\"capacity\":"), c->capacity);
    p = put_i64(LIT(p, ",\"whales\":"), c->whales);
    if (c->cold_start)
        p = LIT(p, ",\"cold_start\":true");
    if (c->head)
        p = LIT(p, ",\"head\":true");
    p = put_num(LIT(p, ",\"true_ev\":"), st->true_ev[j]);
    *p++ = '}';
    return p;
}

static char *put_lambda(char *p, const gope_event *ev)
{
    p = LIT(p, ",\"lambda_values\":{");
    for (int c = 0; c < GOPE_C_COUNT; c++) {
        p += sprintf(p, "%s\"%s\":", c ? "," : "", gope_constraint_name((gope_constraint)c));
        p = put_num(p, ev->lambda_values[c]);
    }
    *p++ = '}';
    return p;
}

gope_status gope_sim_log_write(void *ctx, const gope_sim_step *st, gope_err *err)
{
    gope_sim_log_t *log = ctx;
    const gope_event *ev = st->event;
    gope_jbuf *q = &log->quoted;
    gope_jbuf_reset(q);
    gope_jbuf_quote(q, ev->event_id, ev->event_id_len);
    const size_t id_len = q->len;
    if (st->allocator)
        gope_jbuf_quote(q, st->allocator, strlen(st->allocator));
    const size_t need = FIXED_MAX + q->len + ev->n_candidates * (CAND_MAX + PROB_MAX);
    if (need > log->line_cap && !q->oom) {
        char *grown = realloc(log->line, need);
        if (grown) {
            log->line = grown;
            log->line_cap = need;
        }
    }
    if (q->oom || need > log->line_cap)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: %s: out of memory", log->path,
                            ev->event_id);

    char *p = LIT(log->line, "{\"schema\":\"alloc.v1\",\"event_id\":");
    memcpy(p, q->data, id_len);
    p += id_len;
    p = put_i64(LIT(p, ",\"ts\":"), ev->ts);
    p = put_u64(LIT(p, ",\"user_id\":\"u"), st->user);
    p = LIT(p, "\",\"candidates\":[");
    for (size_t j = 0; j < ev->n_candidates; j++)
        p = put_candidate(p, st, j);
    p = put_i64(LIT(p, "],\"action\":"), ev->action);
    p = put_num(LIT(p, ",\"propensity\":"), ev->propensity);
    p = put_num(LIT(p, ",\"reward\":"), ev->reward);
    p = LIT(p, ",\"probs\":[");
    for (size_t j = 0; j < ev->n_candidates; j++) {
        if (j)
            *p++ = ',';
        p = put_num(p, st->pi[j]);
    }
    p = ev->is_whale ? LIT(p, "],\"is_whale\":true") : LIT(p, "],\"is_whale\":false");
    if (ev->has_lambda_values)
        p = put_lambda(p, ev);
    if (st->allocator) {
        p = LIT(p, ",\"logging_policy\":");
        memcpy(p, q->data + id_len, q->len - id_len);
        p += q->len - id_len;
    }
    p = LIT(p, "}\n");
    if (log->line_fn)
        return log->line_fn(log->line_ctx, ev->event_id, log->line, (size_t)(p - log->line) - 1,
                            err);
    return emit(log, log->line, (size_t)(p - log->line), ZSTD_e_continue, err);
}

gope_status gope_sim_log_close(gope_sim_log_t *log, gope_err *err)
{
    if (!log)
        return GOPE_OK;
    gope_status st = log->zc ? emit(log, NULL, 0, ZSTD_e_end, err) : GOPE_OK;
    const int rc = !log->fp ? 0 : log->is_stdout ? fflush(log->fp) : fclose(log->fp);
    if (rc != 0 && st == GOPE_OK)
        st = io_fail(log, err);
    log_free(log);
    return st;
}
