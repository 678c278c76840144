/*
 * consume_parts.c — per-partition state for consume --partials --checkpoint
 * (consume_parts.h, docs/scaling.md).
 *
 * A member holds a handful of partitions, so the table is an array of
 * pointers searched linearly (a pipeline's tap keeps a pointer to its
 * entry, so entries never move). The counters of the summary are this
 * run's share: each pipeline's counters less those its checkpoint brought,
 * so that the summaries of all members add up to the messages read, each
 * once, when no member crashed.
 */
#include "consume_parts.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_claim.h"

/* The input streams of a partition's pipeline: partition P of --topic,
 * and partition P of --reward-topic when rewards come on their own topic
 * (co-partitioned: docs/scaling.md). */
enum { DECISIONS, REWARDS, N_STREAMS };

/* One partition held: its pipeline and where its progress stands. */
typedef struct {
    gope_cparts *owner;
    int32_t partition;
    uint64_t epoch;           /* its owner epoch (ckpt_claim.h): the file it writes */
    unsigned held;            /* bit s: stream s's topic-partition is assigned */
    gope_pipeline_t *pl;
    gope_pipeline_stats base; /* the counters its checkpoint brought */
    double last_ms;           /* wall time of its last message, or of its assignment */
    int64_t reported;         /* the watermark of its last progress line */
    bool dirty;               /* changed since its last checkpoint */
    bool due;                 /* windows written since its last progress line */
    gope_ckpt_output *carried; /* other instances' output sizes from its file (paths owned) */
    size_t n_carried;
} cpart;

struct gope_cparts_s {
    gope_cparts_conf conf;
    gope_kafka_source_t *ks;
    cpart **v;
    size_t n, cap;
    gope_pipeline_stats done; /* this run's counters of the partitions dropped */
    uint64_t written;
    size_t bytes;
    bool restored;            /* a partition was loaded from its checkpoint */
    char who[128];            /* host-pid, written into this instance's claims */
    int32_t *fenced;          /* partitions dropped as fenced, until revoked or assigned */
    size_t n_fenced, cap_fenced;
    uint64_t fences;          /* partitions fenced in this run */
};

gope_status gope_cparts_new(const gope_cparts_conf *conf, gope_cparts **out, gope_err *err)
{
    gope_cparts *c = calloc(1, sizeof *c);
    if (!c)
        return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
    c->conf = *conf;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(c->who, sizeof c->who, "%s-%ld", host, (long)getpid());
    *out = c;
    return GOPE_OK;
}

#define START_TAG "outputs-" /* TOPIC.outputs-HASH.ckpt: an instance's start */

/* Is `name` TOPIC.PARTITION.ckpt, TOPIC.PARTITION.eEPOCH.ckpt or
 * TOPIC.outputs-HASH.ckpt of c's topic? */
static bool is_file_of(const gope_cparts *c, const char *name)
{
    size_t t = strlen(c->conf.topic);
    if (strncmp(name, c->conf.topic, t) != 0 || name[t] != '.')
        return false;
    const char *p = name + t + 1;
    bool start = strncmp(p, START_TAG, strlen(START_TAG)) == 0;
    if (start)
        p += strlen(START_TAG);
    const char *end = p + strspn(p, start ? "0123456789abcdef" : "0123456789");
    if (end == p)
        return false;
    if (!start && strncmp(end, ".e", 2) == 0 && end[2] >= '0' && end[2] <= '9')
        end += 2 + strspn(end + 2, "0123456789");
    return strcmp(end, ".ckpt") == 0;
}

/* The outputs' sizes as this instance starts (after the cut), in a file of
 * their own named after their paths (FNV-1a): a crash before the
 * instance's first checkpoint round then still has them cut back to here.
 * The file holds the instance's pipeline, which takes no input. */
