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

#include "clitest.h"
#include "testutil.h"

#define DATA GOPE_TEST_DATA "/agree/"
#define SAMPLE GOPE_TEST_DATA "/../../schemas/examples/alloc.sample.jsonl.zst"

Test(agree_cli, usage_errors_exit_2_with_a_message)
{
    tu_cli c;
    tu_cli_init(&c);
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
        tu_cli_expect(&c, cases[i].args, 2, cases[i].needle);
    tu_cli_done(&c);
}

Test(agree_cli, input_faults_exit_1_naming_file_and_line)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *m = DATA "metrics.jsonl";
    const char *bad_truth[] = {"agree", "--metrics", m, "--truth", DATA "truth_bad_line.jsonl",
                               NULL};
    tu_cli_expect(&c, bad_truth, 1, "truth_bad_line.jsonl:2: v_online.mean: expected a number");

    char *good = tu_read_file(m, NULL);
    cr_assert(good);
    char *nl = strchr(good, '\n');
    const char *bad_line = "{\"schema\":\"ope_metrics.v1\",\"window\":{\"start\":0,\"end\":1},"
                           "\"policy\":\"x\",\"n\":1,\"estimates\":{\"snips\":{\"value\":\"1\"}}}\n";
    char text[4096];
    snprintf(text, sizeof text, "%.*s%s", (int)(nl - good + 1), good, bad_line);
    const char *bad_metrics[] = {"agree", "--metrics", tu_cli_write(&c, "bad.jsonl", text),
                                 "--truth", DATA "truth.jsonl", NULL};
    tu_cli_expect(&c, bad_metrics, 1,
                  "bad.jsonl:2: estimates.snips.value: expected a number or null");
    const char *swapped[] = {"agree", "--metrics", DATA "truth.jsonl", "--truth",
                             DATA "truth.jsonl", NULL};
    tu_cli_expect(&c, swapped, 1, "truth.jsonl:1: schema \"truth.v1\": expected ope_metrics.v1");
    free(good);
    tu_cli_done(&c);
}

static const struct {
    const char *policy, *verdict;
} fixture_verdicts[] = {
    {"logger", "baseline"}, {"winner", "launch"}, {"loser", "block"},   {"flipper", "block"},
    {"unsure", "review"},   {"thin", "block"},    {"offbyfar", "review"}, {"ghost", "review"},
};

Test(agree_cli, json_lines_with_verdicts_and_rankings)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *args[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                          DATA "truth.jsonl", "--json", "--out", tu_cli_path(&c, "a.jsonl"), NULL};
    tu_cli_expect(&c, args, 0, NULL);
    cJSON *lines = tu_read_jsonl(tu_cli_path(&c, "a.jsonl"));
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 9);
    for (int i = 0; i < 8; i++) {
        const cJSON *r = cJSON_GetArrayItem(lines, i);
        cr_expect_str_eq(tu_str(r, "schema"), "agreement.v1");
        cr_expect_str_eq(tu_str(r, "policy"), fixture_verdicts[i].policy);
        cr_expect_str_eq(tu_str(r, "verdict"), fixture_verdicts[i].verdict, "%s",
                         fixture_verdicts[i].policy);
        cr_expect_str_eq(tu_str(r, "logging_policy"), "logger");
    }
    const cJSON *winner = cJSON_GetArrayItem(lines, 1);
    cr_expect_str_eq(tu_str(winner, "lift.sim_source"), "v_static");
    cr_expect(tu_close(tu_num(winner, "lift.sim"), 11.5 - 10.2));
    cr_expect(cJSON_IsTrue(tu_get(winner, "lift.signs_agree")));
    cr_expect(tu_close(tu_num(winner, "rel_error.snips.v_static"), 0.5 / 11.5));
    cr_expect(cJSON_IsFalse(tu_get(winner, "covers.dr.v_online")));
    const cJSON *ghost = cJSON_GetArrayItem(lines, 7);
    cr_expect(cJSON_IsNull(tu_get(ghost, "truth.v_online")));
    cr_expect(cJSON_IsNull(tu_get(ghost, "lift.sim")));
    const cJSON *run = cJSON_GetArrayItem(lines, 8);
    cr_expect_str_eq(tu_str(run, "schema"), "agreement_run.v1");
    cr_expect(tu_close(tu_num(run, "kendall_tau"), 15.0 / 21));
    cr_expect(tu_close(tu_num(run, "spearman_rho"), 1 - 48.0 / 336));
    cr_expect_eq(tu_get(run, "verdicts.launch")->valueint, 1);
    cr_expect_eq(tu_get(run, "verdicts.block")->valueint, 3);
    cr_expect_eq(tu_get(run, "verdicts.review")->valueint, 3);
    cr_expect_eq(tu_get(run, "verdicts.baseline")->valueint, 1);
    cr_expect_str_eq(tu_str(run, "simulator.world"), "giftlive-v2");
    cr_expect_eq(tu_get(run, "records")->valueint, 8);
    cJSON_Delete(lines);

    /* stdout that is not a terminal gets the same JSON by default */
    const char *plain[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                           DATA "truth.jsonl", NULL};
    tu_cli_expect(&c, plain, 0, NULL);
    char *a = tu_read_file(tu_cli_path(&c, "a.jsonl"), NULL), *b = tu_read_file(c.out, NULL);
    cr_assert(a && b);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    tu_cli_done(&c);
}

