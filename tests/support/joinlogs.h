/*
 * joinlogs.h — the reward-join tests' logs (tests/kafka/test_kafka_join.c,
 * test_kafka_parts_join.c): decisions whose rewards arrive as reward.v1
 * lines, split onto two texts or interleaved on one.
 */
#ifndef GOPE_JOINLOGS_H
#define GOPE_JOINLOGS_H

#include <stdbool.h>
#include <stddef.h>

#define TJ_T0 1735689600000LL /* ts of the first decision */
#define TJ_N_DEC 3000         /* decisions of tj_make_logs */

/* A decision line (with its newline) into buf: id PREFIX-i at `ts`, three
 * candidates, reward inline or not. @return its length, as snprintf. */
int tj_decision(char *buf, size_t size, const char *prefix, int i, long long ts,
                bool with_reward);

/* Appends `line` to the text *buf of length *len and capacity *cap
 * (grown by realloc; asserts on failure). */
void tj_append(char **buf, size_t *len, size_t *cap, const char *line);

/* TJ_N_DEC decisions d-i over 5 minutes (every tenth with its reward
 * inline), their rewards (one, or two halves 19 s apart, 1-13 s after the
 * decision; a few orphans) sorted by ts, and both interleaved by ts. */
typedef struct {
    char *decisions, *rewards, *mixed;
} tj_logs;

void tj_make_logs(tj_logs *l);
void tj_free_logs(tj_logs *l);

#endif /* GOPE_JOINLOGS_H */