static gope_status save_start(gope_cparts *c, gope_err *err)
{
    gope_coutputs *o = c->conf.outs;
    gope_status st = gope_coutputs_measure(o, err);
    if (st != GOPE_OK || !o->n_now)
        return st;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < o->n; i++) /* each with its NUL: "a","bc" is not "ab","c" */
        for (size_t k = 0, n = strlen(o->path[i]); k <= n; k++)
            h = (h ^ (unsigned char)o->path[i][k]) * 0x100000001b3ULL;
    char name[320];
    if ((size_t)snprintf(name, sizeof name, "%s." START_TAG "%016" PRIx64 ".ckpt",
                         c->conf.topic, h) >= sizeof name)
        return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint name too long for topic %s",
                            c->conf.topic);
    gope_checkpoint_save sv = {.dir = c->conf.dir, .name = name, .p = c->conf.ev->pl,
                               .outputs = o->now, .n_outputs = o->n_now};
    return gope_checkpoint_write_with(&sv, NULL, err);
}

gope_status gope_cparts_rewind(gope_cparts *c, gope_err *err)
{
    DIR *d = opendir(c->conf.dir); /* none yet: a first run */
    if (!d && errno != ENOENT)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot list: %s", c->conf.dir,
                            strerror(errno));
    gope_status st = GOPE_OK;
    for (struct dirent *e; d && st == GOPE_OK && (e = readdir(d));) {
        gope_checkpoint_t *ck = NULL;
        if (!is_file_of(c, e->d_name))
            continue;
        st = gope_checkpoint_read_as(c->conf.dir, e->d_name, &ck, err);
        if (st == GOPE_OK)
            gope_coutputs_saw(c->conf.outs, ck);
        gope_checkpoint_free(ck);
        if (st == GOPE_EOF) /* removed since the listing: it holds nothing then */
            st = GOPE_OK;
    }
    if (d)
        closedir(d);
    if (st == GOPE_OK)
        st = gope_coutputs_rewind(c->conf.outs, "consume", c->conf.quiet, err);
    return st == GOPE_OK ? save_start(c, err) : st;
}

void gope_cparts_source(gope_cparts *c, gope_kafka_source_t *ks)
{
    c->ks = ks;
}

/* `to` += now - base, counter by counter (not the join's gauges: they are
 * the partitions' held now); the event-time range is widened. */
static void add_delta(gope_pipeline_stats *to, const gope_pipeline_stats *now,
                      const gope_pipeline_stats *base)
{
    if (now->accepted > base->accepted) {
        if (!to->accepted || now->min_ts < to->min_ts)
            to->min_ts = now->min_ts;
        if (!to->accepted || now->max_ts > to->max_ts)
            to->max_ts = now->max_ts;
    }
    to->lines_read += now->lines_read - base->lines_read;
    to->accepted += now->accepted - base->accepted;
    to->rejected += now->rejected - base->rejected;
    to->late += now->late - base->late;
    to->windows += now->windows - base->windows;
    to->records += now->records - base->records;
    for (int r = 0; r < GOPE_R_COUNT; r++)
        to->by_reason[r] += now->by_reason[r] - base->by_reason[r];
    to->rewards_joined += now->rewards_joined - base->rewards_joined;
    to->decisions_defaulted += now->decisions_defaulted - base->decisions_defaulted;
    to->rewards_orphaned += now->rewards_orphaned - base->rewards_orphaned;
}

/* The pipeline's tap: its windows are the partition's share. */
static gope_status on_window(void *ctx, const gope_window_result *w, gope_err *err)
{
    cpart *cp = ctx;
    cp->due = true;
    return gope_partials_window_of(cp->owner->conf.partials, cp->partition, w, err);
}

/* The topic of input stream `s`. */
static const char *topic_of(const gope_cparts *c, int s)
{
    return s == DECISIONS ? c->conf.topic : c->conf.reward_topic;
}

/* Input streams of each partition: 1, or 2 with a reward topic. */
static int n_streams(const gope_cparts *c)
{
    return c->conf.reward_topic ? N_STREAMS : 1;
}

/* The stream `topic` feeds. @return GOPE_OK; GOPE_ERR_INPUT for a topic
 * that is neither --topic nor --reward-topic. */
static gope_status stream_of(const gope_cparts *c, const char *topic, int *s, gope_err *err)
{
    for (*s = 0; *s < n_streams(c); (*s)++)
        if (strcmp(topic, topic_of(c, *s)) == 0)
            return GOPE_OK;
    return gope_err_set(err, GOPE_ERR_INPUT, "kafka:%s: not a topic of --partials (%s)", topic,
                        c->conf.topic);
}

