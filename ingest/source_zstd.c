/*
 * source_zstd.c — the zstd codec of line sources (see source_int.h).
 *
 * Design
 *   Lines are read where zstd writes them. ZSTD_decompressStream would decode
 *   each block into its own window buffer and then copy it out (a memcpy of
 *   the whole stream, ~3% of a replay's instructions); the buffer-less API
 *   instead decodes every block straight into our ring, and the block
 *   becomes the chunk the splitter reads. The ring is sized and wrapped
 *   exactly as ZSTD_decompressStream sizes and wraps its own
 *   (ZSTD_decodingBufferSize_min of the frame's window; back to the start
 *   when a whole block no longer fits), so zstd always finds a full window
 *   of history. That API is in zstd's static section
 *   (ZSTD_STATIC_LINKING_ONLY), which the shared libzstd exports too
 *   (checked with Debian's 1.5.4).
 *
 *   Frames are walked by hand: a skippable frame is passed over here, every
 *   other frame is begun with ZSTD_decompressBegin and fed exactly the bytes
 *   ZSTD_nextSrcSizeToDecompress asks for (an uncompressed block may be fed
 *   short at the end of the file, as ZSTD_decompressStream does), so
 *   concatenated and empty frames need nothing special and a frame boundary
 *   in the middle of a line is invisible to the splitter. The content
 *   checksum, when present, is checked by zstd as the frame ends.
 *
 *   A frame is open from its first byte until ZSTD_nextSrcSizeToDecompress
 *   says 0 (or a skippable frame is passed); end of file with a frame open is
 *   a truncated file. Byte offsets in messages are file offsets of the
 *   compressed input: the end of the file for a truncation, and for
 *   corruption the first byte of the piece (frame header, block header,
 *   block or checksum) that zstd rejected.
 */
#define ZSTD_STATIC_LINKING_ONLY /* the buffer-less decoding API */
#include "source_int.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Compressed bytes held: room for a few blocks, so a read(2) is large. */
#define IN_CAP (4u * ZSTD_BLOCKSIZE_MAX)

struct gope_zstd_state_s {
    ZSTD_DCtx *dctx;
    unsigned char *in;     /* compressed bytes, in[0] is file byte in_base */
    size_t in_pos, in_len; /* in[in_pos, in_len) is not consumed yet */
    uint64_t in_base;
    char *ring;            /* the decoded window; a block is decoded at ring_pos */
    size_t ring_cap, ring_pos, block_max;
    uint64_t frame_size;   /* the frame's content size, or ZSTD_CONTENTSIZE_UNKNOWN */
    uint64_t frame_start;  /* file offset of the open frame's first byte */
    uint64_t skip_left;    /* bytes of a skippable frame still to pass over */
    bool in_frame;         /* a frame has started and not ended */
    bool raw_block;        /* the block being fed is stored uncompressed */
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
    free(z->ring);
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
    z->in = malloc(IN_CAP);
    z->dctx = ZSTD_createDCtx();
    if (!z->in || !z->dctx)
        goto cleanup;
    memcpy(z->in, src->peek, src->peek_len);
    z->in_len = src->peek_len;
    return GOPE_OK;
cleanup:
    zstd_fini(src);
    return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory for the zstd decoder",
                        src->label);
}

/* Makes in[in_pos, in_len) hold at least `need` (<= IN_CAP) bytes, or all
 * that is left of the file. */
static gope_status ensure(gope_source_t *src, gope_zstd_state *z, size_t need,
                          gope_err *err)
{
    if (z->in_len - z->in_pos >= need)
        return GOPE_OK;
    memmove(z->in, z->in + z->in_pos, z->in_len - z->in_pos);
    z->in_base += z->in_pos;
    z->in_len -= z->in_pos;
    z->in_pos = 0;
    while (z->in_len < need && !z->file_eof) { /* never read past EOF: a terminal would block */
        size_t got = 0;
        gope_status st = gope_source_read(src, z->in + z->in_len, IN_CAP - z->in_len, &got, err);
        if (st != GOPE_OK)
            return st;
        z->in_len += got;
        z->file_eof = got == 0;
    }
    return GOPE_OK;
}

static gope_status truncated(gope_source_t *src, gope_zstd_state *z, gope_err *err)
{
    return gope_err_set(err, GOPE_ERR_IO,
                        "%s: truncated zstd frame at compressed byte %llu "
                        "(the frame starts at byte %llu)",
                        src->label, (unsigned long long)src->consumed,
                        (unsigned long long)z->frame_start);
}

static gope_status corrupt(gope_source_t *src, gope_zstd_state *z, const char *why,
                           gope_err *err)
{
    return gope_err_set(err, GOPE_ERR_IO, "%s: corrupt zstd data at compressed byte %llu: %s",
                        src->label, (unsigned long long)(z->in_base + z->in_pos), why);
}

/* At a frame's first byte: pass over a skippable frame, or size the ring
 * for the frame's window and begin decoding it. */
