/*
 * cmd_calibrate.c — `giftope calibrate`: fit a world to allocation logs and
 * report how well the fitted world reproduces them (docs/calibrate.md).
 *
 * The work is the sim library's calibration (sim/calibrate*.c): scan the
 * logs, fit the world, simulate it on the next seed. This file checks the
 * options, writes the world.v1 file (only once everything succeeded, so a
 * failed run leaves no half-fitted world behind) and prints the report:
 * one calibration.v1 JSON line, or for a person at a terminal a table of
 * the fitted fields and of the simulated-vs-log statistics.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "commands.h"
#include "options.h"

#define DEFAULT_DECISIONS_CAP 100000 /* report simulation, unless --decisions */
#define FIT_DECISIONS_CAP 20000      /* each fit simulation */

typedef struct {
    const char *base, *seed, *decisions, *iterations, *out;
    bool json, table;
} calib_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(calib_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(calib_opts, f), NULL, h}
static const gope_opt calib_table[] = {
    OPT("--base", "PRESET|FILE", base, "giftlive-v2", "world the fit starts from (preset or world.v1 file)"),
    OPT("--out", "FILE", out, NULL, "the fitted world.v1 file (required)"),
    OPT("--seed", "N", seed, "42", "seed of the fit's simulations; the report runs on N+1"),
    OPT("--decisions", "N", decisions, NULL, "decisions of the report's simulation (default: the log's, at most 100000; the fit's use at most 20000)"),
    OPT("--iterations", "N", iterations, "8", "fit simulations at most"),
    FLAG("--json", json, "the calibration.v1 line (the default unless stdout is a terminal)"),
    FLAG("--table", table, "the readable table, even when not on a terminal"),
};

static const gope_cmd_spec calib_spec = {
    .command = "calibrate",
    .synopsis = "--out world.json [options] LOG...",
    .about = "Fit a world to allocation logs (alloc.v1, plain or zstd, - for stdin): the\n"
             "arrival rate by hour of day, candidate counts, users, streamers and whales,\n"
             "capacities, cold-start and head shares, the EV model's stated noise, and the\n"
             "gift model (gift rate, amount tiers for whales and others), fitted by short\n"
             "simulations of the log's logging policy. Writes the world.v1 file (for\n"
             "`giftope sim --world FILE`) and reports the fitted world's simulated gift\n"
             "rate, amount P50/P90/P99, payer Gini, whale P90 and EV calibration against\n"
             "the log's: a calibration.v1 line, or a table on a terminal.\n"
             "Exit status: 0 success, 1 input fault (unreadable log, no valid line), 2 usage\n"
             "error.",
    .opts = calib_table,
    .n_opts = sizeof calib_table / sizeof calib_table[0],
};

static int fail(int rc, const char *msg)
{
    fprintf(stderr, "giftope calibrate: %s\n", msg);
    return rc;
}

static void cell_num(char *out, size_t size, gope_mval v, bool percent)
{
    if (!v.ok)
        snprintf(out, size, "-");
    else if (percent)
        snprintf(out, size, "%+.1f%%", 100 * v.v);
    else
        snprintf(out, size, "%.4g", v.v);
}

static void print_table(FILE *fp, const gope_calib_report *r)
{
    const gope_calib_log *l = r->log;
    const gope_calib_fit_info *i = r->info;
    fprintf(fp, "calibration of %zu log%s: %llu decisions, %llu rejected lines, %llu gifts\n",
            r->n_inputs, r->n_inputs == 1 ? "" : "s", (unsigned long long)l->accepted,
            (unsigned long long)l->rejected, (unsigned long long)l->stats.gifts);
    fprintf(fp, "fit from %s: %s%s, %u simulation%s of %llu decisions, %s\n\n", r->base,
            i->policy[0] ? i->policy : "no gifts, no simulation",
            i->policy_from_log ? " (the log's policy)" : i->policy[0] ? " (default)" : "",
            i->iterations, i->iterations == 1 ? "" : "s", (unsigned long long)r->fit->decisions,
            i->converged ? "converged" : i->gift_fitted ? "NOT converged" : "gift model kept");
    fprintf(fp, "fitted world (%s):\n", r->out);
    char text[256];
    for (size_t k = 0; k < i->n_fitted; k++)
        fprintf(fp, "  %-28s %s\n", i->fitted[k],
                gope_calib_field_text(r->world, i->fitted[k], text, sizeof text));
    fprintf(fp, "\nreport: %s on seed %llu, %llu decisions\n", r->report_policy,
            (unsigned long long)r->report_seed, (unsigned long long)r->report_decisions);
    fprintf(fp, "  %-18s %12s %12s %12s %9s\n", "metric", "log", "sim", "abs err", "rel err");
    gope_calib_row rows[GOPE_CALIB_ROWS];
    gope_calib_rows(&l->stats, r->sim, rows);
    for (size_t k = 0; k < GOPE_CALIB_ROWS; k++) {
        char c[4][32];
        cell_num(c[0], sizeof c[0], rows[k].log, false);
        cell_num(c[1], sizeof c[1], rows[k].sim, false);
        cell_num(c[2], sizeof c[2], rows[k].abs_err, false);
        cell_num(c[3], sizeof c[3], rows[k].rel_err, true);
        fprintf(fp, "  %-18s %12s %12s %12s %9s\n", rows[k].metric, c[0], c[1], c[2], c[3]);
    }
}

