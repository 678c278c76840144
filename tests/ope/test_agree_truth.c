/*
 * test_agree_truth.c — the truth file reader (tests/data/agree/ fixtures and
 * small hand-written files: every rule of the format and the message that
 * names its line), and out-of-memory runs of the whole agreement path (truth,
 * records, rankings, JSON), SQLite style.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agree_int.h"
#include "failalloc.h"
#include "testutil.h"

static const char *fixture(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, GOPE_TEST_DATA "/agree/%s", name);
    return path;
}

Test(agree_truth, fixture_with_v_static)
{
    gope_truth_t *t;
    gope_err err = {{0}};
    cr_assert_eq(gope_truth_load(fixture("truth.jsonl"), &t, &err), GOPE_OK, "%s", err.msg);
    const gope_truth_policy *l = gope_truth_logging(t), *w = gope_truth_find(t, "winner");
    cr_expect_str_eq(l->policy, "logger");
    cr_expect(l->logging && l->v_static_ok && l->v_static == 10.2 && l->online_mean == 10);
    cr_assert(w);
    cr_expect(!w->logging && w->v_static_ok && w->v_static == 11.5);
    cr_expect(w->online_mean == 11 && w->online_ci_ok && w->online_ci_low == 10.5 &&
              w->online_ci_high == 11.5 && w->online_n == 20);
    cr_expect_null(gope_truth_find(t, "ghost"));
    cr_expect_null(gope_truth_find(t, "Winner"));
    const gope_truth_meta *m = gope_truth_meta_get(t);
    cr_expect_str_eq(m->world, "giftlive-v2");
    cr_expect_str_eq(m->log, "sim/logger.jsonl.zst");
    cr_expect(m->seeds == 20 && m->decisions == 10000);
    gope_truth_free(t);
    gope_truth_free(NULL);
}

Test(agree_truth, fixture_without_v_static)
{
    gope_truth_t *t;
    gope_err err = {{0}};
    cr_assert_eq(gope_truth_load(fixture("truth_online.jsonl"), &t, &err), GOPE_OK, "%s", err.msg);
    cr_expect(!gope_truth_find(t, "winner")->v_static_ok);
    cr_expect(!gope_truth_logging(t)->v_static_ok);
    cr_expect_null(gope_truth_meta_get(t)->log, "\"log\":null");
    gope_truth_free(t);
}

Test(agree_truth, fixture_faults)
{
    gope_truth_t *t = (gope_truth_t *)&t;
    gope_err err = {{0}};
    cr_expect_eq(gope_truth_load(fixture("truth_no_logging.jsonl"), &t, &err), GOPE_ERR_USAGE);
    cr_expect_null(t);
    cr_expect(strstr(err.msg, "truth_no_logging.jsonl: no truth.v1 line has \"logging\":true"),
              "%s", err.msg);
    cr_expect_eq(gope_truth_load(fixture("truth_bad_line.jsonl"), &t, &err), GOPE_ERR_INPUT);
    cr_expect(strstr(err.msg, "truth_bad_line.jsonl:2: v_online.mean: expected a number, got a "
                              "string"),
              "%s", err.msg);
    cr_expect_eq(gope_truth_load(fixture("absent.jsonl"), &t, &err), GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "absent.jsonl"), "%s", err.msg);
}

/* A truth.v1 line for `policy`, with `extra` JSON members appended. */
static const char *tline(char *buf, size_t size, const char *policy, bool logging,
                         const char *extra)
{
    snprintf(buf, size,
             "{\"schema\":\"truth.v1\",\"policy\":\"%s\",\"logging\":%s,\"v_online\":"
             "{\"mean\":1.5,\"sd\":null,\"se\":null,\"ci_low\":null,\"ci_high\":null,\"n\":1}%s}\n",
             policy, logging ? "true" : "false", extra);
    return buf;
}

typedef struct {
    const char *what, *text;
    gope_status status;
    const char *needle;
} text_case;

