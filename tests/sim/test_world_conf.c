/*
 * test_world_conf.c — the world configuration (sim/gope_sim.h,
 * "configuration"; docs/world.md): the presets, world.v1 JSON out and back
 * in, the range rules on structs built in code, and the JSON Schema
 * (schemas/world.v1.schema.json) against what giftope writes. Parsing files
 * and its errors: test_world_parse.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world_conf_int.h"
#include "world_test.h"

#define SCHEMA_DIR GOPE_TEST_DATA "/../../schemas"

/* --------------------------------------------------------------- presets */

Test(sim_world_conf_preset, names_and_all_validate)
{
    const char *const *names = gope_world_preset_names();
    cr_assert_str_eq(names[0], "giftlive-v2");
    cr_assert_str_eq(names[1], "kuailive");
    cr_assert_null(names[2]);
    for (size_t i = 0; names[i]; i++) {
        gope_world_conf c = tu_world_preset(names[i]);
        gope_err err;
        cr_expect_str_eq(c.name, names[i]);
        cr_expect_eq(gope_world_validate(&c, &err), GOPE_OK, "%s: %s", names[i], err.msg);
    }
}

Test(sim_world_conf_preset, giftlive_v2_is_simulator_v2_plus)
{
    const gope_world_conf c = tu_world_preset("giftlive-v2");
    cr_expect_eq(c.n_users, 10000);
    cr_expect_eq(c.n_streamers, 500);
    cr_expect_eq(c.wealth_mu, 2.5);
    cr_expect_eq(c.pareto_xm, 80);
    cr_expect_eq(c.dim, 16);
    cr_expect_eq(c.capacity_top, 100);
    cr_expect_eq(c.capacity_tail, 20);
    cr_expect_eq(c.theta[0], -6.5);
    cr_expect_eq(c.theta[4], -0.05);
    cr_expect_eq(c.tiers[7], 1314);
    cr_expect_eq(c.tier_base[9], 0.0005);
    cr_expect_eq(c.gamma, 0.02);
    cr_expect(!c.capacity_externality);
    cr_expect_eq(c.start_ms, 1735689600000);
    cr_expect_eq(c.session, GOPE_SESSION_ROUND);
    cr_expect_eq(c.round_users, 200);
    cr_expect_eq(c.candidates, 0);
}

/* kuailive changes these fields of giftlive-v2 and nothing else. */
Test(sim_world_conf_preset, kuailive_is_giftlive_v2_plus_its_changes)
{
    gope_world_conf k = tu_world_preset("kuailive");
    const gope_world_conf g = tu_world_preset("giftlive-v2");
    cr_expect_eq(k.n_users, 2000);
    cr_expect_eq(k.n_streamers, 3000);
    cr_expect_eq(k.popularity_alpha, 0.7);
    cr_expect_eq(k.theta[0], -10.26);
    cr_expect_eq(k.theta[1], 1.49);
    cr_expect_eq(k.theta[3], 2.0);
    cr_expect_eq(k.theta[4], -0.005);
    cr_expect_eq(k.tier_base[0], 0.3770787);
    cr_expect_eq(k.tier_base[9], 0.0001333);
    cr_expect_eq(k.wealth_slope, 0.2735);
    cr_expect_eq(k.gamma, 0.005);
    cr_expect(k.capacity_externality);
    cr_expect_eq(k.session, GOPE_SESSION_DWELL);
    cr_expect_eq(k.dwell_mean_s, 900);
    cr_expect_eq(k.candidates, 50);
    gope_err err = {{0}};
    cr_expect_eq(gope_world_validate(&k, &err), GOPE_OK, "%s", err.msg);
    strcpy(k.name, g.name);
    k.n_users = g.n_users;
    k.n_streamers = g.n_streamers;
    k.popularity_alpha = g.popularity_alpha;
    memcpy(k.theta, g.theta, sizeof k.theta);
    memcpy(k.tier_base, g.tier_base, sizeof k.tier_base);
    k.wealth_slope = g.wealth_slope;
    k.gamma = g.gamma;
    k.capacity_externality = g.capacity_externality;
    k.session = g.session;
    k.dwell_mean_s = g.dwell_mean_s;
    k.candidates = g.candidates;
    expect_same(&k, &g);
}

