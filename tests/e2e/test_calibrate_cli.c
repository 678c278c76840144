/*
 * test_calibrate_cli.c — `giftope calibrate` as a user runs it: a log from
 * `giftope sim` in a known world is calibrated, the counts come back
 * exactly, the world file is the report's world and `giftope sim` runs it,
 * both outputs match their schemas; the table on request; stdin; and the
 * exit statuses of usage errors (2) and input faults (1), after which no
 * world file exists.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clitest.h"
#include "testutil.h"

typedef struct {
    tu_cli cli;
    char world[600]; /* the known world.v1 file */
    char log[600];   /* its log */
    char fit[600];   /* dir/fit.json: the fitted world */
} cal_ctx;

/* giftope sim in the known world (300 users, 30 streamers, rounds of 50,
 * gift rate raised) for `decisions`, seed 7, softmax. */
static void ctx_init(cal_ctx *c, const char *decisions)
{
    static const char known[] =
        "{\"base\":\"giftlive-v2\",\"name\":\"known\",\"users\":{\"count\":300},"
        "\"streamers\":{\"count\":30},\"time\":{\"round_users\":50},"
        "\"gift\":{\"theta\":[-3.5,0.4,0.8,0.2,-0.05]}}";
    tu_cli_init(&c->cli);
    snprintf(c->world, sizeof c->world, "%s", tu_cli_write(&c->cli, "known.json", known));
    snprintf(c->log, sizeof c->log, "%s", tu_cli_path(&c->cli, "log.jsonl.zst"));
    snprintf(c->fit, sizeof c->fit, "%s", tu_cli_path(&c->cli, "fit.json"));
    const char *args[] = {"sim", "--world", c->world, "--policy", "softmax", "--seed", "7",
                          "--decisions", decisions, "--out", c->log, NULL};
    tu_cli_expect(&c->cli, args, 0, NULL);
}

/* The single JSON line of stdout. */
static cJSON *report(const cal_ctx *c)
{
    cJSON *lines = tu_read_jsonl(c->cli.out);
    cr_assert(lines && cJSON_GetArraySize(lines) == 1, "one report line on stdout");
    cJSON *r = cJSON_DetachItemFromArray(lines, 0);
    cJSON_Delete(lines);
    return r;
}

Test(calibrate_cli, round_trip_world_runs_in_sim)
{
    cal_ctx c;
    ctx_init(&c, "3000"); /* 60 rounds of 50: every user seen */
    const char *args[] = {"calibrate", "--out", c.fit, "--decisions", "1000", c.log, NULL};
    tu_cli_expect(&c.cli, args, 0, NULL);
    cJSON *r = report(&c);
    cr_expect_str_eq(tu_str(r, "schema"), "calibration.v1");
    cr_expect_eq(tu_num(r, "log.accepted"), 3000);
    cr_expect_eq(tu_num(r, "world.users.count"), 300);
    cr_expect_eq(tu_num(r, "world.streamers.count"), 30);
    cr_expect_eq(tu_num(r, "world.candidates.k"), 0);
    cr_expect_eq(tu_num(r, "world.time.round_users"), 50);
    cr_expect_str_eq(tu_str(r, "world.time.session"), "round");
    cr_expect_str_eq(tu_str(r, "fit.policy"), "softmax");
    cr_expect(cJSON_IsTrue(tu_get(r, "fit.policy_from_log")));
    cr_expect_eq(tu_num(r, "report.seed"), 43);
    cr_expect_eq(tu_num(r, "report.decisions"), 1000);
    cr_expect_eq(tu_num(r, "fit.decisions"), 1000);
    const cJSON *rows = tu_get(r, "report.rows");
    cr_expect_eq(cJSON_GetArraySize(rows), 9);
    cr_expect_str_eq(tu_str(cJSON_GetArrayItem(rows, 0), "metric"), "gift_rate");

    /* the file is the report's world, and a world giftope sim runs */
    char *text = tu_read_file(c.fit, NULL);
    cr_assert(text);
    cJSON *file = cJSON_Parse(text);
    cr_expect(cJSON_Compare(file, tu_get(r, "world"), true), "world file = report's world");
    const char *path = tu_cli_path(&c.cli, "report.jsonl");
    char *line = tu_read_file(c.cli.out, NULL);
    cr_assert(line && tu_write_file(path, line, strlen(line)));
    const char *sim[] = {"sim", "--world", c.fit, "--policy", "greedy", "--decisions", "20",
                         "--out", tu_cli_path(&c.cli, "again.jsonl"), NULL};
    tu_cli_expect(&c.cli, sim, 0, NULL);
    free(line);
    free(text);
    cJSON_Delete(file);
    cJSON_Delete(r);
    const char *files[] = {path, c.fit, NULL};
    tu_cli_done_schemas(&c.cli, files);
}

