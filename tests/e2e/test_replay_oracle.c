/*
 * test_replay_oracle.c — `giftope replay` against the independent oracle
 * (tests/data/oracle/e2e, computed with Open Bandit Pipeline and exact sums).
 * Every record value, stderr, CI bound and diagnostic must match to 1e-9
 * relative; counts exactly; the dead-letter file must name the same lines
 * (reason names are ours, so only the late/rejected split is compared).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *const estimate_names[] = {
    "ips", "ips_clip", "snips", "dm", "dr", "sndr", "switch_dr", "dr_os", "logged",
};
static const char *const diag_names[] = {
    "n", "sum_w", "mean_w", "ess", "max_w", "zero_w_frac", "top10_share",
};

static cJSON *find_record(const cJSON *records, const cJSON *want)
{
    const cJSON *ww = cJSON_GetObjectItem(want, "window");
    double s = cJSON_GetObjectItem(ww, "start")->valuedouble;
    double e = cJSON_GetObjectItem(ww, "end")->valuedouble;
    const char *pol = cJSON_GetObjectItem(want, "policy")->valuestring;
    cJSON *r;
    cJSON_ArrayForEach(r, records)
    {
        const cJSON *w = cJSON_GetObjectItem(r, "window");
        const cJSON *p = cJSON_GetObjectItem(r, "policy");
        if (w && p && cJSON_GetObjectItem(w, "start")->valuedouble == s &&
            cJSON_GetObjectItem(w, "end")->valuedouble == e && strcmp(p->valuestring, pol) == 0)
            return r;
    }
    return NULL;
}

static void compare_record(const cJSON *got, const cJSON *want)
{
    const char *pol = cJSON_GetObjectItem(want, "policy")->valuestring;
    double start = cJSON_GetObjectItem(cJSON_GetObjectItem(want, "window"), "start")->valuedouble;
    cr_expect_eq(cJSON_GetObjectItem(got, "n")->valuedouble,
                 cJSON_GetObjectItem(want, "n")->valuedouble, "%s@%.0f: n", pol, start);
    const cJSON *ge = cJSON_GetObjectItem(got, "estimates");
    const cJSON *we = cJSON_GetObjectItem(want, "estimates");
    static const char *const parts[] = {"value", "stderr", "ci_low", "ci_high"};
    for (size_t i = 0; i < sizeof estimate_names / sizeof *estimate_names; i++) {
        const cJSON *g = cJSON_GetObjectItem(ge, estimate_names[i]);
        const cJSON *w = cJSON_GetObjectItem(we, estimate_names[i]);
        cr_assert(g, "%s@%.0f: estimate %s missing", pol, start, estimate_names[i]);
        for (size_t k = 0; k < 4; k++) {
            const cJSON *gv = cJSON_GetObjectItem(g, parts[k]);
            const cJSON *wv = cJSON_GetObjectItem(w, parts[k]);
            cr_expect(tu_num_match(gv, wv), "%s@%.0f: %s.%s got %.17g want %.17g", pol, start,
                      estimate_names[i], parts[k], gv && cJSON_IsNumber(gv) ? gv->valuedouble : -1.0,
                      wv && cJSON_IsNumber(wv) ? wv->valuedouble : -1.0);
        }
    }
    const cJSON *gd = cJSON_GetObjectItem(got, "diagnostics");
    const cJSON *wd = cJSON_GetObjectItem(want, "diagnostics");
    for (size_t i = 0; i < sizeof diag_names / sizeof *diag_names; i++) {
        const cJSON *gv = cJSON_GetObjectItem(gd, diag_names[i]);
        const cJSON *wv = cJSON_GetObjectItem(wd, diag_names[i]);
        cr_expect(tu_num_match(gv, wv), "%s@%.0f: diagnostics.%s", pol, start, diag_names[i]);
    }
}

/* Compare the dead-letter lines: same line numbers and offsets, and the same
 * lines classified late. */
