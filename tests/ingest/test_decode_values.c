/*
 * test_decode_values.c — the value checks of the alloc.v1 contract on both
 * decoders: event_id, ts, candidate count, ev, the other candidate fields,
 * action, propensity, reward, probs and the non-finite optional fields,
 * each with its edge values, and the fixed order between them. Lines and
 * helpers come from decode_test.h.
 */
#include <math.h>

#include "decode_test.h"

TestSuite(decode_values, .init = decode_test_setup, .fini = decode_test_teardown);

Test(decode_values, bad_event_id)
{
    expect_both(with("\"event_id\":\"\","), GOPE_R_BAD_EVENT_ID, "empty");
    char prefix[512], id[300];
    memset(id, 'a', sizeof id);
    for (int len = 127; len <= 129; len++) {
        snprintf(prefix, sizeof prefix, "\"event_id\":\"%.*s\",", len, id);
        outcome o = expect_both(with(prefix), len <= 128 ? GOPE_R_OK : GOPE_R_BAD_EVENT_ID, NULL);
        if (len <= 128)
            cr_expect(o.ev.event_id_len == (size_t)len && strlen(o.ev.event_id) == (size_t)len);
    }
    /* the limit counts decoded bytes: \u00e9 is 2 bytes */
    snprintf(prefix, sizeof prefix, "\"event_id\":\"%.*s\\u00e9\",", 126, id);
    expect_both(with(prefix), GOPE_R_OK, NULL);
    snprintf(prefix, sizeof prefix, "\"event_id\":\"%.*s\\u00e9\",", 127, id);
    expect_both(with(prefix), GOPE_R_BAD_EVENT_ID, "129 bytes");
}

Test(decode_values, bad_ts)
{
    static const char *const bad[] = {"-1", "253402300800000", "9007199254740992",
                                      "9223372036854775807", "9223372036854775808",
                                      "-9223372036854775809", "1000000000000000000000000"};
    char prefix[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(prefix, sizeof prefix, "\"ts\":%s,", bad[i]);
        expect_both(with(prefix), GOPE_R_BAD_TS, NULL);
    }
    static const char *const good[] = {"0", "-0", "253402300799999", "1735689600000"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(prefix, sizeof prefix, "\"ts\":%s,", good[i]);
        outcome o = expect_both(with(prefix), GOPE_R_OK, NULL);
        cr_expect_eq(o.ev.ts, strtoll(good[i], NULL, 10));
    }
}

Test(decode_values, bad_candidates_count)
{
    expect_both(with("\"candidates\":[],"), GOPE_R_BAD_CANDIDATES, "0 candidates");
    expect_both(line_with("\"candidates\":[],", "action"), GOPE_R_MISSING_FIELD, "action");
}

Test(decode_values, bad_ev)
{
    static const case_t cases[] = {
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":-1.5}],", "candidates[0].ev -1.5"},
        {"\"candidates\":[" C0 ",{\"streamer_id\":\"s\",\"ev\":1e400}],", "candidates[1].ev inf"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":-1e400}],", "candidates[0].ev -inf"},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":-1e-300}],", "candidates[0].ev -1e-300"},
        /* ev before the other fields of the same candidate */
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":-1,\"sigma\":-1}],", "candidates[0].ev"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_BAD_EV);
    expect_both(with("\"candidates\":[{\"streamer_id\":\"s\",\"ev\":-0}],\"action\":0,"),
                GOPE_R_OK, NULL);
    /* candidates in order: candidate 0's sigma before candidate 1's ev */
    expect_both(with("\"candidates\":[{\"streamer_id\":\"s\",\"ev\":1,\"sigma\":-1},"
                     "{\"streamer_id\":\"s\",\"ev\":-1}],"),
                GOPE_R_BAD_CANDIDATE_FIELD, "candidates[0].sigma");
}

#define CAND_WITH(extra) "\"candidates\":[" C0 ",{\"streamer_id\":\"s\",\"ev\":1," extra "}],"

