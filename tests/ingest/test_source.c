/*
 * test_source.c — line sources (gope_source_*), plain and zstd.
 *
 * Every test writes its input to a mkstemp file under /tmp (zstd data is made
 * here with the zstd library) and compares what the source hands out with a
 * reference split done in the test: a byte-by-byte scan for '\n' over the
 * decompressed bytes, giving each line's offset, length and contents. The
 * reference knows nothing about buffers, so any slip at a buffer or frame
 * boundary shows up as a wrong offset or wrong bytes.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "gope_ingest.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    char *p;
    size_t n, cap;
} bytes;

/* Room for `n` more bytes; the caller writes them. */
static char *grow(bytes *b, size_t n)
{
    if (!b->p || b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    b->n += n;
    return b->p + b->n - n;
}

static void put(bytes *b, const void *p, size_t n)
{
    char *dst = grow(b, n);
    if (n)
        memcpy(dst, p, n);
}

static void put_str(bytes *b, const char *s) { put(b, s, strlen(s)); }

static void put_fill(bytes *b, char c, size_t n) { memset(grow(b, n), c, n); }

/* One zstd frame of `n` bytes at level 3 (with a content checksum if asked),
 * appended to `out`. */
static void put_frame(bytes *out, const void *src, size_t n, bool checksum)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    cr_assert_not_null(cctx);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
    size_t bound = ZSTD_compressBound(n);
    char *dst = malloc(bound);
    cr_assert_not_null(dst);
    size_t z = ZSTD_compress2(cctx, dst, bound, src, n);
    cr_assert(!ZSTD_isError(z), "ZSTD_compress2: %s", ZSTD_getErrorName(z));
    put(out, dst, z);
    free(dst);
    ZSTD_freeCCtx(cctx);
}

/* Streams `n` bytes through ZSTD_compressStream2 with `mode`: ZSTD_e_end
 * closes a frame, ZSTD_e_flush only ends a block (a live logger's habit). */
static void put_stream(bytes *out, ZSTD_CStream *zcs, const char *src, size_t n,
                       ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {src, n, 0};
    size_t left;
    do {
        ZSTD_outBuffer o = {grow(out, 1 << 16), 1 << 16, 0};
        left = ZSTD_compressStream2(zcs, &o, &in, mode);
        cr_assert(!ZSTD_isError(left), "%s", ZSTD_getErrorName(left));
        out->n -= o.size - o.pos;
    } while (left != 0);
}

/* `pieces` frames, each cut at an arbitrary byte (so mid-line), one empty
 * frame after the first, and a skippable frame in front. */
static void put_frames(bytes *out, const char *src, size_t n, size_t pieces)
{
    static const unsigned char skippable[] = {0x53, 0x2A, 0x4D, 0x18, 3, 0, 0, 0,
                                              'a', '\n', 'b'};
    put(out, skippable, sizeof skippable);
    ZSTD_CStream *zcs = ZSTD_createCStream();
    cr_assert_not_null(zcs);
    for (size_t k = 1, at = 0; k <= pieces; k++) {
        size_t stop = n * k / pieces + (k < pieces ? 7 : 0);
        if (stop > n)
            stop = n;
        put_stream(out, zcs, src + at, stop - at, ZSTD_e_end);
        at = stop;
        if (k == 1)
            put_frame(out, "", 0, false);
    }
    ZSTD_freeCStream(zcs);
}

