/*
 * agree_int.h — internals of the agreement code (ope/agree*.c), shared with
 * the CLI (`giftope agree`, `replay --truth`).
 *
 *   agree_read.c   reading JSON lines: typed field access with messages that
 *                  name file, line and field; an ope_metrics.v1 record into a
 *                  gope_agree_ope
 *   agree_truth.c  the truth file
 *   agree_rules.c  thresholds, the comparison, verdicts and their sentences
 *   agree.c        the session: records in, agreements kept, rankings, sink
 *   agree_json.c   writing agreement objects and summaries
 */
#ifndef GOPE_AGREE_INT_H
#define GOPE_AGREE_INT_H

#include <cjson/cJSON.h>

#include "gope_ope.h"
#include "jsonbuf.h"

/* ------------------------------------------------------------ reading */

/* Where a JSON line came from, for messages "file:line: field: problem". */
typedef struct {
    const char *source;
    uint64_t lineno;
} gope_jpos;

/* Parses one line; blank lines give *root NULL and GOPE_OK.
 * @return GOPE_ERR_INPUT when it is not a JSON object. */
gope_status gope_jline_parse(const gope_jpos *at, const char *line, size_t len, cJSON **root,
                             gope_err *err);

/* A number field `key` of `obj` (`path` prefixes the name in messages, e.g.
 * "estimates.snips"). Absent or null gives *ok false, unless `required`, which
 * makes both an error; anything but a number is an error.
 * @return GOPE_OK or GOPE_ERR_INPUT. */
gope_status gope_jnum(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      bool required, double *v, bool *ok, gope_err *err);

/* A required integer field >= min with |v| <= 2^53 (exact as a double). */
gope_status gope_jint(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      int64_t min, int64_t *v, gope_err *err);

/* A required string field; *s borrows from `obj`. */
gope_status gope_jstr(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      const char **s, gope_err *err);

/* A field that must be an object (or, when `nullable`, null: *out NULL);
 * absent is an error when `required`, else *out NULL. */
gope_status gope_jobj(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      bool required, bool nullable, const cJSON **out, gope_err *err);

/* The "schema" string of a line. */
gope_status gope_jschema(const gope_jpos *at, const cJSON *root, const char **schema,
                         gope_err *err);

/* The OPE side of an ope_metrics.v1 record; ope->policy borrows from `root`.
 * Missing estimates (snips, dr, snips_lift not configured) are undefined.
 * @return GOPE_OK or GOPE_ERR_INPUT. */
gope_status gope_agree_read_record(const gope_jpos *at, const cJSON *root, gope_agree_ope *ope,
                                   gope_err *err);

/* ------------------------------------------------------------ writing */

/* The per-policy agreement object {...} (the "agreement" block of a replay
 * record: no schema, window or policy). */
void gope_agree_write_block(gope_jbuf *b, const gope_agreement *a, const gope_agree_rules *rules);

/* One agreement.v1 line: schema, window and policy, then the block's fields. */
void gope_agree_write_record(gope_jbuf *b, const gope_agreement *a,
                             const gope_agree_rules *rules);

/* The run-level fields shared by agreement_run.v1 and the replay summary's
 * "agreement" object, appended to an open object: the truth file's path,
 * the logging policy, the simulator run, the rules, per-window rankings, the
 * run's tau and rho (those of the only window; null with several) and the
 * verdict counts. */
void gope_agree_write_run_fields(gope_jbuf *b, const gope_agree_t *a, const char *truth_path,
                                 const gope_agree_rank *ranks, size_t n_ranks);

/* "agreement":{...} (the run fields, rankings computed here) for the
 * replay summary, appended to an open object.
 * @return GOPE_OK or GOPE_ERR_NOMEM. */
gope_status gope_agree_write_summary(gope_jbuf *b, const gope_agree_t *a, const char *truth_path,
                                     gope_err *err);

/* The session's truth and rules (for writers and the table). */
const gope_truth_t *gope_agree_truth(const gope_agree_t *a);
const gope_agree_rules *gope_agree_rules_get(const gope_agree_t *a);

/* The run's tau or rho: the only window's, else undefined. */
bool gope_agree_run_rank(const gope_agree_rank *ranks, size_t n_ranks, bool tau, double *v);

#endif /* GOPE_AGREE_INT_H */
