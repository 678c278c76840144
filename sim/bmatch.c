/*
 * bmatch.c — b-matching as an assignment problem, solved exactly.
 *
 * A column with quota b is the same as b columns with quota 1, so the
 * problem becomes a rectangular assignment: n rows onto m column slots,
 * each slot used at most once, minimizing the cost -weight. A column never
 * needs more slots than there are rows, so m <= n_cols * n_rows. The
 * Hungarian method with row/column potentials (Kuhn–Munkres, in the
 * shortest-augmenting-path form) solves it in O(n^2 m): each row is added
 * by one Dijkstra-like pass over the slots on reduced costs, which the
 * potentials keep non-negative. For our sizes (a few whales per round,
 * hundreds of streamers) that is far cheaper than a general min-cost-flow
 * solver. Forbidden placements cost +inf; when the cheapest way to grow the
 * matching is infinite, the new row cannot be placed at all, which is
 * exactly infeasibility (no alternating path reaches a free slot).
 *
 * Slots of one column are consecutive and ties are broken by the first
 * slot found, so the result depends only on the input.
 */
#include "bmatch.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

struct gope_bmatch_s {
    size_t max_rows, max_cols;
    double *u, *v, *minv; /* row and slot potentials; slack per slot */
    size_t *p, *way;      /* row (1-based, 0 free) on each slot; the path */
    int32_t *col;         /* column of each slot */
    bool *used;
};

gope_bmatch_t *gope_bmatch_new(size_t max_rows, size_t max_cols)
{
    if (max_rows == 0 || max_cols == 0 || max_cols > SIZE_MAX / 2 / max_rows)
        return NULL;
    size_t slots = max_rows * max_cols + 1;
    gope_bmatch_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->max_rows = max_rows;
    m->max_cols = max_cols;
    m->u = malloc((max_rows + 1) * sizeof *m->u);
    m->v = malloc(slots * sizeof *m->v);
    m->minv = malloc(slots * sizeof *m->minv);
    m->p = malloc(slots * sizeof *m->p);
    m->way = malloc(slots * sizeof *m->way);
    m->col = malloc(slots * sizeof *m->col);
    m->used = malloc(slots * sizeof *m->used);
    if (!m->u || !m->v || !m->minv || !m->p || !m->way || !m->col || !m->used) {
        gope_bmatch_free(m);
        return NULL;
    }
    return m;
}

void gope_bmatch_free(gope_bmatch_t *m)
{
    if (!m)
        return;
    free(m->u);
    free(m->v);
    free(m->minv);
    free(m->p);
    free(m->way);
    free(m->col);
    free(m->used);
    free(m);
}

/* Checks the arguments and lays out the slots; *n_slots = their count. */
static gope_status prepare(gope_bmatch_t *m, size_t n_rows, size_t n_cols, const double *weight,
                           const int64_t *cap, size_t *n_slots, gope_err *err)
{
    if (n_rows == 0 || n_cols == 0 || n_rows > m->max_rows || n_cols > m->max_cols)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "b-matching: %zu rows x %zu columns (workspace %zu x %zu)", n_rows,
                            n_cols, m->max_rows, m->max_cols);
    for (size_t r = 0; r < n_rows; r++)
        for (size_t c = 0; c < n_cols; c++) {
            double w = weight[r * n_cols + c];
            if (isnan(w) || w == INFINITY)
                return gope_err_set(err, GOPE_ERR_INPUT,
                                    "b-matching: weight of row %zu, column %zu is %g", r, c, w);
        }
    size_t s = 1; /* slot 0 is the method's virtual start */
    for (size_t c = 0; c < n_cols; c++) {
        if (cap[c] < 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "b-matching: column %zu has cap %lld", c,
                                (long long)cap[c]);
        size_t b = (uint64_t)cap[c] < n_rows ? (size_t)cap[c] : n_rows;
        for (size_t k = 0; k < b; k++)
            m->col[s++] = (int32_t)c;
    }
    *n_slots = s - 1;
    return GOPE_OK;
}

/* Add row i (1-based) to the matching. @return false when it cannot be. */
static bool augment(gope_bmatch_t *m, size_t i, size_t n_slots, size_t n_cols,
                    const double *weight)
{
    m->p[0] = i;
    size_t j0 = 0;
    for (size_t j = 0; j <= n_slots; j++) {
        m->minv[j] = INFINITY;
        m->used[j] = false;
    }
    do {
        m->used[j0] = true;
        size_t i0 = m->p[j0], j1 = 0;
        double delta = INFINITY;
        const double *w = weight + (i0 - 1) * n_cols;
        for (size_t j = 1; j <= n_slots; j++) {
            if (m->used[j])
                continue;
            double cur = -w[m->col[j]] - m->u[i0] - m->v[j]; /* +inf when forbidden */
            if (cur < m->minv[j]) {
                m->minv[j] = cur;
                m->way[j] = j0;
            }
            if (m->minv[j] < delta) {
                delta = m->minv[j];
                j1 = j;
            }
        }
        if (delta == INFINITY)
            return false;
        for (size_t j = 0; j <= n_slots; j++) {
            if (m->used[j]) {
                m->u[m->p[j]] += delta;
                m->v[j] -= delta;
            } else {
                m->minv[j] -= delta;
            }
        }
        j0 = j1;
    } while (m->p[j0] != 0);
    do { /* flip the path */
        size_t j1 = m->way[j0];
        m->p[j0] = m->p[j1];
        j0 = j1;
    } while (j0);
    return true;
}

gope_status gope_bmatch_solve(gope_bmatch_t *m, size_t n_rows, size_t n_cols,
                              const double *weight, const int64_t *cap, int32_t *assign,
                              double *total, gope_err *err)
{
    size_t n_slots = 0;
    gope_status st = prepare(m, n_rows, n_cols, weight, cap, &n_slots, err);
    if (st != GOPE_OK)
        return st;
    for (size_t i = 0; i <= n_rows; i++)
        m->u[i] = 0;
    for (size_t j = 0; j <= n_slots; j++) {
        m->v[j] = 0;
        m->p[j] = 0;
    }
    for (size_t i = 1; i <= n_rows; i++)
        if (!augment(m, i, n_slots, n_cols, weight))
            return gope_err_set(err, GOPE_ERR_INPUT,
                                "b-matching: row %zu cannot be placed (quotas full or every "
                                "remaining placement forbidden)", i - 1);
    gope_ksum sum = {0, 0};
    for (size_t j = 1; j <= n_slots; j++) {
        size_t r = m->p[j];
        if (r == 0)
            continue;
        assign[r - 1] = m->col[j];
        gope_ksum_add(&sum, weight[(r - 1) * n_cols + (size_t)m->col[j]]);
    }
    *total = gope_ksum_value(&sum);
    return GOPE_OK;
}