static char *temp_file(const void *data, size_t n)
{
    char *path = strdup("/tmp/gope-source-XXXXXX");
    cr_assert_not_null(path);
    int fd = mkstemp(path);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

static void drop_temp(char *path)
{
    unlink(path);
    free(path);
}

static gope_source_t *must_open(const char *path)
{
    gope_source_t *src = NULL;
    gope_err err = {{0}};
    gope_status st = gope_source_open(path, &src, &err);
    cr_assert_eq(st, GOPE_OK, "open %s: %s", path, err.msg);
    cr_assert_not_null(src);
    return src;
}

/* Reads `src` to the end, checking every line against the reference split of
 * `ref`. With `fault`, the source must end in GOPE_ERR_IO after exactly the
 * complete lines of `ref` (a trailing partial line is not returned) and the
 * error is sticky; else in GOPE_EOF after all of `ref`'s lines.
 * @return the number of lines, and the final error in *err. */
static uint64_t check_lines(gope_source_t *src, const char *ref, size_t n, bool fault,
                            gope_err *err)
{
    gope_line line;
    size_t pos = 0;
    uint64_t count = 0;
    gope_status st;
    while ((st = gope_source_next(src, &line, err)) == GOPE_OK) {
        size_t end = pos;
        while (end < n && ref[end] != '\n')
            end++;
        size_t full = end - pos;
        cr_assert(pos < n, "line %llu beyond the reference", (unsigned long long)count + 1);
        cr_assert(!fault || end < n, "partial line returned before a fault");
        cr_assert_eq(line.lineno, ++count);
        cr_assert_eq(line.offset, pos, "line %llu: offset %llu, want %zu",
                     (unsigned long long)count, (unsigned long long)line.offset, pos);
        cr_assert_eq(line.full_len, full, "line %llu: full_len", (unsigned long long)count);
        cr_assert_eq(line.too_long, full > GOPE_MAX_LINE, "line %llu: too_long %d, %zu bytes",
                     (unsigned long long)count, line.too_long, full);
        cr_assert_eq(line.len, full > GOPE_MAX_LINE ? GOPE_MAX_LINE : full);
        cr_assert(line.len == 0 || memcmp(line.data, ref + pos, line.len) == 0,
                  "line %llu: wrong bytes", (unsigned long long)count);
        pos = end + 1;
    }
    if (fault) {
        cr_assert_eq(st, GOPE_ERR_IO, "want a fault, got %d", st);
        cr_assert(memchr(ref + (pos < n ? pos : n), '\n', pos < n ? n - pos : 0) == NULL,
                  "a complete line was not returned before the fault");
        gope_err again;
        cr_assert_eq(gope_source_next(src, &line, &again), GOPE_ERR_IO, "fault not sticky");
        cr_assert_str_eq(again.msg, err->msg);
    } else {
        cr_assert_eq(st, GOPE_EOF, "status %d: %s", st, err->msg);
        cr_assert(pos >= n, "stopped at byte %zu of %zu", pos, n);
        cr_assert_eq(gope_source_next(src, &line, err), GOPE_EOF, "EOF not sticky");
    }
    return count;
}

/* Writes `file` to a temp file and checks it decodes to `ref`. */
static uint64_t check_file(const bytes *file, const char *ref, size_t n)
{
    char *path = temp_file(file->p, file->n);
    gope_source_t *src = must_open(path);
    gope_err err;
    uint64_t lines = check_lines(src, ref, n, false, &err);
    uint64_t consumed, total;
    gope_source_progress(src, &consumed, &total);
    cr_assert_eq(consumed, file->n);
    cr_assert_eq(total, file->n);
    cr_assert_str_eq(gope_source_name(src), path);
    gope_source_close(src);
    drop_temp(path);
    return lines;
}

/* The same text as a plain file and as a multi-frame zstd file. */
static uint64_t check_both(const char *text, size_t n)
{
    bytes plain = {0}, z = {0};
    put(&plain, text, n);
    put_frames(&z, text, n, 3);
    uint64_t a = check_file(&plain, text, n);
    uint64_t b = check_file(&z, text, n);
    cr_assert_eq(a, b);
    free(plain.p);
    free(z.p);
    return a;
}

/* Seeded lines of mixed length: mostly ~1 KB, some tiny or empty, some tens
 * of KiB, and (with `huge`) a few over GOPE_MAX_LINE. */
static void random_text(bytes *b, size_t target, unsigned seed, bool huge)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    while (b->n < target) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(s >> 33);
        size_t len = r % 2000;
        if (r % 97 == 0)
            len = r % 70000;
        if (huge && r % 1009 == 0)
            len = GOPE_MAX_LINE - 2 + r % 5;
        if (r % 13 == 0)
            len = 0;
        char *line = grow(b, len);
        for (size_t i = 0; i < len; i++)
            line[i] = (char)('!' + (i * 7 + r) % 90);
        put(b, "\n", 1);
    }
}

