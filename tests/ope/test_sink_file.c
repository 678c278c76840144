/*
 * test_sink_file.c — gope_sink_file_open (ope/sink_file.c) on a pipe: each
 * line reaches the reader as soon as it is written (line buffering), so a
 * dashboard reading `consume --out -` sees a window's records when it
 * closes; a regular file keeps stdio's full buffer until flush or close.
 * gope_outfile_size / gope_outfile_rewind: what consume --checkpoint saves
 * of a file output and how a restore cuts it back.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gope_ope.h"
#include "testutil.h"

/* Bytes readable from `fd` right now (it is non-blocking). */
static ssize_t available(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size);
    return n < 0 ? 0 : n;
}

Test(sink_file, a_pipe_gets_every_line_when_it_is_written)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[1]);
    gope_sink sink;
    gope_err err = {{0}};
    cr_assert_eq(gope_sink_file_open(path, &sink, &err), GOPE_OK, "%s", err.msg);
    char buf[64];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sink.ops->write(sink.ctx, "k", "{\"r\":1}", 7, &err), GOPE_OK);
        cr_expect_eq(available(fds[0], buf, sizeof buf), 8, "line %d is in the pipe at once", i);
    }
    cr_assert_eq(gope_sink_close(&sink, &err), GOPE_OK);
    close(fds[0]);
    close(fds[1]);
}

Test(sink_file, a_regular_file_is_written_on_close)
{
    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    gope_sink sink;
    gope_err err = {{0}};
    cr_assert_eq(gope_sink_file_open(path, &sink, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(sink.ops->write(sink.ctx, "k", "{\"r\":1}", 7, &err), GOPE_OK);
    size_t len = 99;
    char *mid = tu_read_file(path, &len);
    cr_assert(mid);
    cr_expect_eq(len, 0, "buffered until close");
    free(mid);
    cr_assert_eq(gope_sink_close(&sink, &err), GOPE_OK);
    char *got = tu_read_file(path, NULL);
    cr_expect_str_eq(got, "{\"r\":1}\n");
    free(got);
    tu_rmtree(dir);
}

Test(sink_file, an_appended_file_is_cut_back_to_a_saved_size)
{
    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    cr_assert(tu_write_file(path, "{\"a\":1}\n{\"b\":2}\n", 16));
    gope_err err = {{0}};
    bool regular;
    uint64_t bytes, cut, short_by;
    cr_assert_eq(gope_outfile_size(path, &regular, &bytes, &err), GOPE_OK, "%s", err.msg);
    cr_expect(regular);
    cr_expect_eq(bytes, 16);
    /* a run opens it for appending, the checkpoint said 8 bytes: the second
     * line goes before anything is appended after it */
    gope_sink sink;
    cr_assert_eq(gope_sink_file_append(path, NULL, &sink, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_outfile_rewind(path, 8, NULL, &cut, &short_by, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(cut, 8);
    cr_expect_eq(short_by, 0);
    cr_assert_eq(sink.ops->write(sink.ctx, "k", "{\"c\":3}", 7, &err), GOPE_OK);
    cr_assert_eq(gope_sink_close(&sink, &err), GOPE_OK);
    char *got = tu_read_file(path, NULL);
    cr_expect_str_eq(got, "{\"a\":1}\n{\"c\":3}\n");
    free(got);
    /* the same size again cuts nothing; a larger one leaves it and says by how much */
    cr_assert_eq(gope_outfile_rewind(path, 16, NULL, &cut, &short_by, &err), GOPE_OK);
    cr_expect_eq(cut, 0);
    cr_expect_eq(short_by, 0);
    cr_assert_eq(gope_outfile_rewind(path, 20, NULL, &cut, &short_by, &err), GOPE_OK);
    cr_expect_eq(cut, 0);
    cr_expect_eq(short_by, 4);
    got = tu_read_file(path, NULL);
    cr_expect_str_eq(got, "{\"a\":1}\n{\"c\":3}\n");
    free(got);
    /* a missing file cannot be looked at: an error naming it */
    snprintf(path, sizeof path, "%s/gone.jsonl", dir);
    cr_expect_eq(gope_outfile_size(path, &regular, &bytes, &err), GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "gone.jsonl"), "%s", err.msg);
    tu_rmtree(dir);
}

Test(sink_file, stdout_and_a_fifo_are_not_sized_nor_cut)
{
    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    gope_err err = {{0}};
    bool regular = true;
    uint64_t bytes = 9, cut = 9, short_by = 9;
    cr_assert_eq(gope_outfile_size("-", &regular, &bytes, &err), GOPE_OK);
    cr_expect(!regular);
    cr_expect_eq(bytes, 0);
    regular = true;
    cr_assert_eq(gope_outfile_size(path, &regular, &bytes, &err), GOPE_OK, "%s", err.msg);
    cr_expect(!regular);
    cr_assert_eq(gope_outfile_rewind(path, 0, NULL, &cut, &short_by, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(cut, 0);
    cr_expect_eq(short_by, 0);
    tu_rmtree(dir);
}

Test(sink_file, the_kept_lines_after_the_saved_size_stay)
{
    char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.jsonl", dir);
    const char text[] = "{\"r\":1}\n{\"r\":2}\n{\"s\":\"end\",\"n\":2}\n{\"r\":3}\n{\"s\":\"end\"}\n";
    cr_assert(tu_write_file(path, text, strlen(text)));
    gope_err err = {{0}};
    uint64_t cut, short_by;
    cr_assert_eq(gope_outfile_rewind(path, 8, "{\"s\":", &cut, &short_by, &err), GOPE_OK, "%s",
                 err.msg);
    cr_expect_eq(cut, 16, "two record lines dropped");
    char *got = tu_read_file(path, NULL);
    cr_expect_str_eq(got, "{\"r\":1}\n{\"s\":\"end\",\"n\":2}\n{\"s\":\"end\"}\n");
    free(got);
    tu_rmtree(dir);
}
