/*
 * sink_file.c — the JSON-lines file sink ("-" is stdout).
 * Lines are written through stdio's buffer; errors surface at the latest on
 * close, where fflush/fclose report them, so a full disk is never silent.
 * Opened for appending (consume --checkpoint: one file over many runs), a
 * partial last line left by a crash is cut before anything is added; the
 * restored checkpoint then cuts the file back to the size it saved
 * (gope_outfile_rewind), so whole lines written after it go too.
 * A pipe, socket or terminal is line-buffered instead: a dashboard reading
 * `consume --out -` gets each record when its window closes, not when a
 * 4 KiB buffer fills. Regular files keep full buffering (replay's speed).
 */
#include "gope_ope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    FILE *fp;
    bool is_stdout;
    char path[256];
} file_ctx;

static gope_status file_write(void *ctx, const char *key, const char *line, size_t len,
                              gope_err *err)
{
    file_ctx *f = ctx;
    (void)key;
    if (fwrite(line, 1, len, f->fp) != len || putc('\n', f->fp) == EOF)
        return gope_err_set(err, GOPE_ERR_IO, "%s: write failed: %s", f->path,
                            strerror(errno));
    return GOPE_OK;
}

static gope_status file_close(void *ctx, gope_err *err)
{
    file_ctx *f = ctx;
    int rc = f->is_stdout ? fflush(f->fp) : fclose(f->fp);
    gope_status st = GOPE_OK;
    if (rc != 0)
        st = gope_err_set(err, GOPE_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    free(f);
    return st;
}

/* Durable before a checkpoint: stdio's buffer to the kernel, then to the
 * disk. A pipe or terminal (stdout) cannot be synced; fflush is all it gets. */
static gope_status file_flush(void *ctx, gope_err *err)
{
    file_ctx *f = ctx;
    if (fflush(f->fp) != 0 ||
        (fsync(fileno(f->fp)) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP))
        return gope_err_set(err, GOPE_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    return GOPE_OK;
}

static const gope_sink_ops file_sink_ops = {
    .name = "file", .write = file_write, .close = file_close, .flush = file_flush,
};

/* The size of `fd`'s content up to and with its last '\n' (0: none),
 * read backwards a block at a time. @return 0, or -1 with errno. */
static int complete_size(int fd, off_t size, off_t *keep)
{
    char block[4096];
    off_t end = size;
    while (end > 0) {
        size_t n = end < (off_t)sizeof block ? (size_t)end : sizeof block;
        if (pread(fd, block, n, end - (off_t)n) != (ssize_t)n)
            return -1;
        for (size_t i = n; i > 0; i--)
            if (block[i - 1] == '\n') {
                *keep = end - (off_t)n + (off_t)i;
                return 0;
            }
        end -= (off_t)n;
    }
    *keep = 0;
    return 0;
}

/* `path` for appending, a partial last line cut; NULL with errno. */
static FILE *open_append(const char *path, size_t *cut)
{
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    struct stat sb;
    off_t keep = 0;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) != 0 || complete_size(fd, sb.st_size, &keep) != 0 ||
        (keep < sb.st_size && ftruncate(fd, keep) != 0)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    *cut = (size_t)(sb.st_size - keep);
    FILE *fp = fdopen(fd, "a");
    if (!fp)
        close(fd);
    return fp;
}

/* The sink writing to `path`: stdout, a file made anew, or one appended to
 * (a partial last line cut first; *cut its bytes). */
static gope_status make_sink(const char *path, bool append, size_t *cut, gope_sink *out,
                             gope_err *err)
{
    file_ctx *f = calloc(1, sizeof *f);
    if (!f)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
    f->is_stdout = strcmp(path, "-") == 0;
    snprintf(f->path, sizeof f->path, "%s", f->is_stdout ? "<stdout>" : path);
    size_t none = 0;
    f->fp = f->is_stdout ? stdout : append ? open_append(path, cut ? cut : &none)
                                           : fopen(path, "w");
    if (!f->fp) {
        gope_status st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot open for %s: %s", path,
                                      append ? "appending" : "writing", strerror(errno));
        free(f);
        return st;
    }
    struct stat sb;
    if (fstat(fileno(f->fp), &sb) == 0 && !S_ISREG(sb.st_mode))
        setvbuf(f->fp, NULL, _IOLBF, BUFSIZ); /* if refused, full buffering: only later */
    *out = (gope_sink){.ops = &file_sink_ops, .ctx = f};
    return GOPE_OK;
}

