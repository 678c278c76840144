/* test_bmatch.c — the whale b-matching is exact: against brute force on
 * many small random instances, on feasibility, and on its error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Best total over every assignment of rows to columns within the caps;
 * -INFINITY when none is feasible. */
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

Test(bmatch, equals_brute_force_on_random_instances)
{
    gope_bmatch_t *m = gope_bmatch_new(6, 5);
    cr_assert(m);
    uint64_t seed = 42;
    int feasible = 0, infeasible = 0;
    for (int t = 0; t < 3000; t++) {
        size_t nr = 1 + next_u64(&seed) % 6, nc = 1 + next_u64(&seed) % 5;
        double w[30];
        int64_t cap[5], load[5] = {0};
        bool ties = t % 3 == 0; /* small integer weights: many equal optima */
        for (size_t i = 0; i < nr * nc; i++) {
            uint64_t x = next_u64(&seed);
            w[i] = x % 7 == 0 ? -INFINITY
                   : ties     ? (double)(x % 4)
                              : (double)(x >> 11) * 0x1p-53 * pow(10, (double)(x % 5));
        }
        for (size_t c = 0; c < nc; c++)
            cap[c] = (int64_t)(next_u64(&seed) % 4);
        double want = brute(nr, nc, w, cap, 0, load);
        int32_t assign[6];
        double total;
        gope_err err;
        gope_status st = gope_bmatch_solve(m, nr, nc, w, cap, assign, &total, &err);
        if (want == -INFINITY) {
            cr_assert_eq(st, GOPE_ERR_INPUT, "instance %d: infeasible not detected", t);
            cr_assert(strstr(err.msg, "cannot be placed"), "%s", err.msg);
            infeasible++;
            continue;
        }
        cr_assert_eq(st, GOPE_OK, "instance %d: %s", t, err.msg);
        feasible++;
        double sum = 0;
        int64_t used[5] = {0};
        for (size_t r = 0; r < nr; r++) {
            cr_assert(assign[r] >= 0 && (size_t)assign[r] < nc);
            cr_assert(w[r * nc + (size_t)assign[r]] > -INFINITY, "forbidden edge used");
            used[assign[r]]++;
            sum += w[r * nc + (size_t)assign[r]];
        }
        for (size_t c = 0; c < nc; c++)
            cr_assert_leq(used[c], cap[c], "instance %d: column %zu over its cap", t, c);
        cr_assert(fabs(total - sum) <= 1e-9 * fmax(1, fabs(sum)));
        cr_assert(fabs(total - want) <= 1e-9 * fmax(1, fabs(want)),
                  "instance %d: %.17g, brute force %.17g", t, total, want);
    }
    cr_expect_gt(feasible, 500);
    cr_expect_gt(infeasible, 100);
    gope_bmatch_free(m);
}

Test(bmatch, quota_one_is_the_assignment_problem)
{
    /* 3 whales, 3 streamers, k = 1: greedy takes 10 for row 0 and is left
     * with 1 + 1 = 12; the optimum is 9 + 8 + 1 = 18. */
    const double w[9] = {10, 9, 0, 8, 1, 0, 7, 0, 1};
    const int64_t cap[3] = {1, 1, 1};
    gope_bmatch_t *m = gope_bmatch_new(3, 3);
    int32_t a[3];
    double total;
    gope_err err;
    cr_assert_eq(gope_bmatch_solve(m, 3, 3, w, cap, a, &total, &err), GOPE_OK);
    cr_expect_eq(total, 18);
    cr_expect(a[0] == 1 && a[1] == 0 && a[2] == 2);
    gope_bmatch_free(m);
}

Test(bmatch, ties_are_deterministic)
{
    double w[4 * 6];
    for (size_t i = 0; i < 24; i++)
        w[i] = 1;
    const int64_t cap[6] = {2, 2, 2, 2, 2, 2};
    gope_bmatch_t *m = gope_bmatch_new(4, 6);
    int32_t a[4], b[4];
    double t1, t2;
    gope_err err;
    cr_assert_eq(gope_bmatch_solve(m, 4, 6, w, cap, a, &t1, &err), GOPE_OK);
    cr_assert_eq(gope_bmatch_solve(m, 4, 6, w, cap, b, &t2, &err), GOPE_OK);
    cr_expect(memcmp(a, b, sizeof a) == 0 && t1 == 4 && t2 == 4);
    gope_bmatch_free(m);
}

Test(bmatch, usage_and_input_errors)
{
    gope_bmatch_t *m = gope_bmatch_new(2, 2);
    const double ok[4] = {1, 2, 3, 4}, nan_w[4] = {1, NAN, 3, 4};
    const int64_t cap[2] = {1, 1}, neg[2] = {1, -1};
    int32_t a[3];
    double total;
    gope_err err;
    cr_expect_eq(gope_bmatch_solve(m, 3, 2, ok, cap, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 0, 2, ok, cap, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect_eq(gope_bmatch_solve(m, 2, 2, ok, neg, a, &total, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "column 1"), "%s", err.msg);
    cr_expect_eq(gope_bmatch_solve(m, 2, 2, nan_w, cap, a, &total, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "row 0, column 1"), "%s", err.msg);
    cr_expect_null(gope_bmatch_new(0, 3));
    gope_bmatch_free(m);
    gope_bmatch_free(NULL);
}

Test(bmatch, every_allocation_failure_is_clean)
{
    for (long n = 0;; n++) {
        cr_assert_lt(n, 100);
        fa_fail_after(n, false);
        gope_bmatch_t *m = gope_bmatch_new(5, 500);
        bool hit = fa_triggered();
        fa_off();
        gope_bmatch_free(m);
        if (!hit) {
            cr_assert_not_null(m);
            break;
        }
        cr_assert_null(m, "allocation %ld failed but new succeeded", n);
    }
}
