/*
 * clitest.h — the scaffolding of the tests that run the giftope binary as a
 * user would (tests/e2e): a fresh temporary directory per test, the files
 * that capture the binary's stdout and stderr, paths inside the directory,
 * and "run it, expect this exit status and this text on stderr".
 *
 * The paths live in the context rather than in static buffers, so a test
 * can hold several at once (eight, rotating) without any global state.
 * Failures are Criterion assertions in the calling test.
 */
#ifndef GOPE_CLITEST_H
#define GOPE_CLITEST_H

#define TU_CLI_PATHS 8

typedef struct {
    char *dir;               /* tu_tmpdir(); tu_cli_done() removes it */
    char out[600], err[600]; /* dir/out.jsonl, dir/err.txt: stdout, stderr */
    char path[TU_CLI_PATHS][600];
    unsigned next;           /* the path[] slot tu_cli_path() fills next */
} tu_cli;

/* A fresh directory and the capture paths (cr_assert on failure). */
void tu_cli_init(tu_cli *c);

/* Removes the directory and everything in it. */
void tu_cli_done(tu_cli *c);

/* dir/name, in one of TU_CLI_PATHS rotating slots of `c`: valid until that
 * many more calls. */
const char *tu_cli_path(tu_cli *c, const char *name);

/* Writes `text` to dir/name (cr_assert); @return its path, as tu_cli_path. */
const char *tu_cli_write(tu_cli *c, const char *name, const char *text);

/* Runs giftope with `args` (NULL-terminated, without argv[0]), stdout to
 * c->out and stderr to c->err; expects (cr_expect) exit status `rc` and, when
 * `needle` is not NULL, `needle` somewhere in stderr. */
void tu_cli_expect(const tu_cli *c, const char *const *args, int rc, const char *needle);

/* Ends a test whose last check is the JSON Schema check of `paths`
 * (tu_validate_schema, report on stdout): runs it, calls tu_cli_done(c) so a
 * skipped test leaves nothing behind, then skips the test when python3 has
 * no jsonschema and otherwise expects (cr_expect) every line valid. */
void tu_cli_done_schemas(tu_cli *c, const char *const *paths);

#endif
