/*
 * test_oracle_csv.c — the estimator reference vectors (tests/data/oracle/csv):
 * every estimate (value, stderr, ci_low, ci_high) and every diagnostic of one
 * pass over each CSV must match *.expected.json within the oracle tolerance
 * |got - want| <= max(1e-9 max(|got|, |want|), 1e-12); an expected null must
 * come out undefined (_ok false).
 *
 * The lambda cases use values of the full OBP runs (*.oracle.json in the
 * shared oracle directory, which is not copied into the repository): OBP's
 * "ipw(lambda=X)" is our ips_clip, "switch_dr(lambda=X)" and
 * "dr_os(lambda=X)" are ours under the same names.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "est_fixture.h"
#include "testutil.h"

/* Expects `got` (with its definedness) to match the JSON number or null. */
static void expect_json(double got, bool ok, const cJSON *want, const char *what)
{
    cr_assert(want, "%s: missing in the expected file", what);
    if (cJSON_IsNull(want)) {
        cr_expect(!ok, "%s: got %.17g, want null", what, got);
        return;
    }
    cr_assert(cJSON_IsNumber(want), "%s: expected value is not a number", what);
    cr_expect(ok, "%s: undefined, want %.17g", what, want->valuedouble);
    cr_expect(tu_close(got, want->valuedouble), "%s: got %.17g, want %.17g (diff %.3g)", what,
              got, want->valuedouble, got - want->valuedouble);
}

static cJSON *read_expected(const char *base)
{
    char path[512];
    snprintf(path, sizeof path, GOPE_TEST_DATA "/oracle/csv/%s.expected.json", base);
    char *text = tu_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert(j, "%s: invalid JSON", path);
    return j;
}

static void expect_diagnostics(const gope_diagnostics *d, const cJSON *want, const char *base)
{
    char what[128];
#define DIAG(field, ok)                                                                      \
    snprintf(what, sizeof what, "%s: diagnostics.%s", base, #field);                       \
    expect_json(d->field, ok, cJSON_GetObjectItemCaseSensitive(want, #field), what)
    DIAG(sum_w, true);
    DIAG(mean_w, d->mean_w_ok);
    DIAG(ess, d->ess_ok);
    DIAG(max_w, d->n > 0);
    DIAG(zero_w_frac, d->n > 0);
    DIAG(top10_share, d->top10_ok);
#undef DIAG
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(want, "n");
    cr_assert(cJSON_IsNumber(n));
    cr_expect_eq(d->n, (uint64_t)n->valuedouble, "%s: n", base);
}

/* One pass of every estimator over <base>.csv<ext> against <base>.expected.json. */
static void check_vector(const char *base, const char *ext)
{
    char file[256], what[128];
    snprintf(file, sizeof file, "%s.csv%s", base, ext);
    estf_vec vec;
    estf_load_csv(file, &vec);
    cJSON *exp = read_expected(base);
    const cJSON *ests = cJSON_GetObjectItemCaseSensitive(exp, "estimates");
    gope_estset_t *set = estf_set("all");
    gope_result *res = estf_run(set, vec.obs, vec.n);

    /* every estimate OBP has; snips_lift (ours, not OBP's) is checked in
     * test_numerics.c and test_lift.c */
    int checked = 0;
    for (size_t i = 0; i < res->count; i++) {
        const char *name = gope_estset_get(set, i)->ops->name;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(ests, name);
        const gope_estimate *g = &res->estimates[i];
        if (!e && strcmp(name, "snips_lift") == 0)
            continue;
        cr_assert(e, "%s: %s missing in the expected file", base, name);
        checked++;
        snprintf(what, sizeof what, "%s: %s.value", base, name);
        expect_json(g->value, g->value_ok, cJSON_GetObjectItemCaseSensitive(e, "value"), what);
        snprintf(what, sizeof what, "%s: %s.stderr", base, name);
        expect_json(g->se, g->se_ok, cJSON_GetObjectItemCaseSensitive(e, "stderr"), what);
        snprintf(what, sizeof what, "%s: %s.ci_low", base, name);
        expect_json(g->ci_low, g->se_ok, cJSON_GetObjectItemCaseSensitive(e, "ci_low"), what);
        snprintf(what, sizeof what, "%s: %s.ci_high", base, name);
        expect_json(g->ci_high, g->se_ok, cJSON_GetObjectItemCaseSensitive(e, "ci_high"), what);
    }
    cr_expect_eq(checked, cJSON_GetArraySize(ests), "%s: estimator count", base);
    expect_diagnostics(&res->diag, cJSON_GetObjectItemCaseSensitive(exp, "diagnostics"), base);
    cr_expect_eq(res->warn_bits, 0u, "%s: unexpected warnings %#x", base, res->warn_bits);
    cr_expect_eq(res->diag.n, vec.n);

    gope_result_free(res);
    gope_estset_free(set);
    cJSON_Delete(exp);
    estf_vec_free(&vec);
}

Test(estimators_oracle, csv_n1000) { check_vector("synth_n1000_seed1001", ""); }

Test(estimators_oracle, csv_n100000_zst) { check_vector("synth_n100000_seed1002", ".zst"); }

/* OBP values at lambda 1 and 10, from the *.oracle.json runs. */
typedef struct {
    const char *file, *spec;
    double ips_clip, switch_dr, dr_os;
} lambda_case;

static const lambda_case lambda_cases[] = {
    {"synth_n1000_seed1001.csv", "ips_clip:lambda=1,switch_dr:lambda=1,dr_os:lambda=1",
     0.046599377980785575, 0.1380233279239324, 0.12128852299012642},
    {"synth_n1000_seed1001.csv", "ips_clip:lambda=10,switch_dr:lambda=10,dr_os:lambda=10",
     0.3271778802333229, 0.07857230259905162, 0.054433226656428656},
    {"synth_n100000_seed1002.csv.zst", "ips_clip:lambda=1,switch_dr:lambda=1,dr_os:lambda=1",
     0.09495837383808951, 0.1628098410621392, 0.15329782750431056},
    {"synth_n100000_seed1002.csv.zst", "ips_clip:lambda=10,switch_dr:lambda=10,dr_os:lambda=10",
     0.4427332942483946, 0.09807231502948298, 0.12463504938351284},
};

Test(estimators_oracle, obp_lambdas)
{
    for (size_t c = 0; c < sizeof lambda_cases / sizeof lambda_cases[0]; c++) {
        const lambda_case *lc = &lambda_cases[c];
        estf_vec vec;
        estf_load_csv(lc->file, &vec);
        gope_estset_t *set = estf_set(lc->spec);
        gope_result *res = estf_run(set, vec.obs, vec.n);
        const struct {
            const char *name;
            double want;
        } checks[] = {{"ips_clip", lc->ips_clip}, {"switch_dr", lc->switch_dr},
                      {"dr_os", lc->dr_os}};
        for (size_t k = 0; k < 3; k++) {
            const gope_estimate *e = &res->estimates[estf_index(set, checks[k].name)];
            cr_expect(e->value_ok && tu_close(e->value, checks[k].want),
                      "%s %s: %s got %.17g, want %.17g", lc->file, lc->spec, checks[k].name,
                      e->value, checks[k].want);
        }
        gope_result_free(res);
        gope_estset_free(set);
        estf_vec_free(&vec);
    }
}
