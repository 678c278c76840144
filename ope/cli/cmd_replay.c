/*
 * cmd_replay.c — `giftope replay`: evaluate policies over log files.
 *
 * Thin by design: options -> configuration, then sources are fed line by line
 * into the shared pipeline (ope/pipeline.c), which the Kafka consumer uses too.
 * Inputs are read in order as one stream, so the watermark carries across
 * files. A fault in one input (unreadable file, truncated or corrupt zstd)
 * keeps everything read before it, is reported, and makes the exit status 1.
 *
 * Rewards that arrive later: with --rewards FILE the decisions (the inputs)
 * and the reward.v1 lines of FILE are two streams read together, always
 * taking the line with the smaller ts next (decisions first on a tie; a
 * line that failed to decode goes at once), so the join sees them
 * interleaved by event time as a consumer of two topics would. The join is
 * on only with --rewards or an explicit --reward-wait (rewards interleaved
 * in the inputs themselves); otherwise replay stays as it was: a decision
 * must carry its reward.
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
    const char *rewards, *decoder, *threads;
    bool quiet, decode_only;
} replay_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(replay_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(replay_opts, f), NULL, h}
static const gope_opt replay_table[] = {
    GOPE_EVAL_OPT_ROWS(replay_opts, eval),
    OPT("--rewards", "FILE", rewards, NULL,
        "reward.v1 lines joined to the inputs' decisions by event time (turns the join on)"),
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
             "Decisions without reward are joined with later reward.v1 lines (--rewards\n"
             "FILE, or interleaved in the inputs with --reward-wait).\n"
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
    pc->join = o->rewards || o->eval.reward_wait;
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

/* One input stream: files read one after another. `head` is its next line,
 * not yet processed (NULL once the stream is over); it stays valid while
 * the other stream is read, since each has its own reader. */
typedef struct {
    const char **paths;
    int n, next;
    const gope_pipeline_conf *pc;
    int threads;
    gope_reader_t *rd;
    const char *path;          /* the file being read */
    const gope_decoded *head;
    int rc;                    /* 0; 1 after an input fault; -1 out of memory */
} in_stream;

/* The graver of two outcomes: -1 (fatal) over 1 (input fault) over 0. */
static int worse(int a, int b)
{
    return a < 0 || b < 0 ? -1 : (a > b ? a : b);
}

static void stream_fault(in_stream *s, gope_status st, const gope_err *err)
{
    fprintf(stderr, "giftope replay: %s\n", err->msg);
    s->rc = worse(s->rc, st == GOPE_ERR_NOMEM ? -1 : 1);
}

/* Move `s` to its next line, opening its next file after the end of one. A
 * faulty file is reported (its lines before the fault were returned) and
 * the stream goes on with the next file, as replay always has. */
static void stream_next(in_stream *s, progress *pg)
{
    gope_err err = {{0}};
    for (;;) {
        if (s->rd) {
            gope_status st = gope_reader_next(s->rd, &s->head, &err);
            if (st == GOPE_OK)
                return;
            progress_tick(pg, s->rd, true);
            if (st != GOPE_EOF)
                stream_fault(s, st, &err);
            gope_reader_close(s->rd);
            s->rd = NULL;
        }
        s->head = NULL;
        if (s->next == s->n || s->rc < 0)
            return;
        s->path = s->paths[s->next++];
        gope_status st = gope_reader_open(s->path, s->pc, s->threads, &s->rd, &err);
        if (st != GOPE_OK) {
            stream_fault(s, st, &err);
            s->rd = NULL;
        }
    }
}

/* The merge key: event time, and at once for a line that did not decode. */
static int64_t head_ts(const in_stream *s)
{
    return s->head->reason == GOPE_R_OK ? s->head->ev.ts : INT64_MIN;
}

/* Feed the streams through the pipeline, merged by event time (one stream:
 * simply in order). @return 0, 1 (an input fault) or -1 (fatal: sink
 * failure or out of memory, message printed). */
static int run_streams(gope_pipeline_t *pl, in_stream *ins, int n, progress *pg)
{
    gope_err err = {{0}};
    int rc = 0;
    for (int i = 0; i < n; i++)
        stream_next(&ins[i], pg);
    for (;;) {
        in_stream *s = NULL;
        for (int i = 0; i < n; i++)
            if (ins[i].head && (!s || head_ts(&ins[i]) < head_ts(s)))
                s = &ins[i];
        if (!s)
            break;
        if (gope_pipeline_decoded(pl, s->path, s->head, &err) != GOPE_OK) {
            fprintf(stderr, "giftope replay: %s\n", err.msg);
            rc = -1;
            break;
        }
        if ((++pg->lines & 0x3fff) == 0 && s->rd)
            progress_tick(pg, s->rd, false);
        stream_next(s, pg);
    }
    for (int i = 0; i < n; i++) {
        gope_reader_close(ins[i].rd);
        rc = worse(rc, ins[i].rc);
    }
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
    if (o->rewards) {
        gope_jbuf_str(b, ",\"rewards\":[");
        gope_jbuf_quote(b, o->rewards, strlen(o->rewards));
        gope_jbuf_str(b, "]");
    }
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
    in_stream ins[2] = {
        {.paths = inputs, .n = n_inputs, .pc = &ev.pc, .threads = atoi(o.threads)},
        {.paths = &o.rewards, .n = 1, .pc = &ev.pc, .threads = atoi(o.threads)},
    };
    rc = run_streams(ev.pl, ins, o.rewards ? 2 : 1, &pg);
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