Test(calibrate_cli, table_on_request)
{
    cal_ctx c;
    ctx_init(&c, "300");
    const char *args[] = {"calibrate", "--table", "--iterations", "2", "--out", c.fit, c.log,
                          NULL};
    tu_cli_expect(&c.cli, args, 0, NULL);
    char *out = tu_read_file(c.cli.out, NULL);
    cr_assert(out);
    cr_expect(strstr(out, "fitted world (") && strstr(out, "users.count") &&
                  strstr(out, "gift_rate") && strstr(out, "rel err"),
              "%s", out);
    free(out);
    tu_cli_done(&c.cli);
}

Test(calibrate_cli, reads_stdin)
{
    cal_ctx c;
    ctx_init(&c, "300");
    const char *args[] = {"calibrate", "--iterations", "1", "--out", c.fit, "-", NULL};
    cr_expect_eq(tu_run(args, NULL, c.log, c.cli.out, c.cli.err), 0);
    cJSON *r = report(&c);
    cr_expect_str_eq(cJSON_GetArrayItem(tu_get(r, "inputs"), 0)->valuestring, "-");
    cr_expect_eq(tu_num(r, "log.accepted"), 300);
    cJSON_Delete(r);
    tu_cli_done(&c.cli);
}

Test(calibrate_cli, usage_errors_exit_2)
{
    cal_ctx c;
    ctx_init(&c, "50");
    const char *const cases[][9] = {
        {"calibrate", NULL},
        {"calibrate", c.log, NULL},
        {"calibrate", "--out", c.fit, NULL},
        {"calibrate", "--out", "-", c.log, NULL},
        {"calibrate", "--out", c.fit, "--seed", "x", c.log, NULL},
        {"calibrate", "--out", c.fit, "--decisions", "0", c.log, NULL},
        {"calibrate", "--out", c.fit, "--iterations", "0", c.log, NULL},
        {"calibrate", "--out", c.fit, "--base", "nope", c.log, NULL},
        {"calibrate", "--out", c.fit, "--json", "--table", c.log, NULL},
        {"calibrate", "--out", c.fit, "--frobnicate", c.log, NULL},
    };
    static const char *const needles[] = {
        "no LOG", "--out FILE is required", "no LOG", "--out must be a file", "--seed",
        "--decisions", "--iterations", "nope", "exclude", "frobnicate",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_cli_expect(&c.cli, cases[i], 2, needles[i]);
        cr_expect(access(c.fit, F_OK) != 0, "case %zu wrote a world", i);
    }
    const char *help[] = {"calibrate", "--help", NULL};
    tu_cli_expect(&c.cli, help, 0, NULL);
    tu_cli_done(&c.cli);
}

Test(calibrate_cli, input_faults_exit_1)
{
    cal_ctx c;
    ctx_init(&c, "50");
    const char *bad = tu_cli_write(&c.cli, "bad.jsonl", "not json\n{\"ts\":1}\n");
    const char *missing = tu_cli_path(&c.cli, "missing.jsonl");
    const char *args_missing[] = {"calibrate", "--out", c.fit, c.log, missing, NULL};
    tu_cli_expect(&c.cli, args_missing, 1, "missing.jsonl");
    const char *args_bad[] = {"calibrate", "--out", c.fit, bad, NULL};
    tu_cli_expect(&c.cli, args_bad, 1, "no valid decision in the logs (2 lines read, 2 rejected");
    cr_expect(access(c.fit, F_OK) != 0, "no world after a fault");
    const char *nowhere = tu_cli_path(&c.cli, "no/such/dir/fit.json");
    const char *args_out[] = {"calibrate", "--iterations", "1", "--out", nowhere, c.log, NULL};
    tu_cli_expect(&c.cli, args_out, 1, "cannot write the world");
    tu_cli_done(&c.cli);
}
