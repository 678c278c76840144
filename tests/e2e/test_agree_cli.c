/*
 * test_agree_cli.c — `giftope agree` and `giftope replay --truth` as a user
 * runs them: exit statuses and messages (usage 2, input fault 1), the JSON
 * lines and their JSON Schemas (python3 jsonschema via validate_schema.py,
 * skipped where it is missing), the table (by default on a pseudo-terminal),
 * --rules, the V_online fallback,
 * and that replay's agreement blocks are exactly what `agree` says about the
 * same records.
 */
#include <criterion/criterion.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define DATA GOPE_TEST_DATA "/agree/"
#define SAMPLE GOPE_TEST_DATA "/../../schemas/examples/alloc.sample.jsonl.zst"

typedef struct {
    char *dir;
    char out[512], err[512];
} run_ctx;

static void ctx_init(run_ctx *c)
{
    c->dir = tu_tmpdir();
    cr_assert(c->dir);
    snprintf(c->out, sizeof c->out, "%s/out.txt", c->dir);
    snprintf(c->err, sizeof c->err, "%s/err.txt", c->dir);
}

static const char *in_dir(const run_ctx *c, const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", c->dir, name);
    return buf[k];
}

/* Runs giftope with args; expects exit status `rc` and, when given, `needle`
 * in stderr. */
static void expect_run(const run_ctx *c, const char *const *args, int rc, const char *needle)
{
    int got = tu_run(args, NULL, NULL, c->out, c->err);
    char *err = tu_read_file(c->err, NULL);
    cr_assert(err);
    cr_expect_eq(got, rc, "%s %s ...: exit %d, want %d; stderr: %s", args[0],
                 args[1] ? args[1] : "", got, rc, err);
    if (needle)
        cr_expect(strstr(err, needle), "stderr \"%s\" lacks \"%s\"", err, needle);
    free(err);
}

/* The schema check of `files` (space-separated): 0 valid, 77 skipped. */
static int validate(const char *files)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 '" GOPE_TEST_DATA "/../e2e/validate_schema.py' '" GOPE_TEST_DATA
             "/../../schemas' %s",
             files);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(cJSON_IsString(v), "field %s is a string", k);
    return v->valuestring;
}

static const cJSON *get(const cJSON *o, const char *path)
{
    char key[64];
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path = dot + 1;
    }
    o = cJSON_GetObjectItemCaseSensitive(o, path);
    cr_assert(o, "missing %s", path);
    return o;
}

