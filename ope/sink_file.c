/*
 * sink_file.c — the JSON-lines file sink ("-" is stdout).
 * Lines are written through stdio's buffer; errors surface at the latest on
 * close, where fflush/fclose report them, so a full disk is never silent.
 */
#include "gope_ope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

gope_status gope_sink_file_open(const char *path, gope_sink *out, gope_err *err)
{
    file_ctx *f = calloc(1, sizeof *f);
    if (!f)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
    f->is_stdout = strcmp(path, "-") == 0;
    snprintf(f->path, sizeof f->path, "%s", f->is_stdout ? "<stdout>" : path);
    f->fp = f->is_stdout ? stdout : fopen(path, "w");
    if (!f->fp) {
        gope_status st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot open for writing: %s",
                                      path, strerror(errno));
        free(f);
        return st;
    }
    *out = (gope_sink){.ops = &file_sink_ops, .ctx = f};
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
