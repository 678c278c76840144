/*
 * test_world_parse.c — world.v1 files in (sim/world_parse.c): a file changes
 * only what it gives, "base", every error message (a table of documents and
 * the message each must produce), loading presets and files, out of memory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "world_test.h"

/* ----------------------------------------------------------------- parse */

Test(sim_world_conf_parse, empty_object_is_giftlive_v2)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(parse(" {}\n", &c, &err), GOPE_OK, "%s", err.msg);
    const gope_world_conf want = tu_world_preset("giftlive-v2");
    expect_same(&c, &want);
}

Test(sim_world_conf_parse, base_kuailive_then_overrides)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(parse("{\"schema\":\"world.v1\",\"time\":{\"session\":\"round\"},"
                       "\"base\":\"kuailive\",\"gift\":{\"theta\":[0,1,2,3,4]}}",
                       &c, &err),
                 GOPE_OK, "%s", err.msg);
    gope_world_conf want = tu_world_preset("kuailive");
    want.session = GOPE_SESSION_ROUND;
    for (int i = 0; i < 5; i++)
        want.theta[i] = i;
    expect_same(&c, &want);
}

Test(sim_world_conf_parse, name_is_the_files)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(parse("{\"name\":\"my world\",\"base\":\"kuailive\"}", &c, &err), GOPE_OK,
                 "%s", err.msg);
    cr_expect_str_eq(c.name, "my world");
    /* Byte for byte the same world as when written over another base: the
     * base's longer name leaves nothing behind after the terminator. */
    gope_world_conf want = tu_world_preset("kuailive");
    memset(want.name, 0, sizeof want.name);
    strcpy(want.name, "my world");
    expect_same(&c, &want);
    cr_assert_eq(parse("{\"name\":\"" "123456789012345678901234567890123456789012345678901234"
                       "567890123\"}", &c, &err),
                 GOPE_OK, "63 bytes: %s", err.msg);
    cr_expect_eq(strlen(c.name), 63);
}

/* A failed parse leaves the caller's struct as it was. */
Test(sim_world_conf_parse, error_leaves_struct_alone)
{
    gope_world_conf c, before;
    memset(&c, 0x5a, sizeof c);
    memcpy(&before, &c, sizeof c);
    gope_err err;
    cr_assert_eq(parse("{\"users\":{\"count\":5000,\"dim\":0}}", &c, &err), GOPE_ERR_USAGE);
    cr_expect_eq(memcmp(&c, &before, sizeof c), 0);
}

