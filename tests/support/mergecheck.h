/*
 * mergecheck.h — what the scale-out tests share (tests/kafka/test_kafka_merge.c,
 * test_kafka_rebalance.c): a log whose partitions each end with a sentinel
 * event far after it, so that every window of the log is final in
 * `giftope merge`, and merge's records compared with one instance's.
 */
#ifndef GOPE_MERGECHECK_H
#define GOPE_MERGECHECK_H

#include <cjson/cJSON.h>

#include "clitest.h"

/* ts of the first line of `text`, and of its last line. */
void tm_log_span(const char *text, double *first, double *last);

/* One sentinel event into each of partitions 0 .. n_part-1, at `ts`. */
void tm_produce_sentinels(const char *brokers, const char *topic, int n_part, double ts);

/* The ope_metrics.v1 records of `path`, by "start/policy" (asserting each
 * comes once); *summary a copy of the last line whose schema is
 * `summary_schema`. Free both with cJSON_Delete. */
cJSON *tm_records_of(const char *path, const char *summary_schema, cJSON **summary);

/* The ope_run.v1 summary on the last line of `path`, a copy (asserts it is
 * there); free it with cJSON_Delete. */
cJSON *tm_summary_of(const char *path);

/* Every record of `want` (one instance) is in `got` (merge) with the same
 * values (tu_expect_same_json), but those of windows ending after
 * `sentinel`, which must be absent; and `got` holds nothing else.
 * @return the number of final records compared; *n_open those left out. */
int tm_expect_merged(const cJSON *got, const cJSON *want, double sentinel, int *n_open);

/* The scale-out tests' log: n_lines simulated events (tk_sim_log, K = 10) in
 * dir/log.jsonl, returned (free it); a window of about a fifth of its span
 * in `win` ("Ns"), and in *sentinel a ts ten windows after its last event
 * (tm_produce_sentinels); `topic` created with n_part partitions and
 * `partials` with one. */
char *tm_setup(tu_cli *c, const char *brokers, const char *topic, int n_part,
               const char *partials, int n_lines, char win[32], double *sentinel);

/* What the scale-out tests compare, side by side: `giftope merge` of
 * `partials` (n_source partitions of `topic`; group TOPIC-merge) into
 * `mout`, then one uninterrupted instance over `topic` (group TOPIC-one,
 * --window `win`) into `sout`. Merge's records and summary go to *got and *ms,
 * the instance's to *want and *ss (tm_records_of). */
void tm_merge_and_one(const tu_cli *c, const char *brokers, const char *topic,
                      const char *partials, const char *n_source, const char *win,
                      const char *mout, const char *sout, cJSON **got, cJSON **ms, cJSON **want,
                      cJSON **ss);

#endif /* GOPE_MERGECHECK_H */
