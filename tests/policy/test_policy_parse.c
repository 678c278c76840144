/*
 * test_policy_parse.c — the policies.v1 parser: accepted files (parameters
 * land where they should, checked through the scores they produce), every
 * rejection with its exact message, and file loading. The messages are part
 * of the user interface (giftope prints them as usage errors), so they are
 * compared in full.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_policy.h"
#include "policy_int.h"

static gope_status parse(const char *json, gope_policy_set_t **set, gope_err *err)
{
    return gope_policies_parse(json, strlen(json), "policies.json", set, err);
}

/* ---------------------------------------------------------------- errors */

typedef struct {
    const char *json;
    const char *msg;
} bad_case;

#define P(body) "[{\"name\":\"p\"," body "}]"
#define LABEL "policies.json: policy \"p\" (#1): "

static const bad_case bad_cases[] = {
    /* the file as a whole */
    {"{}", "policies.json: expected a JSON array of policies"},
    {"\"x\"", "policies.json: expected a JSON array of policies"},
    {"[]", "policies.json: empty array: at least one policy is required"},
    {"", "policies.json: invalid JSON at line 1, column 1"},
    {"[\n  {\"name\": \"a\",\n   \"select\": greedy}]",
     "policies.json: invalid JSON at line 3, column 14"},
    {"[{\"name\":\"a\",\"select\":\"greedy\"}] x", "policies.json: invalid JSON at line 1, column 34"},
    {"[{\"name\":\"a\",\"select\":\"greedy\"}]]", "policies.json: invalid JSON at line 1, column 33"},
    {P("\"select\":\"greedy\",\"beta\":NaN"), "policies.json: invalid JSON at line 1, column 39"},
    {P("\"select\":\"greedy\",\"beta\":Infinity"),
     "policies.json: invalid JSON at line 1, column 39"},
    /* the policy object and its name */
    {"[1]", "policies.json: policy #1: must be a JSON object"},
    {"[{\"name\":\"a\",\"select\":\"greedy\"}, []]", "policies.json: policy #2: must be a JSON object"},
    {"[{\"select\":\"greedy\"}]", "policies.json: policy #1: name: missing"},
    {"[{\"name\":3,\"select\":\"greedy\"}]", "policies.json: policy #1: name: must be a string"},
    {"[{\"name\":\"\",\"select\":\"greedy\"}]", "policies.json: policy #1: name: must not be empty"},
    {"[{\"name\":\"a b\",\"select\":\"greedy\"}]",
     "policies.json: policy #1: name: only letters, digits, '_', '.' and '-' are allowed"},
    {"[{\"name\":\"caf\\u00e9\",\"select\":\"greedy\"}]",
     "policies.json: policy #1: name: only letters, digits, '_', '.' and '-' are allowed"},
    {"[{\"name\":\"x1234567890123456789012345678901234567890123456789012345678901234\","
     "\"select\":\"greedy\"}]",
     "policies.json: policy #1: name: longer than 64 bytes"},
    {"[{\"name\":\"a\",\"select\":\"greedy\"},{\"name\":\"b\",\"select\":\"greedy\"},"
     "{\"name\":\"a\",\"select\":\"uniform\"}]",
     "policies.json: policy \"a\" (#3): name: duplicate of policy #1"},
    /* select */
    {P("\"beta\":1"), LABEL "select: missing"},
    {P("\"select\":1"), LABEL "select: must be a string"},
    {P("\"select\":\"best\""),
     LABEL "select: unknown rule \"best\" (expected greedy, softmax, epsilon_greedy or uniform)"},
    {P("\"select\":\"Greedy\""),
     LABEL "select: unknown rule \"Greedy\" (expected greedy, softmax, epsilon_greedy or uniform)"},
    /* keys */
    {P("\"select\":\"softmax\",\"temprature\":1"),
     LABEL "temprature: unknown key (did you mean \"temperature\"?)"},
    {P("\"select\":\"greedy\",\"Beta\":1"), LABEL "Beta: unknown key (did you mean \"beta\"?)"},
    {P("\"select\":\"greedy\",\"whatever\":1"), LABEL "whatever: unknown key"},
    {P("\"select\":\"greedy\",\"beta\":1,\"beta\":2"), LABEL "beta: duplicate key"},
    {"[{\"name\":\"p\",\"select\":\"greedy\",\"name\":\"q\"}]", LABEL "name: duplicate key"},
    {P("\"select\":\"greedy\",\"description\":5"), LABEL "description: must be a string"},
    /* parameters that do not apply to the rule */
    {P("\"select\":\"greedy\",\"temperature\":1"),
     LABEL "temperature: does not apply to select \"greedy\""},
    {P("\"select\":\"softmax\",\"temperature\":1,\"epsilon\":0.1"),
     LABEL "epsilon: does not apply to select \"softmax\""},
    {P("\"select\":\"uniform\",\"beta\":1"), LABEL "beta: does not apply to select \"uniform\""},
    {P("\"select\":\"uniform\",\"lambda\":\"log\""),
     LABEL "lambda: does not apply to select \"uniform\""},
    /* required parameters */
    {P("\"select\":\"softmax\""), LABEL "temperature: missing (required for select \"softmax\")"},
    {P("\"select\":\"epsilon_greedy\""),
     LABEL "epsilon: missing (required for select \"epsilon_greedy\")"},
    /* ranges */
    {P("\"select\":\"softmax\",\"temperature\":0"), LABEL "temperature: must be > 0"},
    {P("\"select\":\"softmax\",\"temperature\":-1"), LABEL "temperature: must be > 0"},
    {P("\"select\":\"softmax\",\"temperature\":\"0.5\""), LABEL "temperature: must be a number"},
    {P("\"select\":\"epsilon_greedy\",\"epsilon\":-0.1"), LABEL "epsilon: must be in [0, 1]"},
    {P("\"select\":\"epsilon_greedy\",\"epsilon\":1.5"), LABEL "epsilon: must be in [0, 1]"},
    {P("\"select\":\"epsilon_greedy\",\"epsilon\":true"), LABEL "epsilon: must be a number"},
    {P("\"select\":\"greedy\",\"crowding_alpha\":-1"), LABEL "crowding_alpha: must be >= 0"},
    {P("\"select\":\"greedy\",\"beta\":1e400"), LABEL "beta: must be a finite number"},
    {P("\"select\":\"greedy\",\"coldstart_bonus\":null"), LABEL "coldstart_bonus: must be a number"},
    {P("\"select\":\"greedy\",\"crowding_threshold\":[1]"),
     LABEL "crowding_threshold: must be a number"},
    {P("\"select\":\"greedy\",\"whale_k\":1.5"), LABEL "whale_k: must be an integer >= 0"},
    {P("\"select\":\"greedy\",\"whale_k\":-1"), LABEL "whale_k: must be an integer >= 0"},
    {P("\"select\":\"greedy\",\"whale_k\":1e300"), LABEL "whale_k: must be an integer >= 0"},
    /* lambda */
    {P("\"select\":\"greedy\",\"lambda\":\"logged\""),
     LABEL "lambda: must be \"log\" or an object {constraint: price}"},
    {P("\"select\":\"greedy\",\"lambda\":0.5"),
     LABEL "lambda: must be \"log\" or an object {constraint: price}"},
    {P("\"select\":\"greedy\",\"lambda\":{\"capcity\":1}"),
     LABEL "lambda: unknown constraint \"capcity\" (known: capacity, coldstart, head, whale)"},
    {P("\"select\":\"greedy\",\"lambda\":{\"head\":\"x\"}"), LABEL "lambda.head: must be a number"},
    {P("\"select\":\"greedy\",\"lambda\":{\"whale\":-1e999}"),
     LABEL "lambda.whale: must be a finite number"},
    {P("\"select\":\"greedy\",\"lambda\":{\"head\":1,\"head\":2}"),
     LABEL "lambda: duplicate constraint \"head\""},
    /* errors are reported in a later policy too, with its own label */
    {"[{\"name\":\"a\",\"select\":\"greedy\"},{\"name\":\"ucb\",\"select\":\"greedy\","
     "\"temperature\":0}]",
     "policies.json: policy \"ucb\" (#2): temperature: does not apply to select \"greedy\""},
    {"[{\"name\":\"a\",\"select\":\"greedy\"},{\"name\":\"ucb\",\"select\":\"softmax\","
     "\"temperature\":0}]",
     "policies.json: policy \"ucb\" (#2): temperature: must be > 0"},
};

