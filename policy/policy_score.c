/*
 * policy_score.c — scores and selection rules: the hot path of every replay.
 *
 *   score_j = (ev_j + beta sigma_j) g_j + coldstart_bonus [cold_start_j]
 *             - sum_c lambda_c d_cj
 *
 * The definitions are exact (docs/policies.md): users and reference tests
 * recompute the same doubles, so the code evaluates the formula in its written
 * order, constraint terms summed capacity, coldstart, head, whale. Terms the
 * parser found inactive are skipped only where skipping is bit-exact: with
 * crowding_alpha = 0, g = 1/(1 + 0) = 1; no prices at all subtracts 0.
 * Indicators ([cold_start_j], d_cj) are multiplied in as 0/1 doubles, which
 * adds an exact 0 when off and keeps the loop free of unpredictable branches.
 * Floating-point contraction (fused multiply-add) would change the last bits,
 * so it stays off for this file.
 *
 * Selection never divides by zero or overflows: softmax subtracts the maximum
 * score first. Scores are finite for any sane parameters; should extreme ones
 * overflow, a NaN score gets probability 0 and an infinite maximum makes
 * softmax its own limit (greedy over the top scores), so pi always sums to 1.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif /* gcc -std=c11 already defaults to -ffp-contract=off */

/* The shadow prices in effect for `ev`, or NULL when every price is 0. */
static const double *prices(const gope_policy *p, const gope_event *ev)
{
    switch (p->lambda_mode) {
    case GOPE_LAMBDA_FIXED: return p->lambda;
    case GOPE_LAMBDA_LOG: return ev->has_lambda_values ? ev->lambda_values : NULL;
    case GOPE_LAMBDA_NONE: break;
    }
    return NULL;
}

/* [x] as a double, by table lookup: candidate flags are unpredictable, and
 * compilers turn `x ? 1.0 : 0.0` (even `(double)x`) into a branch whose
 * mispredictions cost more than the multiply by 0 it saves. */
static const double indicator[2] = {0.0, 1.0};

/* sum_c lambda_c d_cj, in the order of gope_constraint (0 * lambda adds an
 * exact 0 for the terms that are off). */
static double penalty(const double *lambda, const gope_event *ev, const gope_candidate *c,
                      int64_t whale_k)
{
    /* load + 1 > capacity, written so that a huge load cannot overflow */
    double d_capacity = indicator[(c->capacity > 0) & (c->load >= c->capacity)];
    double d_coldstart = -indicator[c->cold_start];
    double d_head = indicator[c->head];
    double d_whale = indicator[ev->is_whale & (c->whales >= whale_k)];
    double sum = lambda[GOPE_C_CAPACITY] * d_capacity;
    sum += lambda[GOPE_C_COLDSTART] * d_coldstart;
    sum += lambda[GOPE_C_HEAD] * d_head;
    sum += lambda[GOPE_C_WHALE] * d_whale;
    return sum;
}

/* g_j: the crowding discount for a candidate with a capacity (real division
 * load / capacity), 1 without one. Computed for every candidate and selected
 * afterwards, again to keep the loop free of unpredictable branches. */
static double crowding(const gope_policy *p, const gope_candidate *c)
{
    int limited = c->capacity > 0;
    double capacity = limited ? (double)c->capacity : 1.0;
    double over = (double)c->load / capacity - p->crowding_threshold;
    double g = 1.0 / (1.0 + p->crowding_alpha * (over > 0.0 ? over : 0.0));
    return limited ? g : 1.0;
}

/* One candidate's score; `bonus` holds coldstart_bonus [cold_start] for
 * both values of the flag. `plain`: beta and coldstart_bonus are +0 (and
 * crowded and lambda off), so the score is ev + 0 (+0 sigma is +0 or -0
 * for any finite sigma, and the +0 bonus turns a -0 sum into +0 as this
 * does): neither sigma nor the flag needs reading. */
static inline double score_one(const gope_policy *p, const gope_event *ev, const gope_candidate *c,
                               double beta, const double bonus[2], int crowded,
                               const double *lambda, int plain)
{
    if (plain)
        return c->ev + 0.0;
    double s = c->ev + beta * c->sigma;
    if (crowded)
        s *= crowding(p, c);
    s += bonus[c->cold_start];
    if (lambda)
        s -= penalty(lambda, ev, c, p->whale_k);
    return s;
}

