/*
 * test_sink_append.c — gope_sink_file_append (ope/sink_file.c): a file
 * output that several consume runs share. A partial last line (a crash in
 * the middle of a write) is cut back to the last '\n', wherever it falls
 * against the backwards read's blocks; complete lines stay; a missing file
 * is created; the new lines follow the old ones.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "gope_ope.h"
#include "testutil.h"

/* Write `before` to dir/out.jsonl (NULL: no file), append "new" through the
 * sink; the file must then read `after`, with *cut bytes cut. */
static void expect_append(const char *before, const char *after, size_t want_cut)
{
    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    if (before)
        cr_assert(tu_write_file(path, before, strlen(before)));
    gope_sink sink;
    gope_err err = {{0}};
    size_t cut = 99;
    cr_assert_eq(gope_sink_file_append(path, &cut, &sink, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(cut, want_cut);
    cr_assert_eq(sink.ops->write(sink.ctx, "k", "new", 3, &err), GOPE_OK);
    cr_assert_eq(gope_sink_close(&sink, &err), GOPE_OK);
    char *got = tu_read_file(path, NULL);
    cr_assert(got);
    cr_expect_str_eq(got, after);
    free(got);
    tu_rmtree(dir);
}

Test(sink_append, a_partial_last_line_is_cut)
{
    expect_append("{\"a\":1}\n{\"b\":2}\n{\"c\":", "{\"a\":1}\n{\"b\":2}\nnew\n", 5);
}

Test(sink_append, complete_lines_stay)
{
    expect_append("{\"a\":1}\n", "{\"a\":1}\nnew\n", 0);
    expect_append("", "new\n", 0);
}

Test(sink_append, a_file_without_any_newline_is_emptied)
{
    expect_append("{\"half", "new\n", 6);
}

Test(sink_append, a_missing_file_is_created)
{
    expect_append(NULL, "new\n", 0);
}

Test(sink_append, the_cut_is_found_across_read_blocks)
{
    /* lines of 1000 bytes and a partial one of 9000: the last '\n' lies
     * three 4096-byte blocks back from the end */
    for (size_t tail = 4095; tail <= 9000; tail += 4905) {
        size_t n = 3000 + tail;
        char *before = malloc(n + 1), *after = malloc(3000 + 5);
        cr_assert(before && after);
        memset(before, 'x', n);
        for (size_t i = 999; i < 3000; i += 1000)
            before[i] = '\n';
        before[n] = '\0';
        memcpy(after, before, 3000);
        memcpy(after + 3000, "new\n", 5);
        expect_append(before, after, tail);
        free(before);
        free(after);
    }
}

Test(sink_append, an_unopenable_path_is_an_io_error_naming_it)
{
    gope_sink sink;
    gope_err err = {{0}};
    cr_expect_eq(gope_sink_file_append("/nonexistent-dir/out.jsonl", NULL, &sink, &err),
                 GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "/nonexistent-dir/out.jsonl: cannot open for appending"), "%s",
              err.msg);
}
