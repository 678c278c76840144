/*
 * record.h — the output records of a run, as JSON lines (internal).
 * ope_metrics.v1 (one per window and policy), dead-letter lines and the
 * ope_run.v1 summary; schemas/ holds their JSON Schemas.
 */
#ifndef GOPE_RECORD_H
#define GOPE_RECORD_H

#include "gope_estimators.h"
#include "gope_ingest.h"
#include "jsonbuf.h"

/* One ope_metrics.v1 record; `revision` numbers the emissions of a window
 * (gope_window_result.revision, docs/schema.md). */
void gope_record_window(gope_jbuf *b, int64_t start, int64_t end, const char *policy,
                        uint32_t revision, const gope_estset_t *set, const gope_result *res);

/* One dead-letter record: where the line came from, why it was refused, and
 * the line itself ("raw", or "raw_base64" when it is not valid UTF-8). */
void gope_record_dead(gope_jbuf *b, const char *source, const gope_line *line,
                      gope_reason reason, const char *detail);

#endif /* GOPE_RECORD_H */
