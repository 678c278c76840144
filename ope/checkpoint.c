/*
 * checkpoint.c — the checkpoint file: the pipeline's state and the next
 * offset of every partition, saved together so that they can never
 * disagree (docs/consume.md, "Checkpoints").
 *
 * Layout (little-endian):
 *   header, 32 bytes:
 *     0  magic "GOPECKPT"
 *     8  u32 format version (3)
 *    12  u32 header length (32)
 *    16  u64 payload length
 *    24  u32 CRC-32 of the payload
 *    28  u32 CRC-32 of bytes 0..27
 *   payload: sections (ckpt_int.h): OFFS (topic, partition, next offset of
 *   each partition), OUTS (path and size of every file output when the
 *   checkpoint was taken), then the pipeline's (pipeline_ckpt.c: CONF STAT
 *   DEDU WIND JOIN), then CLCK, the stream clock with the partition behind
 *   each stream (ckpt_clock.c). Version 1 (before the reward join and the
 *   per-partition clock) is refused with a message saying so: its state
 *   lacks the clock's partitions, and a guess there could hold windows open
 *   for a partition that is no longer read. Version 2 (before OUTS) still
 *   loads, with no output sizes: the outputs are then appended to as they
 *   were (a record emitted after that checkpoint comes again, with the same
 *   revision), and the next checkpoint is version 3.
 * The checksums turn a torn or bit-flipped file into a clear error instead of
 * a wrong state; the header's own checksum tells a corrupt length from a
 * truncated payload. Sections make a later split of the state by partition
 * a matter of new section types, not a new file format.
 *
 * consume --partials --checkpoint keeps one such file per source partition
 * and owner epoch (DIR/TOPIC.PARTITION.eEPOCH.ckpt, ckpt_claim.h), each
 * holding that partition's pipeline and its one offset, so that a
 * partition's state can move to whichever group member is assigned it next.
 *
 * Replacing is atomic: the file is written as DIR/state.ckpt.tmp, flushed,
 * fsync'd, renamed over DIR/state.ckpt, and DIR is fsync'd so the rename
 * itself survives a power loss. A crash at any point leaves either the old
 * checkpoint or the new one, never a mixture.
 */
#include "gope_ope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_int.h"
#include "pipeline_int.h"

#define CKPT_NAME "state.ckpt"
#define CKPT_MAGIC "GOPECKPT"
#define CKPT_VERSION 3
#define CKPT_VERSION_NO_OUTS 2 /* the last version without OUTS, still read */
#define HEADER_LEN 32
#define OFFS_V 1
#define OUTS_V 1
#define MAX_TOPIC 249 /* Kafka's limit on topic names */

struct gope_checkpoint_s {
    char path[GOPE_CKPT_PATH_MAX];
    unsigned char *data;    /* the whole file */
    size_t len;
    gope_ckr rest;          /* the pipeline's sections */
    uint32_t version;       /* the file's format version */
    gope_kafka_pos *pos;    /* topics point into topic_buf */
    size_t n_pos;
    char *topic_buf;
    gope_ckpt_output *outs; /* paths point into outs_buf */
    size_t n_outs;
    char *outs_buf;
    gope_ckpt_names streams; /* filled by a restore */
};

/* CRC-32 (IEEE 802.3, reflected), four bits at a time from a 16-entry table:
 * fast enough for checkpoints and without a 1 KB table. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    static const uint32_t nibble[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = (c >> 4) ^ nibble[c & 15];
        c = (c >> 4) ^ nibble[c & 15];
    }
    return ~c;
}

static void le32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static gope_status path_in(const char *dir, const char *name, char *out, gope_err *err)
{
    if ((size_t)snprintf(out, GOPE_CKPT_PATH_MAX, "%s/%s", dir, name) >= GOPE_CKPT_PATH_MAX)
        return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint directory name too long: %s", dir);
    return GOPE_OK;
}

/* ------------------------------------------------------------- writing */

typedef struct {
    const gope_kafka_pos *pos;
    size_t n;
} offsets;

static gope_status offs_save(const void *obj, FILE *f, gope_err *err)
{
    const offsets *o = obj;
    (void)err;
    gope_ckw_u32(f, (uint32_t)o->n);
    for (size_t i = 0; i < o->n; i++) {
        gope_ckw_str(f, o->pos[i].topic);
        gope_ckw_u32(f, (uint32_t)o->pos[i].partition);
        gope_ckw_i64(f, o->pos[i].offset);
    }
    return GOPE_OK;
}