Test(policy_parse, rejects_with_exact_messages)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char junk;
        gope_policy_set_t *set = (gope_policy_set_t *)(void *)&junk; /* must become NULL */
        gope_err err = {{0}};
        gope_status st = parse(bad_cases[i].json, &set, &err);
        cr_expect_eq(st, GOPE_ERR_USAGE, "case %zu (%s): status %d", i, bad_cases[i].json, st);
        cr_expect_null(set, "case %zu: *out must be NULL on failure", i);
        cr_expect_str_eq(err.msg, bad_cases[i].msg, "case %zu (%s)", i, bad_cases[i].json);
        if (st == GOPE_OK)
            gope_policies_free(set);
    }
}

Test(policy_parse, rejects_nul_byte)
{
    static const char text[] = "[{\"name\":\"a\",\"select\":\"greedy\"}]\0garbage";
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_parse(text, sizeof text - 1, "f.json", &set, &err),
                 GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "f.json: invalid JSON: NUL byte at offset 32");
    cr_expect_null(set);
}

/* Builds "[p0, p1, ...]" of `n` greedy policies named p0..p{n-1}. */
static char *many_policies(size_t n)
{
    char *buf = malloc(n * 48 + 4), *at = buf;
    cr_assert_not_null(buf);
    *at++ = '[';
    for (size_t i = 0; i < n; i++)
        at += sprintf(at, "%s{\"name\":\"p%zu\",\"select\":\"greedy\"}", i ? "," : "", i);
    strcpy(at, "]");
    return buf;
}

