/*
 * test_kafka_sink.c — the Kafka sink against a real broker (suite kafka_sink;
 * skipped without GOPE_KAFKA_BROKERS, see docs/kafka-tests.md).
 *
 * The oracle is the file sink: the same evaluation written to kafka:TOPIC and
 * to a file must give the same lines, byte for byte, as multisets (a topic
 * with several partitions has no total order), every record keyed by its
 * policy and every dead letter by its reason. The input topic has one
 * partition, so both runs see the events in one order and their sums agree
 * exactly. Then the simulator: `sim --out kafka:T` streams the very lines
 * `sim --out FILE` writes (same seed), in order, keyed by event_id, and
 * consume on the topic gives replay's records on the file. Last, a topic
 * that does not exist: the command fails with the sink's message once
 * message.timeout.ms has passed, it does not hang.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "kafkatest.h"
#include "testutil.h"

/* The lines of a file as an array of strings (the '\n's cut). */
typedef struct {
    char **v;
    size_t n;
} lines;

static lines file_lines(const char *path)
{
    char *text = tu_read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    lines l = {0};
    for (char *p = text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        cr_assert(nl, "%s: last line without a newline", path);
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        cr_assert(l.v);
        l.v[l.n] = strndup(p, (size_t)(nl - p));
        cr_assert(l.v[l.n++]);
    }
    free(text);
    return l;
}

static lines message_values(const tk_msg *m, size_t n)
{
    lines l = {calloc(n + 1, sizeof(char *)), n};
    cr_assert(l.v);
    for (size_t i = 0; i < n; i++)
        cr_assert(l.v[i] = strdup(m[i].value));
    return l;
}

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Only the lines whose "schema" is `schema`, sorted. */
static lines only_schema(const lines *l, const char *schema)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"schema\":\"%s\"", schema);
    lines out = {calloc(l->n + 1, sizeof(char *)), 0};
    cr_assert(out.v);
    for (size_t i = 0; i < l->n; i++)
        if (strstr(l->v[i], needle))
            cr_assert(out.v[out.n++] = strdup(l->v[i]));
    qsort(out.v, out.n, sizeof *out.v, cmp_str);
    return out;
}

static void expect_same_multiset(lines *got, lines *want, const char *what)
{
    qsort(got->v, got->n, sizeof *got->v, cmp_str);
    qsort(want->v, want->n, sizeof *want->v, cmp_str);
    cr_assert_eq(got->n, want->n, "%s: %zu lines, want %zu", what, got->n, want->n);
    for (size_t i = 0; i < got->n; i++)
        cr_assert_str_eq(got->v[i], want->v[i], "%s: line %zu differs", what, i);
}

/* Every message's key is the string field `field` of its value, and one key
 * always lands in one partition. */
static void expect_keyed_by(const tk_msg *m, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_Parse(m[i].value);
        cr_assert(v, "message %zu is not JSON: %s", i, m[i].value);
        const char *want = strstr(m[i].value, "\"ope_run.v1\"") ? "summary" : tu_str(v, field);
        cr_expect_str_eq(m[i].key, want, "message %zu: key", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m[j].key, m[i].key) == 0)
                cr_expect_eq(m[j].partition, m[i].partition, "key %s in two partitions", m[i].key);
        cJSON_Delete(v);
    }
}

/* A small kuailive world, so thousands of lines stay small. */
static const char *small_world(tu_cli *c)
{
    return tu_cli_write(c, "world.json",
                        "{\"base\":\"kuailive\",\"users\":{\"count\":500},"
                        "\"streamers\":{\"count\":40},\"candidates\":{\"k\":10}}");
}

static const char bad_lines[] = "not json at all\n"
                                "{\"event_id\":\"bad-missing\",\"ts\":1735689600000}\n";

