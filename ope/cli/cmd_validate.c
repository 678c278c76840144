/*
 * cmd_validate.c — `giftope validate`: the whole loop in one command.
 *
 *   sim (a log from the logging policy) -> replay (OPE of every policy on it)
 *   -> truth (on-policy values over seeds, V_static on the log) -> agree
 *
 * Each step runs as its own `giftope` process (this same binary), with the
 * arguments a user would type, so validate exercises exactly the commands a
 * user composes by hand and leaves their files behind to inspect: log, OPE
 * records, truth and agreement in --out-dir. The agreement table (or JSON)
 * is the output.
 */
#define _GNU_SOURCE /* mkdtemp */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"

extern char **environ;

typedef struct {
    const char *world, *logging, *policies, *decisions, *seeds, *seed, *out_dir, *window, *rules, *jobs;
    bool json, table;
} validate_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(validate_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(validate_opts, f), NULL, h}
static const gope_opt validate_table[] = {
    OPT("--world", "PRESET|FILE", world, "kuailive", "the world (a preset or a world.v1 file)"),
    OPT("--logging", "SPEC", logging, "eps_greedy", "the policy or allocator that writes the log"),
    OPT("--policies", "FILE", policies, NULL, "candidate policies (default: the built-in set)"),
    OPT("--decisions", "N", decisions, "5000", "decisions in the log, and per seed in the truth"),
    OPT("--seeds", "S", seeds, "3", "seeds of the on-policy truth (the log uses the first)"),
    OPT("--seed", "BASE", seed, "42", "first seed"),
    OPT("--jobs", "J", jobs, "1", "the truth's seeds simulated at once (truth --jobs)"),
    OPT("--out-dir", "DIR", out_dir, NULL, "where the files go (default: a new temporary directory)"),
    OPT("--window", "DUR|all", window, "all", "replay's windows"),
    OPT("--rules", "LIST", rules, NULL, "verdict thresholds, e.g. ess_min=100,rel_max=0.2"),
    FLAG("--json", json, "agreement as JSON lines (the default unless stdout is a terminal)"),
    FLAG("--table", table, "the readable table, even when not on a terminal"),
};

static const gope_cmd_spec validate_spec = {
    .command = "validate",
    .synopsis = "[options]",
    .about = "The whole loop: simulate a log with the logging policy, replay it through\n"
             "every candidate policy (OPE), compute the simulator's truth for each, and\n"
             "compare the two (agree). Keeps log.jsonl.zst, sim.json, ope.jsonl,\n"
             "truth.jsonl and agreement.jsonl in --out-dir; prints the agreement.\n"
             "Exit status: 0 success, 1 a step failed, 2 usage error.",
    .opts = validate_table,
    .n_opts = sizeof validate_table / sizeof validate_table[0],
};

enum { MAX_ARGS = 32 };

typedef struct {
    const char *argv[MAX_ARGS];
    int n;
} args;

static void add(args *a, const char *s)
{
    if (a->n < MAX_ARGS - 1)
        a->argv[a->n++] = s;
    a->argv[a->n] = NULL;
}

static void add2(args *a, const char *opt, const char *value)
{
    if (value) {
        add(a, opt);
        add(a, value);
    }
}

/* Run this binary with `a`, stdout to `out` (NULL: inherited).
 * @return the step's exit status, or 1 when it could not run. */
static int run_step(const char *self, const char *step, args *a, const char *out)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0;
    posix_spawn_file_actions_init(&fa);
    if (out)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = posix_spawn(&pid, self, &fa, NULL, (char *const *)a->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        fprintf(stderr, "giftope validate: %s: cannot run %s: %s\n", step, self, strerror(e));
        return 1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (rc != 0)
        fprintf(stderr, "giftope validate: step `%s` failed (exit %d)\n", step, rc);
    return rc;
}