/* Loads `text` from a file in `dir`; checks status and message. */
static void expect_text(const char *dir, const text_case *c)
{
    char path[600];
    snprintf(path, sizeof path, "%s/truth.jsonl", dir);
    cr_assert(tu_write_file(path, c->text, strlen(c->text)));
    gope_truth_t *t = NULL;
    gope_err err = {{0}};
    gope_status st = gope_truth_load(path, &t, &err);
    cr_expect_eq(st, c->status, "%s: status %d (%s)", c->what, (int)st, err.msg);
    if (c->needle)
        cr_expect(strstr(err.msg, c->needle), "%s: message \"%s\" lacks \"%s\"", c->what,
                  err.msg, c->needle);
    cr_expect((st == GOPE_OK) == (t != NULL), "%s", c->what);
    gope_truth_free(t);
}

Test(agree_truth, format_rules_name_the_line)
{
    char *dir = tu_tmpdir();
    char a[512], b[512], c[512], text[2048];
    const char *run = "{\"schema\":\"truth_run.v1\",\"logging_policy\":\"base\",\"log\":null}\n";
    tline(a, sizeof a, "base", true, "");
    tline(b, sizeof b, "other", false, ",\"v_static\":{\"value\":2,\"n\":5}");
#define CASE(what, status, needle, ...)                                                      \
    do {                                                                                     \
        snprintf(text, sizeof text, __VA_ARGS__);                                            \
        expect_text(dir, &(text_case){what, text, status, needle});                          \
    } while (0)
    CASE("minimal, blank lines skipped", GOPE_OK, NULL, "%s\n   \n%s%s", a, b, run);
    CASE("no truth_run line", GOPE_OK, NULL, "%s%s", a, b);
    CASE("empty file", GOPE_ERR_USAGE, "no truth.v1 line has \"logging\":true", "%s", "");
    CASE("duplicate policy", GOPE_ERR_INPUT, ":3: policy \"other\" appears twice", "%s%s%s", a,
         b, b);
    tline(c, sizeof c, "second", true, "");
    CASE("second logging line", GOPE_ERR_INPUT,
         ":2: a second logging policy (\"second\"; \"base\" is already", "%s%s", a, c);
    tline(c, sizeof c, "boss", true, "");
    CASE("run names another policy", GOPE_ERR_INPUT,
         ":3: logging_policy \"base\" is not the policy of the \"logging\":true line (boss)",
         "%s%s%s", b, c, run);
    CASE("run before the logging line", GOPE_ERR_INPUT, "(none)", "%s%s", run, a);
    CASE("line after the run", GOPE_ERR_INPUT, ":3: a line after the truth_run.v1 line",
         "%s%s%s", a, run, b);
    CASE("unknown schema", GOPE_ERR_INPUT,
         ":1: schema \"ope_metrics.v1\" is not truth.v1 or truth_run.v1", "%s",
         "{\"schema\":\"ope_metrics.v1\"}\n");
    CASE("not JSON", GOPE_ERR_INPUT, ":2: not a JSON object", "%s%s", a, "{\"schema\":\n");
    CASE("logging not a boolean", GOPE_ERR_INPUT, ":1: logging: expected a boolean", "%s",
         "{\"schema\":\"truth.v1\",\"policy\":\"p\",\"logging\":1}\n");
    tline(c, sizeof c, "p", true, ",\"v_static\":{\"n\":3}");
    CASE("v_static without value", GOPE_ERR_INPUT, ":1: v_static.value: expected a number, got nothing",
         "%s", c);
    tline(c, sizeof c, "p", true, ",\"v_static\":3");
    CASE("v_static not an object", GOPE_ERR_INPUT, "v_static: expected an object or null, got a number",
         "%s", c);
    tline(c, sizeof c, "p", true, ",\"v_static\":null");
    CASE("v_static null", GOPE_OK, NULL, "%s", c);
    CASE("v_online.n 0", GOPE_ERR_INPUT, ":1: v_online.n: expected an integer >= 1, got 0", "%s",
         "{\"schema\":\"truth.v1\",\"policy\":\"p\",\"logging\":true,\"v_online\":{\"mean\":1,\"n\":0}}\n");
    tline(c, sizeof c, "p", true, ",\"seeds\":\"many\"");
    CASE("seeds not a number", GOPE_ERR_INPUT, ":1: seeds: expected an integer >= 0, got a string",
         "%s", c);
    CASE("log not a string", GOPE_ERR_INPUT, ":2: log: expected a string or null", "%s%s", a,
         "{\"schema\":\"truth_run.v1\",\"logging_policy\":\"base\",\"log\":5}\n");
#undef CASE
    tu_rmtree(dir);
}

