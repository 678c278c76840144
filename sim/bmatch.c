/*
 * bmatch.c — exact b-matching by successive shortest augmenting paths.
 *
 * The problem is the min-cost flow source -> row (cap 1) -> column ->
 * sink (cap cap[c]) with cost -weight on row -> column, and this is the
 * successive-shortest-path method on it, specialised the way the Hungarian
 * method specialises it for the assignment problem:
 *
 * - Rows are added one at a time. Row i is joined to an optimal placement
 *   of rows 0..i-1 by a shortest path in the residual graph from row i to
 *   a column with spare capacity (alternating: row -> column it does not
 *   use, full column -> each row on it). A shortest augmenting path keeps
 *   the placement optimal, so after the last row it is optimal overall;
 *   if no path exists, rows 0..i cannot all be placed (max-flow/min-cut),
 *   which is the infeasibility we report.
 * - The paths are found by Dijkstra over the columns with Johnson
 *   potentials u[r] (rows) and v[c] (columns): every allowed edge keeps a
 *   reduced cost -w - u - v >= 0 and a used edge has 0. Costs may be
 *   negative, yet no Bellman-Ford pass is needed: a new row's potential
 *   starts at 0 and the first Dijkstra step adds its cheapest reduced cost
 *   (the one step where delta may be negative), which makes all its edges
 *   feasible at once; the rows already placed have feasible potentials.
 * - A column with spare capacity has never been settled inside a search
 *   (only full columns are passed through), so its v stays 0, and a full
 *   column only ever has v lowered, so v <= 0. Then (u, v) is a feasible
 *   dual of the b-matching LP (v[c] = -price of column c's capacity) whose
 *   objective sum u + sum cap[c] v[c] equals the placement's cost: weak
 *   duality proves the placement optimal. That is why the result is exact,
 *   not greedy.
 *
 * Each search settles at most one column more than there are full columns
 * (a full column with cap > 0 holds a row, so there are at most n_rows),
 * so it costs O(n_rows * n_cols) and a solve O(n_rows^2 * n_cols),
 * independent of the caps; no column is expanded into cap[c] unit slots.
 *
 * Tolerance (bmatch.h): the settled column is the lowest-numbered one
 * within eps of the minimum, and a column's path predecessor changes only
 * for a row cheaper by more than eps. The potentials are still moved by
 * the exact minimum, so the dual stays feasible; each used edge can carry
 * a reduced cost of at most 2 eps, hence the 2 * n_rows * eps bound.
 */
#include "bmatch.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

struct gope_bmatch_s {
    size_t max_rows, max_cols;
    /* per row */
    double *u;      /* potential */
    int32_t *at;    /* column the row is on (rows placed so far) */
    size_t *tree;   /* rows reached by the current search */
    /* per column */
    double *v;      /* potential (<= 0; 0 while the column has room) */
    double *dist;   /* cheapest reduced cost from the tree, minus settled deltas */
    double *wdist;  /* reduced cost of the edge from `way` (dist <= wdist <= dist + eps) */
    size_t *way;    /* tree row on the path to the column */
    int64_t *load;  /* rows on the column */
    bool *settled;  /* settled by the current search */
};

/* malloc of n items of `size`, at least one so a 0-size workspace is real;
 * NULL on overflow. */
static void *alloc_n(size_t n, size_t size)
{
    return n > SIZE_MAX / size ? NULL : malloc((n ? n : 1) * size);
}

gope_bmatch_t *gope_bmatch_new(size_t max_rows, size_t max_cols)
{
    if (max_cols > INT32_MAX)
        return NULL;
    gope_bmatch_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->max_rows = max_rows;
    m->max_cols = max_cols;
    m->u = alloc_n(max_rows, sizeof *m->u);
    m->at = alloc_n(max_rows, sizeof *m->at);
    m->tree = alloc_n(max_rows, sizeof *m->tree);
    m->v = alloc_n(max_cols, sizeof *m->v);
    m->dist = alloc_n(max_cols, sizeof *m->dist);
    m->wdist = alloc_n(max_cols, sizeof *m->wdist);
    m->way = alloc_n(max_cols, sizeof *m->way);
    m->load = alloc_n(max_cols, sizeof *m->load);
    m->settled = alloc_n(max_cols, sizeof *m->settled);
    if (!m->u || !m->at || !m->tree || !m->v || !m->dist || !m->wdist || !m->way || !m->load ||
        !m->settled) {
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
    free(m->at);
    free(m->tree);
    free(m->v);
    free(m->dist);
    free(m->wdist);
    free(m->way);
    free(m->load);
    free(m->settled);
    free(m);
}

/* Validates the instance; *eps = the tie tolerance for it. */
static gope_status check(const gope_bmatch_t *m, size_t n_rows, size_t n_cols,
                         const double *weight, const int64_t *cap, const int32_t *assign,
                         const double *total, double *eps, gope_err *err)
{
    if (!m || !weight || !cap || !assign || !total)
        return gope_err_set(err, GOPE_ERR_USAGE, "b-matching: NULL argument");
    if (n_rows > m->max_rows || n_cols > m->max_cols)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "b-matching: %zu rows x %zu columns exceed the workspace (%zu x %zu)",
                            n_rows, n_cols, m->max_rows, m->max_cols);
    for (size_t c = 0; c < n_cols; c++)
        if (cap[c] < 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "b-matching: column %zu has cap %lld < 0", c,
                                (long long)cap[c]);
    double scale = 0;
    for (size_t r = 0; r < n_rows; r++)
        for (size_t c = 0; c < n_cols; c++) {
            double w = weight[r * n_cols + c];
            if (isnan(w) || w == INFINITY)
                return gope_err_set(err, GOPE_ERR_INPUT,
                                    "b-matching: weight of row %zu, column %zu is %g (must be "
                                    "finite, or -inf to forbid)",
                                    r, c, w);
            if (w != -INFINITY && fabs(w) > scale)
                scale = fabs(w);
        }
    *eps = GOPE_BMATCH_REL_EPS * scale;
    return GOPE_OK;
}

