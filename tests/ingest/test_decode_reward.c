/*
 * test_decode_reward.c — reward.v1 lines through both decoders: the kind,
 * the values, every reject reason with its detail, and that a decision's
 * kind and require_reward work as before.
 */
#include "decode_test.h"

TestSuite(decode_reward, .init = decode_test_setup, .fini = decode_test_teardown);

#define RW "\"schema\":\"reward.v1\","

/* A reward line: RW, `members`, then the base reward fields minus `omit`. */
static const char *reward_line(const char *members, const char *omit)
{
    static char buf[1024];
    static const char *const fields[] = {"\"event_id\":\"e1\"", "\"ts\":1500", "\"reward\":2.5"};
    size_t n = (size_t)snprintf(buf, sizeof buf, "{" RW "%s", members ? members : "");
    bool first = true;
    for (size_t i = 0; i < 3; i++) {
        if (omit && strncmp(fields[i] + 1, omit, strlen(omit)) == 0)
            continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", first ? "" : ",", fields[i]);
        first = false;
    }
    snprintf(buf + n, sizeof buf - n, "}");
    return buf;
}

Test(decode_reward, a_reward_line_decodes_as_a_reward)
{
    outcome o = expect_both(reward_line(NULL, NULL), GOPE_R_OK, NULL);
    cr_expect_eq(o.ev.kind, GOPE_EV_REWARD);
    cr_expect_str_eq(o.ev.event_id, "e1");
    cr_expect_eq(o.ev.event_id_len, 2);
    cr_expect_eq(o.ev.ts, 1500);
    cr_expect_eq(o.ev.reward, 2.5);
    cr_expect(o.ev.has_reward);
    cr_expect_eq(o.ev.n_candidates, 0);
    cr_expect_str_eq(o.detail, "");
}