/* ------------------------------------------------------------ plain text */

Test(source, lines_offsets_empty_lines_and_no_final_newline)
{
    static const char text[] = "a\nbb\n\nccc\n\n\nlast";
    cr_assert_eq(check_both(text, sizeof text - 1), 7);
}

Test(source, tiny_inputs)
{
    cr_assert_eq(check_both("", 0), 0, "an empty input has no lines");
    cr_assert_eq(check_both("\n", 1), 1);
    cr_assert_eq(check_both("z", 1), 1);
    cr_assert_eq(check_both("\n\nz", 3), 3);
}

/* The reference split keeps each '\r' in the line, so check_both() checks
 * that the source does too (lengths 8, 1, 2). */
Test(source, crlf_keeps_the_carriage_return)
{
    static const char text[] = "{\"a\":1}\r\n\r\nx\r\n";
    cr_assert_eq(check_both(text, sizeof text - 1), 3);
}

Test(source, near_magic_and_short_files_are_plain)
{
    static const char near[] = "\x28\xb5\x2f\xfe rest\nline2\n";
    static const char skip_near[] = "\x50\x2a\x4d\x19\n";
    static const char three[] = "\x28\xb5\x2f";
    const char *texts[] = {near, skip_near, three};
    size_t lens[] = {sizeof near - 1, sizeof skip_near - 1, sizeof three - 1};
    uint64_t want[] = {2, 1, 1};
    for (size_t i = 0; i < 3; i++) {
        bytes f = {0};
        put(&f, texts[i], lens[i]);
        cr_assert_eq(check_file(&f, texts[i], lens[i]), want[i]);
        free(f.p);
    }
}

/* ----------------------------------------------------------------- zstd */

Test(source, zstd_single_frame_without_final_newline)
{
    static const char text[] = "one\ntwo\nthree";
    bytes z = {0};
    put_frame(&z, text, sizeof text - 1, true);
    cr_assert_eq(check_file(&z, text, sizeof text - 1), 3);
    free(z.p);
}

Test(source, zstd_concatenated_frames_split_mid_line)
{
    bytes text = {0}, z = {0};
    put_str(&text, "{\"event_id\":\"e1\"}\n{\"event_id\":\"e2\"}\n{\"event_id\":\"e3\"}\n");
    /* frame boundaries at bytes 5 and 20: inside lines 1 and 2 */
    put_frame(&z, text.p, 5, false);
    put_frame(&z, "", 0, false);
    put_frame(&z, text.p + 5, 15, true);
    put_frame(&z, text.p + 20, text.n - 20, false);
    put_frame(&z, "", 0, false);
    cr_assert_eq(check_file(&z, text.p, text.n), 3);
    free(text.p);
    free(z.p);
}

Test(source, zstd_only_empty_frames_has_no_lines)
{
    bytes z = {0};
    put_frame(&z, "", 0, false);
    cr_assert_eq(check_file(&z, "", 0), 0);
    put_frame(&z, "", 0, true);
    cr_assert_eq(check_file(&z, "", 0), 0);
    free(z.p);
}

Test(source, zstd_skippable_frame_first)
{
    static const unsigned char skip[] = {0x50, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 'x', '\n'};
    bytes z = {0};
    put(&z, skip, sizeof skip);
    put_frame(&z, "a\nb\n", 4, false);
    cr_assert_eq(check_file(&z, "a\nb\n", 4), 2);
    free(z.p);
}

