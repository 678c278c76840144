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

#include "../jsonbuf.h"
#include "agree_int.h"
#include "commands.h"
#include "gope_ope.h"
#include "options.h"

typedef struct {
    const char *policies, *window, *slide, *lateness, *estimators, *out, *dead_letter;
    const char *dedupe_horizon, *decoder, *threads, *truth, *rules;
    bool quiet, decode_only;
} replay_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(replay_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(replay_opts, f), NULL, h}
static const gope_opt replay_table[] = {
    OPT("--policies", "FILE", policies, NULL, "policies.v1 JSON file (built-in default set when absent)"),
    OPT("--window", "DUR|all", window, "all", "window size, e.g. 90s, 5m, 1h, 1d"),
    OPT("--slide", "DUR", slide, NULL, "hop between window starts; divides --window (tumbling when absent)"),
    OPT("--lateness", "DUR", lateness, "0", "watermark = max event time seen - lateness"),
    OPT("--estimators", "LIST", estimators, "all", "e.g. snips,dr,ips_clip:lambda=50 (logged is always included)"),
    OPT("--out", "FILE", out, "-", "window records and run summary, JSON lines"),
    OPT("--dead-letter", "FILE", dead_letter, NULL, "rejected and late lines with source, line, offset, reason"),
    OPT("--dedupe-horizon", "DUR", dedupe_horizon, "10m", "event-time span in which a repeated event_id is a duplicate"),
    OPT("--decoder", "fast|cjson", decoder, "fast", "event decoder; cjson is the slow reference"),
    OPT("--threads", "1|2", threads, "2", "2: read and decode on a second thread (same results, faster)"),
    OPT("--truth", "FILE", truth, NULL, "simulator truth (truth.v1): every record gets an agreement block (docs/agreement.md)"),
    OPT("--rules", "LIST", rules, NULL, "with --truth: verdict thresholds, e.g. ess_min=100,rel_max=0.2"),
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

static int usage_error(const gope_err *err)
{
    fprintf(stderr, "giftope replay: %s\n", err->msg);
    return 2;
}

static gope_status window_conf(const replay_opts *o, gope_pipeline_conf *pc, gope_err *err)
{
    gope_status st;
    if (strcmp(o->window, "all") == 0) {
        if (o->slide)
            return gope_err_set(err, GOPE_ERR_USAGE, "--slide needs a sized --window");
    } else {
        if ((st = gope_duration_parse(o->window, "--window", &pc->window.size_ms, err)))
            return st;
        if (pc->window.size_ms == 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "--window must be positive");
        pc->window.slide_ms = pc->window.size_ms;
        if (o->slide && (st = gope_duration_parse(o->slide, "--slide", &pc->window.slide_ms, err)))
            return st;
        if (pc->window.slide_ms == 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "--slide must be positive");
    }
    if ((st = gope_duration_parse(o->lateness, "--lateness", &pc->window.lateness_ms, err)))
        return st;
    if ((st = gope_duration_parse(o->dedupe_horizon, "--dedupe-horizon",
                                  &pc->dedupe_horizon_ms, err)))
        return st;
    if (strcmp(o->decoder, "fast") != 0 && strcmp(o->decoder, "cjson") != 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "--decoder: '%s' is not fast or cjson",
                            o->decoder);
    pc->use_cjson_decoder = strcmp(o->decoder, "cjson") == 0;
    if (strcmp(o->threads, "1") != 0 && strcmp(o->threads, "2") != 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "--threads: '%s' is not 1 or 2", o->threads);
    pc->decode_only = o->decode_only;
    pc->require_reward = true;
    return GOPE_OK;
}

/* --truth: the agreement session the records pass through.
 * @return 0, 1 (a malformed truth file, out of memory) or 2 (usage). */
static int open_agreement(const replay_opts *o, gope_agree_rules *rules, gope_truth_t **truth,
                          gope_agree_t **agree)
{
    gope_err err = {{0}};
    gope_status st = gope_agree_rules_parse(o->rules, rules, &err);
    if (st == GOPE_OK)
        st = gope_truth_load(o->truth, truth, &err);
    if (st == GOPE_OK)
        st = gope_agree_new(*truth, rules, agree, &err);
    if (st == GOPE_OK)
        return 0;
    fprintf(stderr, "giftope replay: %s\n", err.msg);
    return st == GOPE_ERR_INPUT || st == GOPE_ERR_NOMEM ? 1 : 2;
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

/* The summary's run description: inputs, policies, estimators, windows. */
static void describe_run(gope_jbuf *b, const replay_opts *o, const gope_pipeline_conf *pc,
                         const gope_policy_set_t *pol, const gope_estset_t *set,
                         const char **inputs, int n_inputs)
{
    gope_jbuf_str(b, "\"inputs\":[");
    for (int i = 0; i < n_inputs; i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, inputs[i], strlen(inputs[i]));
    }
    gope_jbuf_str(b, "],\"policies\":[");
    for (size_t i = 0; i < gope_policies_count(pol); i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        const char *n = gope_policy_name(pol, i);
        gope_jbuf_quote(b, n, strlen(n));
    }
    char est[512];
    gope_estset_describe(set, est, sizeof est);
    gope_jbuf_str(b, "],\"estimators\":");
    gope_jbuf_quote(b, est, strlen(est));
    gope_jbuf_str(b, ",\"window\":{\"size_ms\":");
    if (pc->window.size_ms)
        gope_jbuf_i64(b, pc->window.size_ms);
    else
        gope_jbuf_str(b, "\"all\"");
    gope_jbuf_str(b, ",\"slide_ms\":");
    gope_jbuf_i64(b, pc->window.slide_ms);
    gope_jbuf_str(b, ",\"lateness_ms\":");
    gope_jbuf_i64(b, pc->window.lateness_ms);
    gope_jbuf_str(b, "},\"decoder\":");
    gope_jbuf_quote(b, o->decoder, strlen(o->decoder));
}

int gope_cmd_replay(int argc, char **argv)
{
    replay_opts o;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_inputs, rc = 2;
    bool help;
    gope_err err = {{0}};
    gope_pipeline_conf pc = {0};
    gope_policy_set_t *pol = NULL;
    gope_estset_t *set = NULL;
    gope_sink out = {0}, dead = {0}, agree_out = {0};
    gope_pipeline_t *pl = NULL;
    gope_jbuf extra = {0};
    gope_agree_rules rules;
    gope_truth_t *truth = NULL;
    gope_agree_t *agree = NULL;

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
    if (window_conf(&o, &pc, &err) ||
        (o.policies ? gope_policies_load(o.policies, &pol, &err)
                    : gope_policies_default(&pol, &err)) ||
        gope_estset_parse(o.estimators, &set, &err)) {
        rc = usage_error(&err);
        goto cleanup;
    }
    if (o.truth && (rc = open_agreement(&o, &rules, &truth, &agree)))
        goto cleanup;
    if (gope_sink_file_open(o.out, &out, &err) ||
        (o.dead_letter && gope_sink_file_open(o.dead_letter, &dead, &err))) {
        rc = usage_error(&err);
        goto cleanup;
    }
    if (agree) /* records pass through the agreement session on their way out */
        gope_agree_sink(agree, &out, &agree_out);
    if (gope_pipeline_new(&pc, pol, set, agree ? &agree_out : &out, &dead, &pl, &err)) {
        rc = usage_error(&err);
        goto cleanup;
    }
    rc = 0;
    progress pg = {.on = !o.quiet && isatty(2), .t0 = now_s()};
    for (int i = 0; i < n_inputs && rc >= 0; i++) {
        int r = run_input(pl, &pc, atoi(o.threads), inputs[i], &pg);
        rc = r < 0 ? -1 : (r ? r : rc);
    }
    if (rc >= 0) {
        describe_run(&extra, &o, &pc, pol, set, inputs, n_inputs);
        if (gope_pipeline_finish(pl, &err) ||
            (agree && gope_agree_write_summary(&extra, agree, o.truth, &err)) ||
            gope_pipeline_summary(pl, extra.data, &err)) {
            fprintf(stderr, "giftope replay: %s\n", err.msg);
            rc = -1;
        }
    }
    const gope_pipeline_stats *s = gope_pipeline_stats_get(pl);
    if (!o.quiet && !o.dead_letter && (s->rejected || s->late))
        fprintf(stderr, "giftope replay: %llu lines rejected, %llu late "
                        "(--dead-letter FILE keeps them with their positions)\n",
                (unsigned long long)s->rejected, (unsigned long long)s->late);
cleanup:
    if (gope_sink_close(&out, &err) || gope_sink_close(&dead, &err)) {
        fprintf(stderr, "giftope replay: %s\n", err.msg);
        rc = 1;
    }
    gope_pipeline_free(pl);
    gope_agree_free(agree);
    gope_truth_free(truth);
    gope_estset_free(set);
    gope_policies_free(pol);
    gope_jbuf_free(&extra);
    free(inputs);
    return rc < 0 ? 1 : rc;
}