Test(sim_world_conf_preset, unknown_name_lists_the_known)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(gope_world_preset("giftlive-v3", &c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg,
                     "unknown world preset \"giftlive-v3\" (known: giftlive-v2, kuailive)");
}

/* ------------------------------------------------------------------ json */

Test(sim_world_conf_json, presets_round_trip_exactly)
{
    for (const char *const *n = gope_world_preset_names(); *n; n++) {
        const gope_world_conf c = tu_world_preset(*n);
        char *text = to_json(&c);
        gope_world_conf back;
        memset(&back, 0x5a, sizeof back);
        gope_err err;
        cr_assert_eq(parse(text, &back, &err), GOPE_OK, "%s: %s", *n, err.msg);
        expect_same(&back, &c);
        free(text);
    }
}

/* Every field changed from giftlive-v2 (listed here, not from the table):
 * a field the table forgot to write or read would come back as the base's. */
Test(sim_world_conf_json, every_field_round_trips)
{
    gope_world_conf c = tu_world_preset("giftlive-v2");
    const double theta[5] = {-1.1, 0.11, 0.22, 0.33, -0.44};
    strcpy(c.name, "every-field \"quoted\" \xc3\xa9");
    c.n_users = 777;
    c.wealth_mu = 1.25;
    c.wealth_sigma = 0.75;
    c.pareto_share = 0.1;
    c.pareto_alpha = 2.5;
    c.pareto_xm = 33.3;
    c.whale_frac = 0.05;
    c.dim = 7;
    c.n_streamers = 321;
    c.popularity_alpha = 0.9;
    c.new_frac = 1.0 / 3;
    c.head_frac = 0.05;
    c.tier_top_frac = 0.2;
    c.tier_middle_frac = 0.3;
    c.capacity_top = 7;
    c.capacity_middle = 0;
    c.capacity_tail = 3;
    memcpy(c.theta, theta, sizeof theta);
    c.big_gift = 55.5;
    for (int k = 0; k < GOPE_SIM_TIERS; k++) {
        c.tiers[k] = 0.5 + 3 * k;
        c.tier_base[k] = 0.1;
    }
    c.wealth_slope = 0.2;
    c.wealth_center = 2.5;
    c.wealth_scale = 1.5;
    c.wealth_lo = -0.5;
    c.wealth_hi = 1.5;
    c.match_slope = -0.1;
    c.gamma = 0.1;
    c.capacity_externality = true;
    c.capacity_alpha = 0.25;
    c.ev_noise_sd = 0.1;
    c.ev_noise_cold_mult = 3.5;
    c.start_ms = 9007199254740992; /* 2^53: the largest exact */
    c.arrivals_per_s = 0.5;
    c.peak_hour = 7.5;
    c.peak_amplitude = 0;
    c.peak_width_h = 0.5;
    c.round_users = 50;
    c.session = GOPE_SESSION_DWELL;
    c.dwell_mean_s = 120.5;
    c.candidates = 40;
    c.recall_random_frac = 0;
    gope_err err;
    cr_assert_eq(gope_world_validate(&c, &err), GOPE_OK, "%s", err.msg);
    char *text = to_json(&c);
    gope_world_conf back;
    cr_assert_eq(parse(text, &back, &err), GOPE_OK, "%s", err.msg);
    expect_same(&back, &c);
    free(text);
}