/* The next offset of stream `s` of `partition` in `pos`, or -1. */
static int64_t offset_in(const gope_cparts *c, const gope_kafka_pos *pos, size_t n, int s,
                         int32_t partition, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (pos[i].partition == partition && strcmp(pos[i].topic, topic_of(c, s)) == 0) {
            *at = i;
            return pos[i].offset;
        }
    return -1;
}

/* TOPIC.PARTITION, the base name of the partition's files (ckpt_claim.h). */
static gope_status base_name(const gope_cparts *c, int32_t partition, char *buf, size_t size,
                             gope_err *err)
{
    if ((size_t)snprintf(buf, size, "%s.%" PRId32, c->conf.topic, partition) >= size)
        return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint name too long for topic %s",
                            c->conf.topic);
    return GOPE_OK;
}

static void free_carried(cpart *cp)
{
    for (size_t i = 0; i < cp->n_carried; i++)
        free((char *)cp->carried[i].path);
    free(cp->carried);
    cp->carried = NULL;
    cp->n_carried = 0;
}

static bool is_ours(const gope_coutputs *o, const char *path)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->path[i], path) == 0)
            return true;
    return false;
}

/* The output sizes of ck that are not this instance's, kept in cp to be
 * saved again with its file. @return GOPE_OK; GOPE_ERR_NOMEM. */
static gope_status carry(const gope_cparts *c, cpart *cp, const gope_checkpoint_t *ck,
                         gope_err *err)
{
    size_t n;
    const gope_ckpt_output *outs = gope_checkpoint_outputs(ck, &n);
    cp->carried = calloc(n ? n : 1, sizeof *cp->carried);
    if (!cp->carried)
        return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (is_ours(c->conf.outs, outs[i].path))
            continue;
        char *path = strdup(outs[i].path);
        if (!path)
            return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
        cp->carried[cp->n_carried++] = (gope_ckpt_output){.path = path, .bytes = outs[i].bytes};
    }
    return GOPE_OK;
}

/* Every stream of cp starts at its offset in `pos` (the checkpoint of
 * `path`); a file without one of them is not this run's. */
static gope_status start_streams(gope_cparts *c, const cpart *cp, const gope_kafka_pos *pos,
                                 size_t n, const char *path, gope_err *err)
{
    gope_status st = GOPE_OK;
    for (int s = 0; s < n_streams(c) && st == GOPE_OK; s++) {
        size_t at;
        int64_t offset = offset_in(c, pos, n, s, cp->partition, &at);
        if (offset < 0)
            return gope_err_set(err, GOPE_ERR_INPUT, "%s: holds no offset of %s/%" PRId32, path,
                                topic_of(c, s), cp->partition);
        st = gope_kafka_source_start_at(c->ks, topic_of(c, s), cp->partition, offset, err);
        if (st == GOPE_OK && !c->conf.quiet)
            fprintf(stderr, "giftope consume: partition %" PRId32 " of %s resumed from %s at "
                            "offset %" PRId64 "\n", cp->partition, topic_of(c, s), path, offset);
    }
    return st;
}

#define MAX_VANISHED 100 /* newest states removed under us in a row before giving up */

/* The state of the highest epoch of `base` (GOPE_EOF: none). One removed
 * after the listing was superseded by a newer one: listed again. */
static gope_status read_newest(const gope_cparts *c, const char *base, gope_checkpoint_t **ck,
                               gope_err *err)
{
    for (int tries = 0; tries < MAX_VANISHED; tries++) {
        gope_claim_view v;
        char name[320];
        gope_status st = gope_claim_scan(c->conf.dir, base, &v, err);
        if (st == GOPE_OK && !v.has_state)
            return GOPE_EOF;
        if (st == GOPE_OK)
            st = gope_claim_state_name(base, v.state, v.state == 0, name, sizeof name, err);
        if (st == GOPE_OK)
            st = gope_checkpoint_read_as(c->conf.dir, name, ck, err);
        if (st != GOPE_EOF)
            return st;
    }
    return gope_err_set(err, GOPE_ERR_IO, "%s/%s: the newest checkpoint vanished %d times in a "
                        "row", c->conf.dir, base, MAX_VANISHED);
}

