/*
 * test_fixture.c — the helpers of est_fixture.h (no tests of its own; the
 * name makes the build's test_*.c glob pick it up).
 *
 * The 100k vector ships zstd-compressed; it is decompressed here with the
 * streaming API, so a frame without a recorded content size works too.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "est_fixture.h"
#include "testutil.h"

#define CSV_DIR GOPE_TEST_DATA "/oracle/csv/"
#define CSV_HEADER "reward,pscore,pi_logged,q_logged,v_dm\n"

/* Decompresses a whole zstd buffer into a fresh NUL-terminated string. */
static char *unzstd(const char *src, size_t len)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t cap = len * 4 + 1024, n = 0;
    char *out = malloc(cap + 1);
    cr_assert(ds && out);
    ZSTD_inBuffer in = {src, len, 0};
    while (in.pos < in.size) {
        if (cap - n < 1 << 16) {
            cap *= 2;
            out = realloc(out, cap + 1);
            cr_assert(out);
        }
        ZSTD_outBuffer ob = {out + n, cap - n, 0};
        size_t rc = ZSTD_decompressStream(ds, &ob, &in);
        cr_assert(!ZSTD_isError(rc), "zstd: %s", ZSTD_getErrorName(rc));
        n += ob.pos;
    }
    ZSTD_freeDStream(ds);
    out[n] = '\0';
    return out;
}

/* Reads one number followed by `sep` (the last line may lack its newline);
 * asserts on anything else. */
static double field(const char **p, char sep, size_t row)
{
    char *end;
    double x = strtod(*p, &end);
    bool at_end = sep == '\n' && *end == '\0';
    cr_assert(end != *p && (*end == sep || at_end), "csv row %zu: bad field near \"%.20s\"",
              row, *p);
    *p = at_end ? end : end + 1;
    return x;
}

void estf_load_csv(const char *file, estf_vec *out)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof path, CSV_DIR "%s", file);
    char *raw = tu_read_file(path, &len);
    cr_assert(raw, "cannot read %s", path);
    char *text = raw;
    if (len > 4 && strcmp(file + strlen(file) - 4, ".zst") == 0) {
        text = unzstd(raw, len);
        free(raw);
    }
    cr_assert(strncmp(text, CSV_HEADER, strlen(CSV_HEADER)) == 0, "%s: unexpected header", file);
    size_t cap = 1024;
    *out = (estf_vec){malloc(cap * sizeof(gope_obs)), 0};
    for (const char *p = text + strlen(CSV_HEADER); *p; out->n++) {
        if (out->n == cap) {
            cap *= 2;
            out->obs = realloc(out->obs, cap * sizeof(gope_obs));
        }
        cr_assert(out->obs);
        double r = field(&p, ',', out->n), ps = field(&p, ',', out->n);
        double pi = field(&p, ',', out->n), q = field(&p, ',', out->n);
        double v = field(&p, '\n', out->n);
        out->obs[out->n] = (gope_obs){.w = pi / ps, .r = r, .q = q, .v = v};
    }
    free(text);
}

void estf_vec_free(estf_vec *v)
{
    free(v->obs);
    *v = (estf_vec){0};
}

gope_estset_t *estf_set(const char *spec)
{
    gope_estset_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_estset_parse(spec, &set, &err), GOPE_OK, "spec \"%s\": %s", spec,
                 err.msg);
    return set;
}

gope_acc *estf_acc_new(const gope_estset_t *set)
{
    gope_acc *acc = malloc(gope_acc_size(set));
    cr_assert(acc);
    gope_acc_init(set, acc);
    return acc;
}

void estf_add(const gope_estset_t *set, gope_acc *acc, const gope_obs *obs, size_t from,
              size_t to)
{
    for (size_t i = from; i < to; i++)
        gope_acc_add(set, acc, &obs[i]);
}

gope_result *estf_run(const gope_estset_t *set, const gope_obs *obs, size_t n)
{
    gope_acc *acc = estf_acc_new(set);
    gope_result *res = gope_result_new(set);
    cr_assert(res);
    estf_add(set, acc, obs, 0, n);
    gope_acc_result(set, acc, res);
    free(acc);
    return res;
}

size_t estf_index(const gope_estset_t *set, const char *name)
{
    for (size_t i = 0; i < gope_estset_count(set); i++)
        if (strcmp(gope_estset_get(set, i)->ops->name, name) == 0)
            return i;
    cr_assert_fail("estimator %s not in the set", name);
    return 0;
}

void estf_assert_finite(const gope_result *res)
{
    for (size_t i = 0; i < res->count; i++) {
        const gope_estimate *e = &res->estimates[i];
        cr_assert(!e->value_ok || isfinite(e->value), "estimate %zu: value %g", i, e->value);
        cr_assert(!e->se_ok || (e->value_ok && isfinite(e->se) && isfinite(e->ci_low) &&
                                isfinite(e->ci_high)),
                  "estimate %zu: stderr %g", i, e->se);
    }
    const gope_diagnostics *d = &res->diag;
    cr_assert(!d->mean_w_ok || isfinite(d->mean_w));
    cr_assert(!d->ess_ok || isfinite(d->ess));
    cr_assert(!d->top10_ok || isfinite(d->top10_share));
    cr_assert(isfinite(d->max_w) && isfinite(d->zero_w_frac));
}

static void expect_num(double got, double want, double rel, double abs, const char *what,
                       const char *field_name, size_t i)
{
    double tol = fmax(rel * fmax(fabs(got), fabs(want)), abs);
    cr_expect(fabs(got - want) <= tol, "%s: [%zu] %s: got %.17g, want %.17g", what, i,
              field_name, got, want);
}

void estf_expect_same(const gope_result *got, const gope_result *want, double rel, double abs,
                      const char *what)
{
    cr_assert_eq(got->count, want->count, "%s: count", what);
    cr_expect_eq(got->warn_bits, want->warn_bits, "%s: warnings", what);
    for (size_t i = 0; i < got->count; i++) {
        const gope_estimate *g = &got->estimates[i], *w = &want->estimates[i];
        cr_expect(g->value_ok == w->value_ok && g->se_ok == w->se_ok, "%s: [%zu] flags", what, i);
        expect_num(g->value, w->value, rel, abs, what, "value", i);
        expect_num(g->se, w->se, rel, abs, what, "stderr", i);
        expect_num(g->ci_low, w->ci_low, rel, abs, what, "ci_low", i);
        expect_num(g->ci_high, w->ci_high, rel, abs, what, "ci_high", i);
    }
    const gope_diagnostics *g = &got->diag, *w = &want->diag;
    cr_expect_eq(g->n, w->n, "%s: n", what);
    cr_expect(g->mean_w_ok == w->mean_w_ok && g->ess_ok == w->ess_ok && g->top10_ok == w->top10_ok,
              "%s: diagnostic flags", what);
    expect_num(g->sum_w, w->sum_w, rel, abs, what, "sum_w", 0);
    expect_num(g->mean_w, w->mean_w, rel, abs, what, "mean_w", 0);
    expect_num(g->ess, w->ess, rel, abs, what, "ess", 0);
    expect_num(g->max_w, w->max_w, rel, abs, what, "max_w", 0);
    expect_num(g->zero_w_frac, w->zero_w_frac, rel, abs, what, "zero_w_frac", 0);
    expect_num(g->top10_share, w->top10_share, rel, abs, what, "top10_share", 0);
}
