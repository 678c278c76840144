/*
 * est_fixture.h — shared helpers of the estimator tests (tests/estimators/):
 * loading the oracle CSV vectors as observations, running a set over them,
 * and comparing results.
 */
#ifndef GOPE_EST_FIXTURE_H
#define GOPE_EST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "gope_estimators.h"

typedef struct {
    gope_obs *obs;
    size_t n;
} estf_vec;

/* Reads tests/data/oracle/csv/<file> (plain CSV, or zstd when it ends in
 * .zst) into observations: w = pi_logged/pscore, r, q, v. Asserts on error. */
void estf_load_csv(const char *file, estf_vec *out);
void estf_vec_free(estf_vec *v);

/* A set from `spec`, asserting success. */
gope_estset_t *estf_set(const char *spec);

/* A fresh initialised accumulator for `set`; free() it. */
gope_acc *estf_acc_new(const gope_estset_t *set);

/* Adds obs[from, to) to `acc`. */
void estf_add(const gope_estset_t *set, gope_acc *acc, const gope_obs *obs, size_t from,
              size_t to);

/* The result of one pass of `set` over obs[0, n); gope_result_free() it. */
gope_result *estf_run(const gope_estset_t *set, const gope_obs *obs, size_t n);

/* Index of estimator `name` in `set`, asserting it is there. */
size_t estf_index(const gope_estset_t *set, const char *name);

/* Asserts that no quantity marked defined in `res` is inf or NaN. */
void estf_assert_finite(const gope_result *res);

/* Expects every estimate and diagnostic of `got` to equal `want` within
 * |got - want| <= max(rel * max(|got|, |want|), abs), flags equal. */
void estf_expect_same(const gope_result *got, const gope_result *want, double rel, double abs,
                      const char *what);

#endif
