/* test_bmatch.c — the whale b-matching is exact: against brute force on
 * many small random instances (optimum, feasibility, the infeasible row),
 * on its tie rule, on its error paths and allocation failures; plus a
 * casual timing of whale-sized rounds (logged, not asserted). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmatch.h"
#include "failalloc.h"

/* splitmix64: the test's own deterministic generator. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1p-53; }

/* Best total over every assignment of rows r.. to columns within the caps
 * (load = what rows 0..r-1 use); -INFINITY when none is feasible. */
static double brute(size_t nr, size_t nc, const double *w, const int64_t *cap, size_t r,
                    int64_t *load)
{
    if (r == nr)
        return 0;
    double best = -INFINITY;
    for (size_t c = 0; c < nc; c++) {
        if (load[c] >= cap[c] || w[r * nc + c] == -INFINITY)
            continue;
        load[c]++;
        double rest = brute(nr, nc, w, cap, r + 1, load);
        load[c]--;
        if (rest > -INFINITY && w[r * nc + c] + rest > best)
            best = w[r * nc + c] + rest;
    }
    return best;
}

static double brute_best(size_t nr, size_t nc, const double *w, const int64_t *cap)
{
    int64_t load[8] = {0};
    cr_assert_leq(nc, 8);
    return brute(nr, nc, w, cap, 0, load);
}

/* Asserts `a` places every row on an allowed column within the caps and
 * returns the plain sum of its weights. */
static double check_feasible(size_t nr, size_t nc, const double *w, const int64_t *cap,
                             const int32_t *a)
{
    int64_t *used = calloc(nc ? nc : 1, sizeof *used);
    cr_assert_not_null(used);
    double sum = 0;
    for (size_t r = 0; r < nr; r++) {
        cr_assert(a[r] >= 0 && (size_t)a[r] < nc, "row %zu on column %d", r, a[r]);
        cr_assert(w[r * nc + (size_t)a[r]] > -INFINITY, "row %zu on a forbidden column", r);
        used[a[r]]++;
        sum += w[r * nc + (size_t)a[r]];
    }
    for (size_t c = 0; c < nc; c++)
        cr_assert_leq(used[c], cap[c], "column %zu over its cap", c);
    free(used);
    return sum;
}

static bool close_to(double x, double want) { return fabs(x - want) <= 1e-9 * fmax(1, fabs(want)); }

/* Weight regimes: small integers (many exact ties), EVs in 0..1e4 spread
 * over magnitudes, signed values, and near-ties (multiples of 1000 plus
 * noise far below the tie tolerance, so the eps paths decide). About 1 in
 * 7 edges is forbidden. */
static double random_weight(uint64_t *s, int regime)
{
    if (next_u64(s) % 7 == 0)
        return -INFINITY;
    switch (regime) {
    case 0:
        return (double)(next_u64(s) % 4);
    case 1:
        return next_unit(s) * pow(10, (double)(next_u64(s) % 5));
    case 2:
        return 2e4 * next_unit(s) - 1e4;
    default:
        return 1000 * (double)(next_u64(s) % 4) + 1e-10 * next_unit(s);
    }
}

Test(bmatch, equals_brute_force_on_random_instances)
{
    gope_bmatch_t *m = gope_bmatch_new(6, 5);
    cr_assert_not_null(m);
    uint64_t seed = 42;
    int feasible = 0, infeasible = 0;
    for (int t = 0; t < 6000; t++) {
        size_t nr = 1 + next_u64(&seed) % 6, nc = 1 + next_u64(&seed) % 5;
        double w[30];
        int64_t cap[5];
        for (size_t i = 0; i < nr * nc; i++)
            w[i] = random_weight(&seed, t % 4);
        for (size_t c = 0; c < nc; c++)
            cap[c] = (int64_t)(next_u64(&seed) % 4);
        double want = brute_best(nr, nc, w, cap);
        int32_t a[6];
        double total;
        gope_err err;
        gope_status st = gope_bmatch_solve(m, nr, nc, w, cap, a, &total, &err);
        if (want == -INFINITY) {
            cr_assert_eq(st, GOPE_ERR_INPUT, "instance %d: infeasible not detected", t);
            /* the named row r: rows 0..r-1 fit, rows 0..r do not */
            size_t r = 99;
            cr_assert_eq(sscanf(err.msg, "b-matching: row %zu cannot be placed", &r), 1, "%s",
                         err.msg);
            cr_assert_lt(r, nr);
            cr_assert(brute_best(r, nc, w, cap) > -INFINITY, "instance %d: %s", t, err.msg);
            cr_assert(brute_best(r + 1, nc, w, cap) == -INFINITY, "instance %d: %s", t, err.msg);
            infeasible++;
            continue;
        }
        cr_assert_eq(st, GOPE_OK, "instance %d: %s", t, err.msg);
        feasible++;
        double sum = check_feasible(nr, nc, w, cap, a);
        cr_assert(close_to(total, sum), "instance %d: total %.17g, its sum %.17g", t, total, sum);
        cr_assert(close_to(total, want), "instance %d: %.17g, brute force %.17g", t, total, want);
    }
    cr_expect_gt(feasible, 1500);
    cr_expect_gt(infeasible, 1500);
    gope_bmatch_free(m);
}