/* cp claims the next owner epoch of its partition, then its checkpoint, if
 * any, goes into cp's fresh pipeline; the source starts each of its
 * topic-partitions at its offset (at the committed one without a file).
 * Claiming first means a member that loaded the state before another's
 * claim can never write over what that one loads. */
static gope_status load(gope_cparts *c, cpart *cp, gope_err *err)
{
    char base[300];
    gope_checkpoint_t *ck = NULL;
    gope_status st = base_name(c, cp->partition, base, sizeof base, err);
    if (st == GOPE_OK)
        st = gope_claim_take(c->conf.dir, base, c->who, &cp->epoch, err);
    if (st == GOPE_OK)
        st = read_newest(c, base, &ck, err);
    if (st == GOPE_EOF) {
        st = GOPE_OK;
        for (int s = 0; s < n_streams(c) && st == GOPE_OK; s++)
            st = gope_kafka_source_start_at(c->ks, topic_of(c, s), cp->partition, -1, err);
        return st;
    }
    if (st == GOPE_OK)
        st = gope_checkpoint_restore(ck, cp->pl, err);
    if (st == GOPE_OK)
        st = carry(c, cp, ck, err);
    size_t n = 0;
    const gope_kafka_pos *pos = st == GOPE_OK ? gope_checkpoint_offsets(ck, &n) : NULL;
    if (st == GOPE_OK)
        st = start_streams(c, cp, pos, n, gope_checkpoint_path(ck), err);
    c->restored |= st == GOPE_OK;
    gope_checkpoint_free(ck);
    return st;
}

/* A new entry for `partition` with its own pipeline, loaded. */
static gope_status add(gope_cparts *c, int32_t partition, double now, gope_err *err)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        cpart **v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
        c->v = v;
        c->cap = cap;
    }
    cpart *cp = calloc(1, sizeof *cp);
    if (!cp)
        return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
    *cp = (cpart){.owner = c, .partition = partition, .last_ms = now, .reported = INT64_MIN};
    gope_eval *ev = c->conf.ev;
    gope_status st = gope_pipeline_new(&ev->pc, ev->pol, ev->set,
                                       ev->agree ? &ev->agree_out : &ev->out, &ev->dead, &cp->pl,
                                       err);
    if (st == GOPE_OK) {
        gope_pipeline_tap(cp->pl, on_window, cp);
        st = load(c, cp, err);
    }
    /* a partition without a checkpoint holds its clock until each stream's first message */
    for (int s = 0; s < n_streams(c) && st == GOPE_OK; s++)
        if (gope_pipeline_clock(cp->pl) == INT64_MIN)
            st = gope_pipeline_stream_add(cp->pl, (uint32_t)s, err);
    if (st != GOPE_OK) {
        gope_pipeline_free(cp->pl);
        free_carried(cp);
        free(cp);
        return st;
    }
    cp->base = *gope_pipeline_stats_get(cp->pl);
    c->v[c->n++] = cp;
    return GOPE_OK;
}

static size_t find(const gope_cparts *c, int32_t partition)
{
    size_t i = 0;
    while (i < c->n && c->v[i]->partition != partition)
        i++;
    return i;
}

static bool is_fenced(const gope_cparts *c, int32_t partition, size_t *at)
{
    for (*at = 0; *at < c->n_fenced; (*at)++)
        if (c->fenced[*at] == partition)
            return true;
    return false;
}

/* The partition is no longer marked fenced (the group revoked or assigned it). */
static void unfence(gope_cparts *c, int32_t partition)
{
    size_t at;
    if (is_fenced(c, partition, &at))
        c->fenced[at] = c->fenced[--c->n_fenced];
}

/* Drop entry i; its counters join the run's. */
static void drop(gope_cparts *c, size_t i)
{
    cpart *cp = c->v[i];
    add_delta(&c->done, gope_pipeline_stats_get(cp->pl), &cp->base);
    gope_pipeline_free(cp->pl);
    free_carried(cp);
    free(cp);
    c->v[i] = c->v[--c->n];
}

/* The entry of a partition is made when the first of its topic-partitions
 * is assigned and dropped when the first is revoked (the revoke hook has
 * checkpointed it): the range assignor that a reward topic needs moves a
 * partition of both topics together. */