/* Four running maxima, one per lane j mod 4: four independent chains of
 * compares instead of one (the compiler may not regroup them itself). The
 * maximum of a set does not depend on the order, except for which of a tied
 * +0 and -0 comes out, and neither selection rule can tell those apart
 * (greedy's cut and softmax's score - max are the same). NaN never compares
 * greater, so it is never the maximum; -inf when every score is NaN. */
static double lane_max(const double m[4])
{
    const double a = m[1] > m[0] ? m[1] : m[0], b = m[3] > m[2] ? m[3] : m[2];
    return b > a ? b : a;
}

/* score[j] for every j and their maximum, tracked in four lanes (unrolled,
 * so that each lane stays in registers). Inlined with constant `crowded`
 * and `lambda` for the usual case, it has neither test. */
static inline double score_loop(const gope_policy *p, const gope_event *ev, double *score,
                                double beta, const double bonus[2], int crowded,
                                const double *lambda, int plain)
{
    const gope_candidate *c = ev->candidates;
    const size_t k = ev->n_candidates;
    double m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    size_t j = 0;
    for (; j + 4 <= k; j += 4) {
        const double s0 = score_one(p, ev, &c[j], beta, bonus, crowded, lambda, plain);
        const double s1 = score_one(p, ev, &c[j + 1], beta, bonus, crowded, lambda, plain);
        const double s2 = score_one(p, ev, &c[j + 2], beta, bonus, crowded, lambda, plain);
        const double s3 = score_one(p, ev, &c[j + 3], beta, bonus, crowded, lambda, plain);
        score[j] = s0, score[j + 1] = s1, score[j + 2] = s2, score[j + 3] = s3;
        m[0] = s0 > m[0] ? s0 : m[0];
        m[1] = s1 > m[1] ? s1 : m[1];
        m[2] = s2 > m[2] ? s2 : m[2];
        m[3] = s3 > m[3] ? s3 : m[3];
    }
    for (; j < k; j++) {
        score[j] = score_one(p, ev, &c[j], beta, bonus, crowded, lambda, plain);
        m[0] = score[j] > m[0] ? score[j] : m[0];
    }
    return lane_max(m);
}

static bool is_plus_zero(double x)
{
    return x == 0.0 && !signbit(x);
}

/* The policy's terms are copied to locals (`score` could alias *p as far as
 * the compiler knows, so it would reload them for every candidate), and the
 * usual case, no crowding and no prices, gets a loop of its own. The maximum
 * is found in the same pass: the selection rules would otherwise read the
 * scores once more. */
static double score_all(const gope_policy *p, const gope_event *ev, double *score)
{
    const double *lambda = prices(p, ev);
    const int crowded = p->crowding_alpha != 0.0;
    const double beta = p->beta;
    const double bonus[2] = {p->coldstart_bonus * indicator[0], p->coldstart_bonus * indicator[1]};
    if (!crowded && !lambda && is_plus_zero(beta) && is_plus_zero(p->coldstart_bonus))
        return score_loop(p, ev, score, beta, bonus, 0, NULL, 1);
    if (!crowded && !lambda)
        return score_loop(p, ev, score, beta, bonus, 0, NULL, 0);
    return score_loop(p, ev, score, beta, bonus, crowded, lambda, 0);
}

/* pi_j = score_j >= cut ? in : out for all j; returns how many are >= cut,
 * and the sum of their indices to *at (the index itself when there is one).
 * Counted in four double lanes (exact far beyond GOPE_MAX_CANDIDATES): the
 * form the compiler vectorises. */
static size_t fill_cut(const double *restrict score, size_t k, double cut, double in, double out,
                       double *restrict pi, size_t *at)
{
    double n[4] = {0, 0, 0, 0}, sum[4] = {0, 0, 0, 0};
    size_t j = 0;
    for (; j + 4 <= k; j += 4)
        for (size_t l = 0; l < 4; l++) {
            pi[j + l] = score[j + l] >= cut ? in : out;
            n[l] += score[j + l] >= cut ? 1.0 : 0.0;
            sum[l] += score[j + l] >= cut ? (double)(j + l) : 0.0;
        }
    size_t m = (size_t)n[0] + (size_t)n[1] + (size_t)n[2] + (size_t)n[3];
    *at = (size_t)sum[0] + (size_t)sum[1] + (size_t)sum[2] + (size_t)sum[3];
    for (; j < k; j++) {
        pi[j] = score[j] >= cut ? in : out;
        m += score[j] >= cut;
        *at += score[j] >= cut ? j : 0;
    }
    return m;
}