/* Row r joins the search tree: offer its edges to the unsettled columns.
 * Columns with cap 0 are never offered: they hold no row and can never be
 * the target, and settling them one by one would make a search O(n_cols^2)
 * instead of the bound in the top comment. */
static void reach_from(gope_bmatch_t *m, size_t r, size_t n_cols, const double *w_row,
                       const int64_t *cap, double eps)
{
    for (size_t c = 0; c < n_cols; c++) {
        if (m->settled[c] || cap[c] == 0)
            continue;
        double d = -w_row[c] - m->u[r] - m->v[c]; /* +inf when forbidden */
        if (d < m->dist[c])
            m->dist[c] = d;
        if (d < m->wdist[c] - eps) {
            m->wdist[c] = d;
            m->way[c] = r;
        }
    }
}

/* Dijkstra from the new row i to a column with room, then the path flip.
 * @return false when no such path exists (rows 0..i cannot all be placed). */
static bool place_row(gope_bmatch_t *m, size_t i, size_t n_cols, const double *weight,
                      const int64_t *cap, double eps)
{
    for (size_t c = 0; c < n_cols; c++) {
        m->dist[c] = m->wdist[c] = INFINITY;
        m->settled[c] = false;
    }
    size_t n_tree = 0;
    m->tree[n_tree++] = i;
    m->u[i] = 0;
    reach_from(m, i, n_cols, weight + i * n_cols, cap, eps);
    size_t best;
    for (;;) {
        double delta = INFINITY;
        for (size_t c = 0; c < n_cols; c++)
            if (!m->settled[c] && m->dist[c] < delta)
                delta = m->dist[c];
        if (delta == INFINITY)
            return false;
        /* Settle the first column within eps of the minimum and move the
         * potentials by the exact minimum (keeps every reduced cost >= 0). */
        best = n_cols;
        for (size_t c = 0; c < n_cols; c++) {
            if (m->settled[c]) {
                m->v[c] -= delta;
                continue;
            }
            if (best == n_cols && m->dist[c] <= delta + eps)
                best = c;
            m->dist[c] -= delta;
            m->wdist[c] -= delta;
        }
        for (size_t k = 0; k < n_tree; k++)
            m->u[m->tree[k]] += delta;
        if (m->load[best] < cap[best])
            break;
        m->settled[best] = true; /* full: its rows join the tree */
        for (size_t r = 0; r < i; r++)
            if (m->at[r] == (int32_t)best) {
                m->tree[n_tree++] = r;
                reach_from(m, r, n_cols, weight + r * n_cols, cap, eps);
            }
    }
    /* The search stopped at column `best`, which has room. Walk back: each
     * column on the path takes its `way` row, which leaves its old column. */
    m->load[best]++;
    size_t c = best;
    for (size_t r = m->way[c]; r != i; r = m->way[c]) {
        size_t from = (size_t)m->at[r];
        m->at[r] = (int32_t)c;
        c = from;
    }
    m->at[i] = (int32_t)c;
    return true;
}

gope_status gope_bmatch_solve(gope_bmatch_t *m, size_t n_rows, size_t n_cols,
                              const double *weight, const int64_t *cap, int32_t *assign,
                              double *total, gope_err *err)
{
    double eps = 0;
    gope_status st = check(m, n_rows, n_cols, weight, cap, assign, total, &eps, err);
    if (st != GOPE_OK)
        return st;
    for (size_t c = 0; c < n_cols; c++) {
        m->v[c] = 0;
        m->load[c] = 0;
    }
    for (size_t i = 0; i < n_rows; i++)
        if (!place_row(m, i, n_cols, weight, cap, eps))
            return gope_err_set(err, GOPE_ERR_INPUT,
                                "b-matching: row %zu cannot be placed: rows 0..%zu need more "
                                "places than the caps of their allowed columns give",
                                i, i);
    gope_ksum sum = {0, 0};
    for (size_t r = 0; r < n_rows; r++) {
        assign[r] = m->at[r];
        gope_ksum_add(&sum, weight[r * n_cols + (size_t)m->at[r]]);
    }
    *total = gope_ksum_value(&sum);
    return GOPE_OK;
}
