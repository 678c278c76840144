/*
 * test_policy_score.c — every score term and selection rule on hand-built
 * events. Expected scores are the literal formula of docs/policies.md
 * evaluated independently (derive_expected.py prints them, Python doubles);
 * since the definition is exact, scores must match bit for bit. Softmax goes
 * through exp, whose last bit may differ between C libraries: 1e-15 relative.
 * Every distribution is checked to lie in [0,1] and sum to 1 within 1e-12.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gope_policy.h"

#define MAXK 8

static gope_policy_set_t *parse_ok(const char *json)
{
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    gope_status st = gope_policies_parse(json, strlen(json), "test", &set, &err);
    cr_assert_eq(st, GOPE_OK, "parse failed: %s", err.msg);
    return set;
}

static void check_distribution(const double *pi, size_t k)
{
    double sum = 0;
    for (size_t j = 0; j < k; j++) {
        cr_assert(pi[j] >= 0.0 && pi[j] <= 1.0, "pi[%zu] = %.17g outside [0,1]", j, pi[j]);
        sum += pi[j];
    }
    cr_assert(fabs(sum - 1.0) <= 1e-12, "sum pi = %.17g", sum);
}

static void expect_exact(const double *got, const double *want, size_t k, const char *what)
{
    for (size_t j = 0; j < k; j++)
        cr_expect(got[j] == want[j], "%s [%zu]: got %.17g, want %.17g", what, j, got[j],
                  want[j]);
}

static void expect_close(const double *got, const double *want, size_t k, const char *what)
{
    for (size_t j = 0; j < k; j++)
        cr_expect(fabs(got[j] - want[j]) <= 1e-15 * fabs(want[j]),
                  "%s [%zu]: got %.17g, want %.17g", what, j, got[j], want[j]);
}

/* What gope_policy_probs() answered about pi: an index only when pi is
 * exactly one-hot there. */
static void expect_one_hot_answer(size_t top, const double *pi, size_t k)
{
    for (size_t j = 0; top != GOPE_PI_SPREAD && j < k; j++)
        cr_assert_eq(pi[j], j == top ? 1.0 : 0.0, "answered %zu, pi[%zu] = %.17g", top, j, pi[j]);
    cr_assert(top == GOPE_PI_SPREAD || top < k, "answered %zu of %zu", top, k);
}

/* pi of the only policy in `json` for candidates scored exactly `ev`. */
static void probs_of(const char *json, const double *ev, size_t k, double *pi)
{
    gope_candidate cand[MAXK];
    double scratch[MAXK];
    cr_assert(k <= MAXK);
    memset(cand, 0, sizeof cand);
    for (size_t j = 0; j < k; j++)
        cand[j].ev = ev[j];
    gope_event e = {.n_candidates = k, .candidates = cand};
    gope_policy_set_t *set = parse_ok(json);
    gope_policy_probs(set, 0, &e, pi, scratch);
    gope_policies_free(set);
    check_distribution(pi, k);
}

/* ------------------------------------------------------------ score terms */

/* The event of derive_expected.py (CANDS, LOG_LAMBDA). */
static gope_event score_event(gope_candidate *c, bool is_whale, bool with_lambda)
{
    static const gope_candidate proto[4] = {
        {.ev = 1.3, .sigma = 0.4, .load = 90, .capacity = 100, .whales = 0, .head = true},
        {.ev = 0.7, .sigma = 1.1, .load = 0, .capacity = 0, .whales = 2, .cold_start = true},
        {.ev = 2.25, .sigma = 0.05, .load = 120, .capacity = 100, .whales = 1},
        {.ev = 0.0, .sigma = 0.0, .load = 5, .capacity = 5, .whales = 3, .cold_start = true,
         .head = true},
    };
    memcpy(c, proto, sizeof proto);
    /* without the flag the values must be ignored, whatever they hold */
    gope_event e = {.n_candidates = 4, .candidates = c, .is_whale = is_whale,
                    .has_lambda_values = with_lambda};
    e.lambda_values[GOPE_C_CAPACITY] = with_lambda ? 0.7 : 99.0;
    e.lambda_values[GOPE_C_COLDSTART] = with_lambda ? 0.3 : 99.0;
    e.lambda_values[GOPE_C_HEAD] = with_lambda ? 0.2 : 99.0;
    e.lambda_values[GOPE_C_WHALE] = with_lambda ? 0.45 : 99.0;
    return e;
}

