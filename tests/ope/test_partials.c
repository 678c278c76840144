/*
 * test_partials.c — consume --partials' writer (ope/partials.c) on a file:
 * the accumulator words read back into the same accumulator bit for bit,
 * policies without events write nothing, progress lines carry the held
 * partitions at the watermark, the fingerprint follows the configuration,
 * per-partition lines name their one partition, and the lines pass
 * schemas/ope_partial.v1.schema.json (suite partials).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gope_ope.h"
#include "gope_policy.h"
#include "testutil.h"

typedef struct {
    char *dir;
    char path[600];
    gope_policy_set_t *pol;
    gope_estset_t *set;
} fixture;

static gope_partials_t *open_writer(fixture *f, const char *est, int64_t size_ms)
{
    gope_err err = {{0}};
    f->dir = f->dir ? f->dir : tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/partials.jsonl", f->dir);
    if (!f->pol)
        cr_assert_eq(gope_policies_default(&f->pol, &err), GOPE_OK, "%s", err.msg);
    gope_estset_free(f->set);
    cr_assert_eq(gope_estset_parse(est, &f->set, &err), GOPE_OK, "%s", err.msg);
    gope_partials_conf pc = {.spec = f->path, .instance = "inst-1", .topic = "alloc",
                             .set = f->set, .policies = f->pol,
                             .window = {.size_ms = size_ms, .slide_ms = size_ms}};
    gope_partials_t *p = NULL;
    cr_assert_eq(gope_partials_open(&pc, NULL, &p, &err), GOPE_OK, "%s", err.msg);
    return p;
}

/* One initialized accumulator per policy of `f`. */
static gope_acc **new_accs(const fixture *f, size_t n_pol)
{
    gope_acc **accs = calloc(n_pol, sizeof *accs);
    cr_assert(accs);
    for (size_t i = 0; i < n_pol; i++) {
        accs[i] = malloc(gope_acc_size(f->set));
        cr_assert(accs[i]);
        gope_acc_init(f->set, accs[i]);
    }
    return accs;
}

static void free_accs(gope_acc **accs, size_t n_pol)
{
    for (size_t i = 0; i < n_pol; i++)
        free(accs[i]);
    free(accs);
}

static void fixture_done(fixture *f)
{
    gope_estset_free(f->set);
    gope_policies_free(f->pol);
    tu_rmtree(f->dir);
}