/* ------------------------------------------------------ buffer boundaries */

/* Single frames whose size falls on or just past a multiple of 64 KiB: the
 * decoder then fills the output exactly, ending a frame or holding decoded
 * bytes back, and the source must flush them before it looks at EOF. */
Test(source, zstd_frame_ending_at_an_output_boundary)
{
    static const size_t tails[] = {0, 1, 10, 100};
    bytes text = {0};
    random_text(&text, 20u << 16, 11, false);
    for (size_t m = 2; m <= 20; m++)
        for (size_t t = 0; t < 4; t++) {
            size_t n = (m << 16) + tails[t];
            bytes z = {0};
            put_frame(&z, text.p, n, t % 2);
            check_file(&z, text.p, n);
            free(z.p);
        }
    free(text.p);
}

Test(source, lines_straddling_buffers_plain_and_zstd)
{
    bytes text = {0};
    random_text(&text, 12u << 20, 1, false);
    uint64_t want = 0;
    for (size_t i = 0; i < text.n; i++)
        want += text.p[i] == '\n';
    cr_assert_eq(check_both(text.p, text.n), want);
    free(text.p);
}

Test(source, lines_around_the_length_limit)
{
    bytes text = {0};
    random_text(&text, 9u << 20, 7, true);
    put_fill(&text, 'm', GOPE_MAX_LINE);      /* exactly the limit: kept whole */
    put_str(&text, "\n");
    put_fill(&text, 'n', GOPE_MAX_LINE + 1);  /* one over: too long */
    put_str(&text, "\nend\n");
    check_both(text.p, text.n);
    free(text.p);
}

Test(source, long_line_between_two_normal_lines)
{
    const size_t big = 3u * GOPE_MAX_LINE / 2;
    bytes text = {0};
    put_str(&text, "first\n");
    char *body = grow(&text, big);
    for (size_t i = 0; i < big; i++)
        body[i] = (char)('a' + i % 26);
    put_str(&text, "\nlast\n");
    bytes z = {0};
    put_frame(&z, text.p, text.n, false);
    const bytes *files[] = {&text, &z};
    for (size_t f = 0; f < 2; f++) {
        char *path = temp_file(files[f]->p, files[f]->n);
        gope_source_t *src = must_open(path);
        gope_line line;
        gope_err err;
        cr_assert_eq(gope_source_next(src, &line, &err), GOPE_OK);
        cr_assert_eq(line.len, 5);
        cr_assert_eq(gope_source_next(src, &line, &err), GOPE_OK);
        cr_assert(line.too_long);
        cr_assert_eq(line.len, GOPE_MAX_LINE);
        cr_assert_eq(line.full_len, big);
        cr_assert_eq(line.lineno, 2);
        cr_assert_eq(line.offset, 6);
        cr_assert_eq(memcmp(line.data, text.p + 6, GOPE_MAX_LINE), 0, "prefix differs");
        cr_assert_eq(gope_source_next(src, &line, &err), GOPE_OK);
        cr_assert(!line.too_long);
        cr_assert_eq(line.lineno, 3);
        cr_assert_eq(line.offset, 6 + big + 1);
        cr_assert_eq(line.len, 4);
        cr_assert_eq(memcmp(line.data, "last", 4), 0);
        cr_assert_eq(gope_source_next(src, &line, &err), GOPE_EOF);
        gope_source_close(src);
        drop_temp(path);
    }
    free(text.p);
    free(z.p);
}

Test(source, very_long_lines_at_the_end_and_in_a_row)
{
    bytes text = {0};
    put_str(&text, "x\n");
    put_fill(&text, 'q', 5u * GOPE_MAX_LINE + 3); /* spans several buffers */
    put_str(&text, "\n");
    put_fill(&text, 'r', 2u * GOPE_MAX_LINE);
    put_str(&text, "\n\n");
    put_fill(&text, 's', GOPE_MAX_LINE + 10);     /* last line, no newline */
    cr_assert_eq(check_both(text.p, text.n), 5);
    free(text.p);
}