/* The layout of docs/world.md, written out independently of the table. */
Test(sim_world_conf_json, layout_has_every_group_and_field)
{
    static const char *const layout[][12] = {
        {"users", "count", "wealth_mu", "wealth_sigma", "pareto_share", "pareto_alpha",
         "pareto_xm", "whale_frac", "dim"},
        {"streamers", "count", "popularity_alpha", "new_frac", "head_frac", "tier_top_frac",
         "tier_middle_frac", "capacity_top", "capacity_middle", "capacity_tail"},
        {"gift", "theta", "big_gift"},
        {"amount", "tiers", "tier_base", "wealth_slope", "wealth_center", "wealth_scale",
         "wealth_lo", "wealth_hi", "match_slope", "gamma", "capacity_externality",
         "capacity_alpha"},
        {"ev_model", "noise_sd", "cold_mult"},
        {"time", "start_ms", "arrivals_per_s", "peak_hour", "peak_amplitude", "peak_width_h",
         "round_users", "session", "dwell_mean_s"},
        {"candidates", "k", "random_frac"},
    };
    const gope_world_conf c = tu_world_preset("kuailive");
    char *text = to_json(&c);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "%s", text);
    cr_expect_str_eq(tu_str(root, "schema"), "world.v1");
    cr_expect_str_eq(tu_str(root, "name"), "kuailive");
    const cJSON *item = root->child->next->next;
    for (size_t g = 0; g < sizeof layout / sizeof layout[0]; g++, item = item->next) {
        cr_assert_not_null(item);
        cr_expect_str_eq(item->string, layout[g][0]);
        const cJSON *f = item->child;
        for (size_t k = 1; k < 12 && layout[g][k]; k++, f = f->next) {
            cr_assert_not_null(f, "%s ends early", layout[g][0]);
            cr_expect_str_eq(f->string, layout[g][k]);
        }
        cr_expect_null(f, "%s has more fields", layout[g][0]);
    }
    cr_expect_null(item, "more groups");
    cr_expect_str_eq(tu_str(root, "time.session"), "dwell");
    cr_expect_eq(tu_num(root, "time.start_ms"), 1735689600000.0);
    cr_expect(cJSON_IsTrue(tu_get(root, "amount.capacity_externality")));
    cJSON_Delete(root);
    free(text);
}

/* -------------------------------------------------------------- validate */