Test(decode_values, bad_candidate_field)
{
    static const case_t cases[] = {
        {CAND_WITH("\"sigma\":-0.1"), "candidates[1].sigma -0.1"},
        {CAND_WITH("\"sigma\":1e999"), "candidates[1].sigma inf"},
        {CAND_WITH("\"load\":-1"), "candidates[1].load -1 < 0"},
        {CAND_WITH("\"load\":9007199254740992"), "candidates[1].load out of range"},
        {CAND_WITH("\"capacity\":0"), "candidates[1].capacity 0 < 1"},
        {CAND_WITH("\"capacity\":-5"), "candidates[1].capacity -5 < 1"},
        {CAND_WITH("\"capacity\":99999999999999999999"), "candidates[1].capacity out of range"},
        {CAND_WITH("\"whales\":-1"), "candidates[1].whales -1 < 0"},
        {CAND_WITH("\"whales\":-9007199254740992"), "candidates[1].whales out of range"},
        /* sigma, load, capacity, whales in that order */
        {CAND_WITH("\"whales\":-1,\"load\":-1"), "candidates[1].load"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_BAD_CANDIDATE_FIELD);
    outcome o = expect_both(with(CAND_WITH("\"capacity\":1,\"load\":9007199254740991")),
                            GOPE_R_OK, NULL);
    cr_expect(o.ev.candidates[1].capacity == 1 && o.ev.candidates[1].load == 9007199254740991);
}

Test(decode_values, action_out_of_range)
{
    static const case_t cases[] = {
        {"\"action\":-1,", "action -1 of 2"}, {"\"action\":2,", "action 2 of 2"},
        {"\"action\":100,", "action 100 of 2"},
        {"\"action\":9007199254740992,", "action"},
        {"\"action\":99999999999999999999999,", "action"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_ACTION_OUT_OF_RANGE);
    expect_both(with("\"action\":0,"), GOPE_R_OK, NULL);
}

Test(decode_values, bad_propensity)
{
    static const case_t cases[] = {
        {"\"propensity\":0,", "propensity 0"}, {"\"propensity\":-0,", "propensity -0"},
        {"\"propensity\":-0.25,", "propensity -0.25"}, {"\"propensity\":1.5,", "propensity 1.5"},
        {"\"propensity\":1.0000000000000002,", "propensity 1.0000000000000002"},
        {"\"propensity\":1e400,", "propensity inf"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_BAD_PROPENSITY);
    expect_both(with("\"propensity\":1,"), GOPE_R_OK, NULL);
    expect_both(with("\"propensity\":5e-324,"), GOPE_R_OK, NULL);
}

Test(decode_values, bad_reward)
{
    static const case_t cases[] = {
        {"\"reward\":-1,", "reward -1"}, {"\"reward\":-1e-300,", "reward -1e-300"},
        {"\"reward\":1e400,", "reward inf"}, {"\"reward\":-1e400,", "reward -inf"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_BAD_REWARD);
    expect_both(with("\"reward\":-0,"), GOPE_R_OK, NULL);
    expect_both(with("\"reward\":1e308,"), GOPE_R_OK, NULL);
}

Test(decode_values, bad_probs)
{
    static const case_t cases[] = {
        {"\"probs\":[1],", "probs has 1 entries for 2 candidates"},
        {"\"probs\":[],", "probs has 0 entries"},
        {"\"probs\":[0.75,0.25,0],", "probs has 3 entries"},
        {"\"probs\":[-0.1,1.1],", "probs[0] -0.1 outside [0,1]"},
        {"\"probs\":[0,1e400],", "probs[1] inf"},
        {"\"probs\":[0.5,0.4],\"propensity\":0.4,", "probs sum to 0.9"},
        {"\"probs\":[0.5,0.500002],\"propensity\":0.500002,", "probs sum"},
        {"\"probs\":[0.75,0.25],\"propensity\":0.2,", "probs[action] 0.25 != propensity 0.2"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_BAD_PROBS);
    outcome o = expect_both(with("\"probs\":[0.75,0.2500005],\"propensity\":0.25,"), GOPE_R_OK,
                            NULL);
    cr_expect(o.ev.probs && o.ev.probs[1] == 0.2500005);
    /* a long probs array, summing to 1 up to rounding */
    char *p = many_candidates(1000, 0, C0);
    size_t n = strlen(p) + 1000 * 6 + 64;
    char *prefix = malloc(n);
    cr_assert_not_null(prefix);
    size_t k = (size_t)sprintf(prefix, "%s\"probs\":[", p);
    for (int i = 0; i < 1000; i++)
        k += (size_t)sprintf(prefix + k, "%s0.001", i ? "," : "");
    sprintf(prefix + k, "],\"propensity\":0.001,");
    expect_both(with(prefix), GOPE_R_OK, NULL);
    free(prefix);
    free(p);
}

Test(decode_values, bad_field_value)
{
    static const case_t cases[] = {
        {"\"lambda_values\":{\"capacity\":1e400},", "lambda_values member #0 not finite"},
        {"\"lambda_values\":{\"a\":1,\"zz\":-1e400},", "lambda_values member #1"},
        {"\"uncertainty_score\":1e999,", "uncertainty_score inf"},
        {"\"uncertainty_score\":-1e999,", "uncertainty_score -inf"},
        {"\"constraint_violations\":{\"x\":1e400},", "constraint_violations member #0"},
        /* in the fixed order */
        {"\"constraint_violations\":{\"x\":1e400},\"uncertainty_score\":1e400,",
         "uncertainty_score"},
    };
    expect_cases(cases, sizeof cases / sizeof cases[0], GOPE_R_BAD_FIELD_VALUE);
    expect_both(with("\"lambda_values\":{},\"constraint_violations\":{},\"uncertainty_score\":-5,"),
                GOPE_R_OK, NULL);
}

Test(decode_values, precedence_across_steps)
{
    static const struct {
        const char *prefix;
        gope_reason want;
    } cases[] = {
        {"\"schema\":\"x\",\"ts\":\"x\",", GOPE_R_UNKNOWN_SCHEMA},
        {"\"event_id\":\"\",\"ts\":-1,", GOPE_R_BAD_EVENT_ID},
        {"\"ts\":-1,\"candidates\":[],", GOPE_R_BAD_TS},
        {"\"candidates\":[],\"propensity\":2,", GOPE_R_BAD_CANDIDATES},
        {"\"candidates\":[{\"streamer_id\":\"s\",\"ev\":-1}],\"action\":5,", GOPE_R_BAD_EV},
        {CAND_WITH("\"load\":-1") "\"action\":5,", GOPE_R_BAD_CANDIDATE_FIELD},
        {"\"action\":5,\"propensity\":2,", GOPE_R_ACTION_OUT_OF_RANGE},
        {"\"propensity\":2,\"reward\":-1,", GOPE_R_BAD_PROPENSITY},
        {"\"reward\":-1,\"probs\":[1],", GOPE_R_BAD_REWARD},
        {"\"probs\":[1],\"uncertainty_score\":1e400,", GOPE_R_BAD_PROBS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_both(with(cases[i].prefix), cases[i].want, NULL);
    /* missing before values, wrong type before missing */
    expect_both(line_with("\"ts\":-1,", "user_id"), GOPE_R_MISSING_FIELD, "user_id");
    expect_both(line_with("\"ts\":1.5,", "user_id"), GOPE_R_WRONG_TYPE, "ts");
}