static const char score_policies[] =
    "[{\"name\":\"beta_pos\",\"select\":\"greedy\",\"beta\":0.5},"
    " {\"name\":\"beta_neg\",\"select\":\"greedy\",\"beta\":-1.5},"
    " {\"name\":\"crowd\",\"select\":\"greedy\",\"crowding_alpha\":2,\"crowding_threshold\":0.8},"
    " {\"name\":\"bonus\",\"select\":\"greedy\",\"coldstart_bonus\":0.75},"
    " {\"name\":\"fixed\",\"select\":\"greedy\",\"whale_k\":2,"
    "  \"lambda\":{\"capacity\":0.4,\"coldstart\":0.2,\"head\":0.15,\"whale\":0.3}},"
    " {\"name\":\"log\",\"select\":\"greedy\",\"lambda\":\"log\"},"
    " {\"name\":\"all\",\"select\":\"softmax\",\"temperature\":0.5,\"beta\":0.3,"
    "  \"crowding_alpha\":1.5,\"crowding_threshold\":0.5,\"coldstart_bonus\":0.1,\"whale_k\":0,"
    "  \"lambda\":{\"whale\":0.3,\"head\":0.15,\"coldstart\":0.2,\"capacity\":0.4}},"
    " {\"name\":\"whale3\",\"select\":\"greedy\",\"lambda\":{\"whale\":0.3},\"whale_k\":3}]";

typedef struct {
    size_t policy;
    bool is_whale, with_lambda;
    double want[4];
} score_case;

static const score_case score_cases[] = {
    {0, true, true, {1.5, 1.25, 2.275, 0.0}},
    {1, true, true, {0.7, -0.9500000000000002, 2.175, 0.0}},
    {2, true, true, {1.0833333333333335, 0.7, 1.25, 0.0}},
    {3, true, true, {1.3, 1.45, 2.25, 0.75}},
    {4, true, true, {1.1500000000000001, 0.6, 1.85, -0.6499999999999999}},
    {4, false, true, {1.1500000000000001, 0.8999999999999999, 1.85, -0.35}},
    {5, true, true, {1.1, 0.5499999999999999, 1.1, -1.05}},
    {5, false, true, {1.1, 1.0, 1.55, -0.6}},
    {5, true, false, {1.3, 0.7, 2.25, 0.0}}, /* "log" without lambda_values */
    {6, true, true, {0.4375, 1.0300000000000002, 0.40487804878048794, -0.5499999999999999}},
    {6, false, true, {0.7374999999999999, 1.33, 0.7048780487804879, -0.24999999999999997}},
    {7, true, true, {1.3, 0.7, 2.25, -0.3}},
    {7, false, true, {1.3, 0.7, 2.25, 0.0}},
};

Test(policy_score, every_term_bit_exact)
{
    gope_policy_set_t *set = parse_ok(score_policies);
    for (size_t i = 0; i < sizeof score_cases / sizeof score_cases[0]; i++) {
        const score_case *sc = &score_cases[i];
        gope_candidate c[4];
        gope_event e = score_event(c, sc->is_whale, sc->with_lambda);
        double got[4], pi[4], scratch[4];
        char what[96];
        snprintf(what, sizeof what, "%s whale=%d lambda_values=%d",
                 gope_policy_name(set, sc->policy), sc->is_whale, sc->with_lambda);
        gope_policy_scores(set, sc->policy, &e, got);
        expect_exact(got, sc->want, 4, what);
        gope_policy_probs(set, sc->policy, &e, pi, scratch);
        check_distribution(pi, 4);
    }
    gope_policies_free(set);
}

Test(policy_score, softmax_on_scored_event)
{
    static const double want[4] = {0.18704569854710834, 0.6117679012499208,
                                   0.17523169362317398, 0.025954706579796993};
    gope_policy_set_t *set = parse_ok(score_policies);
    gope_candidate c[4];
    gope_event e = score_event(c, true, false);
    double pi[4], scratch[4];
    gope_policy_probs(set, 6, &e, pi, scratch);
    expect_close(pi, want, 4, "all");
    check_distribution(pi, 4);
    gope_policies_free(set);
}

/* beta and coldstart_bonus +0 take a path that reads ev alone; its scores
 * must be the formula's bits, signed zeros included (-0 sums become +0),
 * and so must those of -0 parameters, which take the general path. */