/* ------------------------------------------------------------ bad input */

/* What a streaming decoder makes of `z` before it stops (truncation or
 * error): the reference for "every complete line before the fault". */
static void decoded_prefix(const bytes *z, bytes *out)
{
    ZSTD_DStream *zds = ZSTD_createDStream();
    cr_assert_not_null(zds);
    ZSTD_inBuffer in = {z->p, z->n, 0};
    ZSTD_outBuffer o;
    do {
        o = (ZSTD_outBuffer){grow(out, 1 << 16), 1 << 16, 0};
        size_t ret = ZSTD_decompressStream(zds, &o, &in);
        out->n -= o.size - o.pos;
        if (ZSTD_isError(ret))
            break;
    } while (in.pos < in.size || o.pos == o.size);
    ZSTD_freeDStream(zds);
}

static void expect_fault(const bytes *file, const char *ref, size_t n,
                         const char *what)
{
    char *path = temp_file(file->p, file->n);
    gope_source_t *src = must_open(path);
    gope_err err;
    check_lines(src, ref, n, true, &err);
    cr_assert(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, what) != NULL, "want \"%s\" in: %s", what, err.msg);
    gope_source_close(src);
    drop_temp(path);
}

Test(source, truncated_zstd_returns_complete_lines_then_fails)
{
    static const char text[] = "alpha\nbeta\ngam";   /* frame 1 ends mid-line */
    static const char rest[] = "ma\ndelta\nepsilon\n";
    bytes z = {0};
    put_frame(&z, text, sizeof text - 1, false);
    size_t first = z.n;
    put_frame(&z, rest, sizeof rest - 1, false);
    size_t whole = z.n;
    for (size_t cut = first + 1; cut < whole; cut++) {
        bytes ref = {0};
        z.n = cut;
        decoded_prefix(&z, &ref);
        cr_assert(ref.n >= sizeof text - 1);
        expect_fault(&z, ref.p, ref.n, "truncated zstd frame at compressed byte");
        free(ref.p);
    }
    z.n = 4;   /* the magic number alone */
    expect_fault(&z, "", 0, "truncated zstd frame at compressed byte 4");
    free(z.p);
}

Test(source, truncated_large_frame_returns_every_decoded_line)
{
    bytes text = {0}, z = {0}, ref = {0};
    random_text(&text, 2u << 20, 3, false);
    put_frame(&z, text.p, text.n, false);
    z.n /= 2;
    decoded_prefix(&z, &ref);
    cr_assert(ref.n > 100000 && memcmp(ref.p, text.p, ref.n) == 0);
    expect_fault(&z, ref.p, ref.n, "truncated zstd frame");
    free(ref.p);
    free(text.p);
    free(z.p);
}

/* A live logger's stream: ZSTD_e_flush after single lines or ~100 KiB of
 * them makes blocks of every size. Cut right after a big block, the decoder
 * has decoded it but, when the output was full, not yet handed all of it
 * out; those bytes must still come out as lines before the fault. */
Test(source, truncated_flushed_stream_returns_every_decoded_line)
{
    bytes text = {0}, z = {0};
    random_text(&text, 6000000, 13, false);
    ZSTD_CStream *zcs = ZSTD_createCStream();
    cr_assert_not_null(zcs);
    size_t cuts[40], n_cuts = 0;
    for (size_t at = 0, end, k = 0; at < text.n; at = end, k++) {
        bool big = k % 3 == 0;
        size_t skip = big && text.n - at > 100000 ? 100000 : 0;
        const char *nl = memchr(text.p + at + skip, '\n', text.n - at - skip);
        end = (size_t)(nl - text.p) + 1;
        put_stream(&z, zcs, text.p + at, end - at, ZSTD_e_flush);
        if (big && n_cuts < 40)
            cuts[n_cuts++] = z.n;
    }
    ZSTD_freeCStream(zcs);
    for (size_t i = 0; i < n_cuts; i++) {
        bytes ref = {0};
        size_t whole = z.n;
        z.n = cuts[i];
        decoded_prefix(&z, &ref);
        expect_fault(&z, ref.p, ref.n, "truncated zstd frame");
        z.n = whole;
        free(ref.p);
    }
    free(text.p);
    free(z.p);
}

