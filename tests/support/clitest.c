/* clitest.c — see clitest.h. */
#include "clitest.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

void tu_cli_init(tu_cli *c)
{
    memset(c, 0, sizeof *c);
    c->dir = tu_tmpdir();
    cr_assert(c->dir, "cannot make a temporary directory");
    snprintf(c->out, sizeof c->out, "%s/out.jsonl", c->dir);
    snprintf(c->err, sizeof c->err, "%s/err.txt", c->dir);
}

void tu_cli_done(tu_cli *c)
{
    tu_rmtree(c->dir);
    c->dir = NULL;
}

const char *tu_cli_path(tu_cli *c, const char *name)
{
    char *p = c->path[c->next++ % TU_CLI_PATHS];
    snprintf(p, sizeof c->path[0], "%s/%s", c->dir, name);
    return p;
}

const char *tu_cli_write(tu_cli *c, const char *name, const char *text)
{
    const char *p = tu_cli_path(c, name);
    cr_assert(tu_write_file(p, text, strlen(text)), "cannot write %s", p);
    return p;
}

void tu_cli_expect(const tu_cli *c, const char *const *args, int rc, const char *needle)
{
    const int got = tu_run(args, NULL, NULL, c->out, c->err);
    char *err = tu_read_file(c->err, NULL);
    cr_assert(err, "no stderr file %s", c->err);
    const char *a0 = args[0] ? args[0] : "", *a1 = args[0] && args[1] ? args[1] : "";
    cr_expect_eq(got, rc, "%s %s ...: exit %d, want %d; stderr: %s", a0, a1, got, rc, err);
    if (needle)
        cr_expect(strstr(err, needle), "stderr \"%s\" lacks \"%s\"", err, needle);
    free(err);
}

void tu_cli_done_schemas(tu_cli *c, const char *const *paths)
{
    const int rc = tu_validate_schema(paths, false);
    tu_cli_done(c);
    if (rc == 77)
        cr_skip_test("python3 jsonschema is not installed");
    cr_expect_eq(rc, 0, "schema validation failed (see stdout)");
}