Test(bmatch, quota_one_is_the_assignment_problem)
{
    /* 3 whales, 3 streamers, k = 1: greedy gives row 0 its 10 and ends at
     * 10 + 1 + 1 = 12; the optimum is 9 + 8 + 1 = 18. */
    const double w3[9] = {10, 9, 0, 8, 1, 0, 7, 0, 1};
    const int64_t one[5] = {1, 1, 1, 1, 1};
    gope_bmatch_t *m = gope_bmatch_new(5, 5);
    cr_assert_not_null(m);
    int32_t a[5];
    double total;
    gope_err err;
    cr_assert_eq(gope_bmatch_solve(m, 3, 3, w3, one, a, &total, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(total, 18);
    cr_expect(a[0] == 1 && a[1] == 0 && a[2] == 2, "%d %d %d", a[0], a[1], a[2]);

    /* random rows <= cols, every edge allowed: always feasible, each column
     * used at most once, optimal */
    uint64_t seed = 7;
    for (int t = 0; t < 2000; t++) {
        size_t nc = 1 + next_u64(&seed) % 5, nr = 1 + next_u64(&seed) % nc;
        double w[25];
        for (size_t i = 0; i < nr * nc; i++)
            w[i] = 1e4 * next_unit(&seed);
        cr_assert_eq(gope_bmatch_solve(m, nr, nc, w, one, a, &total, &err), GOPE_OK, "%s",
                     err.msg);
        double sum = check_feasible(nr, nc, w, one, a);
        cr_assert(close_to(total, sum) && close_to(total, brute_best(nr, nc, w, one)),
                  "instance %d", t);
    }
    gope_bmatch_free(m);
}

Test(bmatch, ties_fill_lower_columns_first)
{
    double w[4 * 6];
    for (size_t i = 0; i < 24; i++)
        w[i] = 1;
    const int64_t cap[6] = {2, 2, 2, 2, 2, 2};
    gope_bmatch_t *m = gope_bmatch_new(4, 6);
    cr_assert_not_null(m);
    int32_t a[4];
    double total;
    gope_err err;
    cr_assert_eq(gope_bmatch_solve(m, 4, 6, w, cap, a, &total, &err), GOPE_OK, "%s", err.msg);
    cr_expect(a[0] == 0 && a[1] == 0 && a[2] == 1 && a[3] == 1, "%d %d %d %d", a[0], a[1],
              a[2], a[3]);
    cr_expect_eq(total, 4);

    /* within eps (1e-12 * 1000) is a tie, the lower column wins; beyond it,
     * the larger weight wins */
    const double near[2] = {1000, 1000 + 1e-12}, far[2] = {1000, 1000 + 1e-6};
    cr_assert_eq(gope_bmatch_solve(m, 1, 2, near, cap, a, &total, &err), GOPE_OK);
    cr_expect_eq(a[0], 0);
    cr_expect_eq(total, 1000);
    cr_assert_eq(gope_bmatch_solve(m, 1, 2, far, cap, a, &total, &err), GOPE_OK);
    cr_expect_eq(a[0], 1);
    gope_bmatch_free(m);
}

/* Same input, same output, whatever the workspace solved before. */
Test(bmatch, result_does_not_depend_on_earlier_calls)
{
    gope_bmatch_t *fresh = gope_bmatch_new(6, 5), *reused = gope_bmatch_new(6, 5);
    cr_assert(fresh && reused);
    uint64_t seed = 99;
    for (int t = 0; t < 500; t++) {
        size_t nr = 1 + next_u64(&seed) % 6, nc = 1 + next_u64(&seed) % 5;
        double w[30];
        int64_t cap[5];
        for (size_t i = 0; i < nr * nc; i++)
            w[i] = random_weight(&seed, t % 4);
        for (size_t c = 0; c < nc; c++)
            cap[c] = 1 + (int64_t)(next_u64(&seed) % 3);
        int32_t a[6], b[6];
        double ta = 0, tb = 0;
        gope_err ea, eb;
        gope_status sa = gope_bmatch_solve(fresh, nr, nc, w, cap, a, &ta, &ea);
        gope_status sb = gope_bmatch_solve(reused, nr, nc, w, cap, b, &tb, &eb);
        cr_assert_eq(sa, sb);
        if (sa == GOPE_OK)
            cr_assert(memcmp(a, b, nr * sizeof *a) == 0 && ta == tb, "instance %d", t);
        else
            cr_assert_str_eq(ea.msg, eb.msg);
        gope_bmatch_free(fresh); /* a new one per instance; `reused` keeps its state */
        fresh = gope_bmatch_new(6, 5);
        cr_assert_not_null(fresh);
    }
    gope_bmatch_free(fresh);
    gope_bmatch_free(reused);
}

Test(bmatch, empty_and_capless_instances)
{
    gope_bmatch_t *m = gope_bmatch_new(0, 0), *m2 = gope_bmatch_new(2, 2);
    cr_assert(m && m2);
    const double w[4] = {1, 2, 3, 4};
    const int64_t zero[2] = {0, 0};
    int32_t a[2] = {-7, -7};
    double total = -1;
    gope_err err;
    cr_expect_eq(gope_bmatch_solve(m, 0, 0, w, zero, a, &total, &err), GOPE_OK);
    cr_expect(total == 0 && a[0] == -7);
    cr_expect_eq(gope_bmatch_solve(m2, 1, 0, w, zero, a, &total, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "row 0 cannot be placed"), "%s", err.msg);
    /* all caps 0: nowhere to go; outputs untouched on error */
    total = -1;
    cr_expect_eq(gope_bmatch_solve(m2, 2, 2, w, zero, a, &total, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "row 0 cannot be placed"), "%s", err.msg);
    cr_expect(total == -1 && a[0] == -7 && a[1] == -7);
    /* one place for two rows: the second cannot be placed */
    const int64_t one[2] = {1, 0};
    cr_expect_eq(gope_bmatch_solve(m2, 2, 2, w, one, a, &total, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "row 1 cannot be placed"), "%s", err.msg);
    gope_bmatch_free(m);
    gope_bmatch_free(m2);
}

Test(bmatch, usage_and_input_errors)
{
    gope_bmatch_t *m = gope_bmatch_new(2, 2);
    cr_assert_not_null(m);
    const double ok[4] = {1, 2, 3, 4}, nan_w[4] = {1, 2, 3, NAN}, inf_w[4] = {1, INFINITY, 3, 4};
    const int64_t cap[3] = {1, 1, 1}, neg[2] = {1, -1};
    int32_t a[3];
    double total;
    gope_err err;
    cr_expect_eq(gope_bmatch_solve(m, 3, 2, ok, cap, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "3 rows x 2 columns"), "%s", err.msg);
    cr_expect_eq(gope_bmatch_solve(m, 1, 3, ok, cap, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 2, 2, ok, neg, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "column 1 has cap -1"), "%s", err.msg);
    cr_expect_eq(gope_bmatch_solve(NULL, 1, 1, ok, cap, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 1, 1, NULL, cap, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 1, 1, ok, NULL, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 1, 1, ok, cap, NULL, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 1, 1, ok, cap, a, NULL, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 2, 2, nan_w, cap, a, &total, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "row 1, column 1"), "%s", err.msg);
    cr_expect_eq(gope_bmatch_solve(m, 2, 2, inf_w, cap, a, &total, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "row 0, column 1"), "%s", err.msg);
    cr_expect_null(gope_bmatch_new(1, (size_t)INT32_MAX + 1));
    gope_bmatch_free(m);
    gope_bmatch_free(NULL);
}

Test(bmatch, every_allocation_failure_is_clean)
{
    for (int persistent = 0; persistent < 2; persistent++)
        for (long n = 0;; n++) {
            cr_assert_lt(n, 100);
            fa_fail_after(n, persistent);
            gope_bmatch_t *m = gope_bmatch_new(5, 500);
            bool hit = fa_triggered();
            fa_off();
            if (!hit) {
                cr_assert_not_null(m);
                cr_expect_gt(n, 1, "every array is allocated");
                gope_bmatch_free(m);
                break;
            }
            cr_assert_null(m, "allocation %ld failed but new succeeded", n);
        }
}

/* Greedy in row order: the baseline the exact layer replaces. */
static double greedy_total(size_t nr, size_t nc, const double *w, const int64_t *cap,
                           int64_t *load)
{
    memset(load, 0, nc * sizeof *load);
    double sum = 0;
    for (size_t r = 0; r < nr; r++) {
        size_t best = nc;
        for (size_t c = 0; c < nc; c++)
            if (load[c] < cap[c] && (best == nc || w[r * nc + c] > w[r * nc + best]))
                best = c;
        load[best]++;
        sum += w[r * nc + best];
    }
    return sum;
}

/* No single move to a column with room and no swap of two rows improves a. */
static void check_locally_optimal(size_t nr, size_t nc, const double *w, const int64_t *cap,
                                  const int32_t *a, int64_t *load)
{
    const double tol = 1e-6;
    memset(load, 0, nc * sizeof *load);
    for (size_t r = 0; r < nr; r++)
        load[a[r]]++;
    for (size_t r = 0; r < nr; r++) {
        double here = w[r * nc + (size_t)a[r]];
        for (size_t c = 0; c < nc; c++)
            cr_assert(load[c] >= cap[c] || w[r * nc + c] <= here + tol, "move %zu -> %zu", r, c);
        for (size_t s = r + 1; s < nr; s++) {
            double now = here + w[s * nc + (size_t)a[s]];
            double swapped = w[r * nc + (size_t)a[s]] + w[s * nc + (size_t)a[r]];
            cr_assert_leq(swapped, now + tol, "swap %zu <-> %zu", r, s);
        }
    }
}

/* Whale-sized rounds, k in {1, 2, 3, 5}: heavy-tailed EVs up to 1e4.
 * Timing is logged only; the checks are feasibility, greedy <= exact, and
 * local optimality. */
Test(bmatch_bench, whale_rounds)
{
    static const struct {
        size_t rows, cols;
        int64_t k;
        int reps;
    } cases[] = {{5, 500, 1, 2000}, {5, 500, 2, 2000}, {5, 500, 3, 2000},
                 {5, 500, 5, 2000}, {50, 1024, 1, 20},  {50, 1024, 5, 20}};
    gope_bmatch_t *m = gope_bmatch_new(50, 1024);
    double *w = malloc(50 * 1024 * sizeof *w);
    int64_t *cap = malloc(1024 * sizeof *cap), *load = malloc(1024 * sizeof *load);
    int32_t a[50];
    cr_assert(m && w && cap && load);
    uint64_t seed = 2024;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t nr = cases[k].rows, nc = cases[k].cols;
        for (size_t c = 0; c < nc; c++)
            cap[c] = cases[k].k;
        double secs = 0;
        for (int rep = 0; rep < cases[k].reps; rep++) {
            for (size_t i = 0; i < nr * nc; i++) {
                double x = next_unit(&seed);
                w[i] = 1e4 * x * x * x * x;
            }
            double total;
            gope_err err;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            gope_status st = gope_bmatch_solve(m, nr, nc, w, cap, a, &total, &err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            secs += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            cr_assert_eq(st, GOPE_OK, "%s", err.msg);
            double sum = check_feasible(nr, nc, w, cap, a);
            cr_assert(close_to(total, sum));
            cr_assert_geq(total, greedy_total(nr, nc, w, cap, load) - 1e-6);
            check_locally_optimal(nr, nc, w, cap, a, load);
        }
        cr_log_info("bmatch %zu rows x %zu cols, k=%lld: %.1f us per solve", nr, nc,
                    (long long)cases[k].k, 1e6 * secs / cases[k].reps);
    }
    free(w);
    free(cap);
    free(load);
    gope_bmatch_free(m);
}