gope_status gope_sink_file_open(const char *path, gope_sink *out, gope_err *err)
{
    return make_sink(path, false, NULL, out, err);
}

gope_status gope_sink_file_append(const char *path, size_t *cut, gope_sink *out, gope_err *err)
{
    if (cut)
        *cut = 0;
    return make_sink(path, true, cut, out, err);
}

gope_status gope_outfile_size(const char *path, bool *regular, uint64_t *bytes, gope_err *err)
{
    struct stat sb;
    *regular = false;
    *bytes = 0;
    if (strcmp(path, "-") == 0)
        return GOPE_OK;
    if (stat(path, &sb) != 0)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot look at the output: %s", path,
                            strerror(errno));
    *regular = S_ISREG(sb.st_mode);
    *bytes = *regular ? (uint64_t)sb.st_size : 0;
    return GOPE_OK;
}

/* The complete lines of buf[0..len) that start with `keep` (NULL: none),
 * moved to its front. @return their bytes. */
static size_t keep_lines(char *buf, size_t len, const char *keep)
{
    size_t kept = 0, klen = keep ? strlen(keep) : 0;
    for (size_t at = 0; keep && at < len;) {
        char *nl = memchr(buf + at, '\n', len - at);
        if (!nl)
            break;
        size_t n = (size_t)(nl - (buf + at)) + 1;
        if (n > klen && memcmp(buf + at, keep, klen) == 0) {
            memmove(buf + kept, buf + at, n);
            kept += n;
        }
        at += n;
    }
    return kept;
}

/* fd's bytes [from, to) less the lines not kept, written at `from`, and the
 * file cut after them. The kept lines are written before the cut: a crash
 * between the two leaves them and the tail of what was there, which the
 * next restore looks at again. @return the bytes dropped, or -1 with errno. */
static int64_t cut_tail(int fd, uint64_t from, uint64_t to, const char *keep)
{
    size_t len = (size_t)(to - from);
    char *buf = malloc(len ? len : 1);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t got = pread(fd, buf, len, (off_t)from);
    size_t kept = got == (ssize_t)len ? keep_lines(buf, len, keep) : 0;
    bool ok = got == (ssize_t)len &&
              (!kept || pwrite(fd, buf, kept, (off_t)from) == (ssize_t)kept) &&
              ftruncate(fd, (off_t)(from + kept)) == 0;
    if (got >= 0 && got != (ssize_t)len)
        errno = EIO; /* the file shrank under us */
    free(buf);
    return ok ? (int64_t)(len - kept) : -1;
}

gope_status gope_outfile_rewind(const char *path, uint64_t bytes, const char *keep,
                                uint64_t *cut, uint64_t *short_by, gope_err *err)
{
    bool regular;
    uint64_t now;
    *cut = *short_by = 0;
    gope_status st = gope_outfile_size(path, &regular, &now, err);
    if (st != GOPE_OK || !regular || now == bytes)
        return st;
    if (now < bytes) {
        *short_by = bytes - now;
        return GOPE_OK;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    int64_t dropped = fd < 0 ? -1 : cut_tail(fd, bytes, now, keep);
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && dropped >= 0) {
        dropped = -1;
        saved = errno;
    }
    if (dropped < 0)
        return gope_err_set(err, saved == ENOMEM ? GOPE_ERR_NOMEM : GOPE_ERR_IO,
                            "%s: cannot cut back to %llu bytes: %s", path,
                            (unsigned long long)bytes, strerror(saved));
    *cut = (uint64_t)dropped;
    return GOPE_OK;
}

gope_status gope_sink_flush(gope_sink *sink, gope_err *err)
{
    if (!sink || !sink->ops || !sink->ops->flush)
        return GOPE_OK;
    return sink->ops->flush(sink->ctx, err);
}

gope_status gope_sink_close(gope_sink *sink, gope_err *err)
{
    if (!sink || !sink->ops)
        return GOPE_OK;
    gope_status st = sink->ops->close(sink->ctx, err);
    sink->ops = NULL;
    sink->ctx = NULL;
    return st;
}
