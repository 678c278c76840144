/*
 * bmatch.h — exact maximum-weight b-matching of whales to streamers.
 *
 * The whale layer of the whale_matching allocator: each round's whales
 * (rows) go to streamers (columns) so that every whale is placed, no
 * streamer takes more than its quota of whales, and the total weight (the
 * whales' expected gifts) is as large as possible. The research code's
 * "min-cost flow" was a greedy placeholder; this one is exact.
 */
#ifndef GOPE_SIM_BMATCH_H
#define GOPE_SIM_BMATCH_H

#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"

/* A reusable workspace, so a call per round allocates nothing. */
typedef struct gope_bmatch_s gope_bmatch_t;

/*! gope_bmatch_new() : a workspace for up to `max_rows` rows and `max_cols`
 * columns (both >= 1).
 * @return the workspace, or NULL when out of memory. */
gope_bmatch_t *gope_bmatch_new(size_t max_rows, size_t max_cols);

/*! gope_bmatch_free() : NULL does nothing. */
void gope_bmatch_free(gope_bmatch_t *m);

/*! gope_bmatch_solve() : place every row on one column, at most cap[c] rows
 * on column c, maximizing the sum of weight[r * n_cols + c] over the
 * placements. A weight of -INFINITY forbids that placement. Writes the
 * chosen column of row r to assign[r] and the total to *total. The result
 * is deterministic: equal inputs give equal assignments.
 * @return GOPE_OK; GOPE_ERR_USAGE when n_rows or n_cols exceed the
 *         workspace or are 0, or a cap is negative; GOPE_ERR_INPUT for a NaN
 *         or +inf weight (naming row and column) or when no placement of
 *         every row exists (naming the first row that cannot be placed). */
gope_status gope_bmatch_solve(gope_bmatch_t *m, size_t n_rows, size_t n_cols,
                              const double *weight, const int64_t *cap, int32_t *assign,
                              double *total, gope_err *err);

#endif
