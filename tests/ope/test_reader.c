/* test_reader.c — the reader stage gives the same lines, decoded the same
 * way, in the same order, with one thread and with a reader thread: across
 * batch boundaries, with rejects, a line too long for the decoder, a fault
 * at the end, and an early close. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "gope_ope.h"
#include "testutil.h"

/* Every field a consumer can see, rendered to one text line per item. */
static void describe(const gope_decoded *d, FILE *fp)
{
    fprintf(fp, "%llu %llu %zu %d [%s] ", (unsigned long long)d->line.lineno,
            (unsigned long long)d->line.offset, d->line.len, (int)d->reason, d->detail);
    fwrite(d->line.data, 1, d->line.len, fp);
    if (d->reason != GOPE_R_OK) {
        fputc('\n', fp);
        return;
    }
    const gope_event *e = &d->ev;
    fprintf(fp, " | %s %lld %lld %.17g %.17g", e->event_id, (long long)e->ts,
            (long long)e->action, e->propensity, e->reward);
    for (size_t j = 0; j < e->n_candidates; j++)
        fprintf(fp, " %.17g/%.17g/%lld", e->candidates[j].ev, e->probs ? e->probs[j] : -1.0,
                (long long)e->candidates[j].load);
    fputc('\n', fp);
}

/* Everything the reader returns for `path`, and its final status. */
static char *read_all(const char *path, int threads, gope_status *end, char *msg,
                      size_t *len, bool slow)
{
    gope_pipeline_conf conf = {.require_reward = true};
    gope_reader_t *r;
    gope_err err = {{0}};
    cr_assert_eq(gope_reader_open(path, &conf, threads, &r, &err), GOPE_OK, "%s", err.msg);
    char *text;
    FILE *fp = open_memstream(&text, len);
    const gope_decoded *d;
    /* A slow caller lets the ring fill, so the reader decodes batches
     * itself; a fast one gets them raw and decodes them. */
    for (size_t i = 0; (*end = gope_reader_next(r, &d, &err)) == GOPE_OK; i++) {
        describe(d, fp);
        if (slow && i % 64 == 0)
            nanosleep(&(struct timespec){.tv_nsec = 500000}, NULL);
    }
    fclose(fp);
    strcpy(msg, err.msg);
    gope_reader_close(r);
    return text;
}

static void write_input(const char *path, size_t copies, bool with_long_line)
{
    size_t blen;
    char *bad = tu_read_file(GOPE_TEST_DATA "/bad/lines.jsonl", &blen);
    cr_assert(bad);
    FILE *fp = fopen(path, "wb");
    cr_assert(fp);
    for (size_t i = 0; i < copies; i++) {
        fprintf(fp, "{\"event_id\":\"e%zu\",\"ts\":%zu,\"user_id\":\"u\",\"candidates\":"
                    "[{\"streamer_id\":\"a\",\"ev\":%zu.5,\"load\":3},{\"streamer_id\":\"b\","
                    "\"ev\":0.25}],\"action\":1,\"propensity\":0.5,\"probs\":[0.5,0.5],"
                    "\"reward\":%zu}\n", i, 1000 * i, i, i % 7);
        if (i % 100 == 0)
            fwrite(bad, 1, blen, fp);
        if (with_long_line && i == copies / 2) {
            fputs("{\"event_id\":\"", fp);
            for (size_t k = 0; k < GOPE_MAX_LINE + 10; k++)
                fputc('x', fp);
            fputs("\"}\n", fp);
        }
    }
    fclose(fp);
    free(bad);
}

/* Read `path` with one thread and with two (fast and slow caller): the
 * same bytes out, the same final status `want` and message, and more than
 * `min_len` bytes of it. */
static void expect_same_both_ways(const char *path, gope_status want, size_t min_len)
{
    gope_status e1, e2;
    char m1[512], m2[512];
    size_t n1, n2;
    char *t1 = read_all(path, 1, &e1, m1, &n1, false);
    cr_assert_eq(e1, want);
    cr_assert_gt(n1, min_len);
    for (int slow = 0; slow < 2; slow++) {
        char *t2 = read_all(path, 2, &e2, m2, &n2, slow);
        cr_assert_eq(e2, want);
        cr_assert_str_eq(m1, m2);
        cr_assert(n1 == n2 && memcmp(t1, t2, n1) == 0, "threaded reader differs (slow %d)", slow);
        free(t2);
    }
    free(t1);
}

