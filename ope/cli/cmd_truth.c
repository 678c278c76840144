/*
 * cmd_truth.c — `giftope truth`: the simulator's ground truth for every
 * policy (docs/truth.md): V_online and the section-4 metrics over seeds,
 * paired differences against the logging policy and, given the log, V_static.
 *
 * Order of work, cheapest check first, so that a mistake costs seconds and
 * not a whole simulation: options and files (usage errors, exit 2), the
 * log's V_static pass (input faults, exit 1), the output file, and only then
 * the simulation itself. The work is the sim library's (sim/truth.c); this
 * file turns options into its configuration and reports progress.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "truth.h"

typedef struct {
    const char *world, *policies, *logging, *allocators, *decisions, *seeds, *seed, *log, *out, *jobs;
    bool quiet;
} truth_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(truth_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(truth_opts, f), NULL, h}
static const gope_opt truth_table[] = {
    OPT("--world", "PRESET|FILE", world, NULL, "world preset (giftlive-v2, kuailive) or world.v1 file"),
    OPT("--policies", "FILE", policies, NULL, "policies.v1 JSON file (built-in default set when absent)"),
    OPT("--logging", "SPEC", logging, NULL, "the logging policy: a policy of the set, or an allocator such as whale_matching:k=2 (default with --log: the log's logging_policy, when a policy of the set)"),
    OPT("--allocators", "LIST", allocators, NULL, "more stateful allocators to simulate, specs separated by ';' (quote it), e.g. 'whale_matching:k=3;frequency_cap:cap=2,cooldown=60'; no V_static"),
    OPT("--decisions", "N", decisions, NULL, "decisions per seed and policy"),
    OPT("--seeds", "S", seeds, NULL, "number of seeds (worlds), 1..1000000"),
    OPT("--seed", "BASE", seed, "42", "first seed: the seeds are BASE .. BASE+S-1 (as `giftope sim`)"),
    OPT("--log", "LOG", log, NULL, "alloc.v1 log from `giftope sim` (plain or zstd): V_static on its contexts"),
    OPT("--out", "FILE", out, "-", "truth.v1 lines, then truth_run.v1"),
    OPT("--jobs", "J", jobs, "1", "seeds simulated at once, one thread and one world each, 1..1024; the output does not depend on it"),
    FLAG("--quiet", quiet, "no progress or warnings on stderr"),
};

static const gope_cmd_spec truth_spec = {
    .command = "truth",
    .synopsis = "--world PRESET|FILE --logging SPEC --decisions N --seeds S [options]",
    .about = "Simulator ground truth for every policy: V_online (mean reward per decision\n"
             "on-policy, mean and 95% CI over seeds) and the evaluation metrics, paired\n"
             "differences against the logging policy on the same seeds, and with --log\n"
             "V_static (the exact expected reward per decision on the log's contexts).\n"
             "A logging allocator that is not a policy of the set (whale_matching:k=2,\n"
             "docs/allocators.md) gets a line first, its V_static from the logged probs;\n"
             "--allocators get lines last, simulated only (V_static null).\n"
             "Writes one truth.v1 line per policy and a truth_run.v1 line, for\n"
             "`giftope agree` and `replay --truth`.\n"
             "Exit status: 0 success, 1 input fault, 2 usage error.",
    .opts = truth_table,
    .n_opts = sizeof truth_table / sizeof truth_table[0],
};

static int fail(int rc, const char *msg)
{
    fprintf(stderr, "giftope truth: %s\n", msg);
    return rc;
}

/* Whether `name` is one of the stateful allocators. */
static bool is_allocator(const char *name)
{
    for (const char *const *k = gope_sim_allocator_kinds(); *k; k++)
        if (strcmp(*k, name) == 0)
            return true;
    return false;
}

/* The logging spec: --logging, or the log's logging_policy (into
 * *from_log, the caller frees it) when that is no stateful allocator — an
 * allocator's options are not in the log. --logging's name part must be
 * the log's logging_policy. Whether the spec is valid is the library's
 * check. @return 0, 1 (the log cannot be read) or 2. */
static int find_logging(const truth_opts *o, char **from_log, const char **spec)
{
    gope_err err = {{0}};
    char msg[900];
    *spec = NULL;
    if (o->log && gope_simtruth_log_policy(o->log, from_log, &err))
        return fail(1, err.msg);
    if (!o->logging && !*from_log) {
        snprintf(msg, sizeof msg, "--logging SPEC is required%s",
                 o->log ? " (the log's first line names no logging_policy)" : "");
        return fail(2, msg);
    }
    if (!o->logging && is_allocator(*from_log)) {
        snprintf(msg, sizeof msg,
                 "%.200s was written by the allocator %.100s, which is not a policy of the "
                 "set: give its spec with --logging, as `giftope sim --policy` had it (%.100s "
                 "or %.100s:key=value,...; the log records only the name)",
                 o->log, *from_log, *from_log, *from_log);
        return fail(2, msg);
    }
    const size_t len = o->logging ? strcspn(o->logging, ":") : 0;
    if (o->logging && *from_log &&
        (strlen(*from_log) != len || strncmp(o->logging, *from_log, len) != 0)) {
        snprintf(msg, sizeof msg, "--logging %.200s, but %.200s was written by %.200s",
                 o->logging, o->log, *from_log);
        return fail(2, msg);
    }
    *spec = o->logging ? o->logging : *from_log;
    return 0;
}

/* --allocators "a;b;c": a copy of the text (*copy, the caller frees it) cut
 * at each ';', and the specs in it (*specs, the caller frees it).
 * @return 0, 1 (out of memory) or 2 (an empty spec). */