/* The world.v1 file, written whole. @return 0 or 1. */
static int write_world(const char *path, const gope_world_conf *w)
{
    gope_jbuf b = {0};
    gope_world_json(w, &b);
    gope_jbuf_raw(&b, "\n", 1);
    FILE *fp = b.oom ? NULL : fopen(path, "w");
    bool ok = fp && fwrite(b.data, 1, b.len, fp) == b.len;
    if (fp && fclose(fp) != 0)
        ok = false;
    gope_jbuf_free(&b);
    if (ok)
        return 0;
    char msg[700];
    snprintf(msg, sizeof msg, "%s: cannot write the world (%s)", path,
             b.oom ? "out of memory" : "I/O error");
    return fail(1, msg);
}

static int print_report(const calib_opts *o, const gope_calib_report *r)
{
    if (o->table || (!o->json && isatty(1)))
        print_table(stdout, r);
    else {
        gope_jbuf b = {0};
        gope_calib_json(r, &b);
        gope_jbuf_raw(&b, "\n", 1);
        const bool ok = !b.oom && fwrite(b.data, 1, b.len, stdout) == b.len;
        gope_jbuf_free(&b);
        if (!ok)
            return fail(1, "cannot write the report");
    }
    return fflush(stdout) == 0 ? 0 : fail(1, "cannot write the report");
}

/* Options that are usage errors. @return 0 or 2. */
static int check_usage(const calib_opts *o, int n_pos, uint64_t *seed, uint64_t *decisions,
                       uint64_t *iterations)
{
    if (!n_pos)
        return fail(2, "no LOG given (see --help)");
    if (!o->out)
        return fail(2, "--out FILE is required (see --help)");
    if (strcmp(o->out, "-") == 0)
        return fail(2, "--out must be a file (the report goes to stdout)");
    if (o->json && o->table)
        return fail(2, "--json and --table exclude each other");
    *decisions = 0;
    return gope_opt_u64("calibrate", "--seed", o->seed, 0, UINT64_MAX - 1, seed) ||
                   (o->decisions && gope_opt_u64("calibrate", "--decisions", o->decisions, 1,
                                                 UINT64_C(1) << 40, decisions)) ||
                   gope_opt_u64("calibrate", "--iterations", o->iterations, 1, 100, iterations)
               ? 2
               : 0;
}

int gope_cmd_calibrate(int argc, char **argv)
{
    calib_opts o;
    gope_err err = {{0}};
    gope_policy_set_t *set = NULL;
    gope_calib_log *log = malloc(sizeof *log);
    gope_calib_fit_conf fc = {0};
    gope_calib_fit_info info;
    gope_world_conf world;
    gope_calib_stats sim;
    char used[64];
    uint64_t decisions, iterations;
    bool help;
    int n_pos, rc;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos || !log) {
        rc = fail(1, "out of memory");
        goto cleanup;
    }
    if ((rc = gope_opts_parse(&calib_spec, argc, argv, &o, pos, &n_pos, &help)) || help ||
        (rc = check_usage(&o, n_pos, &fc.seed, &decisions, &iterations)))
        goto cleanup;
    gope_status st = gope_world_load(o.base, &fc.base, &err);
    if (st == GOPE_OK)
        st = gope_policies_default(&set, &err);
    if (st != GOPE_OK) {
        rc = fail(st == GOPE_ERR_NOMEM ? 1 : 2, err.msg);
        goto cleanup;
    }
    if (gope_calib_scan(pos, (size_t)n_pos, &fc.base, log, &err)) {
        rc = fail(1, err.msg);
        goto cleanup;
    }
    if (!decisions)
        decisions = log->accepted < DEFAULT_DECISIONS_CAP ? log->accepted : DEFAULT_DECISIONS_CAP;
    fc.decisions = decisions < FIT_DECISIONS_CAP ? decisions : FIT_DECISIONS_CAP;
    fc.max_iter = (unsigned)iterations;
    fc.set = set;
    if (gope_calib_fit(log, &fc, &world, &info, &err) ||
        gope_calib_simulate(&world, fc.seed + 1, decisions, set, log->policy, used, &sim, &err)) {
        rc = fail(1, err.msg);
        goto cleanup;
    }
    const gope_calib_report r = {
        .inputs = pos, .n_inputs = (size_t)n_pos, .base = o.base, .out = o.out, .log = log,
        .fit = &fc, .info = &info, .world = &world, .report_policy = used,
        .report_seed = fc.seed + 1, .report_decisions = decisions, .sim = &sim,
    };
    if (!(rc = write_world(o.out, &world)))
        rc = print_report(&o, &r);
cleanup:
    gope_policies_free(set);
    free(log);
    free(pos);
    return rc;
}