static char *path_in(const char *dir, const char *name)
{
    const size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

typedef struct {
    char *log, *sim, *ope, *truth, *agreement;
} files;

static void agree_args(args *a, const validate_opts *o, const char *self, const files *f,
                       const char *format, const char *out)
{
    a->n = 0;
    add(a, self), add(a, "agree"), add2(a, "--metrics", f->ope), add2(a, "--truth", f->truth);
    add2(a, "--rules", o->rules), add2(a, "--out", out);
    if (format)
        add(a, format);
}

/* The four steps, in order; stops at the first failure. The agreement is
 * written twice: JSON to the directory, the chosen format to stdout. */
static int run_loop(const validate_opts *o, const char *self, const files *f)
{
    args a = {.n = 0};
    int rc;
    add(&a, self), add(&a, "sim"), add2(&a, "--world", o->world), add2(&a, "--policy", o->logging);
    add2(&a, "--policies", o->policies), add2(&a, "--decisions", o->decisions);
    add2(&a, "--seeds", "1"), add2(&a, "--seed", o->seed), add2(&a, "--out", f->log);
    add(&a, "--quiet");
    if ((rc = run_step(self, "sim", &a, f->sim)) != 0)
        return rc;
    a.n = 0;
    add(&a, self), add(&a, "replay"), add2(&a, "--policies", o->policies);
    add2(&a, "--window", o->window), add2(&a, "--out", f->ope), add(&a, "--quiet"), add(&a, f->log);
    if ((rc = run_step(self, "replay", &a, NULL)) != 0)
        return rc;
    a.n = 0;
    add(&a, self), add(&a, "truth"), add2(&a, "--world", o->world), add2(&a, "--policies", o->policies);
    add2(&a, "--logging", o->logging), add2(&a, "--decisions", o->decisions);
    add2(&a, "--seeds", o->seeds), add2(&a, "--seed", o->seed), add2(&a, "--log", f->log);
    add2(&a, "--jobs", o->jobs), add2(&a, "--out", f->truth), add(&a, "--quiet");
    if ((rc = run_step(self, "truth", &a, NULL)) != 0)
        return rc;
    agree_args(&a, o, self, f, "--json", f->agreement);
    if ((rc = run_step(self, "agree", &a, NULL)) != 0)
        return rc;
    agree_args(&a, o, self, f, o->json ? "--json" : o->table ? "--table" : NULL, "-");
    fflush(stdout);
    return run_step(self, "agree", &a, NULL);
}

static int run_in(const validate_opts *o, const char *self, const char *dir)
{
    files f = {path_in(dir, "log.jsonl.zst"), path_in(dir, "sim.json"), path_in(dir, "ope.jsonl"),
               path_in(dir, "truth.jsonl"), path_in(dir, "agreement.jsonl")};
    int rc = 1;
    if (f.log && f.sim && f.ope && f.truth && f.agreement)
        rc = run_loop(o, self, &f);
    else
        fprintf(stderr, "giftope validate: out of memory\n");
    if (rc == 0)
        fprintf(stderr, "giftope validate: files in %s\n", dir);
    free(f.log), free(f.sim), free(f.ope), free(f.truth), free(f.agreement);
    return rc;
}

int gope_cmd_validate(int argc, char **argv)
{
    validate_opts o;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int n_pos = 0;
    bool help = false;
    if (!pos)
        return 1;
    int rc = gope_opts_parse(&validate_spec, argc, argv, &o, pos, &n_pos, &help);
    free(pos);
    if (rc != 0 || help)
        return rc;
    if (n_pos > 0) {
        fprintf(stderr, "giftope validate: unexpected argument (see --help)\n");
        return 2;
    }
    if (o.json && o.table) {
        fprintf(stderr, "giftope validate: --json and --table exclude each other\n");
        return 2;
    }
    char self[PATH_MAX], tmpl[PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len < 0) {
        fprintf(stderr, "giftope validate: cannot find the giftope binary: %s\n", strerror(errno));
        return 1;
    }
    self[len] = '\0';
    const char *dir = o.out_dir;
    if (!dir) {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/giftope-validate.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!(dir = mkdtemp(tmpl))) {
            fprintf(stderr, "giftope validate: %s: %s\n", tmpl, strerror(errno));
            return 1;
        }
    } else if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "giftope validate: --out-dir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    return run_in(&o, self, dir);
}
