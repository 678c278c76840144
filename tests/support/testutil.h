/* testutil.h — helpers shared by the test files: running the giftope binary,
 * reading files, JSON-lines parsing, dotted-path lookups in JSON output, the
 * JSON Schema check and the oracle tolerance. */
#ifndef GOPE_TESTUTIL_H
#define GOPE_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

/* Run GOPE_BIN with `args` (NULL-terminated, without argv[0]) in `cwd`
 * (NULL = current), stdin from `in_path` (NULL = /dev/null), stdout and stderr
 * to the given files (NULL = /dev/null). @return the exit status, or -1. */
int tu_run(const char *const *args, const char *cwd, const char *in_path,
           const char *out_path, const char *err_path);

/* Whole file, NUL-terminated; *len may be NULL. NULL on error. free() it. */
char *tu_read_file(const char *path, size_t *len);

/* Write `len` bytes to `path`. @return true on success. */
bool tu_write_file(const char *path, const void *data, size_t len);

/* Parse a JSON-lines file: a cJSON array of its lines (each must parse). */
cJSON *tu_read_jsonl(const char *path);

/* python3 tests/e2e/validate_schema.py: every line of each file in `paths`
 * (NULL-terminated) against the schema in schemas/ that its "schema" field
 * names. The validator's report (file:line: field: message) goes to stdout
 * unless `quiet`. @return 0 every line valid, 1 some line invalid, 77 python3
 * has no jsonschema (the caller skips the check), -1 it could not run. */
int tu_validate_schema(const char *const *paths, bool quiet);

/* The member of `o` at a dotted path ("lift.sim", "verdicts.launch"); fails
 * the calling Criterion test (cr_assert) when a step is missing. */
const cJSON *tu_get(const cJSON *o, const char *path);

/* tu_get, and the member must be a number / a string (cr_assert). */
double tu_num(const cJSON *o, const char *path);
const char *tu_str(const cJSON *o, const char *path);

/* A fresh temporary directory path (mkdtemp under /tmp); free() it. */
char *tu_tmpdir(void);

/* Remove `dir` and everything below it, then free(dir). NULL does nothing. */
void tu_rmtree(char *dir);

/* |got - want| <= max(1e-9 * max(|got|, |want|), 1e-12) */
bool tu_close(double got, double want);

/* Compare two JSON numbers-or-null with tu_close; "null or absent" on the
 * expected side accepts null or absent. Sets *why on mismatch. */
bool tu_num_match(const cJSON *got, const cJSON *want);

#endif
