/*
 * test_estset.c — estimator specs ("snips,ips_clip:lambda=50"): the registry,
 * good specs (canonical order, logged always present, lambdas), the
 * description echoed in run summaries, and every kind of bad spec with the
 * item its message must name.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "est_fixture.h"

#define ALL_DESC                                                                             \
    "ips,ips_clip:lambda=100,snips,dm,dr,sndr,switch_dr:lambda=100,dr_os:lambda=100,logged," \
    "snips_lift"

static void expect_describe(const char *spec, const char *want)
{
    gope_estset_t *set = estf_set(spec);
    char buf[256];
    size_t len = gope_estset_describe(set, buf, sizeof buf);
    cr_expect_str_eq(buf, want, "spec \"%s\"", spec ? spec : "(null)");
    cr_expect_eq(len, strlen(want));
    gope_estset_free(set);
}

Test(estimators_estset, registry)
{
    size_t count;
    const gope_estimator_ops *const *all = gope_estimator_all(&count);
    static const char *const order[] = {"ips", "ips_clip", "snips", "dm", "dr",
                                        "sndr", "switch_dr", "dr_os", "logged",
                                        "snips_lift"};
    cr_assert_eq(count, 10);
    for (size_t i = 0; i < count; i++) {
        cr_expect_str_eq(all[i]->name, order[i]);
        cr_expect_eq(gope_estimator_find(order[i]), all[i]);
        cr_expect(all[i]->n_sums > 0 && all[i]->layout && all[i]->result);
        bool own = false; /* an estimator with sums of its own adds to them */
        for (size_t k = 0; k < all[i]->n_sums; k++)
            own |= all[i]->layout[k] == GOPE_SUM_OWN;
        cr_expect_eq(own, all[i]->add != NULL, "%s", order[i]);
        bool lambda = !strcmp(order[i], "ips_clip") || !strcmp(order[i], "switch_dr") ||
                      !strcmp(order[i], "dr_os");
        cr_expect_eq(all[i]->has_lambda, lambda, "%s", order[i]);
        cr_expect(!lambda || all[i]->default_lambda == 100);
    }
    cr_expect_null(gope_estimator_find("ipw"));
    cr_expect_null(gope_estimator_find(""));
    cr_expect_null(gope_estimator_find("IPS"));
}

Test(estimators_estset, every_estimator_by_default)
{
    expect_describe(NULL, ALL_DESC);
    expect_describe("", ALL_DESC);
    expect_describe("all", ALL_DESC);
    expect_describe("  all ", ALL_DESC);
    expect_describe("snips_lift,dr_os,switch_dr,sndr,dr,dm,snips,ips_clip,ips,logged", ALL_DESC);
}

Test(estimators_estset, canonical_order_and_logged_always)
{
    expect_describe("snips", "snips,logged");
    expect_describe("dr, ips", "ips,dr,logged");
    expect_describe("logged", "logged");
    expect_describe("logged,dm", "dm,logged");
    expect_describe("ips_clip:lambda=50", "ips_clip:lambda=50,logged");
    expect_describe("dr_os:lambda=0.5,switch_dr:lambda=1e-7",
                    "switch_dr:lambda=1e-07,dr_os:lambda=0.5,logged");
    expect_describe("switch_dr:lambda=2.5e3", "switch_dr:lambda=2500,logged");

    gope_estset_t *set = estf_set("sndr,ips_clip:lambda=7");
    cr_assert_eq(gope_estset_count(set), 3);
    cr_expect_str_eq(gope_estset_get(set, 0)->ops->name, "ips_clip");
    cr_expect_eq(gope_estset_get(set, 0)->lambda, 7);
    cr_expect_str_eq(gope_estset_get(set, 1)->ops->name, "sndr");
    cr_expect_str_eq(gope_estset_get(set, 2)->ops->name, "logged");
    cr_expect_null(gope_estset_get(set, 3));
    gope_estset_free(set);
    gope_estset_free(NULL);
}

/* The accumulator holds each sum the chosen estimators need once: a sum
 * that several of them keep (sum w, sum w r, ...) is shared; the saved form
 * still has every estimator's slice in full. */
Test(estimators_estset, accumulator_size_follows_the_set)
{
    gope_estset_t *logged = estf_set("logged"), *snips = estf_set("snips"),
                  *ips_snips = estf_set("ips,snips"), *all = estf_set("all");
    size_t sums = 0, count;
    const gope_estimator_ops *const *ops = gope_estimator_all(&count);
    for (size_t i = 0; i < count; i++)
        sums += ops[i]->n_sums;
    cr_expect_eq(gope_acc_words(all) - gope_acc_words(logged),
                 2 * (sums - gope_estimator_find("logged")->n_sums));
    /* ips keeps sum w r and sum (w r)^2, both in snips' slice already */
    cr_expect_eq(gope_acc_size(ips_snips), gope_acc_size(snips));
    cr_expect_gt(gope_acc_words(ips_snips), gope_acc_words(snips));
    /* logged keeps w, x (the diagnostics'), r and r^2; all: every shared sum
     * and every own one, once */
    size_t own = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < ops[i]->n_sums; k++)
            own += ops[i]->layout[k] == GOPE_SUM_OWN;
    cr_expect_eq(gope_acc_size(all) - gope_acc_size(logged),
                 (GOPE_SUM_SHARED - 4 + own) * sizeof(gope_ksum));
    gope_estset_free(logged);
    gope_estset_free(snips);
    gope_estset_free(ips_snips);
    gope_estset_free(all);
}