/* A fresh directory holding in.jsonl (see write_input); its path in `path`. */
static char *input_dir(char path[512], size_t copies, bool with_long_line)
{
    char *dir = tu_tmpdir();
    snprintf(path, 512, "%s/in.jsonl", dir);
    write_input(path, copies, with_long_line);
    return dir;
}

Test(reader, one_thread_and_two_give_identical_lines)
{
    char path[512];
    char *dir = input_dir(path, 2000, true);
    expect_same_both_ways(path, GOPE_EOF, GOPE_MAX_LINE + 2000 * 100);
    tu_rmtree(dir);
}

/* Wide lines: 1,000 minimal candidates each, so a batch of them decodes to
 * far more than its raw bytes (a decoded candidate with its prob is 56
 * bytes for 28 of JSON); the arena must budget every line's worst case. */
Test(reader, wide_lines_fit_their_batches)
{
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/wide.jsonl", dir);
    FILE *fp = fopen(path, "wb");
    cr_assert(fp);
    for (int i = 0; i < 300; i++) {
        fprintf(fp, "{\"event_id\":\"w%d\",\"ts\":%d,\"user_id\":\"u\",\"candidates\":[", i, i);
        for (int j = 0; j < 1000; j++)
            fprintf(fp, "%s{\"streamer_id\":\"\",\"ev\":0}", j ? "," : "");
        fputs("],\"action\":0,\"propensity\":1,\"reward\":1,\"probs\":[1", fp);
        for (int j = 1; j < 1000; j++)
            fputs(",0", fp);
        fputs("]}\n", fp);
    }
    fclose(fp);
    expect_same_both_ways(path, GOPE_EOF, 300 * 10);
    tu_rmtree(dir);
}

Test(reader, a_fault_comes_after_every_line_before_it)
{
    char plain[512], zpath[520];
    char *dir = input_dir(plain, 1500, false);
    snprintf(zpath, sizeof zpath, "%s.zst", plain);
    size_t n;
    char *data = tu_read_file(plain, &n);
    size_t cap = ZSTD_compressBound(n);
    char *z = malloc(cap);
    size_t zn = ZSTD_compress(z, cap, data, n, 3);
    cr_assert(!ZSTD_isError(zn));
    cr_assert(tu_write_file(zpath, z, zn - 7)); /* truncated frame */
    expect_same_both_ways(zpath, GOPE_ERR_IO, 1000 * 100);
    gope_status e;
    char msg[512];
    free(read_all(zpath, 2, &e, msg, &n, false));
    cr_assert(strstr(msg, "in.jsonl.zst"), "%s", msg);
    free(z);
    free(data);
    tu_rmtree(dir);
}

Test(reader, closing_early_stops_the_thread)
{
    char path[512];
    char *dir = input_dir(path, 5000, false);
    gope_pipeline_conf conf = {.require_reward = true};
    gope_reader_t *r;
    gope_err err;
    cr_assert_eq(gope_reader_open(path, &conf, 2, &r, &err), GOPE_OK);
    const gope_decoded *d;
    for (int i = 0; i < 10; i++)
        cr_assert_eq(gope_reader_next(r, &d, &err), GOPE_OK);
    uint64_t done, total;
    gope_reader_progress(r, &done, &total);
    cr_assert(done > 0 && done <= total);
    gope_reader_close(r);
    gope_reader_close(NULL);
    tu_rmtree(dir);
}

Test(reader, missing_file_is_an_io_error)
{
    gope_pipeline_conf conf = {0};
    gope_reader_t *r;
    gope_err err;
    cr_assert_eq(gope_reader_open("/nonexistent/x.jsonl", &conf, 2, &r, &err), GOPE_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/x.jsonl"), "%s", err.msg);
}
