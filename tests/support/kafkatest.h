/*
 * kafkatest.h — what the tests against the real broker share (tests/kafka,
 * docs/kafka-tests.md): the broker from GOPE_KAFKA_BROKERS, unique names,
 * topics created with the admin API, producing lines keyed by event_id, and
 * reading a whole topic back with keys and partitions, and the simulator
 * logs they produce. Every wait is bounded (TK_WAIT_MS); failures are
 * Criterion assertions in the calling test.
 */
#ifndef GOPE_KAFKATEST_H
#define GOPE_KAFKATEST_H

#include <stddef.h>
#include <stdint.h>

#include "clitest.h"

#define TK_WAIT_MS 30000

/* GOPE_KAFKA_BROKERS, or skips the calling test when it is not set. */
const char *tk_brokers_or_skip(void);

/* GOPE_KAFKA_SASL_BROKERS (the broker's SASL_PLAINTEXT listener, mechanism
 * PLAIN), or skips the calling test when it is not set. */
const char *tk_sasl_brokers_or_skip(void);

/* "gope-WHAT-PID-TIME": a topic or group name no other test run uses. */
void tk_unique(char *buf, size_t size, const char *what);

/* Creates `topic` with `partitions` partitions (replication 1). */
void tk_create_topic(const char *brokers, const char *topic, int partitions);

/* Produces every line of `text` (one message each, without the '\n') keyed
 * by its event_id ("line-N" when it has none) with an idempotent producer,
 * and waits for every delivery. @return the number of messages. */
int tk_produce_lines(const char *brokers, const char *topic, const char *text);

/* The same, every line into `partition` (-1: by key, as above). */
int tk_produce_lines_to(const char *brokers, const char *topic, int32_t partition,
                        const char *text);

/* A small kuailive world (500 users, 40 streamers, `k` candidates per
 * event, so thousands of lines stay small) written to c's directory.
 * @return its path, as tu_cli_path. */
const char *tk_small_world(tu_cli *c, int k);

/* `giftope sim --policy eps_greedy` on tk_small_world(c, k): `decisions`
 * events written to `path`. @return the log's text (free() it). */
char *tk_sim_log(tu_cli *c, int k, int decisions, const char *path);

/* One message read back. */
typedef struct {
    char *key;       /* NUL-terminated; "" for no key */
    char *value;     /* NUL-terminated */
    int32_t partition;
} tk_msg;

/* Every message of `topic`, from the start of each partition to its end,
 * in offset order within each partition. Free with tk_msgs_free. */
tk_msg *tk_read_topic(const char *brokers, const char *topic, size_t *n);

void tk_msgs_free(tk_msg *m, size_t n);

#endif