Test(estimators_estset, describe_truncates_like_snprintf)
{
    gope_estset_t *set = estf_set("all");
    char buf[8];
    cr_expect_eq(gope_estset_describe(set, NULL, 0), strlen(ALL_DESC));
    memset(buf, 'x', sizeof buf);
    cr_expect_eq(gope_estset_describe(set, buf, sizeof buf), strlen(ALL_DESC));
    cr_expect_str_eq(buf, "ips,ips");
    gope_estset_free(set);
}

/* A bad spec: GOPE_ERR_USAGE, no set, and a message containing `needle`. */
static void expect_bad(const char *spec, const char *needle)
{
    gope_estset_t *set = (gope_estset_t *)&set; /* must be reset to NULL */
    gope_err err = {{0}};
    cr_expect_eq(gope_estset_parse(spec, &set, &err), GOPE_ERR_USAGE, "spec \"%s\"", spec);
    cr_expect_null(set, "spec \"%s\": a set was returned", spec);
    cr_expect(strstr(err.msg, needle), "spec \"%s\": message \"%s\" lacks \"%s\"", spec,
              err.msg, needle);
}

Test(estimators_estset, bad_specs_name_the_item)
{
    expect_bad("foo", "item 1 \"foo\": unknown estimator");
    expect_bad("snips,ipw", "item 2 \"ipw\": unknown estimator (known: ips,");
    expect_bad("ips:lambda=5", "item 1 \"ips:lambda=5\": ips takes no parameter");
    expect_bad("logged:lambda=5", "logged takes no parameter");
    expect_bad("dr,snips,dr", "item 3 \"dr\": dr is listed twice");
    expect_bad("ips_clip,ips_clip:lambda=5", "ips_clip is listed twice");
    expect_bad("ips,,dr", "item 2 is empty");
    expect_bad("ips,", "item 2 is empty");
    expect_bad(",", "item 1 is empty");
    expect_bad("all,ips", "\"all\" must be the whole list");
    expect_bad("ips_clip:lam=5", "item 1 \"ips_clip:lam=5\": unknown parameter");
    expect_bad("ips_clip:", "unknown parameter");
    expect_bad("ips_clip:lambda=", "lambda must be a finite number > 0");
    expect_bad("ips_clip:lambda=0", "lambda must be a finite number > 0");
    expect_bad("ips_clip:lambda=-3", "lambda must be a finite number > 0");
    expect_bad("switch_dr:lambda=abc", "item 1 \"switch_dr:lambda=abc\"");
    expect_bad("switch_dr:lambda=5x", "lambda must be");
    expect_bad("dr_os:lambda=inf", "lambda must be");
    expect_bad("dr_os:lambda=nan", "lambda must be");
    expect_bad("dr_os:lambda=1e400", "lambda must be");
    expect_bad("Snips", "unknown estimator");
    char long_item[300];
    memset(long_item, 'a', sizeof long_item - 1);
    long_item[sizeof long_item - 1] = '\0';
    expect_bad(long_item, "item 1 \"aaaa");
}

/* A sum several estimators keep is stored once but saved at every place of
 * the saved form that lists it (the layout of one sum per slice entry), and
 * a load refuses words whose copies differ: gope_acc_save never writes that. */
Test(estimators_estset, shared_sums_saved_at_every_place)
{
    gope_estset_t *set = estf_set("snips"); /* slices: snips (w, x, ww, wx, xx), logged */
    gope_acc *a = estf_acc_new(set), *b = estf_acc_new(set);
    for (int i = 0; i < 20; i++) {
        gope_obs o = {.w = 0.1 + i % 3, .r = i % 4 * 1.5, .q = 0.2, .v = 0.3};
        gope_acc_add(set, a, &o);
    }
    size_t nw = gope_acc_words(set);
    uint64_t *w = calloc(nw, sizeof *w);
    cr_assert(w);
    gope_acc_save(set, a, w);
    const size_t fixed = 4 + GOPE_TOPK, slice = fixed + 6; /* fixed: w, w2, x */
    cr_expect(memcmp(&w[slice], &w[fixed], 2 * sizeof *w) == 0, "sum w twice");
    cr_expect(memcmp(&w[slice + 2], &w[fixed + 4], 2 * sizeof *w) == 0, "sum x twice");
    cr_assert(gope_acc_load(set, b, w));
    w[slice + 1] ^= 1; /* the compensation of snips' copy of sum w */
    cr_expect_not(gope_acc_load(set, b, w));
    w[slice + 1] ^= 1;
    w[fixed + 4] ^= 1; /* sum x in the fixed part */
    cr_expect_not(gope_acc_load(set, b, w));
    free(w);
    free(a);
    free(b);
    gope_estset_free(set);
}