/* A small frame first (a small window, so a small ring), then a frame of
 * unknown size with a 2 MiB window that wraps its ring several times, then
 * a small one again: every line must come out intact. */
Test(source, zstd_window_grows_between_frames)
{
    bytes text = {0}, z = {0};
    random_text(&text, 9u << 20, 17, false);
    const char *nl = memchr(text.p + 1000, '\n', text.n - 1000);
    size_t small = (size_t)(nl - text.p) + 1, big_end = text.n - 5000;
    put_frame(&z, text.p, small, true);
    ZSTD_CStream *zcs = ZSTD_createCStream();
    cr_assert_not_null(zcs);
    ZSTD_CCtx_setParameter(zcs, ZSTD_c_windowLog, 21);
    for (size_t at = small; at < big_end; at += 300000) {
        size_t n = big_end - at < 300000 ? big_end - at : 300000;
        put_stream(&z, zcs, text.p + at, n, at + n < big_end ? ZSTD_e_flush : ZSTD_e_end);
    }
    ZSTD_freeCStream(zcs);
    put_frame(&z, text.p + big_end, text.n - big_end, false);
    check_file(&z, text.p, text.n);
    free(text.p);
    free(z.p);
}

/* A frame header asking for a 2 GiB window is refused before any memory is
 * taken for it, with the frame's offset. */
Test(source, zstd_window_over_the_limit_is_corrupt)
{
    static const char text[] = "one\ntwo\n";
    static const unsigned char huge_window[] = {0x28, 0xB5, 0x2F, 0xFD, 0x00, 21 << 3,
                                                0x01, 0x00, 0x00};
    bytes z = {0};
    put_frame(&z, text, sizeof text - 1, false);
    size_t first = z.n;
    put(&z, huge_window, sizeof huge_window);
    char want[96];
    snprintf(want, sizeof want, "corrupt zstd data at compressed byte %zu: ", first);
    expect_fault(&z, text, sizeof text - 1, want);
    expect_fault(&z, text, sizeof text - 1, "window is larger than 128 MiB");
    free(z.p);
}

Test(source, corrupt_second_frame_names_its_offset)
{
    static const char text[] = "one\ntwo\nthr";
    bytes z = {0};
    put_frame(&z, text, sizeof text - 1, false);
    size_t first = z.n;
    put_frame(&z, "ee\nfour\n", 8, false);
    z.p[first + 1] ^= 0x40;   /* break the second magic number */
    char want[96];
    snprintf(want, sizeof want, "corrupt zstd data at compressed byte %zu: ", first);
    expect_fault(&z, text, sizeof text - 1, want);
    free(z.p);
}

/* Flipping any byte of a checksummed frame must end in a clean GOPE_ERR_IO
 * (never a crash, a hang or a silent success). */
Test(source, flipped_bytes_are_reported)
{
    bytes text = {0}, z = {0};
    random_text(&text, 300000, 5, false);
    put_frame(&z, text.p, text.n, true);
    for (size_t at = 0; at < z.n; at += z.n / 37 + 1) {
        z.p[at] ^= 0x5a;
        char *path = temp_file(z.p, z.n);
        gope_source_t *src = NULL;
        gope_err err;
        gope_line line;
        gope_status st = gope_source_open(path, &src, &err);
        cr_assert_eq(st, GOPE_OK);
        while ((st = gope_source_next(src, &line, &err)) == GOPE_OK)
            ;
        if (at >= 4) { /* byte 0..3 flips the magic: then it is plain text */
            cr_assert_eq(st, GOPE_ERR_IO, "flip at %zu not detected", at);
            cr_assert(strstr(err.msg, "zstd") && strstr(err.msg, path), "%s", err.msg);
        }
        gope_source_close(src);
        drop_temp(path);
        z.p[at] ^= 0x5a;
    }
    free(text.p);
    free(z.p);
}

