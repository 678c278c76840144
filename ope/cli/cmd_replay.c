/*
 * cmd_replay.c — `giftope replay`: evaluate policies over log files.
 *
 * Thin by design: options -> configuration, then sources are fed line by line
 * into the shared pipeline (ope/pipeline.c), which the Kafka consumer uses too.
 * Inputs are read in order as one stream, so the watermark carries across
 * files. A fault in one input (unreadable file, truncated or corrupt zstd)
 * keeps everything read before it, is reported, and makes the exit status 1.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "evalrun.h"
#include "options.h"

typedef struct {
    gope_eval_opts eval;
    const char *decoder, *threads;
    bool quiet, decode_only;
} replay_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(replay_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(replay_opts, f), NULL, h}
static const gope_opt replay_table[] = {
    GOPE_EVAL_OPT_ROWS(replay_opts, eval),
    OPT("--decoder", "fast|cjson", decoder, "fast", "event decoder; cjson is the slow reference"),
    OPT("--threads", "1|2", threads, "2", "2: read and decode on a second thread (same results, faster)"),
    FLAG("--quiet", quiet, "no progress on stderr"),
    FLAG("--decode-only", decode_only, "read and validate only, no estimation (benchmarking)"),
};

static const gope_cmd_spec replay_spec = {
    .command = "replay",
    .synopsis = "[options] INPUT...",
    .about = "Evaluate every policy on allocation logs (alloc.v1 JSON lines; plain or zstd,\n"
             "detected from content; - is stdin) in event-time windows. Writes one\n"
             "ope_metrics.v1 record per window and policy, then an ope_run.v1 summary.\n"
             "Exit status: 0 success, 1 input fault, 2 usage error.",
    .opts = replay_table,
    .n_opts = sizeof replay_table / sizeof replay_table[0],
};

/* replay's own pipeline settings: decoder, threads, decode-only. */
static int replay_conf(const replay_opts *o, gope_pipeline_conf *pc)
{
    if (strcmp(o->decoder, "fast") != 0 && strcmp(o->decoder, "cjson") != 0) {
        fprintf(stderr, "giftope replay: --decoder: '%s' is not fast or cjson\n", o->decoder);
        return 2;
    }
    if (strcmp(o->threads, "1") != 0 && strcmp(o->threads, "2") != 0) {
        fprintf(stderr, "giftope replay: --threads: '%s' is not 1 or 2\n", o->threads);
        return 2;
    }
    pc->use_cjson_decoder = strcmp(o->decoder, "cjson") == 0;
    pc->decode_only = o->decode_only;
    pc->require_reward = true;
    return 0;
}

/* Progress on stderr, at most twice a second. */
typedef struct {
    bool on;
    double t0, last;
    uint64_t lines;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void progress_tick(progress *pg, const gope_reader_t *rd, bool final)
{
    double t = now_s();
    if (!pg->on || (!final && t - pg->last < 0.5))
        return;
    pg->last = t;
    uint64_t done, total;
    gope_reader_progress(rd, &done, &total);
    double rate = pg->lines / (t - pg->t0 > 1e-9 ? t - pg->t0 : 1e-9);
    fprintf(stderr, "\r%s: %llu lines, %.0f lines/s, %.1f MB", gope_reader_name(rd),
            (unsigned long long)pg->lines, rate, done / 1e6);
    if (total && done && !final)
        fprintf(stderr, " of %.1f MB, ETA %.0fs  ", total / 1e6,
                (t - pg->t0) * (double)(total - done) / (double)done);
    if (final)
        fputs("                    \n", stderr);
}

/* Feed one input through the pipeline. @return 0, 1 (input fault) or -1
 * (fatal: sink failure or out of memory, message printed). */
static int run_input(gope_pipeline_t *pl, const gope_pipeline_conf *pc, int threads,
                     const char *path, progress *pg)
{
    gope_err err = {{0}};
    gope_reader_t *rd;
    gope_status st = gope_reader_open(path, pc, threads, &rd, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope replay: %s\n", err.msg);
        return st == GOPE_ERR_NOMEM ? -1 : 1;
    }
    const gope_decoded *d;
    int rc = 0;
    while ((st = gope_reader_next(rd, &d, &err)) == GOPE_OK) {
        if (gope_pipeline_decoded(pl, path, d, &err) != GOPE_OK) {
            fprintf(stderr, "giftope replay: %s\n", err.msg);
            rc = -1;
            break;
        }
        if ((++pg->lines & 0x3fff) == 0)
            progress_tick(pg, rd, false);
    }
    progress_tick(pg, rd, true);
    if (rc == 0 && st != GOPE_EOF) {
        fprintf(stderr, "giftope replay: %s\n", err.msg);
        rc = st == GOPE_ERR_NOMEM ? -1 : 1;
    }
    gope_reader_close(rd);
    return rc;
}

/* The summary's run description: inputs, then the shared part, then the decoder. */
static void describe_run(gope_jbuf *b, const replay_opts *o, const gope_eval *ev,
                         const char **inputs, int n_inputs)
{
    gope_jbuf_str(b, "\"inputs\":[");
    for (int i = 0; i < n_inputs; i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, inputs[i], strlen(inputs[i]));
    }
    gope_jbuf_str(b, "]");
    gope_eval_describe(b, ev);
    gope_jbuf_str(b, ",\"decoder\":");
    gope_jbuf_quote(b, o->decoder, strlen(o->decoder));
}

int gope_cmd_replay(int argc, char **argv)
{
    replay_opts o;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_inputs, rc = 2;
    bool help;
    gope_pipeline_conf base = {0};
    gope_eval ev = {0};
    gope_jbuf extra = {0};

    if (!inputs) {
        fputs("giftope replay: out of memory\n", stderr);
        return 1;
    }
    if ((rc = gope_opts_parse(&replay_spec, argc, argv, &o, inputs, &n_inputs, &help)) || help)
        goto cleanup;
    rc = 2;
    if (n_inputs == 0) {
        fputs("giftope replay: no INPUT given (use - for stdin; see --help)\n", stderr);
        goto cleanup;
    }
    if ((rc = replay_conf(&o, &base)) || (rc = gope_eval_open(&ev, "replay", &o.eval, &base)))
        goto cleanup;
    progress pg = {.on = !o.quiet && isatty(2), .t0 = now_s()};
    for (int i = 0; i < n_inputs && rc >= 0; i++) {
        int r = run_input(ev.pl, &ev.pc, atoi(o.threads), inputs[i], &pg);
        rc = r < 0 ? -1 : (r ? r : rc);
    }
    if (rc >= 0) {
        describe_run(&extra, &o, &ev, inputs, n_inputs);
        if (gope_eval_finish(&ev, &extra))
            rc = -1;
    }
    gope_eval_hint_dropped(&ev, &o.eval, o.quiet);
cleanup:
    if (ev.cmd)
        rc = gope_eval_close(&ev, rc);
    gope_jbuf_free(&extra);
    free(inputs);
    return rc < 0 ? 1 : rc;
}