/* Values no JSON file can produce, on a struct filled by code. */
Test(sim_world_conf_validate, struct_only_errors)
{
    gope_world_conf c = tu_world_preset("giftlive-v2");
    gope_err err;
    c.wealth_sigma = NAN;
    cr_assert_eq(gope_world_validate(&c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "world.v1: users.wealth_sigma must be finite, got nan");

    c = tu_world_preset("giftlive-v2");
    c.session = (gope_session_mode)7;
    cr_assert_eq(gope_world_validate(&c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg,
                     "world.v1: time.session must be \"round\" or \"dwell\", got enum value 7");

    c = tu_world_preset("giftlive-v2");
    memset(c.name, 'x', sizeof c.name);
    cr_assert_eq(gope_world_validate(&c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "world.v1: name must be at most 63 bytes (unterminated)");

    c = tu_world_preset("giftlive-v2");
    c.n_users = 0;
    cr_assert_eq(gope_world_validate(&c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "world.v1: users.count must be 1..10000000, got 0");

    c = tu_world_preset("giftlive-v2");
    c.capacity_middle = INT64_MIN;
    cr_assert_eq(gope_world_validate(&c, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "world.v1: streamers.capacity_middle must be "
                              "0..9007199254740992, got -9223372036854775808");
}

/* The json of an invalid struct still is JSON (null where no value fits). */
Test(sim_world_conf_validate, json_of_invalid_struct_is_json)
{
    gope_world_conf c = tu_world_preset("giftlive-v2");
    c.session = (gope_session_mode)7;
    c.gamma = INFINITY;
    char *text = to_json(&c);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "%s", text);
    cr_expect(cJSON_IsNull(tu_get(root, "time.session")));
    cr_expect(cJSON_IsNull(tu_get(root, "amount.gamma")));
    cJSON_Delete(root);
    free(text);
}

/* ---------------------------------------------------------------- schema */

static cJSON *read_schema(void)
{
    char *text = tu_read_file(SCHEMA_DIR "/world.v1.schema.json", NULL);
    cr_assert_not_null(text);
    cJSON *s = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(s, "world.v1.schema.json is not valid JSON");
    return s;
}

/* Every table field is in the schema with a description and a default, every
 * object closed; the defaults, parsed as a world file, are giftlive-v2. */
Test(sim_world_conf_schema, fields_descriptions_defaults)
{
    cJSON *s = read_schema();
    cr_expect_str_eq(tu_str(s, "$schema"),
                     "https://json-schema.org/draft/2020-12/schema");
    cr_expect_str_eq(tu_str(s, "$id"),
                     "https://giftope.dev/schemas/world.v1.schema.json");
    cr_expect(cJSON_IsFalse(tu_get(s, "additionalProperties")));
    size_t n;
    const gope_world_field *t = gope_world__fields(&n);
    for (size_t i = 0; i < n; i++) {
        const cJSON *group = tu_get(tu_get(s, "properties"), t[i].group);
        cr_expect(cJSON_IsFalse(tu_get(group, "additionalProperties")), "%s", t[i].group);
        const cJSON *f = tu_get(tu_get(group, "properties"), t[i].key);
        cr_expect(cJSON_IsString(tu_get(f, "description")), "%s.%s", t[i].group, t[i].key);
        tu_get(f, "default");
    }
    cJSON *defaults = cJSON_CreateObject();
    for (const cJSON *p = tu_get(s, "properties")->child; p; p = p->next) {
        cr_expect(cJSON_IsString(tu_get(p, "description")), "%s", p->string);
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(p, "properties");
        if (!props) {
            cJSON_AddItemToObject(defaults, p->string, cJSON_Duplicate(tu_get(p, "default"), 1));
            continue;
        }
        cJSON *g = cJSON_AddObjectToObject(defaults, p->string);
        for (const cJSON *f = props->child; f; f = f->next)
            cJSON_AddItemToObject(g, f->string, cJSON_Duplicate(tu_get(f, "default"), 1));
    }
    char *text = cJSON_PrintUnformatted(defaults);
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(parse(text, &c, &err), GOPE_OK, "%s", err.msg);
    const gope_world_conf want = tu_world_preset("giftlive-v2");
    expect_same(&c, &want);
    cJSON_free(text);
    cJSON_Delete(defaults);
    cJSON_Delete(s);
}

Test(sim_world_conf_schema, presets_validate_and_typos_do_not)
{
    char *dir = tu_tmpdir(), paths[8][512];
    const char *files[9] = {NULL};
    size_t n = 0;
    for (const char *const *name = gope_world_preset_names(); *name; name++, n++) {
        cr_assert_lt(n, 8);
        const gope_world_conf c = tu_world_preset(*name);
        char *text = to_json(&c);
        snprintf(paths[n], sizeof paths[n], "%s/%s.jsonl", dir, *name);
        write_text(paths[n], text);
        free(text);
        files[n] = paths[n];
    }
    int rc = tu_validate_schema(files, false);
    if (rc == 77) {
        tu_rmtree(dir);
        cr_skip_test("python3 jsonschema is not installed");
    }
    cr_expect_eq(rc, 0, "schema validation of the presets failed");

    static const char *const rejected[] = {
        "{\"schema\":\"world.v1\",\"users\":{\"cuont\":1}}",
        "{\"schema\":\"world.v1\",\"color\":1}",
        "{\"schema\":\"world.v1\",\"amount\":{\"tiers\":[1,2]}}",
        "{\"schema\":\"world.v1\",\"time\":{\"session\":\"both\"}}",
        "{\"schema\":\"world.v1\",\"users\":{\"count\":1.5}}",
    };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        const char *bad[] = {in_dir(dir, "bad.jsonl"), NULL};
        write_text(bad[0], rejected[i]);
        cr_expect_eq(tu_validate_schema(bad, true), 1, "the schema accepts %s", rejected[i]);
    }
    tu_rmtree(dir);
}