Test(source, open_errors_name_the_file)
{
    gope_source_t *src = (gope_source_t *)1;
    gope_err err;
    const char *path = "/tmp/gope-source-does-not-exist/x.jsonl.zst";
    cr_assert_eq(gope_source_open(path, &src, &err), GOPE_ERR_IO);
    cr_assert(strstr(err.msg, path) != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, strerror(ENOENT)) != NULL, "%s", err.msg);
    cr_assert_eq(gope_source_open("/tmp", &src, &err), GOPE_ERR_IO);
    cr_assert(strstr(err.msg, "/tmp") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "directory") != NULL, "%s", err.msg);
    /* reading address 0 of our own memory fails with EIO: a read error */
    cr_assert_eq(gope_source_open("/proc/self/mem", &src, &err), GOPE_ERR_IO);
    cr_assert(strstr(err.msg, "/proc/self/mem: read error at byte 0: ") != NULL, "%s",
              err.msg);
    cr_assert_eq(src, (gope_source_t *)1, "*out written on failure");
    gope_source_close(NULL);
}

/* ---------------------------------------------------------------- stdin */

Test(source, stdin_from_a_zstd_file)
{
    static const char text[] = "s1\ns2\n\ns4";
    bytes z = {0};
    put_frame(&z, text, 3, false);
    put_frame(&z, text + 3, sizeof text - 4, false);
    char *path = temp_file(z.p, z.n);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    cr_assert_eq(dup2(fileno(fp), STDIN_FILENO), STDIN_FILENO);
    fclose(fp);
    gope_source_t *src = must_open("-");
    cr_assert_str_eq(gope_source_name(src), "-");
    gope_err err;
    cr_assert_eq(check_lines(src, text, sizeof text - 1, false, &err), 4);
    uint64_t consumed, total;
    gope_source_progress(src, &consumed, &total);
    cr_assert_eq(total, z.n);
    cr_assert_eq(consumed, z.n);
    gope_source_close(src);
    cr_assert_eq(fcntl(STDIN_FILENO, F_GETFD) >= 0, 1, "stdin was closed");
    drop_temp(path);
    free(z.p);
}

/* Makes stdin a pipe fed by a child process running `writer`.
 * @return the child, for finish_stdin(). */
static pid_t feed_stdin(void (*writer)(int fd, const bytes *feed), const bytes *feed)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        writer(fds[1], feed);
        _exit(0);
    }
    close(fds[1]);
    cr_assert_eq(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    return pid;
}