gope_status gope_cparts_partition(gope_cparts *c, const char *topic, int32_t partition,
                                  bool assigned, double now, gope_err *err)
{
    int s;
    gope_status st = stream_of(c, topic, &s, err);
    if (st != GOPE_OK)
        return st;
    unfence(c, partition);
    size_t i = find(c, partition);
    if (!assigned) {
        if (i < c->n)
            drop(c, i);
        return GOPE_OK;
    }
    if (i == c->n && (st = add(c, partition, now, err)) != GOPE_OK)
        return st;
    c->v[i]->held |= 1u << s;
    return GOPE_OK;
}

/* A message on partition P of one topic needs P of the other in the same
 * pipeline; the range assignor gives both to one member only when the
 * topics have the same number of partitions. */
static gope_status check_paired(const gope_cparts *c, const cpart *cp, const gope_kafka_msg *m,
                                gope_err *err)
{
    if (cp->held == (1u << n_streams(c)) - 1)
        return GOPE_OK;
    return gope_err_set(err, GOPE_ERR_USAGE, "%s offset %" PRId64 ": partition %" PRId32
                        " of %s and of %s are not assigned together: --topic and "
                        "--reward-topic must have the same number of partitions "
                        "(docs/scaling.md)", m->source, m->offset, m->partition,
                        c->conf.topic, c->conf.reward_topic);
}

/* A progress line for cp at its watermark. */
static gope_status progress(gope_cparts *c, cpart *cp, bool final, gope_err *err)
{
    int64_t wm = gope_pipeline_watermark(cp->pl);
    gope_status st = gope_partials_progress_of(c->conf.partials, cp->partition, wm, final, err);
    if (st == GOPE_OK) {
        cp->reported = wm;
        cp->due = false;
    }
    return st;
}

gope_status gope_cparts_message(gope_cparts *c, const gope_kafka_msg *m, double now,
                                gope_err *err)
{
    int s;
    gope_status st = stream_of(c, m->topic, &s, err);
    if (st != GOPE_OK)
        return st;
    size_t i = find(c, m->partition), at;
    if (i == c->n && is_fenced(c, m->partition, &at))
        return GOPE_OK; /* fetched before the group told us it went */
    if (i == c->n) /* the source hands out messages of assigned partitions only */
        return gope_err_set(err, GOPE_ERR_INPUT, "%s offset %" PRId64 ": the partition was "
                            "never assigned, it has no state", m->source, m->offset);
    cpart *cp = c->v[i];
    if ((st = check_paired(c, cp, m, err)) ||
        (st = gope_pipeline_line_on(cp->pl, (uint32_t)s, m->source, &m->line, err)) ||
        (st = gope_kafka_source_store(c->ks, err)))
        return st;
    cp->dirty = true;
    cp->last_ms = now;
    return cp->due ? progress(c, cp, false, err) : GOPE_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Has cp's watermark passed a window end since its last progress line?
 * Window ends are multiples of the slide: only then can merge finalize a
 * window more, so a partition that follows reports no more often. */
static bool passed_end(const gope_cparts *c, const cpart *cp)
{
    int64_t slide = c->conf.ev->pc.window.slide_ms, wm = gope_pipeline_watermark(cp->pl);
    if (slide <= 0 || wm == INT64_MIN)
        return false;
    return cp->reported == INT64_MIN || floor_div(wm, slide) > floor_div(cp->reported, slide);
}

gope_status gope_cparts_idle(gope_cparts *c, double now, gope_err *err)
{
    if (!c->conf.idle_ms)
        return GOPE_OK;
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < c->n; i++) {
        int64_t t = gope_pipeline_clock(c->v[i]->pl);
        if (now - c->v[i]->last_ms < (double)c->conf.idle_ms && t != INT64_MIN && t < low)
            low = t;
    }
    if (low == INT64_MAX) /* every partition quiet: nothing to follow */
        return GOPE_OK;
    for (size_t i = 0; i < c->n; i++) {
        cpart *cp = c->v[i];
        if (now - cp->last_ms < (double)c->conf.idle_ms || gope_pipeline_clock(cp->pl) >= low)
            continue;
        gope_status st = GOPE_OK;
        for (int s = 0; s < n_streams(c) && st == GOPE_OK; s++)
            st = gope_pipeline_follow(cp->pl, (uint32_t)s, low, err);
        if (st == GOPE_OK && (cp->due || passed_end(c, cp)))
            st = progress(c, cp, false, err);
        if (st != GOPE_OK)
            return st;
        cp->dirty = true;
    }
    return GOPE_OK;
}