Test(policy_score, zero_terms_bit_exact)
{
    static const double evs[] = {-0.0, 0.0, 1.5, 4e-320, 7e300}, sigmas[] = {-0.0, 0.0, 2.0};
    enum { K = 5 * 3 * 2 };
    gope_candidate c[K];
    size_t k = 0;
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++)
            for (int cs = 0; cs < 2; cs++)
                c[k++] = (gope_candidate){.ev = evs[i], .sigma = sigmas[j], .cold_start = cs};
    gope_event e = {.n_candidates = K, .candidates = c};
    gope_policy_set_t *set = parse_ok(
        "[{\"name\":\"plain\",\"select\":\"greedy\"},"
        " {\"name\":\"minus\",\"select\":\"greedy\",\"beta\":-0.0,\"coldstart_bonus\":-0.0}]");
    static const double param[2] = {0.0, -0.0};
    double score[K];
    for (size_t p = 0; p < 2; p++) {
        gope_policy_scores(set, p, &e, score);
        for (size_t j = 0; j < K; j++) {
            const double want = (c[j].ev + param[p] * c[j].sigma) + param[p] * (double)c[j].cold_start;
            cr_expect_eq(memcmp(&score[j], &want, sizeof want), 0, "%s [%zu]: %.17g, want %.17g",
                         gope_policy_name(set, p), j, score[j], want);
        }
    }
    gope_policies_free(set);
}

Test(policy_score, huge_load_does_not_overflow)
{
    gope_candidate c = {.ev = 2.0, .load = INT64_MAX, .capacity = 5};
    gope_event e = {.n_candidates = 1, .candidates = &c};
    gope_policy_set_t *set = parse_ok(
        "[{\"name\":\"p\",\"select\":\"greedy\",\"lambda\":{\"capacity\":0.5},"
        "\"crowding_alpha\":1}]");
    double s;
    gope_policy_scores(set, 0, &e, &s);
    double g = 1.0 / (1.0 + ((double)INT64_MAX / 5.0 - 1.0));
    cr_expect(s == 2.0 * g - 0.5, "score %.17g", s);
    gope_policies_free(set);
}

/* --------------------------------------------------------------- greedy */

static const char greedy_json[] = "[{\"name\":\"g\",\"select\":\"greedy\"}]";

Test(policy_greedy, exact_ties_split_evenly)
{
    static const double ev[4] = {2.0, 5.0, 5.0, 1.0}, want[4] = {0, 0.5, 0.5, 0};
    double pi[4];
    probs_of(greedy_json, ev, 4, pi);
    expect_exact(pi, want, 4, "tie");
}

Test(policy_greedy, near_ties_small_scores)
{
    /* max 0.5: cut = 0.5 - 1e-9; 1e-12 below is inside, 1e-6 below outside */
    static const double ev[4] = {0.5, 0.5 - 1e-12, 0.5 - 1e-6, 0.5 - 2e-9};
    static const double want[4] = {0.5, 0.5, 0, 0};
    double pi[4];
    probs_of(greedy_json, ev, 4, pi);
    expect_exact(pi, want, 4, "small");
}

Test(policy_greedy, near_ties_around_zero)
{
    /* max 0: the tolerance is absolute, 1e-9 */
    static const double ev[3] = {0.0, -5e-10, -2e-9}, want[3] = {0.5, 0.5, 0};
    double pi[3];
    probs_of(greedy_json, ev, 3, pi);
    expect_exact(pi, want, 3, "zero");
}

Test(policy_greedy, near_ties_large_scores)
{
    /* max 1e12: cut = 1e12 - 1000 (relative 1e-9) */
    static const double ev[5] = {1e12 - 500, 1e12, 1e12 - 1e-3, 1e12 - 2000, 1e12 - 999};
    static const double want[5] = {0.25, 0.25, 0.25, 0, 0.25};
    double pi[5];
    probs_of(greedy_json, ev, 5, pi);
    expect_exact(pi, want, 5, "large");
}

Test(policy_greedy, near_ties_negative_scores)
{
    /* max -1e6: cut = -1e6 - 1e-3, below the max, as |max| scales it */
    static const double ev[4] = {-1e6 - 5e-4, -1e6 - 2e-3, -1e6, -1e6 - 1e-6};
    static const double want[4] = {1.0 / 3, 0, 1.0 / 3, 1.0 / 3};
    double pi[4];
    probs_of(greedy_json, ev, 4, pi);
    expect_exact(pi, want, 4, "negative");
}

