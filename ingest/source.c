/*
 * source.c — line sources: open a file or stdin, pick a codec from the first
 * bytes, and split the decoded stream into lines (see gope_ingest.h).
 *
 * Design
 *   Throughput is the point: the replay target is ~400k lines/s of ~1 KB, so
 *   a line is never allocated, and almost never copied: the codec hands out
 *   the stream in chunks in its own memory (the plain codec's read buffer,
 *   or the blocks zstd decodes in place), lines are found with memchr and
 *   handed out as pointers into the chunk.
 *
 *   Only a line that continues past its chunk is copied: its start goes to
 *   the carry buffer and the rest is appended from the following chunks, so
 *   per chunk (256 KiB plain, up to 128 KiB zstd) about one line is moved.
 *   The carry buffer holds GOPE_MAX_LINE bytes; of a longer line only that
 *   prefix is kept (what a dead-letter record shows) and the rest is merely
 *   counted. Memory is therefore the carry buffer plus the codec's buffers,
 *   whatever the input.
 *
 *   Errors are sticky: after a fault every call repeats it, and a partial
 *   line carried at the fault is never returned.
 */
#include "source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAIN_CHUNK (256u * 1024u) /* one read(2) of a plain file */

/* Compressed formats tried in order; anything else is plain bytes. */
static const gope_source_codec *const codecs[] = {&gope_source_zstd};

/* ------------------------------------------------------------- raw file */

gope_status gope_source_read(gope_source_t *src, void *dst, size_t cap,
                             size_t *got, gope_err *err)
{
    ssize_t r;
    do
        r = read(src->fd, dst, cap);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return gope_err_set(err, GOPE_ERR_IO, "%s: read error at byte %llu: %s",
                            src->label, (unsigned long long)src->consumed,
                            strerror(errno));
    src->consumed += (uint64_t)r;
    *got = (size_t)r;
    return GOPE_OK;
}

/* Reads the first GOPE_SOURCE_PEEK bytes (fewer for a shorter input); a
 * pipe may deliver them in several reads. */
static gope_status peek_head(gope_source_t *src, gope_err *err)
{
    while (src->peek_len < GOPE_SOURCE_PEEK) {
        size_t got = 0;
        gope_status st = gope_source_read(src, src->peek + src->peek_len,
                                          GOPE_SOURCE_PEEK - src->peek_len, &got, err);
        if (st != GOPE_OK)
            return st;
        if (got == 0)
            break;
        src->peek_len += got;
    }
    return GOPE_OK;
}