Test(decode_reward, schema_may_come_anywhere_and_unknown_members_are_ignored)
{
    const char *lines[] = {
        "{\"event_id\":\"e\",\"ts\":0,\"reward\":0,\"schema\":\"reward.v1\"}",
        "{\"reward\":1e3,\"schema\":\"reward\\u002ev1\",\"ts\":7,\"event_id\":\"e\"}",
        /* alloc.v1 members mean nothing to reward.v1, even malformed ones */
        "{" RW "\"event_id\":\"e\",\"ts\":1,\"reward\":3,\"candidates\":7,\"action\":\"x\"}",
        " {" RW "\"event_id\":\"e\",\"ts\":1,\"reward\":3,\"gift\":{\"n\":[1,2]}} \r",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_expect_eq(expect_both(lines[i], GOPE_R_OK, NULL).ev.kind, GOPE_EV_REWARD, "%s",
                     lines[i]);
}

Test(decode_reward, wrong_types_in_field_order)
{
    static const case_t cases[] = {
        {"\"event_id\":1,", "event_id"},   {"\"event_id\":null,", "event_id"},
        {"\"ts\":\"1500\",", "ts"},        {"\"ts\":1.5,", "ts"},
        {"\"ts\":true,", "ts"},            {"\"reward\":\"2\",", "reward"},
        {"\"reward\":null,", "reward"},    {"\"reward\":[1],", "reward"},
        {"\"reward\":\"x\",\"ts\":\"y\",", "ts"}, /* ts before reward */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome o = expect_both(reward_line(cases[i].prefix, NULL), GOPE_R_WRONG_TYPE, NULL);
        cr_expect_str_eq(o.detail, cases[i].detail, "for %s", cases[i].prefix);
    }
}

Test(decode_reward, missing_fields_in_field_order)
{
    static const char *const fields[] = {"event_id", "ts", "reward"};
    for (size_t i = 0; i < 3; i++) {
        outcome o = expect_both(reward_line(NULL, fields[i]), GOPE_R_MISSING_FIELD, NULL);
        cr_expect_str_eq(o.detail, fields[i]);
    }
    /* a wrong type is reported before a missing field */
    expect_both("{" RW "\"ts\":\"x\"}", GOPE_R_WRONG_TYPE, "ts");
    expect_both("{" RW "\"ts\":1}", GOPE_R_MISSING_FIELD, "event_id");
}

Test(decode_reward, values)
{
    expect_both(reward_line("\"reward\":-0.5,", NULL), GOPE_R_BAD_REWARD, "reward -0.5");
    expect_both(reward_line("\"reward\":1e400,", NULL), GOPE_R_BAD_REWARD, "reward inf");
    expect_both(reward_line("\"reward\":-1e400,", NULL), GOPE_R_BAD_REWARD, "reward -inf");
    expect_both(reward_line("\"ts\":-1,", NULL), GOPE_R_BAD_TS, "negative");
    expect_both(reward_line("\"ts\":253402300800000,", NULL), GOPE_R_BAD_TS, "9999");
    expect_both(reward_line("\"ts\":9007199254740993,", NULL), GOPE_R_BAD_TS, "out of range");
    expect_both(reward_line("\"event_id\":\"\",", NULL), GOPE_R_BAD_EVENT_ID, "empty");
    char id[200], prefix[256];
    memset(id, 'x', 129);
    id[129] = '\0';
    snprintf(prefix, sizeof prefix, "\"event_id\":\"%s\",", id);
    expect_both(reward_line(prefix, NULL), GOPE_R_BAD_EVENT_ID, "129 bytes");
    /* event_id is checked before ts, ts before reward */
    expect_both(reward_line("\"event_id\":\"\",\"ts\":-1,\"reward\":-1,", NULL),
                GOPE_R_BAD_EVENT_ID, NULL);
    expect_both(reward_line("\"ts\":-1,\"reward\":-1,", NULL), GOPE_R_BAD_TS, NULL);
    outcome o = expect_both(reward_line("\"reward\":0,", NULL), GOPE_R_OK, NULL);
    cr_expect_eq(o.ev.reward, 0);
}

Test(decode_reward, other_schemas_are_unknown)
{
    static const char *const bad[] = {"\"reward.v2\"", "\"REWARD.V1\"", "\"reward.v1 \"",
                                      "\"reward\"", "\"reward.v10\"", "null"};
    char prefix[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(prefix, sizeof prefix, "{\"schema\":%s,\"event_id\":\"e\",\"ts\":1,\"reward\":1}",
                 bad[i]);
        expect_both(prefix, GOPE_R_UNKNOWN_SCHEMA, "\"reward.v1\"");
    }
}

Test(decode_reward, decisions_keep_their_kind_and_reward_rule)
{
    cr_expect_eq(expect_both(with(NULL), GOPE_R_OK, NULL).ev.kind, GOPE_EV_DECISION);
    cr_expect_eq(expect_both(with("\"schema\":\"alloc.v1\","), GOPE_R_OK, NULL).ev.kind,
                 GOPE_EV_DECISION);
    /* a decision without reward: missing with require_reward, reward 0 without */
    const char *no_reward = line_with(NULL, "reward");
    expect_both_n(no_reward, strlen(no_reward), true, GOPE_R_MISSING_FIELD, "reward");
    outcome o = expect_both_n(no_reward, strlen(no_reward), false, GOPE_R_OK, NULL);
    cr_expect(!o.ev.has_reward);
    cr_expect_eq(o.ev.kind, GOPE_EV_DECISION);
    /* a reward line never needs require_reward off */
    const char *r = reward_line(NULL, NULL);
    cr_expect_eq(expect_both_n(r, strlen(r), false, GOPE_R_OK, NULL).ev.kind, GOPE_EV_REWARD);
    /* the decoder forgets the previous line's kind */
    cr_expect_eq(expect_both(with(NULL), GOPE_R_OK, NULL).ev.kind, GOPE_EV_DECISION);
}
