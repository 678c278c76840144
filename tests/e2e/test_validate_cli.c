/*
 * test_validate_cli.c — `giftope validate`, the whole loop in one command:
 * every step's file is left behind and consistent with the others, the
 * agreement covers every policy, and failures and usage errors come out
 * with the right exit status.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

static const char small_world[] =
    "{\"base\":\"giftlive-v2\",\"users\":{\"count\":300},\"streamers\":{\"count\":20},"
    "\"time\":{\"round_users\":30}}";

static char *world_file(const char *dir)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/world.json", dir);
    cr_assert(tu_write_file(path, small_world, strlen(small_world)));
    return path;
}

static bool exists(const char *dir, const char *name)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

Test(validate_cli, runs_the_loop_and_keeps_every_file)
{
    char *dir = tu_tmpdir(), out_dir[600], out[600], err[600];
    snprintf(out_dir, sizeof out_dir, "%s/run", dir);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *args[] = {"validate", "--world", world_file(dir), "--decisions", "1500",
                          "--seeds", "2", "--out-dir", out_dir, "--json", NULL};
    cr_assert_eq(tu_run(args, NULL, NULL, out, err), 0, "%s", tu_read_file(err, NULL));
    const char *files[] = {"log.jsonl.zst", "sim.json", "ope.jsonl", "truth.jsonl", "agreement.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_expect(exists(out_dir, files[i]), "%s missing", files[i]);

    /* stdout is the agreement, the same lines as the kept file */
    char *printed = tu_read_file(out, NULL), kept_path[700];
    snprintf(kept_path, sizeof kept_path, "%s/agreement.jsonl", out_dir);
    char *kept = tu_read_file(kept_path, NULL);
    cr_assert(printed && kept);
    cr_expect_str_eq(printed, kept);

    /* one verdict per policy of the default set, the logging one the baseline */
    cJSON *lines = tu_read_jsonl(kept_path);
    size_t verdicts = 0, baselines = 0;
    const cJSON *line;
    cJSON_ArrayForEach(line, lines) {
        const cJSON *schema = cJSON_GetObjectItem(line, "schema");
        if (!cJSON_IsString(schema) || strcmp(schema->valuestring, "agreement.v1") != 0)
            continue;
        const cJSON *v = cJSON_GetObjectItem(line, "verdict");
        cr_assert(cJSON_IsString(v));
        verdicts++;
        if (strcmp(v->valuestring, "baseline") == 0) {
            baselines++;
            cr_expect_str_eq(cJSON_GetObjectItem(line, "policy")->valuestring, "eps_greedy");
        }
    }
    cr_expect_eq(verdicts, 8);
    cr_expect_eq(baselines, 1);
    cJSON_Delete(lines);
    free(printed);
    free(kept);
    tu_rmtree(dir);
}

/* A step that fails stops the loop with that step's status and message. */
Test(validate_cli, a_failing_step_stops_the_loop)
{
    char *dir = tu_tmpdir(), out_dir[600], err[600];
    snprintf(out_dir, sizeof out_dir, "%s/run", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *args[] = {"validate", "--world", world_file(dir), "--logging", "no_such_policy",
                          "--out-dir", out_dir, NULL};
    cr_expect_eq(tu_run(args, NULL, NULL, NULL, err), 2);
    char *msg = tu_read_file(err, NULL);
    cr_expect(strstr(msg, "no_such_policy") && strstr(msg, "step `sim` failed"), "%s", msg);
    cr_expect(!exists(out_dir, "ope.jsonl"), "no later step ran");
    free(msg);
    tu_rmtree(dir);
}

Test(validate_cli, usage_errors)
{
    char *dir = tu_tmpdir(), err[600];
    snprintf(err, sizeof err, "%s/stderr", dir);
    const char *both[] = {"validate", "--json", "--table", NULL};
    cr_expect_eq(tu_run(both, NULL, NULL, NULL, err), 2);
    const char *extra[] = {"validate", "stray", NULL};
    cr_expect_eq(tu_run(extra, NULL, NULL, NULL, err), 2);
    const char *unknown[] = {"validate", "--frobnicate", NULL};
    cr_expect_eq(tu_run(unknown, NULL, NULL, NULL, err), 2);
    char bad_dir[700];
    snprintf(bad_dir, sizeof bad_dir, "%s/missing/deeper", dir);
    const char *no_dir[] = {"validate", "--out-dir", bad_dir, NULL};
    cr_expect_eq(tu_run(no_dir, NULL, NULL, NULL, err), 1);
    tu_rmtree(dir);
}