Test(partials, window_words_round_trip_and_progress_names_partitions)
{
    fixture f = {0};
    gope_err err = {{0}};
    gope_partials_t *p = open_writer(&f, "snips,dr,ips_clip:lambda=50", 60000);
    size_t n_pol = gope_policies_count(f.pol);
    cr_assert_geq(n_pol, 2);
    gope_acc **accs = new_accs(&f, n_pol);
    /* policy 0 only: awkward doubles, so a rounded form would show */
    for (int k = 1; k <= 7; k++)
        gope_acc_add(f.set, accs[0], &(gope_obs){.w = 1.0 / 3 * k, .r = 0.1 * k, .q = 0.7 / k,
                                                 .v = 1e-17 + k});
    cr_assert_eq(gope_partials_partition(p, 4, true, &err), GOPE_OK);
    cr_assert_eq(gope_partials_partition(p, 1, true, &err), GOPE_OK);
    cr_assert_eq(gope_partials_partition(p, 4, false, &err), GOPE_OK);
    cr_assert_not(gope_partials_due(p));
    gope_window_result w = {.start = 60000, .end = 120000, .accs = (const gope_acc *const *)accs,
                            .n_policies = n_pol, .revision = 1};
    cr_assert_eq(gope_partials_window(p, &w, &err), GOPE_OK, "%s", err.msg);
    cr_assert(gope_partials_due(p));
    cr_assert_eq(gope_partials_progress(p, 120000, true, &err), GOPE_OK, "%s", err.msg);
    cr_assert_not(gope_partials_due(p));
    char fp[17];
    snprintf(fp, sizeof fp, "%s", gope_partials_fingerprint(p));
    cr_assert_eq(gope_partials_close(p, &err), GOPE_OK);

    cJSON *lines = tu_read_jsonl(f.path);
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 2, "one policy had events, then progress");
    const cJSON *win = cJSON_GetArrayItem(lines, 0), *prog = cJSON_GetArrayItem(lines, 1);
    cr_expect_str_eq(tu_str(win, "schema"), "ope_partial.v1");
    cr_expect_str_eq(tu_str(win, "kind"), "window");
    cr_expect_str_eq(tu_str(win, "policy"), gope_policy_name(f.pol, 0));
    cr_expect_str_eq(tu_str(win, "fingerprint"), fp);
    cr_expect_eq(tu_num(win, "window.end"), 120000);
    const cJSON *acc = tu_get(win, "acc");
    size_t n_words = gope_acc_words(f.set);
    cr_assert_eq((size_t)cJSON_GetArraySize(acc), n_words);
    uint64_t *words = malloc(n_words * sizeof *words), *again = malloc(n_words * sizeof *again);
    gope_acc *back = malloc(gope_acc_size(f.set));
    cr_assert(words && again && back);
    for (size_t k = 0; k < n_words; k++)
        words[k] = strtoull(cJSON_GetArrayItem(acc, (int)k)->valuestring, NULL, 16);
    cr_assert(gope_acc_load(f.set, back, words));
    gope_acc_save(f.set, accs[0], again);
    cr_expect_eq(memcmp(words, again, n_words * sizeof *words), 0, "bit-exact words");

    cr_expect_str_eq(tu_str(prog, "kind"), "progress");
    cr_expect(cJSON_IsTrue(tu_get(prog, "final")));
    const cJSON *parts = tu_get(prog, "partitions");
    cr_assert_eq(cJSON_GetArraySize(parts), 1, "4 was revoked");
    cr_expect_eq(tu_num(cJSON_GetArrayItem(parts, 0), "partition"), 1);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(parts, 0), "clock"), 120000);

    /* another estimator list or window: another fingerprint */
    p = open_writer(&f, "snips,dr", 60000);
    cr_expect_str_neq(gope_partials_fingerprint(p), fp);
    cr_assert_eq(gope_partials_close(p, &err), GOPE_OK);
    p = open_writer(&f, "snips,dr,ips_clip:lambda=50", 30000);
    cr_expect_str_neq(gope_partials_fingerprint(p), fp);
    cr_assert_eq(gope_partials_close(p, &err), GOPE_OK);
    p = open_writer(&f, "snips,dr,ips_clip:lambda=50", 60000);
    cr_expect_str_eq(gope_partials_fingerprint(p), fp);
    cr_assert_eq(gope_partials_close(p, &err), GOPE_OK);

    free_accs(accs, n_pol);
    free(words);
    free(again);
    free(back);
    cJSON_Delete(lines);
    fixture_done(&f);
}

/* Both kinds of line as written, a progress line before the instance has a
 * watermark (no clock) and one after, pass ope_partial.v1; the same window
 * line with a word not in 16 hex digits does not, so the check can fail. */