/* pi_j = eps/K + (1 - eps) greedy_j; greedy_j = 1/|M| on the top set M
 * = {j : score_j >= max - 1e-9 max(1, |max|)}. Plain greedy is eps = 0.
 * pi is written once on the guess |M| = 1 (the usual case: then the top
 * set is the maximum alone) and again only when the count says otherwise.
 * Returns the index with pi = 1 when there is one (plain greedy, one top
 * score), else GOPE_PI_SPREAD. */
static size_t select_greedy(const double *score, size_t k, double eps, double max, double *pi)
{
    const double cut = isfinite(max) ? max - 1e-9 * fmax(1.0, fabs(max)) : max;
    const double floor_pi = eps == 0.0 ? 0.0 : eps / (double)k, keep = 1.0 - eps;
    /* the two values pi_j can take, formed once: the fill is then a select
     * the compiler vectorises (out's top * 0 is an exact 0 for any top) */
    const double out = floor_pi + keep * indicator[0];
    size_t at;
    const size_t m = fill_cut(score, k, cut, floor_pi + keep * indicator[1], out, pi, &at);
    if (m == 1)
        return eps == 0.0 ? at : GOPE_PI_SPREAD;
    /* a tie, or every score NaN (all candidates then count as tied); the
     * division is skipped above, where its result 1 is known exactly */
    const int all = m == 0;
    const double in = floor_pi + keep * ((1.0 / (double)(all ? k : m)) * indicator[1]);
    fill_cut(score, k, cut, in, all ? in : out, pi, &at);
    return GOPE_PI_SPREAD;
}

/* Whether t is a normal power of two: then 1 / t is exact, and x * (1 / t)
 * is the same double as x / t (both are x 2^-e, correctly rounded). */
static bool exact_reciprocal(double t)
{
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    const uint64_t exponent = bits >> 52 & 0x7FF, mantissa = bits & ((UINT64_C(1) << 52) - 1);
    return mantissa == 0 && exponent != 0 && exponent != 0x7FF;
}

/* pi_j = exp((score_j - max) / t) / sum: every exponent <= 0, the top one 0,
 * so nothing overflows and the sum is >= 1. The usual temperatures (1,
 * 0.5, ...) are powers of two, whose division is a multiplication. */
static size_t select_softmax(const double *score, size_t k, double t, double max, double *pi)
{
    if (!isfinite(max))
        return select_greedy(score, k, 0.0, max, pi);
    const bool by_inverse = exact_reciprocal(t);
    const double inv_t = 1.0 / t;
    double sum = 0.0;
    for (size_t j = 0; j < k; j++) {
        const double d = score[j] - max;
        pi[j] = isnan(score[j]) ? 0.0 : exp(by_inverse ? d * inv_t : d / t);
        sum += pi[j];
    }
    for (size_t j = 0; j < k; j++)
        pi[j] /= sum;
    return GOPE_PI_SPREAD;
}

void gope_policy_scores(const gope_policy_set_t *set, size_t i, const gope_event *ev,
                        double *score)
{
    assert(i < set->n);
    score_all(&set->policies[i], ev, score);
}

size_t gope_policy_probs(const gope_policy_set_t *set, size_t i, const gope_event *ev,
                         double *pi, double *scratch)
{
    assert(i < set->n);
    const gope_policy *p = &set->policies[i];
    size_t k = ev->n_candidates;
    switch (p->select) {
    case GOPE_SEL_GREEDY:
        return select_greedy(scratch, k, 0.0, score_all(p, ev, scratch), pi);
    case GOPE_SEL_EPSILON_GREEDY:
        return select_greedy(scratch, k, p->epsilon, score_all(p, ev, scratch), pi);
    case GOPE_SEL_SOFTMAX:
        return select_softmax(scratch, k, p->temperature, score_all(p, ev, scratch), pi);
    case GOPE_SEL_UNIFORM:
    case GOPE_SEL_COUNT:
        break;
    }
    for (size_t j = 0; j < k; j++)
        pi[j] = 1.0 / (double)k;
    return k == 1 ? 0 : GOPE_PI_SPREAD;
}