Test(agree_cli, output_matches_the_json_schemas)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *truths[] = {DATA "truth.jsonl", DATA "truth_online.jsonl"};
    const char *files[] = {tu_cli_path(&c, "a0.jsonl"), truths[0], tu_cli_path(&c, "a1.jsonl"),
                           truths[1], NULL};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth", truths[i],
                              "--out", files[2 * i], NULL};
        tu_cli_expect(&c, args, 0, NULL);
    }
    tu_cli_done_schemas(&c, files);
}

Test(agree_cli, table_for_people)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *args[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                          DATA "truth.jsonl", "--table", NULL};
    tu_cli_expect(&c, args, 0, NULL);
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
    tu_cli_done(&c);
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
    tu_cli c;
    tu_cli_init(&c);
    const char *strict[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                            DATA "truth.jsonl", "--rules", "ess_min=1000", NULL};
    tu_cli_expect(&c, strict, 0, NULL);
    cJSON *lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    cr_expect_str_eq(tu_str(cJSON_GetArrayItem(lines, 1), "verdict"), "block", "winner, ESS 800");
    cr_expect_eq(tu_get(cJSON_GetArrayItem(lines, 8), "rules.ess_min")->valuedouble, 1000);
    cJSON_Delete(lines);

    const char *online[] = {"agree", "--metrics", DATA "metrics.jsonl", "--truth",
                            DATA "truth_online.jsonl", NULL};
    tu_cli_expect(&c, online, 0, NULL);
    lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    const cJSON *winner = cJSON_GetArrayItem(lines, 1);
    cr_expect_str_eq(tu_str(winner, "lift.sim_source"), "v_online");
    cr_expect(tu_close(tu_num(winner, "lift.sim"), 1.0));
    cr_expect_str_eq(tu_str(winner, "truth.reference"), "v_online");
    cr_expect(cJSON_IsNull(tu_get(winner, "truth.v_static")));
    cr_expect_str_eq(tu_str(winner, "verdict"), "launch");
    cr_expect(cJSON_IsNull(tu_get(cJSON_GetArrayItem(lines, 8), "simulator.log")));
    cJSON_Delete(lines);
    tu_cli_done(&c);
}

/* ------------------------------------------------------------ replay --truth */

Test(agree_cli, replay_truth_adds_the_same_blocks_as_agree)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *truth = DATA "truth_sample.jsonl";
    const char *plain_out = tu_cli_path(&c, "plain.jsonl");
    const char *with_out = tu_cli_path(&c, "with.jsonl");
    const char *agree_out = tu_cli_path(&c, "agree.jsonl");
    const char *plain[] = {"replay", "--quiet", "--out", plain_out, SAMPLE, NULL};
    const char *with[] = {"replay", "--quiet", "--truth", truth, "--out", with_out, SAMPLE, NULL};
    const char *agree[] = {"agree", "--metrics", plain_out, "--truth", truth, "--out", agree_out,
                           NULL};
    tu_cli_expect(&c, plain, 0, NULL);
    tu_cli_expect(&c, with, 0, NULL);
    tu_cli_expect(&c, agree, 0, NULL);
    cJSON *p = tu_read_jsonl(plain_out), *w = tu_read_jsonl(with_out);
    cJSON *a = tu_read_jsonl(agree_out);
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
        cr_expect_str_eq(tu_str(ag, "policy"), tu_str(rec, "policy"));
        cJSON_DeleteItemFromObject(ag, "schema");
        cJSON_DeleteItemFromObject(ag, "window");
        cJSON_DeleteItemFromObject(ag, "policy");
        cr_expect(cJSON_Compare(blk, ag, true), "record %d: block = agree's agreement.v1", i);
        cJSON_Delete(blk);
    }
    cJSON *ws = cJSON_GetArrayItem(w, n - 1), *as = cJSON_GetArrayItem(a, n - 1);
    cJSON *summary_blk = cJSON_DetachItemFromObject(ws, "agreement");
    cr_assert(cJSON_IsObject(summary_blk));
    cr_expect(cJSON_IsNumber(tu_get(summary_blk, "kendall_tau")) &&
              cJSON_IsNumber(tu_get(summary_blk, "spearman_rho")));
    cJSON_DeleteItemFromObject(as, "schema");
    cJSON_DeleteItemFromObject(as, "metrics_file");
    cr_expect(cJSON_Compare(summary_blk, as, true), "summary block = agreement_run.v1 fields");
    cr_expect(cJSON_Compare(ws, cJSON_GetArrayItem(p, n - 1), true), "the rest of the summary");
    cJSON_Delete(summary_blk);
    cJSON_Delete(p);
    cJSON_Delete(w);
    cJSON_Delete(a);

    const char *files[] = {with_out, truth, NULL};
    int rc = tu_validate_schema(files, false);
    if (rc != 77)
        cr_expect_eq(rc, 0, "replay --truth output against ope_metrics.v1 / agreement.v1");
    tu_cli_done(&c);
}

Test(agree_cli, replay_truth_windows_and_errors)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *truth = DATA "truth_sample.jsonl";
    const char *hourly[] = {"replay", "--quiet", "--window", "1h", "--truth", truth, SAMPLE, NULL};
    tu_cli_expect(&c, hourly, 0, NULL);
    cJSON *lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    const cJSON *s = cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1);
    const int windows = tu_get(s, "windows")->valueint;
    cr_expect_gt(windows, 1);
    cr_expect_eq(cJSON_GetArraySize(tu_get(s, "agreement.rankings")), windows);
    cr_expect(cJSON_IsNull(tu_get(s, "agreement.kendall_tau")), "several windows: per window only");
    cr_expect_eq(tu_get(s, "agreement.records")->valueint, tu_get(s, "records")->valueint);
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
        tu_cli_expect(&c, args, bad[i].rc, bad[i].needle);
    }
    tu_cli_done(&c);
}