static void compare_dead(const cJSON *got, const cJSON *want)
{
    cr_assert_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "dead-letter count");
    for (int i = 0; i < cJSON_GetArraySize(want); i++) {
        const cJSON *g = cJSON_GetArrayItem(got, i), *w = cJSON_GetArrayItem(want, i);
        cr_expect_eq(cJSON_GetObjectItem(g, "line")->valuedouble,
                     cJSON_GetObjectItem(w, "line")->valuedouble, "dead-letter #%d line", i);
        cr_expect_eq(cJSON_GetObjectItem(g, "offset")->valuedouble,
                     cJSON_GetObjectItem(w, "offset")->valuedouble, "dead-letter #%d offset", i);
        bool g_late = strcmp(cJSON_GetObjectItem(g, "reason")->valuestring, "late") == 0;
        bool w_late = strcmp(cJSON_GetObjectItem(w, "reason")->valuestring, "late") == 0;
        cr_expect_eq(g_late, w_late, "dead-letter line %.0f: late?",
                     cJSON_GetObjectItem(w, "line")->valuedouble);
        cr_expect(cJSON_GetObjectItem(g, "raw") || cJSON_GetObjectItem(g, "raw_base64"),
                  "dead-letter #%d has the raw line", i);
    }
}

static void run_case(const char *name)
{
    char dir[512], out[1024], dead[1024], err[1024], exp[1024], expdead[1024];
    snprintf(dir, sizeof dir, "%s/oracle/e2e/%s", GOPE_TEST_DATA, name);
    char *tmp = tu_tmpdir();
    cr_assert(tmp);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    snprintf(dead, sizeof dead, "%s/dead.jsonl", tmp);
    snprintf(err, sizeof err, "%s/err.txt", tmp);
    snprintf(exp, sizeof exp, "%s/expected.jsonl", dir);
    snprintf(expdead, sizeof expdead, "%s/deadletter.expected.jsonl", dir);

    char argsfile[1024];
    snprintf(argsfile, sizeof argsfile, "%s/args.json", dir);
    char *argtext = tu_read_file(argsfile, NULL);
    cJSON *argj = cJSON_Parse(argtext);
    const char *args[32] = {"replay", "--quiet", "--policies", "policies.json",
                            "--out", out, "--dead-letter", dead};
    int n = 8;
    cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(argj, "args")) args[n++] = a->valuestring;
    args[n++] = cJSON_GetObjectItem(argj, "input")->valuestring;
    args[n] = NULL;

    int rc = tu_run(args, dir, NULL, NULL, err);
    char *errtext = tu_read_file(err, NULL);
    cr_assert_eq(rc, 0, "exit status %d, stderr: %s", rc, errtext ? errtext : "");

    cJSON *got = tu_read_jsonl(out), *want = tu_read_jsonl(exp);
    cr_assert(got && want, "output parses as JSON lines");
    int n_want = cJSON_GetArraySize(want), n_got = cJSON_GetArraySize(got);
    cr_assert_eq(n_got, n_want, "records + summary: got %d want %d", n_got, n_want);
    const cJSON *gsum = cJSON_GetArrayItem(got, n_got - 1);
    const cJSON *wsum = cJSON_GetArrayItem(want, n_want - 1);
    cr_assert_str_eq(cJSON_GetObjectItem(gsum, "schema")->valuestring, "ope_run.v1");
    static const char *const counts[] = {"lines_read", "accepted", "rejected", "late", "windows"};
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(cJSON_GetObjectItem(gsum, counts[i])->valuedouble,
                     cJSON_GetObjectItem(wsum, counts[i])->valuedouble, "summary %s", counts[i]);
    cr_expect_eq(cJSON_GetObjectItem(gsum, "lines_read")->valuedouble,
                 cJSON_GetObjectItem(gsum, "accepted")->valuedouble +
                     cJSON_GetObjectItem(gsum, "rejected")->valuedouble +
                     cJSON_GetObjectItem(gsum, "late")->valuedouble,
                 "lines_read = accepted + rejected + late");
    for (int i = 0; i < n_want - 1; i++) {
        const cJSON *w = cJSON_GetArrayItem(want, i);
        const cJSON *g = find_record(got, w);
        cr_assert(g, "record %s@%.0f missing", cJSON_GetObjectItem(w, "policy")->valuestring,
                  cJSON_GetObjectItem(cJSON_GetObjectItem(w, "window"), "start")->valuedouble);
        compare_record(g, w);
    }
    cJSON *gd = tu_read_jsonl(dead), *wd = tu_read_jsonl(expdead);
    cr_assert(gd && wd, "dead-letter files parse");
    compare_dead(gd, wd);

    cJSON_Delete(got);
    cJSON_Delete(want);
    cJSON_Delete(gd);
    cJSON_Delete(wd);
    cJSON_Delete(argj);
    free(argtext);
    free(errtext);
    tu_rmtree(tmp);
}

Test(replay_oracle, case1_all_k10) { run_case("case1_all_k10"); }
Test(replay_oracle, case2_hopping_zst) { run_case("case2_hopping_zst"); }
Test(replay_oracle, case3_edge) { run_case("case3_edge"); }
