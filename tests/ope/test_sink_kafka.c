/*
 * test_sink_kafka.c — the Kafka sink without a broker (suite sink_kafka):
 * what gope_sink_open() sends where, every usage error naming the topic or
 * the property, allocation failures, and an unreachable broker: a write after
 * a failed delivery, a flush (before a checkpoint) and the close all report
 * the undelivered messages once message.timeout.ms has passed, so nothing is
 * lost silently and nothing hangs. The runs against a real broker are in
 * tests/kafka/test_kafka_sink.c.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "failalloc.h"
#include "gope_ope.h"
#include "testutil.h"

#define DOWN "127.0.0.1:1" /* nothing listens on port 1 */

static const char *const fast_timeout[] = {"message.timeout.ms=500"};

Test(sink_kafka, a_kafka_prefix_names_a_topic_anything_else_a_file)
{
    cr_expect(gope_sink_is_kafka("kafka:alloc"));
    cr_expect(gope_sink_is_kafka("kafka:"));
    cr_expect(!gope_sink_is_kafka("./kafka:alloc"));
    cr_expect(!gope_sink_is_kafka("Kafka:alloc"));
    cr_expect(!gope_sink_is_kafka("out.jsonl"));

    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/kafka:alloc", dir); /* a file, whatever its name */
    gope_sink s = {0};
    gope_err err = {{0}};
    cr_assert_eq(gope_sink_open(path, "--out", NULL, &s, &err), GOPE_OK, "%s", err.msg);
    cr_assert_str_eq(s.ops->name, "file");
    cr_assert_eq(s.ops->write(s.ctx, "k", "{}", 2, &err), GOPE_OK);
    cr_assert_eq(gope_sink_close(&s, &err), GOPE_OK);
    char *text = tu_read_file(path, NULL);
    cr_expect_str_eq(text, "{}\n");
    free(text);
    tu_rmtree(dir);
}