Test(policy_greedy, single_winner_and_k1)
{
    static const double ev[3] = {0.1, 0.3, 0.2}, want[3] = {0, 1, 0}, one = 7.0;
    double pi[3];
    probs_of(greedy_json, ev, 3, pi);
    expect_exact(pi, want, 3, "winner");
    probs_of(greedy_json, &one, 1, pi);
    cr_expect(pi[0] == 1.0);
}

/* ------------------------------------------------------------- softmax */

Test(policy_softmax, values)
{
    static const double ev1[3] = {1, 2, 3};
    static const double want1[3] = {0.015876239976466765, 0.11731042782619838,
                                    0.8668133321973349};
    static const double ev2[4] = {0.1, 0.4, 0.2, 0.4};
    static const double want2[4] = {0.12767843694138567, 0.34706597502382286,
                                    0.17818961301096867, 0.34706597502382286};
    double pi[4];
    probs_of("[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":0.5}]", ev1, 3, pi);
    expect_close(pi, want1, 3, "t=0.5");
    probs_of("[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":0.3}]", ev2, 4, pi);
    expect_close(pi, want2, 4, "t=0.3");
    cr_expect(pi[1] == pi[3], "equal scores, equal probabilities");
}

Test(policy_softmax, extreme_scores_do_not_overflow)
{
    static const double ev[3] = {1e308, -1e308, 0}, want[3] = {1, 0, 0};
    static const double ev2[2] = {1000, 0}, want2[2] = {1, 0};
    static const double ev3[2] = {700, 700}, want3[2] = {0.5, 0.5};
    double pi[3];
    probs_of("[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":1e-300}]", ev, 3, pi);
    expect_exact(pi, want, 3, "1e308");
    probs_of("[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":1}]", ev2, 2, pi);
    expect_exact(pi, want2, 2, "exp(-1000) underflows to 0");
    probs_of("[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":0.001}]", ev3, 2, pi);
    expect_exact(pi, want3, 2, "exp(700/0.001) would overflow without the max shift");
}

Test(policy_softmax, huge_temperature_is_uniform)
{
    static const double ev[4] = {0, 1, 2, 3}, want[4] = {0.25, 0.25, 0.25, 0.25};
    double pi[4];
    probs_of("[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":1e300}]", ev, 4, pi);
    expect_exact(pi, want, 4, "t=1e300");
}

/* Parameters far outside sane ranges overflow scores to inf or NaN; pi must
 * still be a distribution: NaN gets 0, an infinite max is the greedy limit. */
