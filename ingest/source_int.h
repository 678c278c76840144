/*
 * source_int.h — internals shared by the line splitter (source.c) and the
 * byte codecs that feed it (plain bytes in source.c, zstd in source_zstd.c).
 *
 * A source is two layers. The codec turns the file into a stream of bytes
 * handed out in chunks that live in the codec's own memory ("the next piece
 * of the decompressed stream is here"); the splitter finds lines in a chunk
 * and hands them out as pointers into it. So the bytes zstd decodes are read
 * where zstd wrote them, never copied, and only the codec knows about
 * compression: adding another format is one more const table. Only a line
 * that straddles two chunks is copied, into the splitter's carry buffer.
 */
#ifndef GOPE_SOURCE_INT_H
#define GOPE_SOURCE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_ingest.h"

/* Bytes read from the file to choose a codec; they are replayed by the codec. */
#define GOPE_SOURCE_PEEK 4

typedef struct gope_source_codec_s gope_source_codec;
typedef struct gope_zstd_state_s gope_zstd_state; /* source_zstd.c */

struct gope_source_s {
    char *name;                 /* as given to open; "-" for stdin */
    const char *label;          /* for messages: name, or "stdin" */
    int fd;
    bool own_fd;                /* false for stdin: never closed */
    uint64_t consumed;          /* bytes read from fd so far */
    uint64_t total;             /* size of a regular file, else 0 */

    unsigned char peek[GOPE_SOURCE_PEEK]; /* first bytes of the file */
    size_t peek_len, peek_pos;

    const gope_source_codec *codec;
    gope_zstd_state *zstd;      /* codec state when codec is zstd */

    /* Plain codec: its read buffer. */
    char *buf;

    /* Splitter: the codec's current chunk, consumed up to chunk_pos. */
    const char *chunk;
    size_t chunk_len, chunk_pos;
    /* The start of a line that continues past the chunk: its first
     * GOPE_MAX_LINE bytes in carry[0, min(carry_full, GOPE_MAX_LINE)). */
    char *carry;
    uint64_t carry_full;        /* its length so far; 0: no line carried */
    bool eof;                   /* the codec has no more bytes */
    gope_status failed;         /* sticky error, GOPE_OK while healthy */
    gope_err failure;           /* its message, repeated on later calls */
    uint64_t lineno;            /* lines handed out so far */
    uint64_t offset;            /* stream offset of the next line */
};

/* A codec: a const table chosen at open time from the first bytes. */
struct gope_source_codec_s {
    /*! detect() : whether the first `n` (<= GOPE_SOURCE_PEEK) bytes of a
     * file start this format; NULL for the plain fallback. */
    bool (*detect)(const unsigned char *head, size_t n);
    /*! init() : set up codec state (NULL: none); the peeked bytes are in
     * src->peek. @return GOPE_OK or GOPE_ERR_NOMEM (with err). */
    gope_status (*init)(gope_source_t *src, gope_err *err);
    /*! next() : the next piece of the stream, *len > 0 bytes at *data, valid
     * until the following call (the splitter copies what it keeps).
     * @return GOPE_OK with *len > 0, GOPE_OK with *len == 0 at the clean end
     *         of the stream, or GOPE_ERR_IO / GOPE_ERR_NOMEM with err naming
     *         file and offset. */
    gope_status (*next)(gope_source_t *src, const char **data, size_t *len,
                        gope_err *err);
    /*! fini() : release codec state (NULL: none); safe after a failed init. */
    void (*fini)(gope_source_t *src);
};

/* Compressed formats (source_zstd.c); plain bytes are source.c's fallback. */
extern const gope_source_codec gope_source_zstd;

/*! gope_source_read() : read(2) up to `cap` raw bytes from the file,
 * retrying on EINTR and counting them in src->consumed. Peeked bytes are
 * not replayed here; codecs do that.
 * @return GOPE_OK with *got (0 at end of file), or GOPE_ERR_IO. */
gope_status gope_source_read(gope_source_t *src, void *dst, size_t cap,
                             size_t *got, gope_err *err);

#endif /* GOPE_SOURCE_INT_H */