static gope_status outs_save(const void *obj, FILE *f, gope_err *err)
{
    const gope_checkpoint_save *s = obj;
    gope_ckw_u32(f, (uint32_t)s->n_outputs);
    for (size_t i = 0; i < s->n_outputs; i++) {
        if (strlen(s->outputs[i].path) >= GOPE_CKPT_PATH_MAX)
            return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint: output name too long: %.64s...",
                                s->outputs[i].path);
        gope_ckw_str(f, s->outputs[i].path);
        gope_ckw_u64(f, s->outputs[i].bytes);
    }
    return GOPE_OK;
}

/* The payload in memory: OFFS, OUTS, the pipeline's sections, CLCK. */
static gope_status build_payload(const gope_checkpoint_save *s, char **buf, size_t *len,
                                 gope_err *err)
{
    *buf = NULL;
    FILE *m = open_memstream(buf, len);
    if (!m)
        return gope_err_set(err, GOPE_ERR_NOMEM, "checkpoint: out of memory");
    offsets o = {s->pos, s->n_pos};
    gope_status st = gope_ckw_section(m, "OFFS", OFFS_V, offs_save, &o, err);
    if (st == GOPE_OK)
        st = gope_ckw_section(m, "OUTS", OUTS_V, outs_save, s, err);
    if (st == GOPE_OK)
        st = gope_pipeline_save(s->p, m, err);
    if (st == GOPE_OK)
        st = gope_ckpt_clock_save(m, s->p->clock, s->streams, s->n_streams, err);
    bool bad = ferror(m) != 0;
    if (fclose(m) != 0)
        bad = true;
    if (st == GOPE_OK && bad)
        st = gope_err_set(err, GOPE_ERR_NOMEM, "checkpoint: out of memory");
    if (st != GOPE_OK) {
        free(*buf);
        *buf = NULL;
    }
    return st;
}

static void make_header(unsigned char *h, const char *payload, size_t len)
{
    memcpy(h, CKPT_MAGIC, 8);
    le32(h + 8, CKPT_VERSION);
    le32(h + 12, HEADER_LEN);
    le32(h + 16, (uint32_t)len);
    le32(h + 20, (uint32_t)((uint64_t)len >> 32));
    le32(h + 24, crc32_of((const unsigned char *)payload, len));
    le32(h + 28, crc32_of(h, 28));
}

/* Write header and payload to `tmp`, flushed and fsync'd. */
static gope_status write_tmp(const char *tmp, const unsigned char *h, const char *payload,
                             size_t len, gope_err *err)
{
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    bool ok = fwrite(h, 1, HEADER_LEN, f) == HEADER_LEN && fwrite(payload, 1, len, f) == len &&
              fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        return gope_err_set(err, GOPE_ERR_IO, "%s: write failed: %s", tmp, strerror(saved));
    }
    return GOPE_OK;
}

static gope_status sync_dir(const char *dir, gope_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) {
        gope_status st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot sync the directory: %s", dir,
                                      strerror(errno));
        if (fd >= 0)
            close(fd);
        return st;
    }
    close(fd);
    return GOPE_OK;
}

gope_status gope_checkpoint_write(const char *dir, const gope_pipeline_t *p,
                                  const gope_kafka_pos *pos, size_t n_pos,
                                  const gope_stream_name *streams, size_t n_streams,
                                  size_t *bytes, gope_err *err)
{
    return gope_checkpoint_write_as(dir, CKPT_NAME, p, pos, n_pos, streams, n_streams, bytes,
                                    err);
}

gope_status gope_checkpoint_write_as(const char *dir, const char *name, const gope_pipeline_t *p,
                                     const gope_kafka_pos *pos, size_t n_pos,
                                     const gope_stream_name *streams, size_t n_streams,
                                     size_t *bytes, gope_err *err)
{
    gope_checkpoint_save s = {.dir = dir, .name = name, .p = p, .pos = pos, .n_pos = n_pos,
                              .streams = streams, .n_streams = n_streams};
    return gope_checkpoint_write_with(&s, bytes, err);
}

gope_status gope_checkpoint_write_with(const gope_checkpoint_save *s, size_t *bytes,
                                       gope_err *err)
{
    char final[GOPE_CKPT_PATH_MAX], tmp[GOPE_CKPT_PATH_MAX];
    const char *dir = s->dir;
    gope_status st;
    if ((st = path_in(dir, s->name ? s->name : CKPT_NAME, final, err)))
        return st;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", final) >= sizeof tmp)
        return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint directory name too long: %s", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot create the directory: %s", dir,
                            strerror(errno));
    char *payload;
    size_t len;
    if ((st = build_payload(s, &payload, &len, err)))
        return st;
    unsigned char h[HEADER_LEN];
    make_header(h, payload, len);
    st = write_tmp(tmp, h, payload, len, err);
    free(payload);
    if (st != GOPE_OK)
        return st;
    if (rename(tmp, final) != 0) {
        st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot replace %s: %s", tmp, final,
                          strerror(errno));
        unlink(tmp);
        return st;
    }
    if (bytes)
        *bytes = HEADER_LEN + len;
    return sync_dir(dir, err);
}

