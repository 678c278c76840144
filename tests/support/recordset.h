/*
 * recordset.h — the window records of giftope runs as a set, for tests that
 * compare runs (exactly-once, the reward join on Kafka): records keyed by
 * (window, policy, revision), so that a re-emission after a crash counts
 * once, and compared value for value with jsoncmp's tolerance.
 */
#ifndef GOPE_RECORDSET_H
#define GOPE_RECORDSET_H

#include <cJSON.h>

/* Every complete line of a run's output at `path`; a killed run may leave a
 * last line without its '\n', which is not part of the output. The
 * ope_metrics.v1 records go into `records` keyed by window, policy and
 * revision (a key seen before must carry the same record: a re-emission),
 * the last ope_run.v1 summary to *summary (NULL when there is none).
 * @return records added. */
int tr_collect(const char *path, cJSON *records, cJSON **summary);

/* The records of `got` are those of `want`, value for value. */
void tr_expect_same_records(const cJSON *got, const cJSON *want, const char *what);

#endif