Test(partials, lines_match_their_schema)
{
    fixture f = {0};
    gope_err err = {{0}};
    gope_partials_t *p = open_writer(&f, "ips,snips,dr", 60000);
    size_t n_pol = gope_policies_count(f.pol);
    gope_acc **accs = new_accs(&f, n_pol);
    for (size_t i = 0; i < n_pol; i++)
        gope_acc_add(f.set, accs[i], &(gope_obs){.w = 0.5 + (double)i, .r = 2.5, .q = 0.3});
    cr_assert_eq(gope_partials_partition(p, 0, true, &err), GOPE_OK);
    cr_assert_eq(gope_partials_partition(p, 3, true, &err), GOPE_OK);
    cr_assert_eq(gope_partials_progress(p, INT64_MIN, false, &err), GOPE_OK, "%s", err.msg);
    gope_window_result w = {.start = 0, .end = 60000, .accs = (const gope_acc *const *)accs,
                            .n_policies = n_pol, .revision = 2};
    cr_assert_eq(gope_partials_window(p, &w, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_partials_progress(p, 60000, true, &err), GOPE_OK, "%s", err.msg);
    /* per-partition state: partition 3's own share and clock */
    cr_assert_eq(gope_partials_window_of(p, 3, &w, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_partials_progress_of(p, 3, 45000, false, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_partials_flush(p, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_partials_close(p, &err), GOPE_OK);

    cJSON *lines = tu_read_jsonl(f.path);
    cr_assert(lines);
    cr_assert_eq((size_t)cJSON_GetArraySize(lines), 2 * n_pol + 3,
                 "progress, windows, progress, partition 3's windows and progress");
    const cJSON *own = cJSON_GetArrayItem(lines, (int)n_pol + 2);
    cr_expect_eq(tu_num(own, "partition"), 3);
    cr_expect_eq(cJSON_GetArraySize(tu_get(own, "partitions")), 1);
    const cJSON *own_prog = cJSON_GetArrayItem(lines, 2 * (int)n_pol + 2);
    cr_expect_str_eq(tu_str(own_prog, "kind"), "progress");
    cr_expect_eq(cJSON_GetArraySize(tu_get(own_prog, "partitions")), 1, "partition 3 alone");
    cr_expect_eq(tu_num(cJSON_GetArrayItem(tu_get(own_prog, "partitions"), 0), "clock"), 45000);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(lines, 1), "partition"),
                   "an instance's share names no partition");
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetArrayItem(tu_get(cJSON_GetArrayItem(lines, 0), "partitions"), 0),
                       "clock"),
                   "no watermark yet: no clock");
    const char *good[] = {f.path, NULL};
    int rc = tu_validate_schema(good, false);
    if (rc == 77) {
        cJSON_Delete(lines);
        free_accs(accs, n_pol);
        fixture_done(&f);
        cr_skip_test("python3 jsonschema is not installed");
    }
    cr_expect_eq(rc, 0, "schema validation failed (see stdout)");

    cJSON *win = cJSON_GetArrayItem(lines, 1);
    cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(win, "acc"), 0,
                             cJSON_CreateString("3FF0000000000000"));
    char *text = cJSON_PrintUnformatted(win), bad_path[700];
    cr_assert(text);
    snprintf(bad_path, sizeof bad_path, "%s/bad.jsonl", f.dir);
    cr_assert(tu_write_file(bad_path, text, strlen(text)));
    const char *bad[] = {bad_path, NULL};
    cr_expect_eq(tu_validate_schema(bad, true), 1, "an upper-case word is not a saved word");

    cJSON_free(text);
    cJSON_Delete(lines);
    free_accs(accs, n_pol);
    fixture_done(&f);
}

Test(partials, consume_serves_metrics_with_partials_and_a_checkpoint)
{
    /* the metrics sum the partitions' pipelines (a reward topic's refusals:
     * tests/e2e/test_consume_cli.c) */
    char *dir = tu_tmpdir();
    char ck[600], err[700];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    const char *metrics[] = {"consume", "--brokers", "127.0.0.1:1", "--topic", "t",
                             "--group", "g", "--partials", "p.jsonl", "--checkpoint", ck,
                             "--metrics-addr", "0", "--idle-exit", "1s", NULL};
    cr_expect_eq(tu_run(metrics, dir, NULL, NULL, err), 0);
    char *text = tu_read_file(err, NULL);
    cr_expect(text && strstr(text, "metrics on port "), "%s", text ? text : "");
    free(text);
    tu_rmtree(dir);
}