Test(sim_world_conf_parse, nul_byte_and_default_source)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(gope_world_parse("{}\0", 3, "n.json", &c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "n.json: invalid JSON: NUL byte at offset 2");
    cr_assert_eq(gope_world_parse("{\"x\":1}", 7, NULL, &c, &err), GOPE_ERR_USAGE);
    cr_expect(strncmp(err.msg, "world: unknown field \"x\"", 24) == 0, "%s", err.msg);
    cr_assert_eq(gope_world_parse("", 0, "e.json", &c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "e.json: invalid JSON at line 1, column 1");
}

typedef struct {
    const char *json;
    const char *message; /* expected after "t.json: " */
} bad_case;

#define TIERS_AFTER_3 "100,520,1000,1314,5200,13140]"
static const bad_case bad_cases[] = {
    /* syntax and shape */
    {"{\n  \"users\": {\n    \"count\": 5,\n  }\n}", "invalid JSON at line 4, column 4"},
    {"{} x", "invalid JSON at line 1, column 4"},
    {"[1]", "a world.v1 document must be a JSON object, got an array"},
    {"{\"userz\":{}}",
     "unknown field \"userz\" (the top level has: schema, name, base, users, streamers, "
     "gift, amount, ev_model, time, candidates)"},
    {"{\"users\":{\"cuont\":5}}",
     "unknown field \"users.cuont\" (users has: count, wealth_mu, wealth_sigma, "
     "pareto_share, pareto_alpha, pareto_xm, whale_frac, dim)"},
    {"{\"time\":{\"session\":\"round\",\"sesion\":\"dwell\"}}", "unknown field \"time.sesion\""},
    {"{\"candidates\":{\"k\\u0001\":1}}", "unknown field \"candidates.k?\""},
    {"{\"users\":{\"count\":5,\"count\":6}}", "users.count is given twice"},
    {"{\"users\":{},\"users\":{}}", "users is given twice"},
    {"{\"users\":5}", "users must be an object, got a number"},
    /* header */
    {"{\"schema\":\"world.v2\"}", "schema must be \"world.v1\", got \"world.v2\""},
    {"{\"schema\":1}", "schema must be \"world.v1\", got a number"},
    {"{\"base\":\"nope\"}",
     "base: unknown world preset \"nope\" (known: giftlive-v2, kuailive)"},
    {"{\"base\":null}", "base must be a preset name, got null"},
    {"{\"name\":5}", "name must be a string, got a number"},
    {"{\"name\":\"1234567890123456789012345678901234567890123456789012345678901234\"}",
     "name must be at most 63 bytes, got 64"},
    {"{\"name\":\"\"}", "name must not be empty"},
    {"{\"name\":\"\xff\"}", "name must be valid UTF-8"},
    /* types */
    {"{\"users\":{\"count\":\"10\"}}", "users.count must be an integer, got a string"},
    {"{\"users\":{\"count\":1.5}}", "users.count must be an integer, got 1.5"},
    {"{\"users\":{\"count\":1e400}}", "users.count must be an integer, got inf"},
    {"{\"users\":{\"wealth_mu\":\"2\"}}", "users.wealth_mu must be a number, got a string"},
    {"{\"gift\":{\"theta\":5}}", "gift.theta must be an array of 5 numbers, got a number"},
    {"{\"gift\":{\"theta\":[1,2,3,4]}}", "gift.theta must be an array of 5 numbers, got 4"},
    {"{\"gift\":{\"theta\":[1,2,3,4,true]}}", "gift.theta[4] must be a number, got a boolean"},
    {"{\"amount\":{\"capacity_externality\":1}}",
     "amount.capacity_externality must be true or false, got a number"},
    {"{\"time\":{\"session\":\"both\"}}", "time.session must be \"round\" or \"dwell\", got \"both\""},
    {"{\"time\":{\"session\":0}}", "time.session must be \"round\" or \"dwell\", got a number"},
    /* ranges: integers */
    {"{\"users\":{\"count\":0}}", "users.count must be 1..10000000, got 0"},
    {"{\"users\":{\"count\":10000001}}", "users.count must be 1..10000000, got 10000001"},
    {"{\"users\":{\"dim\":65}}", "users.dim must be 1..64, got 65"},
    {"{\"streamers\":{\"count\":0}}", "streamers.count must be 1..100000, got 0"},
    {"{\"streamers\":{\"capacity_tail\":-5}}",
     "streamers.capacity_tail must be 0..9007199254740992, got -5"},
    {"{\"time\":{\"start_ms\":-1}}", "time.start_ms must be 0..9007199254740992, got -1"},
    {"{\"time\":{\"round_users\":0}}", "time.round_users must be 1..10000000, got 0"},
    {"{\"time\":{\"round_users\":10001}}",
     "time.round_users must be 1..users.count = 10000, got 10001"},
    {"{\"candidates\":{\"k\":1025}}", "candidates.k must be 0..1024, got 1025"},
    {"{\"candidates\":{\"k\":501}}",
     "candidates.k must be 0..min(1024, streamers.count) = 500, got 501"},
    {"{\"streamers\":{\"count\":2000}}",
     "candidates.k = 0 (every streamer) needs streamers.count <= 1024, got 2000"},
    /* ranges: reals */
    {"{\"users\":{\"wealth_mu\":1e400}}", "users.wealth_mu must be finite, got inf"},
    {"{\"gift\":{\"theta\":[-1e400,0,0,0,0]}}", "gift.theta[0] must be finite, got -inf"},
    {"{\"users\":{\"wealth_sigma\":0}}", "users.wealth_sigma must be > 0, got 0"},
    {"{\"users\":{\"pareto_alpha\":-1}}", "users.pareto_alpha must be > 0, got -1"},
    {"{\"users\":{\"pareto_xm\":0}}", "users.pareto_xm must be > 0, got 0"},
    {"{\"streamers\":{\"popularity_alpha\":0}}", "streamers.popularity_alpha must be > 0, got 0"},
    {"{\"amount\":{\"wealth_scale\":-3}}", "amount.wealth_scale must be > 0, got -3"},
    {"{\"users\":{\"pareto_share\":-0.5}}", "users.pareto_share must be in [0, 1], got -0.5"},
    {"{\"users\":{\"whale_frac\":1.5}}", "users.whale_frac must be in [0, 1], got 1.5"},
    {"{\"streamers\":{\"new_frac\":-0.1}}", "streamers.new_frac must be in [0, 1], got -0.1"},
    {"{\"streamers\":{\"head_frac\":2}}", "streamers.head_frac must be in [0, 1], got 2"},
    {"{\"streamers\":{\"tier_top_frac\":1.1}}",
     "streamers.tier_top_frac must be in [0, 1], got 1.1"},
    {"{\"streamers\":{\"tier_middle_frac\":-1}}",
     "streamers.tier_middle_frac must be in [0, 1], got -1"},
    {"{\"candidates\":{\"random_frac\":1.0000000000000002}}",
     "candidates.random_frac must be in [0, 1], got 1.0000000000000002"},
    {"{\"streamers\":{\"tier_top_frac\":0.6,\"tier_middle_frac\":0.5}}",
     "streamers.tier_top_frac + streamers.tier_middle_frac must be <= 1, got 1.1"},
    {"{\"amount\":{\"tiers\":[0,2,10,52," TIERS_AFTER_3 "}}", "amount.tiers[0] must be > 0, got 0"},
    {"{\"amount\":{\"tiers\":[1,2,10,10," TIERS_AFTER_3 "}}",
     "amount.tiers[3] must be > amount.tiers[2] = 10 (strictly increasing), got 10"},
    {"{\"amount\":{\"tiers\":[1,2,10,5," TIERS_AFTER_3 "}}",
     "amount.tiers[3] must be > amount.tiers[2] = 10 (strictly increasing), got 5"},
    {"{\"amount\":{\"tier_base\":[0.4,-0.02,0.15,0.08,0.035,0.022,0.008,0.003,0.0015,0.0005]}}",
     "amount.tier_base[1] must be >= 0, got -0.02"},
    {"{\"amount\":{\"tier_base\":[0.38,0.32,0.15,0.08,0.035,0.022,0.008,0.003,0.0015,0.0015]}}",
     "amount.tier_base must sum to 1 (within 1e-06), sums to 1.001"},
    {"{\"amount\":{\"wealth_lo\":2}}", "amount.wealth_lo must be < amount.wealth_hi = 2, got 2"},
    {"{\"amount\":{\"gamma\":-0.01}}", "amount.gamma must be >= 0, got -0.01"},
    {"{\"amount\":{\"capacity_alpha\":-1}}", "amount.capacity_alpha must be >= 0, got -1"},
    {"{\"gift\":{\"big_gift\":-1}}", "gift.big_gift must be >= 0, got -1"},
    {"{\"ev_model\":{\"noise_sd\":-0.1}}", "ev_model.noise_sd must be >= 0, got -0.1"},
    {"{\"ev_model\":{\"cold_mult\":-2}}", "ev_model.cold_mult must be >= 0, got -2"},
    {"{\"time\":{\"arrivals_per_s\":0}}", "time.arrivals_per_s must be > 0, got 0"},
    {"{\"time\":{\"peak_hour\":24}}", "time.peak_hour must be in [0, 24), got 24"},
    {"{\"time\":{\"peak_hour\":-0.5}}", "time.peak_hour must be in [0, 24), got -0.5"},
    {"{\"time\":{\"peak_amplitude\":-1}}", "time.peak_amplitude must be >= 0, got -1"},
    {"{\"time\":{\"peak_width_h\":0}}", "time.peak_width_h must be > 0, got 0"},
    {"{\"time\":{\"dwell_mean_s\":0}}", "time.dwell_mean_s must be > 0, got 0"},
};

Test(sim_world_conf_parse, every_error_names_source_and_field)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *b = &bad_cases[i];
        gope_world_conf c;
        gope_err err = {"(unset)"};
        char want[512];
        snprintf(want, sizeof want, "t.json: %s", b->message);
        cr_expect_eq(parse(b->json, &c, &err), GOPE_ERR_USAGE, "%s", b->json);
        cr_expect(strncmp(err.msg, want, strlen(want)) == 0, "%s\n  got:  %s\n  want: %s",
                  b->json, err.msg, want);
    }
}

