/*
 * test_kafka_sasl.c — security settings pass through -X with no code change
 * (suite kafka_sasl; skipped without GOPE_KAFKA_BROKERS and
 * GOPE_KAFKA_SASL_BROKERS, see docs/kafka-tests.md).
 *
 * The test broker also listens on SASL_PLAINTEXT with mechanism PLAIN
 * (tests/kafka/server.properties.in holds the users). A simulator log is
 * produced through the PLAINTEXT listener; consume then reads it through the
 * SASL listener and writes its records to a topic through it too (-X goes to
 * the consumer and the sink's producer), authenticated by -X options alone.
 * The records, read back through PLAINTEXT, equal replay's on the same lines.
 * A wrong password ends the run at once with exit status 1 and the
 * authentication failure on stderr, well before --idle-exit: librdkafka
 * would retry it like a broker that is down, but credentials never change
 * in a running process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "jsoncmp.h"
#include "kafkatest.h"
#include "testutil.h"

/* The user of the SASL listener's JAAS config in server.properties.in. */
#define SASL_USER "gope"
#define SASL_PASSWORD "gope-secret"

/* consume of `topic` in `group` through the SASL listener `sasl`, logged in
 * with -X options only (password `password`), its output to `out`: expects
 * exit status 0 and, unless NULL, `needle` on stderr. */
static void sasl_consume(const tu_cli *c, const char *sasl, const char *topic,
                         const char *group, const char *out, const char *password, int rc,
                         const char *needle)
{
    char pass[96];
    snprintf(pass, sizeof pass, "sasl.password=%s", password);
    const char *args[] = {"consume", "--brokers", sasl, "--topic", topic, "--group", group,
                          "--window", "all", "--idle-exit", "3s", "--out", out,
                          "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=PLAIN",
                          "-X", "sasl.username=" SASL_USER, "-X", pass, "--quiet", NULL};
    tu_cli_expect(c, args, rc, needle);
}

/* The ope_metrics.v1 records of `got` equal those of `want`, policy by
 * policy, and `got` holds nothing else but one summary. */
static void expect_same_records(const cJSON *got, const cJSON *want)
{
    int n = 0;
    const cJSON *w, *g;
    cJSON_ArrayForEach(w, want) {
        if (strcmp(tu_str(w, "schema"), "ope_metrics.v1") != 0)
            continue;
        n++;
        const cJSON *match = NULL;
        cJSON_ArrayForEach(g, got) {
            if (strcmp(tu_str(g, "schema"), "ope_metrics.v1") == 0 &&
                strcmp(tu_str(g, "policy"), tu_str(w, "policy")) == 0)
                match = g;
        }
        cr_assert(match, "no record for %s", tu_str(w, "policy"));
        tu_expect_same_json(match, w, tu_str(w, "policy"));
    }
    cr_assert_gt(n, 0);
    cr_expect_eq(cJSON_GetArraySize(got), n + 1, "the records and one summary");
}

Test(kafka_sasl, consume_and_kafka_out_through_sasl_equal_replay, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    const char *sasl = tk_sasl_brokers_or_skip();
    char topic[96], out_topic[112], kout[120], group[112];
    tk_unique(topic, sizeof topic, "sasl");
    snprintf(out_topic, sizeof out_topic, "%s-out", topic);
    snprintf(kout, sizeof kout, "kafka:%s", out_topic);
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    char log[600], rout[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(rout, sizeof rout, "%s", tu_cli_path(&c, "replay.jsonl"));

    /* one partition: consume sees the lines in replay's order */
    char *text = tk_sim_log(&c, 10, 1000, log);
    tk_create_topic(brokers, topic, 1);
    tk_create_topic(brokers, out_topic, 1);
    cr_assert_eq(tk_produce_lines(brokers, topic, text), 1000);

    sasl_consume(&c, sasl, topic, group, kout, SASL_PASSWORD, 0, NULL);
    const char *replay[] = {"replay", "--window", "all", "--quiet", "--out", rout, log, NULL};
    tu_cli_expect(&c, replay, 0, NULL);

    size_t n;
    tk_msg *m = tk_read_topic(brokers, out_topic, &n);
    cJSON *got = cJSON_CreateArray();
    cr_assert(got);
    for (size_t i = 0; i < n; i++) {
        cJSON *l = cJSON_Parse(m[i].value);
        cr_assert(l, "not JSON: %s", m[i].value);
        cJSON_AddItemToArray(got, l);
    }
    cJSON *want = tu_read_jsonl(rout);
    cr_assert(want);
    expect_same_records(got, want);
    const cJSON *s = cJSON_GetArrayItem(got, cJSON_GetArraySize(got) - 1);
    cr_assert_str_eq(tu_str(s, "schema"), "ope_run.v1");
    cr_expect_eq(tu_num(s, "lines_read"), 1000);
    cr_expect_str_eq(tu_str(s, "kafka.brokers"), sasl);

    cJSON_Delete(got);
    cJSON_Delete(want);
    tk_msgs_free(m, n);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_sasl, wrong_password_reads_nothing_and_says_why, .timeout = 60)
{
    const char *brokers = tk_brokers_or_skip();
    const char *sasl = tk_sasl_brokers_or_skip();
    char topic[96], group[112];
    tk_unique(topic, sizeof topic, "sasl-bad");
    snprintf(group, sizeof group, "%s-g", topic);
    tu_cli c;
    tu_cli_init(&c);
    char out[600];
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "out.jsonl"));
    tk_create_topic(brokers, topic, 1);
    cr_assert_eq(tk_produce_lines(brokers, topic, "{\"event_id\":\"e1\"}\n"), 1);

    sasl_consume(&c, sasl, topic, group, out, "not-" SASL_PASSWORD, 1,
                 "kafka: fatal: _AUTHENTICATION");
    char *err = tu_read_file(c.err, NULL);
    cr_assert(err);
    cr_expect(strstr(err, "Invalid username or password"), "stderr: %s", err);
    free(err);
    cJSON *lines = tu_read_jsonl(out);
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 1, "only the summary");
    const cJSON *s = cJSON_GetArrayItem(lines, 0);
    cr_expect_eq(tu_num(s, "lines_read"), 0);
    cr_expect_str_eq(tu_str(s, "kafka.stopped_by"), "fatal_error");
    cJSON_Delete(lines);
    tu_cli_done(&c);
}
