/*
 * test_merge.c — accumulators are mergeable: splitting a stream into chunks,
 * accumulating each chunk alone and merging the pieces, in any order and any
 * grouping, gives the one-pass estimates and diagnostics to 1e-12 relative
 * (the window engine relies on it when it merges panes).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "est_fixture.h"

#define REL 1e-12
#define ABS 1e-15
#define MAX_CHUNKS 8

typedef struct {
    estf_vec vec;
    gope_estset_t *set;
    gope_result *one_pass;
} fixture;

static void fixture_open(fixture *f, const char *file)
{
    estf_load_csv(file, &f->vec);
    f->set = estf_set("all");
    f->one_pass = estf_run(f->set, f->vec.obs, f->vec.n);
}

static void fixture_close(fixture *f)
{
    gope_result_free(f->one_pass);
    gope_estset_free(f->set);
    estf_vec_free(&f->vec);
}

static gope_acc *chunk_acc(const fixture *f, size_t from, size_t to)
{
    gope_acc *acc = estf_acc_new(f->set);
    estf_add(f->set, acc, f->vec.obs, from, to);
    return acc;
}

/* Compares the result of `acc` with the one-pass result. */
static void expect_one_pass(const fixture *f, const gope_acc *acc, const char *what)
{
    gope_result *res = gope_result_new(f->set);
    cr_assert(res);
    gope_acc_result(f->set, acc, res);
    estf_expect_same(res, f->one_pass, REL, ABS, what);
    gope_result_free(res);
}

/* Merges accs[lo, hi) pairwise as a balanced tree into a fresh accumulator. */
static gope_acc *tree_merge(const fixture *f, gope_acc **accs, size_t lo, size_t hi)
{
    gope_acc *out = estf_acc_new(f->set);
    if (hi - lo == 1) {
        gope_acc_merge(f->set, out, accs[lo]);
        return out;
    }
    size_t mid = lo + (hi - lo) / 2;
    gope_acc *left = tree_merge(f, accs, lo, mid), *right = tree_merge(f, accs, mid, hi);
    gope_acc_merge(f->set, out, left);
    gope_acc_merge(f->set, out, right);
    free(left);
    free(right);
    return out;
}

/* Splits at cuts[0..k] (cuts[0] = 0, cuts[k] = n) and merges four ways. */
static void check_split(const fixture *f, const size_t *cuts, size_t k)
{
    gope_acc *accs[MAX_CHUNKS];
    for (size_t i = 0; i < k; i++)
        accs[i] = chunk_acc(f, cuts[i], cuts[i + 1]);

    gope_acc *fwd = estf_acc_new(f->set), *rev = estf_acc_new(f->set);
    for (size_t i = 0; i < k; i++) {
        gope_acc_merge(f->set, fwd, accs[i]);
        gope_acc_merge(f->set, rev, accs[k - 1 - i]);
    }
    /* right fold: a0 + (a1 + (... + a(k-1))), into the last chunk itself */
    gope_acc *right = chunk_acc(f, cuts[k - 1], cuts[k]);
    for (size_t i = k - 1; i-- > 0;) {
        gope_acc *next = chunk_acc(f, cuts[i], cuts[i + 1]);
        gope_acc_merge(f->set, next, right);
        free(right);
        right = next;
    }
    gope_acc *tree = tree_merge(f, accs, 0, k);

    char what[64];
    snprintf(what, sizeof what, "%zu chunks, forward", k);
    expect_one_pass(f, fwd, what);
    snprintf(what, sizeof what, "%zu chunks, reversed", k);
    expect_one_pass(f, rev, what);
    snprintf(what, sizeof what, "%zu chunks, right fold", k);
    expect_one_pass(f, right, what);
    snprintf(what, sizeof what, "%zu chunks, tree", k);
    expect_one_pass(f, tree, what);
    for (size_t i = 0; i < k; i++)
        free(accs[i]);
    free(fwd);
    free(rev);
    free(right);
    free(tree);
}

Test(estimators_merge, uneven_chunks_any_order)
{
    fixture f;
    fixture_open(&f, "synth_n100000_seed1002.csv.zst");
    const size_t n = f.vec.n;
    cr_assert_eq(n, 100000);
    const size_t two[] = {0, 31337, n};
    const size_t three[] = {0, 50000, 50001, n};
    const size_t seven[] = {0, 1, 37, 5000, 5001, 42000, 99999, n};
    check_split(&f, two, 2);
    check_split(&f, three, 3);
    check_split(&f, seven, 7);
    fixture_close(&f);
}

/* One accumulator per event, merged left to right: the extreme split. */
Test(estimators_merge, one_event_per_accumulator)
{
    fixture f;
    fixture_open(&f, "synth_n1000_seed1001.csv");
    gope_acc *all = estf_acc_new(f.set);
    for (size_t i = 0; i < f.vec.n; i++) {
        gope_acc *one = chunk_acc(&f, i, i + 1);
        gope_acc_merge(f.set, all, one);
        free(one);
    }
    expect_one_pass(&f, all, "per-event merge");
    free(all);
    fixture_close(&f);
}

Test(estimators_merge, empty_accumulators)
{
    fixture f;
    fixture_open(&f, "synth_n1000_seed1001.csv");
    const size_t size = gope_acc_size(f.set);
    gope_acc *full = chunk_acc(&f, 0, f.vec.n), *empty = estf_acc_new(f.set);
    gope_acc *copy = malloc(size);
    cr_assert(copy);
    memcpy(copy, full, size);

    gope_acc_merge(f.set, full, empty); /* x + 0 leaves x exactly as it was */
    cr_expect(memcmp(copy, full, size) == 0, "merging an empty accumulator changed the state");
    expect_one_pass(&f, full, "full + empty");

    gope_acc_merge(f.set, empty, full); /* 0 + x */
    expect_one_pass(&f, empty, "empty + full");

    gope_acc *e1 = estf_acc_new(f.set), *e2 = estf_acc_new(f.set);
    gope_acc_merge(f.set, e1, e2);
    cr_expect_eq(gope_acc_n(e1), 0);
    gope_result *res = gope_result_new(f.set), *fresh = gope_result_new(f.set);
    cr_assert(res && fresh);
    gope_acc_result(f.set, e1, res);
    gope_acc_result(f.set, e2, fresh);
    estf_expect_same(res, fresh, 0, 0, "empty + empty");
    gope_result_free(res);
    gope_result_free(fresh);
    free(e1);
    free(e2);
    free(copy);
    free(empty);
    free(full);
    fixture_close(&f);
}