static int split_allocators(const char *text, char **copy, const char ***specs, size_t *n)
{
    *n = 1;
    for (const char *p = text; *p; p++)
        *n += *p == ';';
    const size_t len = strlen(text) + 1;
    if (!(*copy = malloc(len)) || !(*specs = malloc(*n * sizeof **specs)))
        return fail(1, "out of memory");
    memcpy(*copy, text, len);
    char *p = *copy;
    for (size_t i = 0; i < *n; i++) {
        (*specs)[i] = p;
        p += strcspn(p, ";");
        *p++ = '\0';
        if (!*(*specs)[i]) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "--allocators: spec %zu of '%.200s' is empty (specs are separated by ';')",
                     i + 1, text);
            return fail(2, msg);
        }
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    double t0;
    size_t lines;
} progress;

static void on_seed(void *ctx, uint64_t done, uint64_t total, uint64_t seed)
{
    const progress *pg = ctx;
    const double t = now_s() - pg->t0;
    fprintf(stderr, "giftope truth: seed %" PRIu64 " done (%" PRIu64 "/%" PRIu64
                    ", %zu policies), %.1fs, ETA %.0fs\n",
            seed, done, total, pg->lines, t, t / (double)done * (double)(total - done));
}

/* Rejected log lines: counted in truth_run.v1; a note on stderr. */
static void report_rejects(const char *log, const gope_simtruth_log_stats *s)
{
    fprintf(stderr,
            "giftope truth: %s: %" PRIu64 " of %" PRIu64 " lines rejected, V_static averages "
            "the %" PRIu64 " accepted (first: line %" PRIu64 ": %s: %s)\n",
            log, s->rejected, s->lines_read, s->accepted, s->first_reject_line,
            gope_reason_name(s->first_reject_reason), s->first_reject_detail);
}

static int exit_code(gope_status st) { return st == GOPE_ERR_USAGE ? 2 : 1; }

int gope_cmd_truth(int argc, char **argv)
{
    truth_opts o;
    gope_err err = {{0}};
    gope_world_conf world;
    gope_policy_set_t *pol = NULL;
    gope_simtruth_t *t = NULL;
    gope_sink out = {0};
    gope_simtruth_conf c = {.world = &world};
    progress pg = {.t0 = now_s()};
    char *from_log = NULL, *alloc_text = NULL;
    const char **alloc_specs = NULL;
    bool help;
    int n_pos, rc;
    uint64_t jobs;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return fail(1, "out of memory");
    if ((rc = gope_opts_parse(&truth_spec, argc, argv, &o, pos, &n_pos, &help)) || help)
        goto cleanup;
    if (n_pos) {
        rc = fail(2, "unexpected argument (the log is given with --log)");
        goto cleanup;
    }
    if (!o.world) {
        rc = fail(2, "--world PRESET|FILE is required (see --help)");
        goto cleanup;
    }
    if (o.log && strcmp(o.log, "-") == 0) {
        rc = fail(2, "--log: a file is needed (stdin cannot be read twice)");
        goto cleanup;
    }
    if ((rc = gope_opt_u64("truth", "--decisions", o.decisions, 1, UINT64_C(1) << 53,
                           &c.decisions)) ||
        (rc = gope_opt_u64("truth", "--seeds", o.seeds, 1, 1000000, &c.seeds)) ||
        (rc = gope_opt_u64("truth", "--seed", o.seed, 0, UINT64_MAX - (c.seeds - 1), &c.seed)) ||
        (rc = gope_opt_u64("truth", "--jobs", o.jobs, 1, 1024, &jobs)) ||
        (o.allocators &&
         (rc = split_allocators(o.allocators, &alloc_text, &alloc_specs, &c.n_allocators))))
        goto cleanup;
    c.allocators = alloc_specs;
    c.jobs = (unsigned)jobs;
    gope_status st = gope_world_load(o.world, &world, &err);
    if (st == GOPE_OK)
        st = o.policies ? gope_policies_load(o.policies, &pol, &err)
                        : gope_policies_default(&pol, &err);
    if (st) {
        rc = fail(st == GOPE_ERR_NOMEM ? 1 : 2, err.msg);
        goto cleanup;
    }
    if ((rc = find_logging(&o, &from_log, &c.logging)))
        goto cleanup;
    c.world_name = o.world;
    c.policies = pol;
    if (!o.quiet && isatty(2)) {
        c.progress = on_seed;
        c.progress_ctx = &pg;
    }
    st = gope_simtruth_new(&c, &t, &err);
    if (st == GOPE_OK && o.log && (st = gope_simtruth_static(t, o.log, &err)) == GOPE_OK &&
        !o.quiet && gope_simtruth_log_stats_get(t)->rejected)
        report_rejects(o.log, gope_simtruth_log_stats_get(t));
    if (st) {
        rc = fail(exit_code(st), err.msg);
        goto cleanup;
    }
    pg.lines = gope_simtruth_lines(t);
    if (gope_sink_file_open(o.out, &out, &err)) {
        rc = fail(2, err.msg);
        goto cleanup;
    }
    if ((st = gope_simtruth_online(t, &err)) || (st = gope_simtruth_write(t, &out, &err)))
        rc = fail(exit_code(st), err.msg);
cleanup:
    if (gope_sink_close(&out, &err))
        rc = fail(1, err.msg);
    gope_simtruth_free(t);
    gope_policies_free(pol);
    free(from_log);
    free(alloc_text);
    free(alloc_specs);
    free(pos);
    return rc;
}