Test(policy_parse, at_most_256_policies)
{
    char *ok = many_policies(256), *over = many_policies(257);
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(parse(ok, &set, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_policies_count(set), 256);
    cr_expect_str_eq(gope_policy_name(set, 255), "p255");
    gope_policies_free(set);
    cr_expect_eq(parse(over, &set, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "policies.json: 257 policies: at most 256 are allowed");
    free(ok);
    free(over);
}

/* ------------------------------------------------------------ accepted */

Test(policy_parse, defaults_and_every_parameter)
{
    static const char json[] =
        "[ {\"name\": \"plain\", \"select\": \"greedy\"},\n"
        "  {\"name\": \"Full-1.x_y\", \"select\": \"softmax\", \"temperature\": 0.25,\n"
        "   \"beta\": -0.5, \"crowding_alpha\": 2, \"crowding_threshold\": 0.7,\n"
        "   \"coldstart_bonus\": 0.3, \"whale_k\": 2.0, \"description\": \"any text\",\n"
        "   \"lambda\": {\"head\": 0.1, \"whale\": 0, \"capacity\": 2}},\n"
        "  {\"name\": \"e\", \"select\": \"epsilon_greedy\", \"epsilon\": 0, \"lambda\": {}},\n"
        "  {\"name\": \"z\", \"select\": \"greedy\", \"lambda\": {\"head\": 0, \"coldstart\": -0.0}},\n"
        "  {\"name\": \"l\", \"select\": \"greedy\", \"lambda\": \"log\", \"whale_k\": 0},\n"
        "  {\"name\": \"u\", \"select\": \"uniform\", \"description\": \"\"},\n"
        "  {\"name\": \"x123456789012345678901234567890123456789012345678901234567890123\","
        "   \"select\": \"epsilon_greedy\", \"epsilon\": 1} ]";
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(parse(json, &set, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_policies_count(set), 7);
    const gope_policy *p = set->policies;
    cr_expect_str_eq(p[0].name, "plain");
    cr_expect(p[0].select == GOPE_SEL_GREEDY && p[0].beta == 0 && p[0].crowding_alpha == 0 &&
              p[0].crowding_threshold == 1 && p[0].coldstart_bonus == 0 && p[0].whale_k == 1 &&
              p[0].lambda_mode == GOPE_LAMBDA_NONE);
    cr_expect_str_eq(gope_policy_name(set, 1), "Full-1.x_y");
    cr_expect(p[1].select == GOPE_SEL_SOFTMAX && p[1].temperature == 0.25 && p[1].beta == -0.5 &&
              p[1].crowding_alpha == 2 && p[1].crowding_threshold == 0.7 &&
              p[1].coldstart_bonus == 0.3 && p[1].whale_k == 2);
    cr_expect(p[1].lambda_mode == GOPE_LAMBDA_FIXED && p[1].lambda[GOPE_C_CAPACITY] == 2 &&
              p[1].lambda[GOPE_C_COLDSTART] == 0 && p[1].lambda[GOPE_C_HEAD] == 0.1 &&
              p[1].lambda[GOPE_C_WHALE] == 0);
    cr_expect(p[2].select == GOPE_SEL_EPSILON_GREEDY && p[2].epsilon == 0);
    cr_expect_eq(p[2].lambda_mode, GOPE_LAMBDA_NONE, "{} has no active term");
    cr_expect_eq(p[3].lambda_mode, GOPE_LAMBDA_NONE, "all-zero prices have no active term");
    cr_expect(p[4].lambda_mode == GOPE_LAMBDA_LOG && p[4].whale_k == 0);
    cr_expect_eq(p[5].select, GOPE_SEL_UNIFORM);
    cr_expect_eq(strlen(gope_policy_name(set, 6)), 64);
    cr_expect_eq(p[6].epsilon, 1);
    gope_policies_free(set);
}

Test(policy_parse, null_source_and_whitespace)
{
    static const char json[] = " \t\r\n[{\"name\":\"a\",\"select\":\"uniform\"}]\n\n";
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_parse(json, sizeof json - 1, NULL, &set, &err), GOPE_OK);
    gope_policies_free(set);
    cr_assert_eq(gope_policies_parse("{", 1, NULL, &set, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "policies: invalid JSON at line 1, column 2");
}

Test(policy_parse, text_need_not_be_nul_terminated)
{
    /* only the first `len` bytes count: the trailing "x" is not part of the text */
    static const char text[] = "[{\"name\":\"a\",\"select\":\"greedy\"}]x";
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_parse(text, sizeof text - 2, "t", &set, &err), GOPE_OK, "%s",
                 err.msg);
    gope_policies_free(set);
}

/* ------------------------------------------------------------- loading */

Test(policy_load, oracle_policy_files)
{
    static const char *const cases[] = {"case1_all_k10", "case2_hopping_zst", "case3_edge"};
    static const char *const names3[] = {"greedy", "greedy_log", "eps_log", "softmax_log",
                                         "crowd_cap", "eps0", "eps1", "uniform"};
    for (size_t c = 0; c < 3; c++) {
        char path[512];
        gope_policy_set_t *set = NULL;
        gope_err err = {{0}};
        snprintf(path, sizeof path, "%s/oracle/e2e/%s/policies.json", GOPE_TEST_DATA, cases[c]);
        cr_assert_eq(gope_policies_load(path, &set, &err), GOPE_OK, "%s", err.msg);
        cr_expect_eq(gope_policies_count(set), 8);
        if (c == 2)
            for (size_t i = 0; i < 8; i++)
                cr_expect_str_eq(gope_policy_name(set, i), names3[i]);
        else
            cr_expect_str_eq(gope_policy_name(set, 5), "shadow_fixed");
        gope_policies_free(set);
    }
}

Test(policy_load, missing_file_is_io_error)
{
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_load("/nonexistent/p.json", &set, &err), GOPE_ERR_IO);
    cr_expect_str_eq(err.msg, "/nonexistent/p.json: cannot open: No such file or directory");
    cr_expect_null(set);
}

Test(policy_load, directory_is_io_error)
{
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_policies_load("/", &set, &err), GOPE_ERR_IO);
    cr_expect_str_eq(err.msg, "/: cannot read: Is a directory");
}