/* Closes `src` (read from stdin) and checks its progress and the writer. */
static void finish_stdin(gope_source_t *src, pid_t pid, uint64_t fed)
{
    uint64_t consumed, total;
    gope_source_progress(src, &consumed, &total);
    cr_assert_eq(total, 0, "a pipe has no size");
    cr_assert_eq(consumed, fed);
    gope_source_close(src);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void write_all(int fd, const char *p, size_t n)
{
    if (write(fd, p, n) != (ssize_t)n)
        _exit(1);
}

/* Small writes, and the first 2 bytes alone: even the magic number
 * arrives in pieces. */
static void write_piecemeal(int fd, const bytes *feed)
{
    const struct timespec pause = {0, 1000000};
    for (size_t at = 0, k; at < feed->n; at += k) {
        k = at == 0 ? 2 : 3000;
        if (k > feed->n - at)
            k = feed->n - at;
        write_all(fd, feed->p + at, k);
        if (at == 0)
            nanosleep(&pause, NULL);
    }
}

Test(source, stdin_from_a_pipe_plain_and_zstd)
{
    bytes text = {0}, z = {0};
    random_text(&text, 400000, 9, false);
    put_frames(&z, text.p, text.n, 4);
    const bytes *feeds[] = {&text, &z};
    for (size_t i = 0; i < 2; i++) {
        pid_t pid = feed_stdin(write_piecemeal, feeds[i]);
        gope_source_t *src = must_open("-");
        gope_err err;
        check_lines(src, text.p, text.n, false, &err);
        finish_stdin(src, pid, feeds[i]->n);
    }
    free(text.p);
    free(z.p);
}

#define HUGE_LINE (256u << 20)

/* One HUGE_LINE-byte line, then "ok\n", generated on the fly. */
static void write_huge_line(int fd, const bytes *feed)
{
    (void)feed;
    static char chunk[1 << 16];
    memset(chunk, 'h', sizeof chunk);
    for (size_t at = 0; at < HUGE_LINE; at += sizeof chunk)
        write_all(fd, chunk, sizeof chunk);
    write_all(fd, "\nok\n", 4);
}

/* Memory stays bounded by the buffer, not the line: the peak RSS grows by
 * far less than the line while it passes through. */
Test(source, huge_line_from_a_pipe_keeps_memory_flat)
{
    struct rusage before, after;
    pid_t pid = feed_stdin(write_huge_line, NULL);
    gope_source_t *src = must_open("-");
    getrusage(RUSAGE_SELF, &before);
    gope_line line;
    gope_err err;
    cr_assert_eq(gope_source_next(src, &line, &err), GOPE_OK, "%s", err.msg);
    cr_assert(line.too_long);
    cr_assert_eq(line.full_len, HUGE_LINE);
    cr_assert_eq(line.len, GOPE_MAX_LINE);
    cr_assert_eq(line.data[GOPE_MAX_LINE - 1], 'h');
    cr_assert_eq(gope_source_next(src, &line, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(line.offset, HUGE_LINE + 1);
    cr_assert_eq(line.lineno, 2);
    cr_assert(line.len == 2 && memcmp(line.data, "ok", 2) == 0);
    cr_assert_eq(gope_source_next(src, &line, &err), GOPE_EOF);
    getrusage(RUSAGE_SELF, &after);
    cr_assert_lt(after.ru_maxrss - before.ru_maxrss, 32 * 1024, "peak RSS grew by %ld KiB",
                 after.ru_maxrss - before.ru_maxrss);
    finish_stdin(src, pid, HUGE_LINE + 4);
}

/* ------------------------------------------------------ oracle inputs */

static uint64_t count_bytes(const char *path, uint64_t *lines)
{
    gope_source_t *src = must_open(path);
    gope_line line;
    gope_err err;
    gope_status st;
    uint64_t bytes_ = 0;
    *lines = 0;
    while ((st = gope_source_next(src, &line, &err)) == GOPE_OK) {
        cr_assert_eq(line.offset, bytes_);
        cr_assert_eq(line.too_long, line.full_len > GOPE_MAX_LINE);
        bytes_ += line.full_len + 1;
        ++*lines;
    }
    cr_assert_eq(st, GOPE_EOF, "%s", err.msg);
    gope_source_close(src);
    return bytes_;
}

Test(source, oracle_inputs)
{
    uint64_t lines;
    cr_assert_eq(count_bytes(GOPE_TEST_DATA "/oracle/e2e/case2_hopping_zst/input.jsonl.zst",
                             &lines), 60888417);
    cr_assert_eq(lines, 21053);
    cr_assert_eq(count_bytes(GOPE_TEST_DATA "/oracle/e2e/case1_all_k10/input.jsonl", &lines),
                 3152947);
    cr_assert_eq(lines, 2000);
}
