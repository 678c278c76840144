/*
 * test_kafka_conf.c — -X items on a librdkafka configuration (suite
 * kafka_conf, no broker): gope_kafka_conf_props applies them in order and
 * refuses reserved keys, every message naming the item; and the consumer's
 * reserved keys, enable.auto.commit only in checkpoint mode.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <string.h>

#include "gope_ingest.h"

#define DOWN "127.0.0.1:1" /* nothing listens on port 1 */

static const gope_kafka_reserved owned[] = {
    {"acks", "reserved (the test owns it)"},
};

/* The value of `key` in `c`, written into `buf`. */
static const char *get(rd_kafka_conf_t *c, const char *key, char *buf, size_t size)
{
    cr_assert_eq(rd_kafka_conf_get(c, key, buf, &size), RD_KAFKA_CONF_OK, "%s", key);
    return buf;
}

Test(kafka_conf, items_apply_in_order_and_a_later_one_wins)
{
    const char *const props[] = {"linger.ms=7", "client.id=a=b", "linger.ms=9"};
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    cr_assert(c);
    gope_err err = {{0}};
    cr_assert_eq(gope_kafka_conf_props(c, props, 3, owned, 1, &err), GOPE_OK, "%s", err.msg);
    char v[64];
    cr_expect_str_eq(get(c, "linger.ms", v, sizeof v), "9");
    cr_expect_str_eq(get(c, "client.id", v, sizeof v), "a=b", "the value: all after the first =");
    cr_assert_eq(gope_kafka_conf_props(c, NULL, 0, NULL, 0, &err), GOPE_OK, "no items");
    rd_kafka_conf_destroy(c);
}

Test(kafka_conf, a_bad_item_is_a_usage_error_naming_it_and_stops_there)
{
    char long_key[200];
    memset(long_key, 'a', 150);
    strcpy(long_key + 150, "=1");
    const struct {
        const char *item, *msg;
    } cases[] = {
        {"linger.ms", "-X 'linger.ms': expected key=value"},
        {"=5", "-X '=5': expected key=value"},
        {"acks=1", "-X acks: reserved (the test owns it)"},
        {"no.such.prop=1", "-X no.such.prop=1: No such configuration property"},
        {"linger.ms=abc", "-X linger.ms=abc: "},
        {long_key, "': no such property"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const props[] = {"client.id=before", cases[i].item, "client.id=after"};
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        cr_assert(c);
        gope_err err = {{0}};
        cr_expect_eq(gope_kafka_conf_props(c, props, 3, owned, 1, &err), GOPE_ERR_USAGE,
                     "case %zu", i);
        cr_expect(strstr(err.msg, cases[i].msg), "case %zu: '%s' lacks '%s'", i, err.msg,
                  cases[i].msg);
        char v[64];
        cr_expect_str_eq(get(c, "client.id", v, sizeof v), "before", "case %zu", i);
        rd_kafka_conf_destroy(c);
    }
}

Test(kafka_conf, gope_kafka_conf_set_names_key_value_and_reason)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    cr_assert(c);
    gope_err err = {{0}};
    cr_expect_eq(gope_kafka_conf_set(c, "linger.ms", "12", &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_kafka_conf_set(c, "linger.ms", "-3", &err), GOPE_ERR_USAGE);
    cr_expect(strncmp(err.msg, "-X linger.ms=-3: ", 17) == 0, "%s", err.msg);
    rd_kafka_conf_destroy(c);
}

/* The consumer refuses enable.auto.commit only when it commits after
 * checkpoints; otherwise -X may turn auto-commit off. */
Test(kafka_conf, the_consumer_reserves_auto_commit_only_in_checkpoint_mode, .timeout = 60)
{
    const char *const topics[] = {"alloc"}, *const props[] = {"enable.auto.commit=false"};
    gope_kafka_conf kc = {.brokers = DOWN, .topics = topics, .n_topics = 1, .group = "g",
                          .props = props, .n_props = 1, .manual_commit = true};
    gope_kafka_source_t *ks = NULL;
    gope_err err = {{0}};
    cr_expect_eq(gope_kafka_source_open(&kc, &ks, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "-X enable.auto.commit: reserved with a checkpoint (offsets are "
                              "committed after each checkpoint)");
    cr_expect_null(ks);

    const char *const group[] = {"group.id=x"};
    kc.props = group;
    cr_expect_eq(gope_kafka_source_open(&kc, &ks, &err), GOPE_ERR_USAGE);
    cr_expect_str_eq(err.msg, "-X group.id: reserved (give the group as --group)");

    kc.props = props;
    kc.manual_commit = false;
    cr_assert_eq(gope_kafka_source_open(&kc, &ks, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_kafka_source_close(ks, &err), GOPE_OK, "%s", err.msg);
}