Test(agree_cli, usage_errors_exit_2_with_a_message)
{
    run_ctx c;
    ctx_init(&c);
    const char *m = DATA "metrics.jsonl", *t = DATA "truth.jsonl";
    struct {
        const char *args[10];
        const char *needle;
    } cases[] = {
        {{"agree", NULL}, "--metrics FILE and --truth FILE are both required"},
        {{"agree", "--metrics", m, NULL}, "both required"},
        {{"agree", "--metrics", "/nonexistent.jsonl", "--truth", t, NULL},
         "--metrics: cannot read /nonexistent.jsonl"},
        {{"agree", "--metrics", m, "--truth", "/nonexistent.jsonl", NULL}, "--truth: cannot read"},
        {{"agree", "--metrics", m, "--truth", t, "--rules", "ess_min=-1", NULL},
         "--rules: item 1 \"ess_min=-1\": ess_min must be a finite number >= 0"},
        {{"agree", "--metrics", m, "--truth", t, "--rules", "speed=3", NULL}, "KEY one of"},
        {{"agree", "--metrics", m, "--truth", DATA "truth_no_logging.jsonl", NULL},
         "no truth.v1 line has \"logging\":true"},
        {{"agree", "--metrics", m, "--truth", t, "--json", "--table", NULL}, "exclude each other"},
        {{"agree", "--metrics", m, "--truth", t, "extra.jsonl", NULL}, "unexpected argument"},
        {{"agree", "--metrics", "-", "--truth", "-", NULL}, "cannot both be stdin"},
        {{"agree", "--bogus", NULL}, "unknown option '--bogus'"},
        {{"agree", "--metrics", NULL}, "--metrics needs a value"},
        {{"agree", "--metrics", m, "--truth", t, "--out", "/nonexistent/a.jsonl", NULL},
         "/nonexistent/a.jsonl: cannot open for writing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_run(&c, cases[i].args, 2, cases[i].needle);
    tu_rmtree(c.dir);
}

Test(agree_cli, input_faults_exit_1_naming_file_and_line)
{
    run_ctx c;
    ctx_init(&c);
    const char *m = DATA "metrics.jsonl";
    const char *bad_truth[] = {"agree", "--metrics", m, "--truth", DATA "truth_bad_line.jsonl",
                               NULL};
    expect_run(&c, bad_truth, 1, "truth_bad_line.jsonl:2: v_online.mean: expected a number");

    char *good = tu_read_file(m, NULL);
    cr_assert(good);
    char *nl = strchr(good, '\n');
    const char *bad_line = "{\"schema\":\"ope_metrics.v1\",\"window\":{\"start\":0,\"end\":1},"
                           "\"policy\":\"x\",\"n\":1,\"estimates\":{\"snips\":{\"value\":\"1\"}}}\n";
    char text[4096];
    snprintf(text, sizeof text, "%.*s%s", (int)(nl - good + 1), good, bad_line);
    cr_assert(tu_write_file(in_dir(&c, "bad.jsonl"), text, strlen(text)));
    const char *bad_metrics[] = {"agree", "--metrics", in_dir(&c, "bad.jsonl"), "--truth",
                                 DATA "truth.jsonl", NULL};
    expect_run(&c, bad_metrics, 1, "bad.jsonl:2: estimates.snips.value: expected a number or null");
    const char *swapped[] = {"agree", "--metrics", DATA "truth.jsonl", "--truth",
                             DATA "truth.jsonl", NULL};
    expect_run(&c, swapped, 1, "truth.jsonl:1: schema \"truth.v1\": expected ope_metrics.v1");
    free(good);
    tu_rmtree(c.dir);
}

static const struct {
    const char *policy, *verdict;
} fixture_verdicts[] = {
    {"logger", "baseline"}, {"winner", "launch"}, {"loser", "block"},   {"flipper", "block"},
    {"unsure", "review"},   {"thin", "block"},    {"offbyfar", "review"}, {"ghost", "review"},
};

Test(agree_cli, json_lines_with_verdicts_and_rankings)
{
    run_ctx c;
    ctx_init(&c);
    const char *args[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                          DATA "truth.jsonl", "--json", "--out", in_dir(&c, "a.jsonl"), NULL};
    expect_run(&c, args, 0, NULL);
    cJSON *lines = tu_read_jsonl(in_dir(&c, "a.jsonl"));
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 9);
    for (int i = 0; i < 8; i++) {
        const cJSON *r = cJSON_GetArrayItem(lines, i);
        cr_expect_str_eq(str(r, "schema"), "agreement.v1");
        cr_expect_str_eq(str(r, "policy"), fixture_verdicts[i].policy);
        cr_expect_str_eq(str(r, "verdict"), fixture_verdicts[i].verdict, "%s",
                         fixture_verdicts[i].policy);
        cr_expect_str_eq(str(r, "logging_policy"), "logger");
    }
    const cJSON *winner = cJSON_GetArrayItem(lines, 1);
    cr_expect_str_eq(get(winner, "lift.sim_source")->valuestring, "v_static");
    cr_expect(tu_close(get(winner, "lift.sim")->valuedouble, 11.5 - 10.2));
    cr_expect(cJSON_IsTrue(get(winner, "lift.signs_agree")));
    cr_expect(tu_close(get(winner, "rel_error.snips.v_static")->valuedouble, 0.5 / 11.5));
    cr_expect(cJSON_IsFalse(get(winner, "covers.dr.v_online")));
    const cJSON *ghost = cJSON_GetArrayItem(lines, 7);
    cr_expect(cJSON_IsNull(get(ghost, "truth.v_online")) && cJSON_IsNull(get(ghost, "lift.sim")));
    const cJSON *run = cJSON_GetArrayItem(lines, 8);
    cr_expect_str_eq(str(run, "schema"), "agreement_run.v1");
    cr_expect(tu_close(get(run, "kendall_tau")->valuedouble, 15.0 / 21));
    cr_expect(tu_close(get(run, "spearman_rho")->valuedouble, 1 - 48.0 / 336));
    cr_expect_eq(get(run, "verdicts.launch")->valueint, 1);
    cr_expect_eq(get(run, "verdicts.block")->valueint, 3);
    cr_expect_eq(get(run, "verdicts.review")->valueint, 3);
    cr_expect_eq(get(run, "verdicts.baseline")->valueint, 1);
    cr_expect_str_eq(get(run, "simulator.world")->valuestring, "giftlive-v2");
    cr_expect_eq(get(run, "records")->valueint, 8);
    cJSON_Delete(lines);

    /* stdout that is not a terminal gets the same JSON by default */
    const char *plain[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                           DATA "truth.jsonl", NULL};
    expect_run(&c, plain, 0, NULL);
    char *a = tu_read_file(in_dir(&c, "a.jsonl"), NULL), *b = tu_read_file(c.out, NULL);
    cr_assert(a && b);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    tu_rmtree(c.dir);
}

Test(agree_cli, output_matches_the_json_schemas)
{
    run_ctx c;
    ctx_init(&c);
    const char *truths[] = {"truth.jsonl", "truth_online.jsonl"};
    char files[1600] = "";
    for (int i = 0; i < 2; i++) {
        char truth[512], name[32];
        snprintf(truth, sizeof truth, DATA "%s", truths[i]);
        snprintf(name, sizeof name, "a%d.jsonl", i);
        const char *args[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth", truth,
                              "--out", in_dir(&c, name), NULL};
        expect_run(&c, args, 0, NULL);
        size_t len = strlen(files);
        snprintf(files + len, sizeof files - len, "'%s' '%s' ", in_dir(&c, name), truth);
    }
    int rc = validate(files);
    if (rc == 77)
        cr_skip_test("python3 jsonschema is not installed");
    cr_expect_eq(rc, 0, "schema validation failed (see stdout)");
    tu_rmtree(c.dir);
}

Test(agree_cli, table_for_people)
{
    run_ctx c;
    ctx_init(&c);
    const char *args[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                          DATA "truth.jsonl", "--table", NULL};
    expect_run(&c, args, 0, NULL);
    char *t = tu_read_file(c.out, NULL);
    cr_assert(t);
    cr_expect(strncmp(t, "policy ", 7) == 0, "%s", t);
    const char *head = strstr(t, "verdict\n");
    cr_assert(head, "%s", t);
    const size_t col = (size_t)(head - t); /* the verdict column of the header line */
    const char *line = strchr(t, '\n') + 1;
    for (int i = 0; i < 8; i++, line = strchr(line, '\n') + 1) {
        cr_expect(strncmp(line, fixture_verdicts[i].policy, strlen(fixture_verdicts[i].policy)) == 0,
                  "row %d: %.40s", i, line);
        cr_expect(strncmp(line + col, fixture_verdicts[i].verdict,
                          strlen(fixture_verdicts[i].verdict)) == 0,
                  "row %d: verdict column misaligned: %.120s", i, line);
    }
    cr_expect(strstr(t, "winner       12 [11, 13]"), "%s", t);
    cr_expect(strstr(t, "  winner: Launch: OPE and the simulator agree"), "%s", t);
    cr_expect(strstr(t, "Kendall tau-b 0.7143, Spearman rho 0.8571"), "%s", t);
    cr_expect(strstr(t, "verdicts: 1 launch, 3 review, 3 block, 1 baseline"), "%s", t);
    free(t);
    tu_rmtree(c.dir);
}

/* On a terminal the table is the default: run under a pseudo-terminal. */
Test(agree_cli, table_by_default_on_a_terminal)
{
    int master;
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    cr_assert_geq(pid, 0, "forkpty");
    if (pid == 0) {
        execl(GOPE_BIN, GOPE_BIN, "agree", "--metrics", DATA "metrics.jsonl", "--truth",
              DATA "truth.jsonl", (char *)NULL);
        _exit(127);
    }
    char out[16384];
    size_t len = 0;
    ssize_t got;
    while (len + 1 < sizeof out && (got = read(master, out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)got; /* EIO once the child has exited */
    out[len] = '\0';
    close(master);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_expect(strncmp(out, "policy ", 7) == 0, "%s", out);
    cr_expect(strstr(out, "verdicts: 1 launch, 3 review, 3 block, 1 baseline"), "%s", out);
    cr_expect_null(strstr(out, "agreement.v1"));
}

Test(agree_cli, rules_and_the_v_online_fallback)
{
    run_ctx c;
    ctx_init(&c);
    const char *strict[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                            DATA "truth.jsonl", "--rules", "ess_min=1000", NULL};
    expect_run(&c, strict, 0, NULL);
    cJSON *lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    cr_expect_str_eq(str(cJSON_GetArrayItem(lines, 1), "verdict"), "block", "winner, ESS 800");
    cr_expect_eq(get(cJSON_GetArrayItem(lines, 8), "rules.ess_min")->valuedouble, 1000);
    cJSON_Delete(lines);

    const char *online[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                            DATA "truth_online.jsonl", NULL};
    expect_run(&c, online, 0, NULL);
    lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    const cJSON *winner = cJSON_GetArrayItem(lines, 1);
    cr_expect_str_eq(get(winner, "lift.sim_source")->valuestring, "v_online");
    cr_expect(tu_close(get(winner, "lift.sim")->valuedouble, 1.0));
    cr_expect_str_eq(get(winner, "truth.reference")->valuestring, "v_online");
    cr_expect(cJSON_IsNull(get(winner, "truth.v_static")));
    cr_expect_str_eq(str(winner, "verdict"), "launch");
    cr_expect(cJSON_IsNull(get(cJSON_GetArrayItem(lines, 8), "simulator.log")));
    cJSON_Delete(lines);
    tu_rmtree(c.dir);
}

/* ------------------------------------------------------------ replay --truth */

Test(agree_cli, replay_truth_adds_the_same_blocks_as_agree)
{
    run_ctx c;
    ctx_init(&c);
    const char *truth = DATA "truth_sample.jsonl";
    const char *plain[] = {"replay", "--quiet", "--out", in_dir(&c, "plain.jsonl"), SAMPLE, NULL};
    const char *with[] = {"replay", "--quiet", "--truth", truth, "--out",
                          in_dir(&c, "with.jsonl"), SAMPLE, NULL};
    const char *agree[] = {"agree", "--metrics", in_dir(&c, "plain.jsonl"), "--truth", truth,
                           "--out", in_dir(&c, "agree.jsonl"), NULL};
    expect_run(&c, plain, 0, NULL);
    expect_run(&c, with, 0, NULL);
    expect_run(&c, agree, 0, NULL);
    cJSON *p = tu_read_jsonl(in_dir(&c, "plain.jsonl")), *w = tu_read_jsonl(in_dir(&c, "with.jsonl"));
    cJSON *a = tu_read_jsonl(in_dir(&c, "agree.jsonl"));
    cr_assert(p && w && a);
    const int n = cJSON_GetArraySize(p);
    cr_assert_eq(n, 9, "8 policies and the summary");
    cr_assert_eq(cJSON_GetArraySize(w), n);
    cr_assert_eq(cJSON_GetArraySize(a), n);
    for (int i = 0; i < n - 1; i++) {
        cJSON *rec = cJSON_GetArrayItem(w, i), *ag = cJSON_GetArrayItem(a, i);
        cJSON *blk = cJSON_DetachItemFromObject(rec, "agreement");
        cr_assert(cJSON_IsObject(blk), "record %d has an agreement block", i);
        cr_expect(cJSON_Compare(rec, cJSON_GetArrayItem(p, i), true),
                  "record %d: the rest is the plain record", i);
        cr_expect_str_eq(str(ag, "policy"), str(rec, "policy"));
        cJSON_DeleteItemFromObject(ag, "schema");
        cJSON_DeleteItemFromObject(ag, "window");
        cJSON_DeleteItemFromObject(ag, "policy");
        cr_expect(cJSON_Compare(blk, ag, true), "record %d: block = agree's agreement.v1", i);
        cJSON_Delete(blk);
    }
    cJSON *ws = cJSON_GetArrayItem(w, n - 1), *as = cJSON_GetArrayItem(a, n - 1);
    cJSON *summary_blk = cJSON_DetachItemFromObject(ws, "agreement");
    cr_assert(cJSON_IsObject(summary_blk));
    cr_expect(cJSON_IsNumber(get(summary_blk, "kendall_tau")) &&
              cJSON_IsNumber(get(summary_blk, "spearman_rho")));
    cJSON_DeleteItemFromObject(as, "schema");
    cJSON_DeleteItemFromObject(as, "metrics_file");
    cr_expect(cJSON_Compare(summary_blk, as, true), "summary block = agreement_run.v1 fields");
    cr_expect(cJSON_Compare(ws, cJSON_GetArrayItem(p, n - 1), true), "the rest of the summary");
    cJSON_Delete(summary_blk);
    cJSON_Delete(p);
    cJSON_Delete(w);
    cJSON_Delete(a);

    char files[1400];
    snprintf(files, sizeof files, "'%s' '%s'", in_dir(&c, "with.jsonl"), truth);
    int rc = validate(files);
    if (rc != 77)
        cr_expect_eq(rc, 0, "replay --truth output against ope_metrics.v1 / agreement.v1");
    tu_rmtree(c.dir);
}

Test(agree_cli, replay_truth_windows_and_errors)
{
    run_ctx c;
    ctx_init(&c);
    const char *truth = DATA "truth_sample.jsonl";
    const char *hourly[] = {"replay", "--quiet", "--window", "1h", "--truth", truth, SAMPLE, NULL};
    expect_run(&c, hourly, 0, NULL);
    cJSON *lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    const cJSON *s = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    const int windows = get(s, "windows")->valueint;
    cr_expect_gt(windows, 1);
    cr_expect_eq(cJSON_GetArraySize(get(s, "agreement.rankings")), windows);
    cr_expect(cJSON_IsNull(get(s, "agreement.kendall_tau")), "several windows: per window only");
    cr_expect_eq(get(s, "agreement.records")->valueint, get(s, "records")->valueint);
    cJSON_Delete(lines);

    struct {
        const char *truth, *rules, *needle;
        int rc;
    } bad[] = {
        {"/nonexistent.jsonl", NULL, "/nonexistent.jsonl", 2},
        {DATA "truth_no_logging.jsonl", NULL, "no truth.v1 line has \"logging\":true", 2},
        {truth, "rel_max=0", "rel_max must be a finite number > 0", 2},
        {DATA "truth_bad_line.jsonl", NULL, "truth_bad_line.jsonl:2: v_online.mean", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"replay", "--quiet", "--truth", bad[i].truth, "--rules",
                              bad[i].rules ? bad[i].rules : "", SAMPLE, NULL};
        expect_run(&c, args, bad[i].rc, bad[i].needle);
    }
    tu_rmtree(c.dir);
}
