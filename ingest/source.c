/*
 * source.c — line sources: open a file or stdin, pick a codec from the first
 * bytes, and split the decoded stream into lines (see gope_ingest.h).
 *
 * Design
 *   Throughput is the point: the replay target is ~400k lines/s of ~1 KB, so
 *   a line is never allocated or copied. The codec fills one buffer of
 *   BUF_CAP bytes in FILL_CHUNK pieces (small enough that the bytes are still
 *   in cache when the caller parses them); lines are found with memchr and
 *   handed out as pointers into the buffer. When the free room at the end
 *   drops below FILL_CHUNK, the unfinished tail (less than one line) is moved
 *   to the front, so only lines that straddle that boundary are ever moved.
 *
 *   BUF_CAP >= GOPE_MAX_LINE + 1 + FILL_CHUNK, so any line up to GOPE_MAX_LINE
 *   plus its '\n' fits. A longer line switches to skip mode: its first
 *   GOPE_MAX_LINE bytes stay at the front of the buffer (the prefix a
 *   dead-letter record shows), the rest of the buffer is scratch space that
 *   is refilled and scanned for the '\n' while the bytes are only counted.
 *   Memory is therefore BUF_CAP plus the codec's buffers, whatever the input.
 *
 *   Errors are sticky: after a fault every call repeats it, and a partial
 *   line in the buffer at the fault is never returned.
 */
#include "source_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILL_CHUNK (256u * 1024u)
#define BUF_CAP (GOPE_MAX_LINE + 4u * FILL_CHUNK)

_Static_assert(BUF_CAP >= GOPE_MAX_LINE + 1u + FILL_CHUNK,
               "a maximal line and one fill must fit the buffer");

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

/* The plain codec: the peeked bytes first, then the file as it is. */
static gope_status plain_fill(gope_source_t *src, char *dst, size_t cap,
                              size_t *got, gope_err *err)
{
    if (src->peek_pos < src->peek_len) {
        size_t n = src->peek_len - src->peek_pos;
        if (n > cap)
            n = cap;
        memcpy(dst, src->peek + src->peek_pos, n);
        src->peek_pos += n;
        *got = n;
        return GOPE_OK;
    }
    return gope_source_read(src, dst, cap, got, err);
}

static const gope_source_codec plain_codec = {
    .detect = NULL, .init = NULL, .fill = plain_fill, .fini = NULL,
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
    src->buf = malloc(BUF_CAP);
    if (!src->name || !src->buf) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    src->label = src->name;
    src->cap = BUF_CAP;
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
    free(src->buf);
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

/* Fills `line` for a line of `full_len` stream bytes starting at `data`, of
 * which at most GOPE_MAX_LINE are kept, and advances the stream offset past
 * it and its '\n'. */
static void emit(gope_source_t *src, gope_line *line, const char *data,
                 size_t full_len, bool had_newline)
{
    line->data = data;
    line->too_long = full_len > GOPE_MAX_LINE;
    line->len = line->too_long ? GOPE_MAX_LINE : full_len;
    line->full_len = full_len;
    line->lineno = ++src->lineno;
    line->offset = src->offset;
    src->offset += (uint64_t)full_len + had_newline;
}

/* Appends up to FILL_CHUNK bytes at buf[end], first moving the unfinished
 * tail to the front when the room left is smaller than that. */
static gope_status refill(gope_source_t *src, gope_err *err)
{
    size_t got = 0;
    if (src->cap - src->end < FILL_CHUNK) {
        memmove(src->buf, src->buf + src->pos, src->end - src->pos);
        src->end -= src->pos;
        src->pos = 0;
    }
    gope_status st = src->codec->fill(src, src->buf + src->end, FILL_CHUNK, &got, err);
    if (st != GOPE_OK)
        return st;
    src->end += got;
    src->eof = got == 0;
    return GOPE_OK;
}

/* buf[pos, end) holds more than GOPE_MAX_LINE bytes and no '\n': keep the
 * prefix at the front and count the rest of the line through the scratch
 * space behind it. */
static gope_status skip_long_line(gope_source_t *src, gope_line *line, gope_err *err)
{
    char *scratch = src->buf + GOPE_MAX_LINE;
    size_t full = src->end - src->pos;
    memmove(src->buf, src->buf + src->pos, GOPE_MAX_LINE);
    src->pos = src->end = GOPE_MAX_LINE;
    for (;;) {
        size_t got = 0;
        if (!src->eof) { /* never read past EOF: a terminal would block */
            gope_status st = src->codec->fill(src, scratch, src->cap - GOPE_MAX_LINE,
                                              &got, err);
            if (st != GOPE_OK)
                return st;
        }
        if (got == 0) {
            src->eof = true;
            emit(src, line, src->buf, full, false);
            return GOPE_OK;
        }
        const char *nl = memchr(scratch, '\n', got);
        if (nl) {
            size_t k = (size_t)(nl - scratch);
            src->pos = GOPE_MAX_LINE + k + 1;
            src->end = GOPE_MAX_LINE + got;
            emit(src, line, src->buf, full + k, true);
            return GOPE_OK;
        }
        full += got;
    }
}

static gope_status split_next(gope_source_t *src, gope_line *line, gope_err *err)
{
    size_t scanned = 0; /* bytes after pos already known to hold no '\n' */
    for (;;) {
        const char *p = src->buf + src->pos;
        size_t n = src->end - src->pos;
        const char *nl = memchr(p + scanned, '\n', n - scanned);
        if (nl) {
            size_t len = (size_t)(nl - p);
            src->pos += len + 1;
            emit(src, line, p, len, true); /* may be too long */
            return GOPE_OK;
        }
        if (n > GOPE_MAX_LINE)
            return skip_long_line(src, line, err);
        if (src->eof) {
            if (n == 0)
                return GOPE_EOF;
            src->pos = src->end;
            emit(src, line, p, n, false);
            return GOPE_OK;
        }
        scanned = n;
        gope_status st = refill(src, err);
        if (st != GOPE_OK)
            return st;
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
