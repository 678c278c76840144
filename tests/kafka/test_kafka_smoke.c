/*
 * test_kafka_smoke.c — the real-broker test set-up, end to end, with librdkafka's C API:
 * a topic with several partitions made through the admin API; 1,000 keyed messages
 * produced (idempotent producer, every delivery report checked); all of them consumed back
 * in a consumer group with rd_kafka_consumer_poll (not the batch queue API, which
 * librdkafka 2.0.2 gets wrong: docs/kafka-tests.md); offsets committed and read back from
 * the group coordinator through a second handle; and a new member of the group resuming
 * from those offsets, so it sees only messages produced after the commit.
 * Every message is checked: its key and value, that a key always lands in one partition,
 * that offsets run 0, 1, 2 ... in each partition and values keep their order there.
 * Needs a broker: tests/kafka/run.sh starts one and exports GOPE_KAFKA_BROKERS. Without
 * that variable the test is skipped, so tests/run.sh stays broker-free.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_FIRST 1000 /* produced and consumed by the first group member */
#define N_LATER 10   /* produced after the commit, for the second member */
#define N_MSG (N_FIRST + N_LATER)
#define N_PART 4
#define N_KEYS 37      /* keys k00..k36, several per partition */
#define WAIT_MS 30000  /* bound of every wait on the broker */
#define QUIET_MS 1000  /* how long "no more messages" is watched for */

/* What the consumers have seen so far, checked message by message. */
typedef struct {
    bool seen[N_MSG];
    int key_part[N_KEYS];       /* partition of each key, -1 before its first message */
    int64_t next_off[N_PART];   /* the offset the next message of the partition must have */
    int last_value[N_PART];     /* index of the last value seen in the partition, -1 none */
    int count;
} seen_log;

typedef struct {
    int delivered;
    int failed;
    char first_error[256];
} delivery;

static const char *brokers_or_skip(void)
{
    const char *b = getenv("GOPE_KAFKA_BROKERS");
    if (!b || !*b)
        cr_skip_test("GOPE_KAFKA_BROKERS is not set (tests/kafka/run.sh starts a broker)");
    return b;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* A configuration holding bootstrap.servers and the NULL-terminated key/value pairs. */
static rd_kafka_conf_t *conf_of(const char *brokers, const char *const *kv)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert(conf);
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK, "bootstrap.servers: %s", errstr);
    for (; *kv; kv += 2)
        cr_assert_eq(rd_kafka_conf_set(conf, kv[0], kv[1], errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK, "%s=%s: %s", kv[0], kv[1], errstr);
    return conf;
}

static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    cr_assert(rk, "rd_kafka_new: %s", errstr);
    return rk;
}

