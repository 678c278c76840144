/*
 * test_sink_file.c — gope_sink_file_open (ope/sink_file.c) on a pipe: each
 * line reaches the reader as soon as it is written (line buffering), so a
 * dashboard reading `consume --out -` sees a window's records when it
 * closes; a regular file keeps stdio's full buffer until flush or close.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