bool gope_cparts_dirty(const gope_cparts *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->dirty)
            return true;
    return false;
}

/* Entry i lost its epoch to `claim` (another member took the partition
 * over after this one stalled): dropped without a checkpoint, as on a lost
 * revoke, and its messages ignored until the group revokes it here.
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
static gope_status fence(gope_cparts *c, size_t i, const char *base, uint64_t claim,
                         gope_err *err)
{
    if (c->n_fenced == c->cap_fenced) {
        size_t cap = c->cap_fenced ? 2 * c->cap_fenced : 8;
        int32_t *v = realloc(c->fenced, cap * sizeof *v);
        if (!v)
            return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
        c->fenced = v;
        c->cap_fenced = cap;
    }
    const cpart *cp = c->v[i];
    char who[128];
    gope_claim_who(c->conf.dir, base, claim, who, sizeof who);
    fprintf(stderr, "giftope consume: partition %" PRId32 " of %s fenced: %s claimed owner epoch "
            "%" PRIu64 " in %s (ours %" PRIu64 "); dropped without a checkpoint\n",
            cp->partition, c->conf.topic, who, claim, c->conf.dir, cp->epoch);
    c->fenced[c->n_fenced++] = cp->partition;
    c->fences++;
    drop(c, i);
    return GOPE_OK;
}

/* Superseded files of `base` go once cp's state is written (a failure only
 * leaves files nobody reads). */
static void prune(const gope_cparts *c, const char *base, uint64_t epoch)
{
    gope_err err = {{0}};
    if (gope_claim_prune(c->conf.dir, base, epoch, &err) != GOPE_OK)
        fprintf(stderr, "giftope consume: %s (left in place)\n", err.msg);
}

/* Does entry i still own its epoch? If not it is fenced (*dropped). The
 * view of its files goes to *v (may be NULL). */
static gope_status still_ours(gope_cparts *c, size_t i, bool *dropped, gope_claim_view *v,
                              gope_err *err)
{
    char base[300];
    gope_claim_view mine;
    bool held;
    gope_status st = base_name(c, c->v[i]->partition, base, sizeof base, err);
    if (st == GOPE_OK)
        st = gope_claim_held(c->conf.dir, base, c->v[i]->epoch, &held, v ? v : &mine, err);
    *dropped = st == GOPE_OK && !held;
    return *dropped ? fence(c, i, base, (v ? v : &mine)->claim, err) : st;
}

/* Will entry i write a progress line or its file in a checkpoint round? */
static bool will_write(const gope_cparts *c, size_t i)
{
    const cpart *cp = c->v[i];
    return cp->dirty || gope_pipeline_watermark(cp->pl) != cp->reported;
}

/* Every entry that lost its epoch fenced, before anything of it is written
 * (a stale window or a final progress line would mislead merge): all, or
 * those that will write in this round. */
static gope_status fence_stale(gope_cparts *c, bool all, gope_err *err)
{
    gope_status st = GOPE_OK;
    for (size_t i = 0; i < c->n && st == GOPE_OK;) {
        bool dropped = false; /* entry i is then another partition's */
        if (all || will_write(c, i))
            st = still_ours(c, i, &dropped, NULL, err);
        i += !dropped;
    }
    return st;
}

/* Entry i's state and next offsets to its epoch's file (not before a
 * position of each stream is known: nothing was processed or loaded then),
 * unless it is fenced (*dropped then): checked again right before the write,
 * which the flushes before it may have delayed. */