/* ------------------------------------------------------------- reading */

static gope_status read_all(gope_checkpoint_t *c, gope_err *err)
{
    FILE *f = fopen(c->path, "rb");
    if (!f)
        return errno == ENOENT ? GOPE_EOF
                               : gope_err_set(err, GOPE_ERR_IO, "%s: cannot open: %s", c->path,
                                              strerror(errno));
    gope_status st = GOPE_OK;
    size_t cap = 0;
    for (;;) {
        if (c->len == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
            unsigned char *nd = realloc(c->data, ncap);
            if (!nd) {
                st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", c->path);
                break;
            }
            c->data = nd;
            cap = ncap;
        }
        size_t got = fread(c->data + c->len, 1, cap - c->len, f);
        c->len += got;
        if (got == 0) {
            if (ferror(f))
                st = gope_err_set(err, GOPE_ERR_IO, "%s: read failed at byte %zu", c->path,
                                  c->len);
            break;
        }
    }
    fclose(f);
    return st;
}

static gope_status check_header(const gope_checkpoint_t *c, uint64_t *payload_len,
                                gope_err *err)
{
    const unsigned char *h = c->data;
    if (c->len < HEADER_LEN)
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s: truncated at byte %zu: the header alone has %d bytes", c->path,
                            c->len, HEADER_LEN);
    if (memcmp(h, CKPT_MAGIC, 8) != 0)
        return gope_err_set(err, GOPE_ERR_INPUT, "%s: byte 0: not a giftope checkpoint", c->path);
    if (get32(h + 28) != crc32_of(h, 28))
        return gope_err_set(err, GOPE_ERR_INPUT, "%s: byte 28: header checksum mismatch (corrupt)",
                            c->path);
    if (get32(h + 8) == 1)
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s: byte 8: format version 1, from a giftope without the reward "
                            "join and the per-partition clock; this one reads version %d. "
                            "Finish that run with the giftope that wrote it, or start over "
                            "with another --checkpoint directory", c->path, CKPT_VERSION);
    if (get32(h + 8) != CKPT_VERSION && get32(h + 8) != CKPT_VERSION_NO_OUTS)
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s: byte 8: format version %u; this giftope reads version %d",
                            c->path, get32(h + 8), CKPT_VERSION);
    if (get32(h + 12) != HEADER_LEN)
        return gope_err_set(err, GOPE_ERR_INPUT, "%s: byte 12: header length %u, expected %d",
                            c->path, get32(h + 12), HEADER_LEN);
    *payload_len = get32(h + 16) | (uint64_t)get32(h + 20) << 32;
    if (*payload_len > c->len - HEADER_LEN)
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s: truncated at byte %zu: the header announces %llu bytes", c->path,
                            c->len, (unsigned long long)(*payload_len + HEADER_LEN));
    if (*payload_len < c->len - HEADER_LEN)
        return gope_err_set(err, GOPE_ERR_INPUT, "%s: byte %llu: %llu bytes after the payload",
                            c->path, (unsigned long long)(*payload_len + HEADER_LEN),
                            (unsigned long long)(c->len - HEADER_LEN - *payload_len));
    if (get32(h + 24) != crc32_of(h + HEADER_LEN, (size_t)*payload_len))
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s: payload checksum mismatch (bytes %d to %zu): the file is corrupt",
                            c->path, HEADER_LEN, c->len);
    return GOPE_OK;
}