Test(sink_kafka, usage_errors_name_the_option_topic_or_property)
{
    const char *const acks[] = {"acks=1"}, *const idem[] = {"enable.idempotence=false"},
                      *const boot[] = {"bootstrap.servers=x:1"}, *const noeq[] = {"linger.ms"},
                      *const unknown[] = {"no.such.prop=1"}, *const badval[] = {"linger.ms=abc"};
    char long_key[200];
    memset(long_key, 'a', 150);
    strcpy(long_key + 150, "=1");
    const char *const longk[] = {long_key};
    char long_topic[300] = "kafka:";
    memset(long_topic + 6, 't', 250);
    long_topic[256] = '\0';
    const struct {
        const char *spec, *brokers;
        const char *const *props;
        const char *needle;
    } cases[] = {
        {"kafka:t", NULL, NULL, "--out kafka:t: kafka:TOPIC needs --brokers"},
        {"kafka:t", "", NULL, "--out kafka:t: kafka:TOPIC needs --brokers"},
        {"kafka:", DOWN, NULL, "--out: kafka:: a topic name is"},
        {"kafka:a/b", DOWN, NULL, "kafka:a/b: a topic name is"},
        {"kafka:..", DOWN, NULL, "a topic name is"},
        {"kafka:a b", DOWN, NULL, "a topic name is"},
        {long_topic, DOWN, NULL, "a topic name is 1-249"},
        {"kafka:t", DOWN, acks, "--out: -X acks: reserved"},
        {"kafka:t", DOWN, idem, "-X enable.idempotence: reserved"},
        {"kafka:t", DOWN, boot, "-X bootstrap.servers: reserved"},
        {"kafka:t", DOWN, noeq, "-X 'linger.ms': expected key=value"},
        {"kafka:t", DOWN, unknown, "-X no.such.prop=1: No such configuration property"},
        {"kafka:t", DOWN, badval, "-X linger.ms=abc"},
        {"kafka:t", DOWN, longk, "no such property"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gope_kafka_sink_conf kc = {.brokers = cases[i].brokers, .props = cases[i].props,
                                         .n_props = cases[i].props ? 1 : 0};
        gope_sink s = {0};
        gope_err err = {{0}};
        cr_expect_eq(gope_sink_open(cases[i].spec, "--out", cases[i].brokers ? &kc : NULL, &s,
                                    &err),
                     GOPE_ERR_USAGE, "case %zu", i);
        cr_expect(strstr(err.msg, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err.msg,
                  cases[i].needle);
        cr_expect_null(s.ops, "case %zu: no sink on failure", i);
    }
}

/* An open sink whose every delivery fails fast: nothing listens on port 1. */
static gope_sink down_sink(const char *topic)
{
    const gope_kafka_sink_conf kc = {.brokers = DOWN, .props = fast_timeout, .n_props = 1};
    gope_sink s = {0};
    gope_err err = {{0}};
    cr_assert_eq(gope_sink_kafka_open(&kc, topic, &s, &err), GOPE_OK, "%s", err.msg);
    cr_assert_str_eq(s.ops->name, "kafka");
    return s;
}

Test(sink_kafka, close_reports_every_undelivered_message_of_a_broker_that_is_down, .timeout = 60)
{
    gope_sink s = down_sink("alloc");
    gope_err err = {{0}};
    cr_assert_eq(s.ops->write(s.ctx, "greedy", "{\"a\":1}", 7, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(s.ops->write(s.ctx, "ucb", "{\"a\":2}", 7, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(s.ops->write(s.ctx, NULL, "{\"a\":3}", 7, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sink_close(&s, &err), GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "kafka:alloc: 3 message(s) not delivered: Local: Message timed out"),
              "%s", err.msg);
    cr_expect_null(s.ops);
}

Test(sink_kafka, a_write_after_a_failed_delivery_fails, .timeout = 60)
{
    gope_sink s = down_sink("alloc");
    gope_err err = {{0}};
    gope_status st = GOPE_OK;
    /* the first message times out after 500 ms; a later write must notice */
    const struct timespec pause = {0, 100 * 1000 * 1000};
    for (int i = 0; i < 400 && st == GOPE_OK; i++) {
        st = s.ops->write(s.ctx, "k", "{}", 2, &err);
        nanosleep(&pause, NULL);
    }
    cr_assert_eq(st, GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "kafka:alloc: ") && strstr(err.msg, "not delivered"), "%s", err.msg);
    cr_expect_eq(gope_sink_close(&s, &err), GOPE_ERR_IO, "close reports them again");
}

Test(sink_kafka, flush_waits_for_every_delivery_and_reports_the_failed_ones, .timeout = 60)
{
    gope_sink s = down_sink("alloc");
    gope_err err = {{0}};
    cr_assert_eq(gope_sink_flush(&s, &err), GOPE_OK, "nothing written: nothing to wait for");
    cr_assert_eq(s.ops->write(s.ctx, "greedy", "{\"a\":1}", 7, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(s.ops->write(s.ctx, "ucb", "{\"a\":2}", 7, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sink_flush(&s, &err), GOPE_ERR_IO, "the checkpoint must not be written");
    cr_expect(strstr(err.msg, "kafka:alloc: 2 message(s) not delivered: Local: Message timed out"),
              "%s", err.msg);
    cr_expect_eq(gope_sink_flush(&s, &err), GOPE_ERR_IO, "lost records stay an error");
    cr_expect(strstr(err.msg, "kafka:alloc: 2 message(s) not delivered"), "%s", err.msg);
    cr_expect_eq(gope_sink_close(&s, &err), GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "kafka:alloc: 2 message(s) not delivered"), "%s", err.msg);
}

static gope_status op_open_close(void)
{
    const gope_kafka_sink_conf kc = {.brokers = DOWN, .props = fast_timeout, .n_props = 1};
    gope_sink s = {0};
    gope_err err;
    gope_status st = gope_sink_open("kafka:alloc", "--out", &kc, &s, &err);
    if (st == GOPE_OK)
        st = gope_sink_close(&s, &err); /* nothing written: nothing to wait for */
    return st;
}

Test(sink_kafka, allocation_failures_are_reported, .timeout = 60)
{
    fa_exhaust(op_open_close, "kafka sink open/close");
}