Test(policy_load, errors_name_the_file)
{
    char path[] = "/tmp/gope_policies_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs("[{\"name\": \"ucb\", \"select\": \"greedy\", \"lambda\": {\"queue\": 1}}]\n", f);
    fclose(f);
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    gope_status st = gope_policies_load(path, &set, &err);
    remove(path);
    cr_assert_eq(st, GOPE_ERR_USAGE);
    char want[256];
    snprintf(want, sizeof want,
             "%s: policy \"ucb\" (#1): lambda: unknown constraint \"queue\" "
             "(known: capacity, coldstart, head, whale)", path);
    cr_expect_str_eq(err.msg, want);
}

Test(policy_load, reads_large_files_whole)
{
    /* a description larger than the first read buffer */
    char path[] = "/tmp/gope_policies_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs("[{\"name\": \"big\", \"select\": \"uniform\", \"description\": \"", f);
    for (int i = 0; i < 20000; i++)
        fputc('a' + i % 26, f);
    fputs("\"}]", f);
    fclose(f);
    gope_policy_set_t *set = NULL;
    gope_err err = {{0}};
    gope_status st = gope_policies_load(path, &set, &err);
    remove(path);
    cr_assert_eq(st, GOPE_OK, "%s", err.msg);
    cr_expect_str_eq(gope_policy_name(set, 0), "big");
    gope_policies_free(set);
}