static gope_status offs_load(gope_checkpoint_t *c, gope_ckr *r, gope_err *err)
{
    uint32_t n;
    if (!gope_ckr_u32(r, &n))
        return gope_ckr_fail(r, err, "truncated: partition count");
    if (n > (r->len - r->pos) / 16)
        return gope_ckr_fail(r, err, "%u partitions do not fit in the section", n);
    c->pos = calloc(n ? n : 1, sizeof *c->pos);
    c->topic_buf = malloc((size_t)n * (MAX_TOPIC + 1) + 1);
    if (!c->pos || !c->topic_buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", c->path);
    for (uint32_t i = 0; i < n; i++) {
        char *topic = c->topic_buf + (size_t)i * (MAX_TOPIC + 1);
        uint32_t part;
        size_t at = r->pos;
        if (!gope_ckr_str(r, topic, MAX_TOPIC + 1) || !gope_ckr_u32(r, &part) ||
            !gope_ckr_i64(r, &c->pos[i].offset))
            return gope_ckr_fail(r, err, "partition %u: truncated or topic name too long", i);
        if (!*topic || part > INT32_MAX || c->pos[i].offset < 0) {
            r->pos = at;
            return gope_ckr_fail(r, err, "partition %u: \"%s\"/%u at offset %lld is impossible",
                                 i, topic, part, (long long)c->pos[i].offset);
        }
        c->pos[i].topic = topic;
        c->pos[i].partition = (int32_t)part;
        c->n_pos++;
    }
    return gope_ckr_end(r, "OFFS", err);
}

static gope_status outs_load(gope_checkpoint_t *c, gope_ckr *r, gope_err *err)
{
    uint32_t n;
    if (!gope_ckr_u32(r, &n))
        return gope_ckr_fail(r, err, "truncated: output count");
    if (n > (r->len - r->pos) / 12)
        return gope_ckr_fail(r, err, "%u outputs do not fit in the section", n);
    const size_t size = r->len - r->pos + n + 1; /* room for every name, with its NUL */
    c->outs = calloc(n ? n : 1, sizeof *c->outs);
    c->outs_buf = malloc(size);
    if (!c->outs || !c->outs_buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", c->path);
    char *at = c->outs_buf;
    for (uint32_t i = 0; i < n; i++) {
        if (!gope_ckr_str(r, at, size - (size_t)(at - c->outs_buf)) ||
            !gope_ckr_u64(r, &c->outs[i].bytes))
            return gope_ckr_fail(r, err, "output %u: truncated", i);
        if (!*at)
            return gope_ckr_fail(r, err, "output %u: no name", i);
        c->outs[i].path = at;
        at += strlen(at) + 1;
        c->n_outs++;
    }
    return gope_ckr_end(r, "OUTS", err);
}

gope_status gope_checkpoint_read(const char *dir, gope_checkpoint_t **out, gope_err *err)
{
    return gope_checkpoint_read_as(dir, CKPT_NAME, out, err);
}

gope_status gope_checkpoint_read_as(const char *dir, const char *name, gope_checkpoint_t **out,
                                    gope_err *err)
{
    gope_checkpoint_t *c = calloc(1, sizeof *c);
    if (!c)
        return gope_err_set(err, GOPE_ERR_NOMEM, "checkpoint: out of memory");
    gope_status st = path_in(dir, name, c->path, err);
    uint64_t payload_len = 0;
    if (st == GOPE_OK)
        st = read_all(c, err);
    if (st == GOPE_OK)
        st = check_header(c, &payload_len, err);
    if (st == GOPE_OK) {
        gope_ckr r = {.data = c->data + HEADER_LEN, .len = (size_t)payload_len,
                      .base = HEADER_LEN, .name = c->path};
        gope_ckr sub;
        uint32_t version;
        c->version = get32(c->data + 8);
        st = gope_ckr_section(&r, "OFFS", OFFS_V, &sub, &version, err);
        if (st == GOPE_OK)
            st = offs_load(c, &sub, err);
        if (st == GOPE_OK && c->version > CKPT_VERSION_NO_OUTS &&
            (st = gope_ckr_section(&r, "OUTS", OUTS_V, &sub, &version, err)) == GOPE_OK)
            st = outs_load(c, &sub, err);
        c->rest = r;
    }
    if (st != GOPE_OK) {
        gope_checkpoint_free(c);
        return st;
    }
    *out = c;
    return GOPE_OK;
}

const gope_kafka_pos *gope_checkpoint_offsets(const gope_checkpoint_t *c, size_t *n)
{
    *n = c->n_pos;
    return c->pos;
}

gope_status gope_checkpoint_restore(gope_checkpoint_t *c, gope_pipeline_t *p, gope_err *err)
{
    gope_ckr r = c->rest;
    gope_ckpt_names_free(&c->streams);
    gope_status st = gope_pipeline_load(p, &r, err);
    if (st == GOPE_OK)
        st = gope_ckpt_clock_load(&r, p->clock, &c->streams, err);
    if (st == GOPE_OK && r.pos != r.len)
        st = gope_ckr_fail(&r, err, "%zu bytes after the last section this giftope knows",
                           r.len - r.pos);
    return st;
}

const gope_ckpt_output *gope_checkpoint_outputs(const gope_checkpoint_t *c, size_t *n)
{
    *n = c->n_outs;
    return c->outs;
}

uint32_t gope_checkpoint_version(const gope_checkpoint_t *c)
{
    return c->version;
}

const gope_stream_name *gope_checkpoint_streams(const gope_checkpoint_t *c, size_t *n)
{
    *n = c->streams.n;
    return c->streams.v;
}

const char *gope_checkpoint_path(const gope_checkpoint_t *c) { return c->path; }

void gope_checkpoint_free(gope_checkpoint_t *c)
{
    if (!c)
        return;
    free(c->data);
    free(c->pos);
    free(c->topic_buf);
    free(c->outs);
    free(c->outs_buf);
    gope_ckpt_names_free(&c->streams);
    free(c);
}
