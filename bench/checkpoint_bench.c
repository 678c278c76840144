/*
 * checkpoint_bench.c — what a checkpoint of `giftope consume --checkpoint`
 * costs: bytes and time per checkpoint with 8 policies (the built-in set)
 * and 24 open windows (--window 2h --slide 5m: every event is in 24 windows,
 * held as 24 open 5-minute panes plus the one just opened), every
 * estimator.
 *
 *   checkpoint_bench [DIR] [EVENTS_PER_S] [RUNS]
 *
 * DIR (default: a new directory under /tmp, removed at the end) is where the checkpoints go:
 * the time includes the fsync of the file and of the directory, so it is a
 * property of that file system. EVENTS_PER_S (default 100) is the event-time
 * rate of the synthetic stream; it sets how many event ids the dedupe set
 * remembers (--dedupe-horizon 10m of them), the part of a checkpoint that
 * grows with traffic. The same state without dedupe (horizon 0) is written
 * too, to show the fixed part. Time: median and minimum of RUNS writes
 * (default 20).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gope_ope.h"

#define SPAN_MS (INT64_C(125) * 60000) /* 2 h 5 min of events: 24 windows open */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static gope_status discard(void *ctx, const char *key, const char *line, size_t len,
                           gope_err *err)
{
    (void)ctx, (void)key, (void)line, (void)len, (void)err;
    return GOPE_OK;
}

static gope_status no_close(void *ctx, gope_err *err)
{
    (void)ctx, (void)err;
    return GOPE_OK;
}

static const gope_sink_ops null_ops = {.name = "null", .write = discard, .close = no_close};

/* Feed SPAN_MS of events at `rate` per second: 10 candidates each. */
static gope_status feed(gope_pipeline_t *p, double rate, gope_err *err)
{
    char buf[2048];
    const int64_t t0 = INT64_C(1735689600000), n = (int64_t)(SPAN_MS / 1000.0 * rate);
    for (int64_t i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "{\"event_id\":\"ev-%lld\",\"ts\":%lld,"
                                            "\"user_id\":\"u%lld\",\"candidates\":[",
                           (long long)i, (long long)(t0 + (int64_t)(i * 1000 / rate)),
                           (long long)(i % 997));
        for (int j = 0; j < 10; j++)
            len += snprintf(buf + len, sizeof buf - (size_t)len,
                            "%s{\"streamer_id\":\"s%d\",\"ev\":%.6f,\"sigma\":%.3f,\"load\":%d,"
                            "\"capacity\":50}",
                            j ? "," : "", j, 0.05 * (1 + (i + j) % 13), 0.01 * (j + 1),
                            (int)((i * 7 + j) % 60));
        len += snprintf(buf + len, sizeof buf - (size_t)len,
                        "],\"action\":%d,\"propensity\":0.1,\"reward\":%s}", (int)(i % 10),
                        i % 41 == 0 ? "12.5" : "0");
        gope_line line = {.data = buf, .len = (size_t)len, .lineno = (uint64_t)i + 1};
        gope_status st = gope_pipeline_line(p, "bench", &line, err);
        if (st != GOPE_OK)
            return st;
    }
    return GOPE_OK;
}

/* One configuration: build the state, write it `runs` times. */
static int measure(const char *dir, double rate, int64_t horizon_ms, int runs,
                   const gope_policy_set_t *pol, const gope_estset_t *set)
{
    gope_err err = {{0}};
    gope_sink sink = {&null_ops, NULL};
    gope_pipeline_conf conf = {
        .window = {.size_ms = 7200000, .slide_ms = 300000, .lateness_ms = 0},
        .dedupe_horizon_ms = horizon_ms,
        .require_reward = true,
    };
    gope_pipeline_t *p = NULL;
    double *ms = calloc((size_t)runs, sizeof *ms);
    const gope_kafka_pos pos[] = {{"alloc", 0, 1}, {"alloc", 1, 1}, {"alloc", 2, 1},
                                  {"alloc", 3, 1}, {"alloc", 4, 1}, {"alloc", 5, 1}};
    const gope_stream_name streams[] = {{"alloc", 0, 0}}; /* gope_pipeline_line: stream 0 */
    size_t bytes = 0;
    int rc = 1;
    if (!ms || gope_pipeline_new(&conf, pol, set, &sink, &sink, &p, &err) ||
        feed(p, rate, &err))
        goto done;
    for (int r = 0; r < runs; r++) {
        double t = now_ms();
        if (gope_checkpoint_write(dir, p, pos, 6, streams, 1, &bytes, &err))
            goto done;
        ms[r] = now_ms() - t;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    printf("| %lld min | %zu | %.0f | %.2f | %.2f |\n", (long long)(horizon_ms / 60000), bytes,
           bytes / 1024.0, ms[runs / 2], ms[0]);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "checkpoint_bench: %s\n", err.msg);
    gope_pipeline_free(p);
    free(ms);
    return rc;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/giftope-ckpt-bench.XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    double rate = argc > 2 ? atof(argv[2]) : 100;
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    gope_err err = {{0}};
    gope_policy_set_t *pol = NULL;
    gope_estset_t *set = NULL;
    if (!dir || rate <= 0 || runs <= 0) {
        fputs("usage: checkpoint_bench [DIR] [EVENTS_PER_S > 0] [RUNS > 0]\n", stderr);
        return 2;
    }
    if (gope_policies_default(&pol, &err) || gope_estset_parse("all", &set, &err)) {
        fprintf(stderr, "checkpoint_bench: %s\n", err.msg);
        return 1;
    }
    printf("checkpoint_bench: %zu policies x %zu estimators, --window 2h --slide 5m "
           "(24 open windows), %.0f events/s of event time, %d writes to %s\n\n",
           gope_policies_count(pol), gope_estset_count(set), rate, runs, dir);
    printf("| dedupe horizon | bytes | KiB | median ms | min ms |\n");
    printf("|---|---|---|---|---|\n");
    int rc = measure(dir, rate, 0, runs, pol, set) || measure(dir, rate, 600000, runs, pol, set);
    gope_estset_free(set);
    gope_policies_free(pol);
    if (argc <= 1) { /* the directory is ours */
        char path[sizeof tmpl + 16];
        snprintf(path, sizeof path, "%s/state.ckpt", dir);
        unlink(path);
        rmdir(dir);
    }
    return rc;
}