static gope_status plain_init(gope_source_t *src, gope_err *err)
{
    src->buf = malloc(PLAIN_CHUNK);
    if (!src->buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", src->label);
    return GOPE_OK;
}

/* The plain codec: the peeked bytes first, then the file as it is. */
static gope_status plain_next(gope_source_t *src, const char **data, size_t *len,
                              gope_err *err)
{
    if (src->peek_pos < src->peek_len) {
        *data = (const char *)src->peek + src->peek_pos;
        *len = src->peek_len - src->peek_pos;
        src->peek_pos = src->peek_len;
        return GOPE_OK;
    }
    *data = src->buf;
    return gope_source_read(src, src->buf, PLAIN_CHUNK, len, err);
}

static void plain_fini(gope_source_t *src)
{
    free(src->buf);
    src->buf = NULL;
}

static const gope_source_codec plain_codec = {
    .detect = NULL, .init = plain_init, .next = plain_next, .fini = plain_fini,
};

/* ------------------------------------------------------------ lifecycle */

static gope_status open_fd(gope_source_t *src, const char *path, gope_err *err)
{
    struct stat sb;
    if (strcmp(path, "-") == 0) {
        src->fd = STDIN_FILENO;
        src->label = "stdin";
    } else {
        src->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (src->fd < 0)
            return gope_err_set(err, GOPE_ERR_IO, "%s: cannot open: %s", path,
                                strerror(errno));
        src->own_fd = true;
    }
    if (fstat(src->fd, &sb) != 0)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot stat: %s", src->label,
                            strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return gope_err_set(err, GOPE_ERR_IO, "%s: is a directory", src->label);
    if (S_ISREG(sb.st_mode)) {
        src->total = (uint64_t)sb.st_size;
        (void)posix_fadvise(src->fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint only */
    }
    return GOPE_OK;
}

static const gope_source_codec *pick_codec(const gope_source_t *src)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (codecs[i]->detect(src->peek, src->peek_len))
            return codecs[i];
    return &plain_codec;
}

gope_status gope_source_open(const char *path, gope_source_t **out, gope_err *err)
{
    gope_status st;
    gope_source_t *src = calloc(1, sizeof *src);
    if (!src)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
    src->fd = -1;
    src->name = strdup(path);
    src->carry = malloc(GOPE_MAX_LINE);
    if (!src->name || !src->carry) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    src->label = src->name;
    if ((st = open_fd(src, path, err)) != GOPE_OK || (st = peek_head(src, err)) != GOPE_OK)
        goto cleanup;
    src->codec = pick_codec(src);
    if (src->codec->init && (st = src->codec->init(src, err)) != GOPE_OK)
        goto cleanup;
    *out = src;
    return GOPE_OK;
cleanup:
    gope_source_close(src);
    return st;
}

void gope_source_close(gope_source_t *src)
{
    if (!src)
        return;
    if (src->codec && src->codec->fini)
        src->codec->fini(src);
    if (src->own_fd)
        close(src->fd);
    free(src->carry);
    free(src->name);
    free(src);
}

const char *gope_source_name(const gope_source_t *src) { return src->name; }

void gope_source_progress(const gope_source_t *src, uint64_t *consumed,
                          uint64_t *total)
{
    *consumed = src->consumed;
    *total = src->total;
}

/* ------------------------------------------------------------- splitter */

/* Fills `line` for a line of `full_len` stream bytes whose kept prefix (at
 * most GOPE_MAX_LINE bytes) starts at `data`, and advances the stream offset
 * past it and its '\n'. */
static void emit(gope_source_t *src, gope_line *line, const char *data,
                 uint64_t full_len, bool had_newline)
{
    line->data = data;
    line->too_long = full_len > GOPE_MAX_LINE;
    line->len = line->too_long ? GOPE_MAX_LINE : (size_t)full_len;
    line->full_len = (size_t)full_len;
    line->lineno = ++src->lineno;
    line->offset = src->offset;
    src->offset += full_len + had_newline;
}

/* Appends `n` bytes of the carried line: copied while the prefix has room,
 * then only counted. */
static void carry(gope_source_t *src, const char *p, size_t n)
{
    if (src->carry_full < GOPE_MAX_LINE) {
        size_t room = GOPE_MAX_LINE - (size_t)src->carry_full;
        memcpy(src->carry + src->carry_full, p, n < room ? n : room);
    }
    src->carry_full += n;
}

static gope_status split_next(gope_source_t *src, gope_line *line, gope_err *err)
{
    for (;;) {
        size_t n = src->chunk_len - src->chunk_pos;
        const char *p = n ? src->chunk + src->chunk_pos : NULL; /* no chunk yet */
        const char *nl = n ? memchr(p, '\n', n) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - p);
            src->chunk_pos += len + 1;
            if (!src->carry_full) { /* the usual case: the line is in the chunk */
                emit(src, line, p, len, true);
                return GOPE_OK;
            }
            carry(src, p, len);
            emit(src, line, src->carry, src->carry_full, true);
            src->carry_full = 0;
            return GOPE_OK;
        }
        if (n)
            carry(src, p, n);
        src->chunk_pos = src->chunk_len;
        if (!src->eof) { /* never read past EOF: a terminal would block */
            gope_status st = src->codec->next(src, &src->chunk, &src->chunk_len, err);
            if (st != GOPE_OK)
                return st;
            src->chunk_pos = 0;
            src->eof = src->chunk_len == 0;
        }
        if (src->eof) {
            if (!src->carry_full)
                return GOPE_EOF;
            emit(src, line, src->carry, src->carry_full, false);
            src->carry_full = 0;
            return GOPE_OK;
        }
    }
}

gope_status gope_source_next(gope_source_t *src, gope_line *line, gope_err *err)
{
    if (src->failed == GOPE_OK) {
        gope_status st = split_next(src, line, &src->failure);
        if (st >= GOPE_OK) /* a line or the clean end */
            return st;
        src->failed = st;
    }
    return gope_err_set(err, src->failed, "%s", src->failure.msg);
}
