/*
 * test_policy_default.c — the built-in policy set: it parses, its names and
 * order are the documented ones, each policy behaves as its documentation row
 * says on one discriminating event (numbers from derive_expected.py), and
 * docs/policies.md quotes its JSON text verbatim, so the two cannot drift.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_policy.h"

typedef struct {
    const char *name;
    double score[3], pi[3];
} default_case;

/* is_whale, lambda_values = {capacity: 0.5}; see dcands in derive_expected.py */
static const default_case default_cases[] = {
    {"greedy", {1.3, 1.2, 0.9}, {1, 0, 0}},
    {"ucb", {1.8, 1.3, 1.9}, {0, 0, 1}},
    {"lcb", {0.8, 1.0999999999999999, -0.09999999999999998}, {0, 1, 0}},
    {"softmax", {1.3, 1.2, 0.9}, {0.4409054983951879, 0.36098289073731504, 0.19811161086749707}},
    {"eps_greedy", {1.3, 1.2, 0.9}, {0.9333333333333333, 0.03333333333333333, 0.03333333333333333}},
    {"crowding", {1.0833333333333335, 1.2, 0.9}, {0, 1, 0}},
    {"coldstart", {1.3, 1.7, 0.9}, {0.03333333333333333, 0.9333333333333333, 0.03333333333333333}},
    {"shadow_log", {0.8, 1.2, 0.9}, {0, 1, 0}},
};
#define N_DEFAULT (sizeof default_cases / sizeof default_cases[0])

static gope_policy_set_t *default_set(void)
{
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_default(&set, &err), GOPE_OK, "%s", err.msg);
    return set;
}

static gope_event default_event(gope_candidate *c, bool with_lambda)
{
    c[0] = (gope_candidate){.ev = 1.3, .sigma = 0.5, .load = 10, .capacity = 10};
    c[1] = (gope_candidate){.ev = 1.2, .sigma = 0.1, .cold_start = true};
    c[2] = (gope_candidate){.ev = 0.9, .sigma = 1.0, .load = 2, .capacity = 10, .whales = 1,
                            .head = true};
    return (gope_event){.n_candidates = 3, .candidates = c, .is_whale = true,
                        .has_lambda_values = with_lambda, .lambda_values = {0.5, 0, 0, 0}};
}

Test(policy_default, names_in_documented_order)
{
    gope_policy_set_t *set = default_set();
    cr_assert_eq(gope_policies_count(set), N_DEFAULT);
    for (size_t i = 0; i < N_DEFAULT; i++)
        cr_expect_str_eq(gope_policy_name(set, i), default_cases[i].name);
    gope_policies_free(set);
}

Test(policy_default, each_policy_behaves_as_documented)
{
    gope_policy_set_t *set = default_set();
    gope_candidate c[3];
    gope_event e = default_event(c, true);
    for (size_t i = 0; i < N_DEFAULT; i++) {
        double score[3], pi[3], scratch[3];
        gope_policy_scores(set, i, &e, score);
        gope_policy_probs(set, i, &e, pi, scratch);
        for (size_t j = 0; j < 3; j++) {
            cr_expect(score[j] == default_cases[i].score[j], "%s score[%zu] = %.17g",
                      default_cases[i].name, j, score[j]);
            cr_expect(fabs(pi[j] - default_cases[i].pi[j]) <= 1e-15, "%s pi[%zu] = %.17g",
                      default_cases[i].name, j, pi[j]);
        }
    }
    gope_policies_free(set);
}

Test(policy_default, shadow_log_without_logged_prices_is_greedy)
{
    gope_policy_set_t *set = default_set();
    gope_candidate c[3];
    gope_event e = default_event(c, false);
    double pi[3], scratch[3];
    gope_policy_probs(set, 7, &e, pi, scratch);
    cr_expect(pi[0] == 1 && pi[1] == 0 && pi[2] == 0);
    gope_policies_free(set);
}

Test(policy_default, json_text_round_trips_and_is_documented)
{
    const char *json = gope_policies_default_json();
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_parse(json, strlen(json), "copy", &set, &err), GOPE_OK, "%s",
                 err.msg);
    cr_expect_eq(gope_policies_count(set), N_DEFAULT);
    gope_policies_free(set);

    FILE *f = fopen(GOPE_TEST_DATA "/../../docs/policies.md", "rb");
    cr_assert_not_null(f, "docs/policies.md missing");
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    cr_expect_not_null(strstr(doc, json), "docs/policies.md must quote the built-in JSON");
}
