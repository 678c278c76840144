/*
 * bmatch.h — exact maximum-weight b-matching of whales to streamers.
 *
 * The whale layer of the whale_matching allocator: a round's whales (rows)
 * go to streamers (columns) so that every whale is placed, column c takes
 * at most cap[c] whales, and the total weight (the whales' expected gifts
 * on their streamers) is as large as possible. The research code's
 * "min_cost_flow_matching" was a greedy placeholder; this one is exact
 * (bmatch.c says why). Internal to the simulator.
 *
 * Precision: ties and near-ties are settled with one tolerance,
 * eps = GOPE_BMATCH_REL_EPS * max |finite weight| of the instance. Two
 * alternatives whose costs differ by at most eps count as equal and the
 * one reaching the lower-numbered column wins, so the assignment does not
 * hinge on the last bits of rounding. The price is a total that can fall
 * short of the true optimum by at most 2 * n_rows * eps (about 1e-7 for
 * 50 whales with EVs up to 1e4), on top of a few ulps of rounding.
 */
#ifndef GOPE_SIM_BMATCH_H
#define GOPE_SIM_BMATCH_H

#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"

/* Relative tie tolerance (see the top comment). */
#define GOPE_BMATCH_REL_EPS 1e-12

/* A reusable workspace, so a call per round allocates nothing. */
typedef struct gope_bmatch_s gope_bmatch_t;

/*! gope_bmatch_new() : a workspace for instances of up to `max_rows` rows
 * and `max_cols` columns (either may be 0). The caller owns it and frees
 * it with gope_bmatch_free().
 * @return the workspace, or NULL when out of memory or when max_cols
 *         exceeds INT32_MAX (columns are reported as int32_t). */
gope_bmatch_t *gope_bmatch_new(size_t max_rows, size_t max_cols);

/*! gope_bmatch_free() : release `m`; NULL does nothing. */
void gope_bmatch_free(gope_bmatch_t *m);

/*! gope_bmatch_solve() : place every row on exactly one column, at most
 * cap[c] rows on column c, maximizing the sum of weight[r * n_cols + c]
 * over the placements (to within the tolerance above). weight is row-major
 * n_rows x n_cols, finite or -INFINITY (a forbidden placement); cap has
 * n_cols entries >= 0. On success assign[r] is row r's column and *total
 * the compensated sum of the chosen weights; 0 rows give *total = 0. The
 * result depends only on the input (not on earlier calls on `m`). On
 * error assign and *total are left untouched.
 * @return GOPE_OK;
 *         GOPE_ERR_USAGE when n_rows or n_cols exceed the workspace, a
 *         pointer is NULL, or a cap is negative (naming the column);
 *         GOPE_ERR_INPUT for a NaN or +INFINITY weight (naming row and
 *         column), or when no feasible placement exists: the message names
 *         the first row r such that rows 0..r cannot all be placed. */
gope_status gope_bmatch_solve(gope_bmatch_t *m, size_t n_rows, size_t n_cols,
                              const double *weight, const int64_t *cap, int32_t *assign,
                              double *total, gope_err *err);

#endif