/* The boundaries of the rules above are accepted. */
Test(sim_world_conf_parse, boundaries_are_accepted)
{
    static const char *const ok[] = {
        "{\"users\":{\"count\":10000000,\"dim\":64,\"whale_frac\":0,\"pareto_share\":1}}",
        "{\"users\":{\"count\":1},\"time\":{\"round_users\":1}}",
        "{\"streamers\":{\"count\":1024,\"tier_top_frac\":0.3,\"tier_middle_frac\":0.7}}",
        "{\"streamers\":{\"count\":100000,\"capacity_top\":0},\"candidates\":{\"k\":1024}}",
        "{\"candidates\":{\"k\":500,\"random_frac\":1}}",
        "{\"time\":{\"peak_hour\":0,\"peak_amplitude\":0,\"start_ms\":0}}",
        "{\"time\":{\"peak_hour\":23.999}}",
        "{\"amount\":{\"gamma\":0,\"capacity_alpha\":0,\"wealth_lo\":1.999999},"
        "\"ev_model\":{\"noise_sd\":0,\"cold_mult\":0},\"gift\":{\"big_gift\":0}}",
        "{\"amount\":{\"tier_base\":[1,0,0,0,0,0,0,0,0,0.0000009]}}",
        "{\"users\":{\"count\":1e3}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        gope_world_conf c;
        gope_err err;
        cr_expect_eq(parse(ok[i], &c, &err), GOPE_OK, "%s: %s", ok[i], err.msg);
    }
}