Test(kafka_sink, consume_to_kafka_gives_the_file_sinks_lines_keyed_by_policy_and_reason,
     .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    char in_topic[96], out_topic[112], dl_topic[112], g1[112], g2[112];
    tk_unique(in_topic, sizeof in_topic, "sink-in");
    snprintf(out_topic, sizeof out_topic, "%s-out", in_topic);
    snprintf(dl_topic, sizeof dl_topic, "%s-dl", in_topic);
    snprintf(g1, sizeof g1, "%s-g1", in_topic);
    snprintf(g2, sizeof g2, "%s-g2", in_topic);
    tu_cli c;
    tu_cli_init(&c);
    char log[600], out[600], dl[600], kout[600], kdl[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(out, sizeof out, "%s", tu_cli_path(&c, "out.jsonl"));
    snprintf(dl, sizeof dl, "%s", tu_cli_path(&c, "dead.jsonl"));
    snprintf(kout, sizeof kout, "kafka:%s", out_topic);
    snprintf(kdl, sizeof kdl, "kafka:%s", dl_topic);
    const char *sim[] = {"sim", "--world", small_world(&c), "--policy", "eps_greedy",
                         "--decisions", "3000", "--out", log, "--quiet", NULL};
    tu_cli_expect(&c, sim, 0, NULL);
    char *text = tu_read_file(log, NULL);
    cr_assert(text);
    text = realloc(text, strlen(text) + sizeof bad_lines);
    cr_assert(text);
    strcat(text, bad_lines);

    tk_create_topic(brokers, in_topic, 1);
    tk_create_topic(brokers, out_topic, 3);
    tk_create_topic(brokers, dl_topic, 2);
    cr_assert_eq(tk_produce_lines(brokers, in_topic, text), 3002);

    const char *to_kafka[] = {"consume", "--brokers", brokers, "--topic", in_topic, "--group", g1,
                              "--window", "1h", "--slide", "15m", "--idle-exit", "3s",
                              "--out", kout, "--dead-letter", kdl, "--quiet", NULL};
    tu_cli_expect(&c, to_kafka, 0, NULL);
    const char *to_file[] = {"consume", "--brokers", brokers, "--topic", in_topic, "--group", g2,
                             "--window", "1h", "--slide", "15m", "--idle-exit", "3s",
                             "--out", out, "--dead-letter", dl, "--quiet", NULL};
    tu_cli_expect(&c, to_file, 0, NULL);

    /* window records: the same lines; keys are the policies */
    size_t n_out, n_dl;
    tk_msg *mo = tk_read_topic(brokers, out_topic, &n_out);
    lines got_all = message_values(mo, n_out), want_all = file_lines(out);
    lines got = only_schema(&got_all, "ope_metrics.v1"), want = only_schema(&want_all, "ope_metrics.v1");
    cr_assert_gt(want.n, 8, "several windows of 8 policies");
    expect_same_multiset(&got, &want, "window records");
    cr_expect_eq(n_out, want.n + 1, "the records and one summary");
    expect_keyed_by(mo, n_out, "policy");
    lines gs = only_schema(&got_all, "ope_run.v1"), ws = only_schema(&want_all, "ope_run.v1");
    cr_assert_eq(gs.n, 1);
    cr_assert_eq(ws.n, 1);
    cJSON *s = cJSON_Parse(gs.v[0]), *sw = cJSON_Parse(ws.v[0]);
    cr_assert(s && sw);
    cr_expect_eq(tu_num(s, "lines_read"), 3002);
    cr_expect_eq(tu_num(s, "rejected"), 2);
    const char *counts[] = {"lines_read", "accepted", "rejected", "late", "windows", "records"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        cr_expect_eq(tu_num(s, counts[i]), tu_num(sw, counts[i]), "summary %s", counts[i]);
    cJSON_Delete(s);
    cJSON_Delete(sw);

    /* dead letters: the same lines; keys are the reasons */
    tk_msg *md = tk_read_topic(brokers, dl_topic, &n_dl);
    lines got_dl = message_values(md, n_dl), want_dl = file_lines(dl);
    cr_assert_eq(want_dl.n, 2);
    expect_same_multiset(&got_dl, &want_dl, "dead letters");
    expect_keyed_by(md, n_dl, "reason");

    lines *all[] = {&got_all, &want_all, &got, &want, &gs, &ws, &got_dl, &want_dl};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lines_free(all[i]);
    tk_msgs_free(mo, n_out);
    tk_msgs_free(md, n_dl);
    free(text);
    tu_cli_done(&c);
}

Test(kafka_sink, sim_to_kafka_then_consume_equals_sim_to_file_then_replay, .timeout = 240)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], group[112], ktopic[120];
    tk_unique(topic, sizeof topic, "sink-sim");
    snprintf(group, sizeof group, "%s-g", topic);
    snprintf(ktopic, sizeof ktopic, "kafka:%s", topic);
    tu_cli c;
    tu_cli_init(&c);
    char log[600], cout[600], rout[600];
    snprintf(log, sizeof log, "%s", tu_cli_path(&c, "log.jsonl"));
    snprintf(cout, sizeof cout, "%s", tu_cli_path(&c, "consume.jsonl"));
    snprintf(rout, sizeof rout, "%s", tu_cli_path(&c, "replay.jsonl"));
    const char *world = small_world(&c);
    tk_create_topic(brokers, topic, 1);

    const char *to_kafka[] = {"sim", "--world", world, "--policy", "softmax", "--decisions", "2000",
                              "--seeds", "2", "--out", ktopic, "--brokers", brokers, "--quiet",
                              NULL};
    tu_cli_expect(&c, to_kafka, 0, NULL);
    cJSON *summary = tu_read_jsonl(c.out);
    cr_assert(summary && cJSON_GetArraySize(summary) == 1);
    cr_expect_str_eq(tu_str(cJSON_GetArrayItem(summary, 0), "out"), ktopic);
    cr_expect_eq(tu_num(cJSON_GetArrayItem(summary, 0), "total_decisions"), 4000);
    cJSON_Delete(summary);
    const char *to_file[] = {"sim", "--world", world, "--policy", "softmax", "--decisions", "2000",
                             "--seeds", "2", "--out", log, "--quiet", NULL};
    tu_cli_expect(&c, to_file, 0, NULL);

    /* the file's lines, in the file's order, each keyed by its event_id */
    size_t n;
    tk_msg *m = tk_read_topic(brokers, topic, &n);
    lines want = file_lines(log);
    cr_assert_eq(n, want.n);
    cr_assert_eq(n, 4000);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(m[i].value, want.v[i], "message %zu", i);
        char id[200];
        snprintf(id, sizeof id, "\"event_id\":\"%s\"", m[i].key);
        cr_expect(strstr(m[i].value, id), "message %zu: key %s is not its event_id", i, m[i].key);
    }

    /* consume on the topic = replay on the file (one partition: the same order) */
    const char *consume[] = {"consume", "--brokers", brokers, "--topic", topic, "--group", group,
                             "--idle-exit", "3s", "--out", cout, "--quiet", NULL};
    tu_cli_expect(&c, consume, 0, NULL);
    const char *replay[] = {"replay", "--out", rout, "--quiet", log, NULL};
    tu_cli_expect(&c, replay, 0, NULL);
    lines ca = file_lines(cout), ra = file_lines(rout);
    lines crec = only_schema(&ca, "ope_metrics.v1"), rrec = only_schema(&ra, "ope_metrics.v1");
    cr_assert_eq(rrec.n, 8, "--window all: one record per policy");
    expect_same_multiset(&crec, &rrec, "consume vs replay records");

    lines *all[] = {&want, &ca, &ra, &crec, &rrec};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lines_free(all[i]);
    tk_msgs_free(m, n);
    tu_cli_done(&c);
}

Test(kafka_sink, a_missing_topic_fails_the_command_after_message_timeout, .timeout = 120)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[96], ktopic[120], needle[240];
    tk_unique(topic, sizeof topic, "sink-missing");
    snprintf(ktopic, sizeof ktopic, "kafka:%s", topic);
    snprintf(needle, sizeof needle, "%s: 20 message(s) not delivered: Local: Message timed out",
             ktopic);
    tu_cli c;
    tu_cli_init(&c);
    /* the test broker does not create topics on first use */
    const char *sim[] = {"sim", "--world", small_world(&c), "--policy", "greedy", "--decisions",
                         "20", "--out", ktopic, "--brokers", brokers, "-X",
                         "message.timeout.ms=2000", "--quiet", NULL};
    tu_cli_expect(&c, sim, 1, needle);
    tu_cli_done(&c);
}