static rd_kafka_t *consumer_new(const char *brokers, const char *group)
{
    const char *const kv[] = {"group.id", group, "auto.offset.reset", "earliest",
                              "enable.auto.commit", "false", NULL};
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, conf_of(brokers, kv));
    cr_assert_eq(rd_kafka_poll_set_consumer(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
    return rk;
}

static void create_topic(rd_kafka_t *rk, const char *topic)
{
    char errstr[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, N_PART, 1, errstr, sizeof errstr);
    cr_assert(nt, "NewTopic: %s", errstr);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    /* the broker answers once the topic exists, not merely once it is accepted; an
     * unreachable broker gives a timed-out result rather than no result at all */
    cr_assert_eq(rd_kafka_AdminOptions_set_operation_timeout(opt, WAIT_MS, errstr, sizeof errstr),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    cr_assert_eq(rd_kafka_AdminOptions_set_request_timeout(opt, WAIT_MS, errstr, sizeof errstr),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS + 5000);
    cr_assert(ev, "CreateTopics: no answer");
    cr_assert_eq(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR, "CreateTopics: %s",
                 rd_kafka_event_error_string(ev));
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    cr_assert(res, "not a CreateTopics result: %s", rd_kafka_event_name(ev));
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "create %s: %s",
                 topic, rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    delivery *d = opaque;
    if (!m->err) {
        d->delivered++;
    } else if (d->failed++ == 0) {
        snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
    }
}

/* Message i: key "k%02d" (i mod N_KEYS), value "v%04d" (i). */
static void produce_range(rd_kafka_t *rk, const char *topic, int from, int to, delivery *d)
{
    for (int i = from; i < to; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%02d", i % N_KEYS);
        snprintf(val, sizeof val, "v%04d", i);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce %d: %s", i, rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0); /* serve delivery reports as they come */
    }
    cr_assert_eq(rd_kafka_flush(rk, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "flush: %d messages still queued", rd_kafka_outq_len(rk));
    cr_assert_eq(d->failed, 0, "%d deliveries failed, first: %s", d->failed, d->first_error);
    cr_assert_eq(d->delivered, to, "delivered %d of %d", d->delivered, to);
}

static void check_message(seen_log *s, const rd_kafka_message_t *m)
{
    cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s", rd_kafka_message_errstr(m));
    int p = m->partition;
    cr_assert(p >= 0 && p < N_PART, "partition %d", p);
    char val[16] = "", key[16] = "";
    cr_assert(m->len == 5 && m->key_len == 3, "p%d@%lld: sizes %zu/%zu", p, (long long)m->offset,
              m->key_len, m->len);
    memcpy(val, m->payload, m->len);
    memcpy(key, m->key, m->key_len);
    int i = atoi(val + 1);
    cr_assert(val[0] == 'v' && i >= 0 && i < N_MSG, "p%d: value \"%s\"", p, val);
    cr_assert(!s->seen[i], "value %s received twice", val);
    char want_key[16];
    snprintf(want_key, sizeof want_key, "k%02d", i % N_KEYS);
    cr_assert_str_eq(key, want_key, "key of %s", val);
    int *kp = &s->key_part[i % N_KEYS];
    cr_assert(*kp < 0 || *kp == p, "key %s in partitions %d and %d", key, *kp, p);
    cr_assert_eq(m->offset, s->next_off[p], "p%d: offset %lld, want %lld", p,
                 (long long)m->offset, (long long)s->next_off[p]);
    cr_assert_gt(i, s->last_value[p], "p%d: %s after v%04d", p, val, s->last_value[p]);
    *kp = p;
    s->seen[i] = true;
    s->next_off[p] = m->offset + 1;
    s->last_value[p] = i;
    s->count++;
}

/* Poll until the log holds `total` messages, then for QUIET_MS more expecting none. */
static void consume_to(rd_kafka_t *rk, seen_log *s, int total)
{
    double deadline = now_ms() + WAIT_MS;
    while (s->count < total && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        check_message(s, m);
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(s->count, total, "consumed %d of %d messages in %d ms", s->count, total, WAIT_MS);
    rd_kafka_message_t *extra = rd_kafka_consumer_poll(rk, QUIET_MS);
    cr_assert_null(extra, "after %d messages, one more at p%d@%lld (%s)", total,
                   extra ? extra->partition : -1, extra ? (long long)extra->offset : -1LL,
                   extra && extra->err ? rd_kafka_message_errstr(extra) : "no error");
}

static rd_kafka_topic_partition_list_t *all_partitions(const char *topic)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(N_PART);
    for (int p = 0; p < N_PART; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    return l;
}

Test(kafka_smoke, produce_consume_commit, .timeout = 180)
{
    const char *brokers = brokers_or_skip();
    char topic[64], group[80];
    snprintf(topic, sizeof topic, "gope-smoke-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(group, sizeof group, "%s-group", topic);
    seen_log s = {.count = 0};
    for (int k = 0; k < N_KEYS; k++)
        s.key_part[k] = -1;
    for (int p = 0; p < N_PART; p++)
        s.last_value[p] = -1;

    delivery d = {.delivered = 0};
    const char *const pkv[] = {"enable.idempotence", "true", "linger.ms", "5", NULL};
    rd_kafka_conf_t *pconf = conf_of(brokers, pkv);
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_conf_set_opaque(pconf, &d);
    rd_kafka_t *prod = client_new(RD_KAFKA_PRODUCER, pconf);
    create_topic(prod, topic);
    produce_range(prod, topic, 0, N_FIRST, &d);

    /* The first member reads everything and commits where it stopped. */
    rd_kafka_t *c1 = consumer_new(brokers, group);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(c1, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
    consume_to(c1, &s, N_FIRST);
    for (int p = 0; p < N_PART; p++)
        cr_expect_gt(s.next_off[p], 0, "partition %d got none of %d keys", p, N_KEYS);
    rd_kafka_topic_partition_list_t *done = all_partitions(topic);
    for (int p = 0; p < N_PART; p++)
        done->elems[p].offset = s.next_off[p];
    cr_assert_eq(rd_kafka_commit(c1, done, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_consumer_close(c1), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(c1);

    /* A handle that never joins the group asks the coordinator what was committed. */
    rd_kafka_t *probe = consumer_new(brokers, group);
    rd_kafka_topic_partition_list_t *got = all_partitions(topic);
    cr_assert_eq(rd_kafka_committed(probe, got, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t total = 0;
    for (int p = 0; p < N_PART; p++) {
        cr_expect_eq(got->elems[p].err, RD_KAFKA_RESP_ERR_NO_ERROR, "p%d: %s", p,
                     rd_kafka_err2str(got->elems[p].err));
        cr_expect_eq(got->elems[p].offset, s.next_off[p], "p%d: committed %lld, want %lld", p,
                     (long long)got->elems[p].offset, (long long)s.next_off[p]);
        total += got->elems[p].offset;
    }
    cr_expect_eq(total, N_FIRST, "committed offsets sum to %lld", (long long)total);
    rd_kafka_destroy(probe);

    /* A new member resumes at the committed offsets: it sees only the later messages
     * (consume_to fails on a repeat or on an offset other than the next expected one). */
    produce_range(prod, topic, N_FIRST, N_MSG, &d);
    rd_kafka_t *c2 = consumer_new(brokers, group);
    cr_assert_eq(rd_kafka_subscribe(c2, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
    consume_to(c2, &s, N_MSG);
    cr_assert_eq(rd_kafka_consumer_close(c2), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(c2);

    rd_kafka_topic_partition_list_destroy(got);
    rd_kafka_topic_partition_list_destroy(done);
    rd_kafka_topic_partition_list_destroy(sub);
    rd_kafka_destroy(prod);
}