static gope_status save(gope_cparts *c, size_t i, bool *dropped, gope_err *err)
{
    cpart *cp = c->v[i];
    size_t n;
    const gope_kafka_pos *pos = gope_kafka_source_positions(c->ks, &n);
    gope_kafka_pos mine[N_STREAMS];
    gope_stream_name sn[N_STREAMS];
    const int k = n_streams(c);
    for (int s = 0; s < k; s++) {
        size_t at;
        if (offset_in(c, pos, n, s, cp->partition, &at) < 0)
            return GOPE_OK;
        mine[s] = pos[at];
        sn[s] = (gope_stream_name){.topic = topic_of(c, s), .partition = cp->partition,
                                   .stream = (uint32_t)s};
    }
    char base[300], name[320];
    gope_claim_view v;
    gope_status st = still_ours(c, i, dropped, &v, err);
    if (st != GOPE_OK || *dropped)
        return st;
    st = base_name(c, cp->partition, base, sizeof base, err);
    if (st == GOPE_OK)
        st = gope_claim_state_name(base, cp->epoch, false, name, sizeof name, err);
    if (st != GOPE_OK)
        return st;
    const gope_coutputs *o = c->conf.outs;
    gope_ckpt_output *outs = calloc(o->n_now + cp->n_carried + 1, sizeof *outs);
    if (!outs)
        return gope_err_set(err, GOPE_ERR_NOMEM, "consume: out of memory");
    memcpy(outs, o->now, o->n_now * sizeof *outs);
    if (cp->n_carried)
        memcpy(outs + o->n_now, cp->carried, cp->n_carried * sizeof *outs);
    gope_checkpoint_save sv = {.dir = c->conf.dir, .name = name, .p = cp->pl, .pos = mine,
                               .n_pos = (size_t)k, .streams = sn, .n_streams = (size_t)k,
                               .outputs = outs,
                               .n_outputs = o->n_now + cp->n_carried};
    st = gope_checkpoint_write_with(&sv, &c->bytes, err);
    free(outs);
    if (st == GOPE_OK) {
        cp->dirty = false;
        c->written++;
        if (v.any && v.lowest < cp->epoch)
            prune(c, base, cp->epoch);
    }
    return st;
}

gope_status gope_cparts_checkpoint(gope_cparts *c, bool final, gope_err *err)
{
    gope_status st = fence_stale(c, final, err);
    for (size_t i = 0; i < c->n && st == GOPE_OK; i++)
        if (final || gope_pipeline_watermark(c->v[i]->pl) != c->v[i]->reported)
            st = progress(c, c->v[i], final, err);
    gope_eval *ev = c->conf.ev;
    if (st == GOPE_OK && !(st = gope_sink_flush(&ev->out, err)) &&
        !(st = gope_sink_flush(&ev->dead, err)) &&
        !(st = gope_partials_flush(c->conf.partials, err)))
        st = gope_coutputs_measure(c->conf.outs, err);
    for (size_t i = 0; i < c->n && st == GOPE_OK;) {
        bool dropped = false; /* entry i is then another partition's */
        if (c->v[i]->dirty)
            st = save(c, i, &dropped, err);
        i += !dropped;
    }
    return st;
}

gope_status gope_cparts_lost(gope_cparts *c, gope_err *err)
{
    return fence_stale(c, true, err);
}

gope_status gope_cparts_finish(gope_cparts *c, gope_err *err)
{
    gope_status st = fence_stale(c, true, err);
    for (size_t i = 0; i < c->n && st == GOPE_OK; i++) {
        st = gope_pipeline_finish(c->v[i]->pl, err);
        c->v[i]->dirty = true;
    }
    return st;
}

void gope_cparts_totals(const gope_cparts *c, gope_pipeline_stats *out)
{
    *out = c->done;
    for (size_t i = 0; i < c->n; i++) {
        const gope_pipeline_stats *now = gope_pipeline_stats_get(c->v[i]->pl);
        add_delta(out, now, &c->v[i]->base);
        out->decisions_pending += now->decisions_pending;
        out->rewards_held += now->rewards_held;
    }
}

uint64_t gope_cparts_fenced(const gope_cparts *c)
{
    return c->fences;
}

bool gope_cparts_restored(const gope_cparts *c)
{
    return c->restored;
}

uint64_t gope_cparts_written(const gope_cparts *c, size_t *bytes)
{
    *bytes = c->bytes;
    return c->written;
}

void gope_cparts_free(gope_cparts *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        gope_pipeline_free(c->v[i]->pl);
        free_carried(c->v[i]);
        free(c->v[i]);
    }
    free(c->v);
    free(c->fenced);
    free(c);
}