Test(policy_softmax, overflowing_scores_stay_a_distribution)
{
    gope_candidate c[3] = {
        {.ev = 1, .sigma = 1e10},
        {.ev = 2, .sigma = 1e10, .load = 3, .capacity = 1, .head = true}, /* inf - inf */
        {.ev = 3},
    };
    gope_event e = {.n_candidates = 3, .candidates = c};
    gope_policy_set_t *set = parse_ok(
        "[{\"name\":\"s\",\"select\":\"softmax\",\"temperature\":1,\"beta\":1e308,"
        "  \"lambda\":{\"capacity\":1e308,\"head\":1e308}},"
        " {\"name\":\"g\",\"select\":\"greedy\",\"beta\":1e308,"
        "  \"lambda\":{\"capacity\":1e308,\"head\":1e308}},"
        " {\"name\":\"n\",\"select\":\"softmax\",\"temperature\":1,"
        "  \"lambda\":{\"capacity\":1e308,\"head\":1e308}}]");
    static const double want[3] = {1, 0, 0}, want_n[3] = {0.5, 0, 0.5};
    double pi[3], scratch[3];
    gope_policy_scores(set, 0, &e, scratch);
    cr_assert(isinf(scratch[0]) && isnan(scratch[1]), "the test needs inf and NaN scores");
    cr_expect_eq(gope_policy_probs(set, 0, &e, pi, scratch), 0);
    expect_exact(pi, want, 3, "softmax, inf max");
    cr_expect_eq(gope_policy_probs(set, 1, &e, pi, scratch), 0);
    expect_exact(pi, want, 3, "greedy, inf max");
    /* finite max: a NaN score gets 0, a -inf one exp(-inf) = 0 */
    c[0].ev = 3;
    c[0].sigma = 0;
    for (size_t p = 0; p < 3; p++) {
        gope_policy_probs(set, p, &e, pi, scratch);
        expect_exact(pi, want_n, 3, gope_policy_name(set, p));
    }
    /* every score NaN: all candidates tie */
    static const double third[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    for (size_t j = 0; j < 3; j++)
        c[j] = c[1];
    for (size_t p = 0; p < 2; p++) {
        cr_expect_eq(gope_policy_probs(set, p, &e, pi, scratch), GOPE_PI_SPREAD);
        expect_exact(pi, third, 3, gope_policy_name(set, p));
    }
    gope_policies_free(set);
}

/* One -inf score among NaN ones: the top set is the -inf one alone (it is
 * >= the cut, -inf), though no score ever compared greater than -inf. */
Test(policy_greedy, lone_minus_infinity_among_nan)
{
    static const double ev[3] = {NAN, -INFINITY, NAN}, want[3] = {0, 1, 0};
    gope_candidate cand[3] = {{.ev = ev[0]}, {.ev = ev[1]}, {.ev = ev[2]}};
    gope_event e = {.n_candidates = 3, .candidates = cand};
    gope_policy_set_t *set = parse_ok("[{\"name\":\"g\",\"select\":\"greedy\"}]");
    double pi[3], scratch[3];
    cr_expect_eq(gope_policy_probs(set, 0, &e, pi, scratch), 1);
    expect_exact(pi, want, 3, "greedy");
    gope_policies_free(set);
}

/* The top score at every position of events longer than the four lanes the
 * maximum is tracked in (and their tails): greedy answers its index, and a
 * tie with any other position answers GOPE_PI_SPREAD. */
Test(policy_greedy, one_hot_answer_at_every_position)
{
    enum { K = 23 };
    gope_candidate c[K];
    double pi[K], scratch[K];
    gope_policy_set_t *set = parse_ok("[{\"name\":\"g\",\"select\":\"greedy\"},"
                                      " {\"name\":\"e\",\"select\":\"epsilon_greedy\","
                                      "  \"epsilon\":0.1}]");
    for (size_t k = 1; k <= K; k++)
        for (size_t t = 0; t < k; t++) {
            for (size_t j = 0; j < k; j++)
                c[j] = (gope_candidate){.ev = (double)((j * 7) % 5)};
            c[t].ev = 9;
            gope_event e = {.n_candidates = k, .candidates = c};
            cr_assert_eq(gope_policy_probs(set, 0, &e, pi, scratch), t, "k %zu", k);
            expect_one_hot_answer(t, pi, k);
            const size_t eps_answer = gope_policy_probs(set, 1, &e, pi, scratch);
            expect_one_hot_answer(eps_answer, pi, k);
            cr_assert(k == 1 || eps_answer == GOPE_PI_SPREAD);
            for (size_t u = 0; u < k; u++) {
                if (u == t)
                    continue;
                c[u].ev = 9;
                cr_assert_eq(gope_policy_probs(set, 0, &e, pi, scratch), GOPE_PI_SPREAD);
                cr_assert_eq(pi[t], 0.5);
                c[u].ev = (double)((u * 7) % 5);
            }
        }
    gope_policies_free(set);
}

/* ------------------------------------------------- epsilon-greedy, uniform */

Test(policy_eps_greedy, mixes_uniform_and_greedy)
{
    static const double ev[4] = {2, 5, 5, 1};
    static const double want[4] = {0.025, 0.47500000000000003, 0.47500000000000003, 0.025};
    double pi[4];
    probs_of("[{\"name\":\"e\",\"select\":\"epsilon_greedy\",\"epsilon\":0.1}]", ev, 4, pi);
    expect_exact(pi, want, 4, "eps=0.1");
}

Test(policy_eps_greedy, epsilon_0_is_greedy_and_1_is_uniform)
{
    static const double ev[4] = {2, 5, 4, 1};
    static const double greedy[4] = {0, 1, 0, 0}, uniform[4] = {0.25, 0.25, 0.25, 0.25};
    double pi[4];
    probs_of("[{\"name\":\"e\",\"select\":\"epsilon_greedy\",\"epsilon\":0}]", ev, 4, pi);
    expect_exact(pi, greedy, 4, "eps=0");
    probs_of("[{\"name\":\"e\",\"select\":\"epsilon_greedy\",\"epsilon\":1}]", ev, 4, pi);
    expect_exact(pi, uniform, 4, "eps=1");
}

Test(policy_eps_greedy, on_scored_event)
{
    static const double want[4] = {0.075, 0.7749999999999999, 0.075, 0.075};
    gope_policy_set_t *set = parse_ok(
        "[{\"name\":\"e\",\"select\":\"epsilon_greedy\",\"epsilon\":0.3,\"beta\":0.3,"
        "  \"crowding_alpha\":1.5,\"crowding_threshold\":0.5,\"coldstart_bonus\":0.1,"
        "  \"whale_k\":0,"
        "  \"lambda\":{\"capacity\":0.4,\"coldstart\":0.2,\"head\":0.15,\"whale\":0.3}}]");
    gope_candidate c[4];
    gope_event e = score_event(c, true, false);
    double pi[4], scratch[4];
    gope_policy_probs(set, 0, &e, pi, scratch);
    expect_exact(pi, want, 4, "eps=0.3");
    gope_policies_free(set);
}

Test(policy_uniform, one_over_k)
{
    static const double ev[3] = {9, 0, 3}, want[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    double pi[3];
    probs_of("[{\"name\":\"u\",\"select\":\"uniform\"}]", ev, 3, pi);
    expect_exact(pi, want, 3, "uniform");
}

Test(policy_probs, k1_is_certain_for_every_rule)
{
    static const char *const rules[] = {
        "[{\"name\":\"a\",\"select\":\"greedy\",\"beta\":-3}]",
        "[{\"name\":\"a\",\"select\":\"softmax\",\"temperature\":1e-9}]",
        "[{\"name\":\"a\",\"select\":\"epsilon_greedy\",\"epsilon\":0.5}]",
        "[{\"name\":\"a\",\"select\":\"uniform\"}]",
    };
    const double ev = 4.0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        double pi = -1;
        probs_of(rules[i], &ev, 1, &pi);
        cr_expect(pi == 1.0, "%s: pi = %.17g", rules[i], pi);
    }
}

/* Random events through the default set: pi is a distribution, and greedy's
 * support is exactly the top set of the scores gope_policy_scores reports. */
Test(policy_probs, random_events_default_set)
{
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK, "%s", err.msg);
    uint64_t x = 0x9E3779B97F4A7C15u;
    gope_candidate c[MAXK];
    double pi[MAXK], scratch[MAXK], score[MAXK];
    for (int round = 0; round < 2000; round++) {
        size_t k = 1 + (size_t)(round % MAXK);
        for (size_t j = 0; j < k; j++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            c[j] = (gope_candidate){
                .ev = (double)(x >> 40 & 0xff) / 16.0, /* coarse: frequent ties */
                .sigma = (double)(x >> 32 & 0xff) / 64.0,
                .load = (int64_t)(x >> 20 & 0x3f),
                .capacity = (int64_t)(x >> 26 & 0x1f) * ((x >> 31) & 1),
                .whales = (int64_t)(x >> 12 & 3),
                .cold_start = (x >> 14) & 1,
                .head = (x >> 15) & 1,
            };
        }
        gope_event e = {.n_candidates = k, .candidates = c, .is_whale = round & 1,
                        .has_lambda_values = round & 2,
                        .lambda_values = {0.5, 0.25, 0.125, 1.5}};
        for (size_t p = 0; p < gope_policies_count(set); p++) {
            expect_one_hot_answer(gope_policy_probs(set, p, &e, pi, scratch), pi, k);
            check_distribution(pi, k);
        }
        gope_policy_scores(set, 0, &e, score); /* "greedy" */
        const size_t top = gope_policy_probs(set, 0, &e, pi, scratch);
        double max = score[0];
        size_t in_top = 0;
        for (size_t j = 1; j < k; j++)
            max = fmax(max, score[j]);
        for (size_t j = 0; j < k; j++) {
            cr_assert_eq(pi[j] > 0, score[j] >= max - 1e-9 * fmax(1, fabs(max)));
            in_top += pi[j] > 0;
        }
        cr_assert_eq(top != GOPE_PI_SPREAD, in_top == 1, "greedy with %zu top scores answered %zu",
                     in_top, top);
    }
    gope_policies_free(set);
}