/* ------------------------------------------------------------------ load */

Test(sim_world_conf_load, preset_name_or_file)
{
    char *dir = tu_tmpdir();
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(gope_world_load("kuailive", &c, &err), GOPE_OK, "%s", err.msg);
    const gope_world_conf k = tu_world_preset("kuailive");
    expect_same(&c, &k);

    const char *path = in_dir(dir, "w.json");
    write_text(path, "{\"users\": {\"count\": 1234}}\n");
    cr_assert_eq(gope_world_load(path, &c, &err), GOPE_OK, "%s", err.msg);
    gope_world_conf want = tu_world_preset("giftlive-v2");
    want.n_users = 1234;
    expect_same(&c, &want);

    write_text(path, "{\"users\": {\"count\": 0}}\n");
    cr_assert_eq(gope_world_load(path, &c, &err), GOPE_ERR_USAGE);
    char msg[700];
    snprintf(msg, sizeof msg, "%s: users.count must be 1..10000000, got 0", path);
    cr_expect_str_eq(err.msg, msg);
    tu_rmtree(dir);
}

Test(sim_world_conf_load, unreadable_files)
{
    char *dir = tu_tmpdir();
    gope_world_conf c;
    gope_err err;
    char msg[700];
    const char *missing = in_dir(dir, "missing.json");
    cr_assert_eq(gope_world_load(missing, &c, &err), GOPE_ERR_IO);
    snprintf(msg, sizeof msg,
             "%s: cannot open: No such file or directory; unknown world preset \"%s\" "
             "(known: giftlive-v2, kuailive)",
             missing, missing);
    cr_expect_str_eq(err.msg, msg);

    cr_assert_eq(gope_world_load(dir, &c, &err), GOPE_ERR_IO);
    snprintf(msg, sizeof msg, "%s: cannot read: Is a directory", dir);
    cr_expect_str_eq(err.msg, msg);

    const char *big = in_dir(dir, "big.json");
    const size_t n = (1u << 20) + 1;
    char *spaces = malloc(n);
    cr_assert_not_null(spaces);
    memset(spaces, ' ', n);
    cr_assert(tu_write_file(big, spaces, n));
    free(spaces);
    cr_assert_eq(gope_world_load(big, &c, &err), GOPE_ERR_USAGE);
    snprintf(msg, sizeof msg, "%s: more than 1048576 bytes: not a world file", big);
    cr_expect_str_eq(err.msg, msg);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------------- oom */

static const char oom_text[] = "{\"base\":\"kuailive\",\"users\":{\"count\":500}}";

static gope_status parse_oom_text(void)
{
    gope_world_conf c;
    gope_err err;
    return gope_world_parse(oom_text, sizeof oom_text - 1, "oom.json", &c, &err);
}

Test(sim_world_conf_oom, parse_fails_cleanly)
{
    fa_exhaust(parse_oom_text, "gope_world_parse");
}

/* load allocates its read buffer, then parse its copy: each can fail. */
Test(sim_world_conf_oom, load_fails_cleanly)
{
    char *dir = tu_tmpdir();
    const char *path = in_dir(dir, "w.json");
    write_text(path, oom_text);
    gope_world_conf c;
    gope_err err;
    for (long n = 0; n < 2; n++) {
        fa_fail_after(n, false);
        gope_status st = gope_world_load(path, &c, &err);
        fa_off();
        cr_expect_eq(st, GOPE_ERR_NOMEM, "allocation %ld", n);
        cr_expect(strstr(err.msg, "out of memory"), "%s", err.msg);
    }
    cr_expect_eq(gope_world_load(path, &c, &err), GOPE_OK, "%s", err.msg);
    tu_rmtree(dir);
}