/* The run line's world/seeds/decisions override the first policy line's. */
Test(agree_truth, run_line_describes_the_run)
{
    char *dir = tu_tmpdir();
    char a[512], text[1024];
    tline(a, sizeof a, "base", true, ",\"world\":\"kuailive\",\"seeds\":3,\"decisions\":7");
    snprintf(text, sizeof text, "%s%s", a,
             "{\"schema\":\"truth_run.v1\",\"logging_policy\":\"base\",\"world\":\"giftlive-v2\","
             "\"seeds\":30,\"decisions\":700,\"log\":\"x.zst\"}\n");
    char path[600];
    snprintf(path, sizeof path, "%s/t.jsonl", dir);
    cr_assert(tu_write_file(path, text, strlen(text)));
    gope_truth_t *t;
    cr_assert_eq(gope_truth_load(path, &t, NULL), GOPE_OK);
    const gope_truth_meta *m = gope_truth_meta_get(t);
    cr_expect_str_eq(m->world, "giftlive-v2");
    cr_expect(m->seeds == 30 && m->decisions == 700);
    cr_expect_str_eq(m->log, "x.zst");
    cr_expect(!gope_truth_logging(t)->online_ci_ok, "null CI with one seed");
    gope_truth_free(t);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ out of memory */

static gope_status op_truth(void)
{
    gope_truth_t *t = NULL;
    gope_status st = gope_truth_load(fixture("truth.jsonl"), &t, NULL);
    gope_truth_free(t);
    return st;
}

/* Truth, every fixture record through the session, rankings, and both
 * writers (a failed write shows as the buffer's oom flag). */
static gope_status op_session(void)
{
    gope_truth_t *t = NULL;
    gope_agree_t *a = NULL;
    gope_agree_rules rules;
    gope_jbuf b = {0};
    char *text = tu_read_file(fixture("metrics.jsonl"), NULL);
    gope_status st = gope_agree_rules_parse(NULL, &rules, NULL);
    if (!text)
        return GOPE_ERR_NOMEM;
    if (st == GOPE_OK)
        st = gope_truth_load(fixture("truth.jsonl"), &t, NULL);
    if (st == GOPE_OK)
        st = gope_agree_new(t, &rules, &a, NULL);
    uint64_t lineno = 0;
    for (char *line = text, *nl; st == GOPE_OK && (nl = strchr(line, '\n')); line = nl + 1) {
        const gope_agreement *g;
        st = gope_agree_line(a, "m", ++lineno, line, (size_t)(nl - line), &g, NULL);
        if (st == GOPE_OK && g)
            gope_agree_write_record(&b, g, &rules);
    }
    if (st == GOPE_OK)
        st = gope_agree_write_summary(&b, a, "truth.jsonl", NULL);
    if (st == GOPE_OK && b.oom)
        st = GOPE_ERR_NOMEM;
    gope_jbuf_free(&b);
    gope_agree_free(a);
    gope_truth_free(t);
    free(text);
    return st;
}

Test(agree_nomem, truth) { fa_exhaust(op_truth, "truth"); }
Test(agree_nomem, session) { fa_exhaust(op_session, "session"); }