static gope_status begin_frame(gope_source_t *src, gope_zstd_state *z, gope_err *err)
{
    ZSTD_frameHeader fh;
    gope_status st;
    z->in_frame = true;
    z->frame_start = z->in_base + z->in_pos;
    for (;;) {
        size_t ret = ZSTD_getFrameHeader(&fh, z->in + z->in_pos, z->in_len - z->in_pos);
        if (ZSTD_isError(ret))
            return corrupt(src, z, ZSTD_getErrorName(ret), err);
        if (ret == 0)
            break;
        if ((st = ensure(src, z, ret, err)) != GOPE_OK)
            return st;
        if (z->in_len - z->in_pos < ret)
            return truncated(src, z, err);
    }
    if (fh.frameType == ZSTD_skippableFrame) {
        z->skip_left = ZSTD_SKIPPABLEHEADERSIZE + fh.frameContentSize; /* headerSize is 0 here */
        return GOPE_OK;
    }
    if (fh.windowSize > (1ull << ZSTD_WINDOWLOG_LIMIT_DEFAULT))
        return corrupt(src, z, "the frame's window is larger than 128 MiB", err);
    size_t need = ZSTD_decodingBufferSize_min(fh.windowSize, fh.frameContentSize);
    if (ZSTD_isError(need))
        return corrupt(src, z, ZSTD_getErrorName(need), err);
    if (need > z->ring_cap || !z->ring) {
        free(z->ring);
        z->ring_cap = need ? need : 1;
        z->ring = malloc(z->ring_cap);
        if (!z->ring) {
            z->ring_cap = 0;
            return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory for a %llu-byte "
                                "zstd window", src->label, (unsigned long long)fh.windowSize);
        }
    }
    z->ring_pos = 0;
    z->block_max = fh.blockSizeMax;
    z->frame_size = fh.frameContentSize;
    size_t ret = ZSTD_decompressBegin(z->dctx);
    return ZSTD_isError(ret) ? corrupt(src, z, ZSTD_getErrorName(ret), err) : GOPE_OK;
}

/* Passes over what is held of a skippable frame. */
static gope_status skip_step(gope_source_t *src, gope_zstd_state *z, gope_err *err)
{
    gope_status st = ensure(src, z, 1, err);
    if (st != GOPE_OK)
        return st;
    size_t held = z->in_len - z->in_pos;
    if (held == 0)
        return truncated(src, z, err);
    size_t k = held < z->skip_left ? held : (size_t)z->skip_left;
    z->in_pos += k;
    z->skip_left -= k;
    z->in_frame = z->skip_left > 0;
    return GOPE_OK;
}

/* Feeds zstd the next piece of the open frame; *got decoded bytes land at
 * ring[ring_pos] (0 for headers and checksums). */
static gope_status decode_step(gope_source_t *src, gope_zstd_state *z, size_t *got,
                               gope_err *err)
{
    *got = 0;
    size_t need = ZSTD_nextSrcSizeToDecompress(z->dctx);
    if (need == 0) {
        z->in_frame = false;
        return GOPE_OK;
    }
    if (need > IN_CAP)
        return corrupt(src, z, "block larger than the format allows", err);
    ZSTD_nextInputType_e type = ZSTD_nextInputType(z->dctx);
    bool block = type == ZSTDnit_block || type == ZSTDnit_lastBlock;
    gope_status st = ensure(src, z, need, err);
    if (st != GOPE_OK)
        return st;
    size_t held = z->in_len - z->in_pos;
    if (held < need && !(block && z->raw_block && held > 0))
        return truncated(src, z, err);
    size_t feed = held < need ? held : need;
    if (type == ZSTDnit_blockHeader)
        z->raw_block = (z->in[z->in_pos] >> 1 & 3) == 0; /* Block_Type Raw_Block */
    size_t ret = ZSTD_decompressContinue(z->dctx, z->ring + z->ring_pos,
                                         z->ring_cap - z->ring_pos, z->in + z->in_pos, feed);
    if (ZSTD_isError(ret))
        return corrupt(src, z, ZSTD_getErrorName(ret), err);
    z->in_pos += feed;
    *got = ret;
    return GOPE_OK;
}

static gope_status zstd_next(gope_source_t *src, const char **data, size_t *len,
                             gope_err *err)
{
    gope_zstd_state *z = src->zstd;
    for (;;) {
        gope_status st;
        size_t got = 0;
        if (z->skip_left)
            st = skip_step(src, z, err);
        else if (z->in_frame)
            st = decode_step(src, z, &got, err);
        else if ((st = ensure(src, z, 1, err)) == GOPE_OK) {
            if (z->in_len == z->in_pos) { /* clean end after the last frame */
                *len = 0;
                return GOPE_OK;
            }
            st = begin_frame(src, z, err);
        }
        if (st != GOPE_OK)
            return st;
        if (got) {
            *data = z->ring + z->ring_pos;
            *len = got;
            z->ring_pos += got;
            /* as ZSTD_decompressStream: a ring smaller than the frame
             * starts over when a whole block no longer fits */
            if (z->ring_cap < z->frame_size && z->ring_pos + z->block_max > z->ring_cap)
                z->ring_pos = 0;
            return GOPE_OK;
        }
    }
}

const gope_source_codec gope_source_zstd = {
    .detect = zstd_detect,
    .init = zstd_init,
    .next = zstd_next,
    .fini = zstd_fini,
};
