/*
 * bench_decode.c — lines/s of the fast decoder and of the cJSON reference on
 * one JSON-lines file held in memory (no I/O in the timed loop).
 *
 *   cmake --build build && cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Icommon \
 *      -Iingest tools/bench_decode.c build/libgiftope.a -lcjson -lzstd -lm \
 *      -o /tmp/bench_decode
 *   /tmp/bench_decode tests/data/oracle/e2e/case1_all_k10/input.jsonl [SECONDS [fast|cjson]]
 *
 * Not part of the test suite: timings depend on the machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gope_ingest.h"

typedef gope_reason (*decode_fn)(gope_decoder_t *, const char *, size_t, bool,
                                 gope_event *, char *, size_t);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* robust to other load */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Decode every line of buf[0, n) repeatedly for about `secs` seconds. */
static void run(const char *name, decode_fn fn, const char *buf, size_t n, double secs)
{
    gope_decoder_t *dec = gope_decoder_new();
    if (!dec)
        return;
    size_t lines = 0, bytes = 0, accepted = 0;
    double t0 = now(), t = t0;
    while (t - t0 < secs) {
        for (const char *p = buf; p < buf + n;) {
            const char *e = memchr(p, '\n', (size_t)(buf + n - p));
            if (!e)
                e = buf + n;
            gope_event ev;
            char detail[128];
            accepted += fn(dec, p, (size_t)(e - p), true, &ev, detail, sizeof detail) == GOPE_R_OK;
            lines++;
            bytes += (size_t)(e - p) + 1;
            p = e + 1;
        }
        t = now();
    }
    double dt = t - t0;
    printf("%-6s %10.0f lines/s  %7.1f MB/s  %6.0f ns/line  (%zu accepted of %zu)\n", name,
           (double)lines / dt, (double)bytes / dt / 1e6, dt / (double)lines * 1e9, accepted, lines);
    gope_decoder_free(dec);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_decode FILE.jsonl [SECONDS [fast|cjson]]\n");
        return 2;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 20, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(fp);
    if (!buf)
        return 1;
    double secs = argc > 2 ? atof(argv[2]) : 3;
    const char *only = argc > 3 ? argv[3] : "";
    if (strcmp(only, "cjson") != 0)
        run("fast", gope_decode_line, buf, n, secs);
    if (strcmp(only, "fast") != 0)
        run("cjson", gope_decode_line_cjson, buf, n, secs);
    free(buf);
    return 0;
}
