/*
 * test_kafka_source.c — the offsets of ingest/kafka_source.c in a consumer
 * group (suite kafka_source; skipped without GOPE_KAFKA_BROKERS, see
 * docs/kafka-tests.md). A processed message's position is kept by the
 * source and handed to librdkafka only at a flush, so: what was flushed is
 * auto-committed, what was stored but not flushed is not, and a revoke
 * flushes and commits by itself, so the member a partition moves to starts
 * right after the last message processed, and close commits the rest.
 * The committed offsets are read from the coordinator by a handle that
 * never joins the group.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gope_ingest.h"
#include "kafkatest.h"

#define N_PART 2
#define N_MSG 100
#define N_FLUSHED 40
#define POLL_MS 50
#define QUIET_MS 2000 /* "no commit / no message" is watched this long */

static const char *const props[] = {"auto.commit.interval.ms=100"};

typedef struct {
    int assigned, revoked;
} moves;

static gope_status on_partition(void *ctx, const char *topic, int32_t partition, bool assigned,
                                gope_err *err)
{
    (void)topic, (void)partition, (void)err;
    moves *mv = ctx;
    *(assigned ? &mv->assigned : &mv->revoked) += 1;
    return GOPE_OK;
}

static gope_kafka_source_t *source_open(const char *brokers, const char **topic,
                                        const char *group, moves *mv)
{
    gope_kafka_conf kc = {.brokers = brokers, .topics = topic, .n_topics = 1, .group = group,
                          .props = props, .n_props = 1, .on_partition = on_partition,
                          .partition_ctx = mv};
    gope_kafka_source_t *ks = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_kafka_source_open(&kc, &ks, &err), GOPE_OK, "%s", err.msg);
    return ks;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Takes and stores `n` messages; fails on a repeated offset. */
static void take(gope_kafka_source_t *ks, int n, int64_t *next)
{
    gope_err err = {{0}};
    double end = now_ms() + TK_WAIT_MS;
    for (int got = 0; got < n;) {
        cr_assert_lt(now_ms(), end, "%d of %d messages", got, n);
        gope_kafka_msg m;
        gope_status st = gope_kafka_source_next(ks, POLL_MS, &m, &err);
        if (st == GOPE_EOF)
            continue;
        cr_assert_eq(st, GOPE_OK, "%s", err.msg);
        cr_assert_eq(m.offset, next[m.partition], "p%d: offset %lld, want %lld", m.partition,
                     (long long)m.offset, (long long)next[m.partition]);
        next[m.partition] = m.offset + 1;
        cr_assert_eq(gope_kafka_source_store(ks, &err), GOPE_OK, "%s", err.msg);
        got++;
    }
}

/* The group's committed offsets, none counting as 0, summed over the
 * partitions: the number of messages committed as processed. */
static int64_t committed_sum(const char *brokers, const char *topic, const char *group)
{
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof e), RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(c, "group.id", group, e, sizeof e), RD_KAFKA_CONF_OK);
    rd_kafka_t *probe = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    cr_assert_not_null(probe, "%s", e);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(N_PART);
    for (int p = 0; p < N_PART; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    cr_assert_eq(rd_kafka_committed(probe, l, TK_WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t sum = 0;
    for (int p = 0; p < N_PART; p++)
        sum += l->elems[p].offset > 0 ? l->elems[p].offset : 0;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(probe);
    return sum;
}

/* Waits until the group has committed `want` messages or, with `stay`,
 * checks that the sum does not move from `want` for QUIET_MS. Auto-commit
 * runs on librdkafka's own thread: the source need not be polled. */
static void expect_committed(const char *brokers, const char *topic, const char *group,
                             int64_t want, bool stay)
{
    double end = now_ms() + (stay ? QUIET_MS : TK_WAIT_MS);
    int64_t sum = -1;
    while (now_ms() < end && (stay || sum != want)) {
        sum = committed_sum(brokers, topic, group);
        cr_assert(!stay || sum == want, "committed %lld, want %lld", (long long)sum,
                  (long long)want);
    }
    cr_assert_eq(sum, want, "committed %lld, want %lld", (long long)sum, (long long)want);
}

Test(kafka_source, flushed_positions_are_committed_and_a_revoke_commits_the_rest,
     .timeout = 180)
{
    const char *brokers = tk_brokers_or_skip();
    char topic[64], group[80], text[N_MSG * 16] = "";
    tk_unique(topic, sizeof topic, "source");
    snprintf(group, sizeof group, "%s-group", topic);
    tk_create_topic(brokers, topic, N_PART);
    for (int i = 0; i < N_MSG; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "message %d\n", i);
    cr_assert_eq(tk_produce_lines(brokers, topic, text), N_MSG);
    const char *topics[] = {topic};
    int64_t next[N_PART] = {0};
    gope_err err = {{0}};

    moves a = {0}, b = {0};
    gope_kafka_source_t *ka = source_open(brokers, topics, group, &a);
    take(ka, N_FLUSHED, next);
    cr_assert_eq(gope_kafka_source_flush(ka, &err), GOPE_OK, "%s", err.msg);
    expect_committed(brokers, topic, group, N_FLUSHED, false);
    take(ka, N_MSG - N_FLUSHED, next); /* stored, not flushed: auto-commit has nothing new */
    expect_committed(brokers, topic, group, N_FLUSHED, true);

    /* B joins: A's revoke commits the moved partition where A stopped, so B gets nothing */
    gope_kafka_source_t *kb = source_open(brokers, topics, group, &b);
    double end = now_ms() + TK_WAIT_MS;
    gope_kafka_msg m;
    while (!(b.assigned && a.revoked)) {
        cr_assert_lt(now_ms(), end, "no rebalance: A revoked %d, B assigned %d", a.revoked,
                     b.assigned);
        cr_assert_eq(gope_kafka_source_next(ka, POLL_MS, &m, &err), GOPE_EOF, "%s", err.msg);
        cr_assert_eq(gope_kafka_source_next(kb, POLL_MS, &m, &err), GOPE_EOF, "%s", err.msg);
    }
    for (end = now_ms() + QUIET_MS; now_ms() < end;)
        cr_assert_eq(gope_kafka_source_next(kb, POLL_MS, &m, &err), GOPE_EOF,
                     "B read p%d@%lld again", m.partition, (long long)m.offset);
    cr_assert_eq(gope_kafka_source_close(ka, &err), GOPE_OK, "%s", err.msg); /* commits the rest */
    cr_expect_eq(committed_sum(brokers, topic, group), N_MSG);
    cr_assert_eq(gope_kafka_source_close(kb, &err), GOPE_OK, "%s", err.msg);
}
