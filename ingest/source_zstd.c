/*
 * source_zstd.c — the zstd codec of line sources (see source_int.h).
 *
 * Design
 *   One ZSTD_DCtx decodes the whole file with ZSTD_decompressStream, which
 *   reads through concatenated frames, empty frames and skippable frames on
 *   its own: the splitter only ever sees the decompressed stream, so a frame
 *   boundary in the middle of a line is invisible to it.
 *
 *   The only things zstd does not tell us are where we are and whether the
 *   file stopped inside a frame. We track the file offset of the input
 *   buffer (for messages) and whether a frame is open: ZSTD_decompressStream
 *   returns 0 exactly when a frame is decoded and flushed, so a frame is open
 *   from the first input byte it consumes until that 0. End of file with a
 *   frame open is a truncated file.
 *
 *   ZSTD_decompressStream may hold decoded bytes back when the output is
 *   full; it is then called again without new input before reading more, so
 *   at a truncated end those bytes still come out (as the last complete
 *   lines) before the truncation is reported.
 *
 *   Byte offsets in messages are file offsets of the compressed input: the
 *   end of the file for a truncation, and for corruption the first input
 *   byte the failing call had not yet consumed (zstd does not say more).
 */
#include "source_int.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct gope_zstd_state_s {
    ZSTD_DCtx *dctx;
    unsigned char *in;     /* compressed bytes, in[0] is file byte in_base */
    size_t in_cap;
    ZSTD_inBuffer input;   /* src = in, size = bytes held, pos = consumed */
    uint64_t in_base;
    uint64_t frame_start;  /* file offset of the open frame's first byte */
    bool in_frame;         /* a frame has started and not ended */
    bool flush_pending;    /* the last call filled the output completely */
    bool file_eof;
};

static bool zstd_detect(const unsigned char *head, size_t n)
{
    if (n < 4)
        return false;
    uint32_t magic = (uint32_t)head[0] | (uint32_t)head[1] << 8 |
                     (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24;
    return magic == ZSTD_MAGICNUMBER ||
           (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

static void zstd_fini(gope_source_t *src)
{
    gope_zstd_state *z = src->zstd;
    if (!z)
        return;
    ZSTD_freeDCtx(z->dctx);
    free(z->in);
    free(z);
    src->zstd = NULL;
}

/* The peeked magic number becomes the first bytes of the input buffer. */
static gope_status zstd_init(gope_source_t *src, gope_err *err)
{
    gope_zstd_state *z = calloc(1, sizeof *z);
    src->zstd = z;
    if (!z)
        goto cleanup;
    z->in_cap = ZSTD_DStreamInSize();
    z->in = malloc(z->in_cap);
    z->dctx = ZSTD_createDCtx();
    if (!z->in || !z->dctx)
        goto cleanup;
    memcpy(z->in, src->peek, src->peek_len);
    z->input = (ZSTD_inBuffer){.src = z->in, .size = src->peek_len, .pos = 0};
    return GOPE_OK;
cleanup:
    zstd_fini(src);
    return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory for the zstd decoder",
                        src->label);
}

/* All held input is consumed: read the next block of the file. */
static gope_status read_input(gope_source_t *src, gope_zstd_state *z, gope_err *err)
{
    size_t got = 0;
    gope_status st = gope_source_read(src, z->in, z->in_cap, &got, err);
    if (st != GOPE_OK)
        return st;
    z->in_base += z->input.size;
    z->input.size = got;
    z->input.pos = 0;
    z->file_eof = got == 0;
    return GOPE_OK;
}

/* One ZSTD_decompressStream step, keeping the frame bookkeeping. */
static gope_status decode_step(gope_source_t *src, gope_zstd_state *z,
                               ZSTD_outBuffer *out, gope_err *err)
{
    size_t before = z->input.pos;
    if (!z->in_frame)
        z->frame_start = z->in_base + before;
    size_t ret = ZSTD_decompressStream(z->dctx, out, &z->input);
    if (ZSTD_isError(ret))
        return gope_err_set(err, GOPE_ERR_IO,
                            "%s: corrupt zstd data at compressed byte %llu: %s",
                            src->label, (unsigned long long)(z->in_base + z->input.pos),
                            ZSTD_getErrorName(ret));
    if (ret == 0)
        z->in_frame = false;
    else if (z->input.pos != before)
        z->in_frame = true;
    z->flush_pending = out->pos == out->size;
    return GOPE_OK;
}

static gope_status zstd_fill(gope_source_t *src, char *dst, size_t cap, size_t *got,
                             gope_err *err)
{
    gope_zstd_state *z = src->zstd;
    ZSTD_outBuffer out = {.dst = dst, .size = cap, .pos = 0};
    while (out.pos == 0) {
        gope_status st;
        if (z->input.pos < z->input.size || z->flush_pending)
            st = decode_step(src, z, &out, err);
        else if (!z->file_eof)
            st = read_input(src, z, err);
        else if (z->in_frame)
            return gope_err_set(err, GOPE_ERR_IO,
                                "%s: truncated zstd frame at compressed byte %llu "
                                "(the frame starts at byte %llu)",
                                src->label, (unsigned long long)src->consumed,
                                (unsigned long long)z->frame_start);
        else
            break; /* clean end after the last frame */
        if (st != GOPE_OK)
            return st;
    }
    *got = out.pos;
    return GOPE_OK;
}

const gope_source_codec gope_source_zstd = {
    .detect = zstd_detect,
    .init = zstd_init,
    .fill = zstd_fill,
    .fini = zstd_fini,
};
