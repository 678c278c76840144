/*
 * test_checkpoint.c — checkpoints without a broker (ope/checkpoint.c,
 * ope/pipeline_ckpt.c, the save/load of windows, dedupe and accumulators).
 *
 * The oracle of a round trip is the run that never stopped: a pipeline that
 * is saved, restored into a fresh pipeline and fed the rest of the input
 * must write, from then on, exactly the bytes the original writes (same
 * order of additions, so same bits), and saving the restored one must give
 * the same file. Then every way a file can be bad: missing, truncated at
 * every length, a flipped bit anywhere, another format version, another
 * configuration; and every allocation failure while writing and restoring.
 * Format version 3 adds the file outputs' sizes (OUTS); a version 2 file
 * still loads, without them.
 * The runs join rewards: feed_join() gives decisions
 * waiting for rewards on two streams, rewards on two more (joined, early,
 * orphaned), a stream that is assigned and idle and one that goes idle and
 * comes back, so the JOIN and CLCK sections carry real state.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failalloc.h"
#include "gope_ope.h"
#include "testutil.h"

/* A sink keeping every line, '\n'-separated, in memory. */
typedef struct {
    char *data;
    size_t len, cap;
} mem_sink;

static gope_status mem_write(void *ctx, const char *key, const char *line, size_t len,
                             gope_err *err)
{
    (void)key;
    mem_sink *m = ctx;
    if (m->len + len + 1 > m->cap) {
        size_t cap = (m->len + len + 1) * 2;
        char *d = realloc(m->data, cap);
        if (!d)
            return gope_err_set(err, GOPE_ERR_NOMEM, "mem sink: out of memory");
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, line, len);
    m->len += len;
    m->data[m->len++] = '\n';
    return GOPE_OK;
}

static gope_status mem_close(void *ctx, gope_err *err)
{
    (void)err;
    free(((mem_sink *)ctx)->data);
    return GOPE_OK;
}

static const gope_sink_ops mem_ops = {.name = "mem", .write = mem_write, .close = mem_close};

/* One run under test: its configuration, policies, estimators, sinks. */
typedef struct {
    gope_pipeline_conf conf;
    gope_policy_set_t *pol;
    gope_estset_t *set;
    mem_sink out_m, dead_m;
    gope_sink out, dead;
    gope_pipeline_t *p;
} run;

/* @return GOPE_OK or GOPE_ERR_NOMEM (the failalloc tests). */
static gope_status run_open(run *r, int64_t size_ms, int64_t slide_ms)
{
    gope_err err;
    memset(r, 0, sizeof *r);
    r->conf = (gope_pipeline_conf){
        .window = {.size_ms = size_ms, .slide_ms = slide_ms, .lateness_ms = 2000},
        .dedupe_horizon_ms = 5000,
        .require_reward = true,
        .join = true,
        .reward_wait_ms = 3000,
    };
    r->out = (gope_sink){&mem_ops, &r->out_m};
    r->dead = (gope_sink){&mem_ops, &r->dead_m};
    gope_status st = gope_policies_default(&r->pol, &err);
    if (st == GOPE_OK)
        st = gope_estset_parse("all", &r->set, &err);
    if (st == GOPE_OK)
        st = gope_pipeline_new(&r->conf, r->pol, r->set, &r->out, &r->dead, &r->p, &err);
    return st;
}

static void run_close(run *r)
{
    gope_pipeline_free(r->p);
    gope_estset_free(r->set);
    gope_policies_free(r->pol);
    free(r->out_m.data);
    free(r->dead_m.data);
}

/* Line i of a deterministic log: a few duplicates, late and bad lines, and
 * rewards and propensities that make the sums need every bit. */
static gope_status feed(run *r, int from, int to)
{
    gope_err err;
    char buf[1024];
    for (int i = from; i < to; i++) {
        int id = i % 37 == 5 ? i - 1 : i;          /* a duplicate event_id */
        long ts = i % 41 == 7 ? 100L : 250L * i;   /* a late line */
        int len = i % 53 == 3 ? snprintf(buf, sizeof buf, "{\"event_id\":\"bad-%d\"}", i)
                              : snprintf(buf, sizeof buf,
                                         "{\"event_id\":\"e%d\",\"ts\":%ld,\"user_id\":\"u\","
                                         "\"candidates\":[{\"streamer_id\":\"a\",\"ev\":%.17g,"
                                         "\"sigma\":0.3},{\"streamer_id\":\"b\",\"ev\":0.7},"
                                         "{\"streamer_id\":\"c\",\"ev\":0.1,\"cold_start\":true}],"
                                         "\"action\":%d,\"propensity\":%.17g,\"reward\":%.17g}",
                                         id, ts, 1.0 / (1 + i % 7), i % 3, 0.2 + (i % 5) * 0.1,
                                         i % 11 == 0 ? 1e6 / 3 : (i % 4) * 0.1);
        gope_line line = {.data = buf, .len = (size_t)len, .lineno = (uint64_t)i + 1};
        gope_status st = gope_pipeline_line(r->p, "mem", &line, &err);
        if (st != GOPE_OK)
            return st;
    }
    return GOPE_OK;
}

/* Line i of a log with rewards that come later: decision "jI" at 250 i on
 * stream i % 2 (every fifth with its reward inline), a reward for decision
 * i - 2 on stream 2 or 3 every third line, an early one for decision i + 3
 * every seventh, an orphan every eleventh. Stream 4 is assigned at line 40
 * and idle from line 80 on; stream 3 goes idle at line 120 until its next
 * reward. */
static gope_status feed_join(run *r, int from, int to)
{
    gope_err err;
    char buf[1024];
    gope_status st = GOPE_OK;
    for (int i = from; i < to && st == GOPE_OK; i++) {
        if (i == 40)
            st = gope_pipeline_stream_add(r->p, 4, &err);
        if (i == 80 && st == GOPE_OK)
            st = gope_pipeline_stream_idle(r->p, 4, true, &err);
        if (i == 120 && st == GOPE_OK)
            st = gope_pipeline_stream_idle(r->p, 3, true, &err);
        int len = snprintf(buf, sizeof buf,
                           "{\"event_id\":\"j%d\",\"ts\":%ld,\"user_id\":\"u\",\"candidates\":"
                           "[{\"streamer_id\":\"a\",\"ev\":%.17g},{\"streamer_id\":\"b\","
                           "\"ev\":0.7}],\"action\":%d,\"propensity\":%.17g%s}",
                           i, 250L * i, 1.0 / (1 + i % 7), i % 2, 0.3 + (i % 4) * 0.1,
                           i % 5 ? "" : ",\"reward\":0.125");
        gope_line line = {.data = buf, .len = (size_t)len, .lineno = (uint64_t)i + 1};
        if (st == GOPE_OK)
            st = gope_pipeline_line_on(r->p, (uint32_t)(i % 2), "mem", &line, &err);
        const int to_id[3] = {i % 3 == 0 ? i - 2 : -1, i % 7 == 0 ? i + 3 : -1,
                              i % 11 == 0 ? 100000 + i : -1};
        for (int k = 0; k < 3 && st == GOPE_OK; k++) {
            if (to_id[k] < 0)
                continue;
            len = snprintf(buf, sizeof buf,
                           "{\"schema\":\"reward.v1\",\"event_id\":\"%s%d\",\"ts\":%ld,"
                           "\"reward\":%.17g}", k == 2 ? "x" : "j", to_id[k], 250L * i + 10 * k,
                           1e6 / (3 + i));
            line = (gope_line){.data = buf, .len = (size_t)len, .lineno = (uint64_t)i + 1};
            st = gope_pipeline_line_on(r->p, 2 + (uint32_t)(i % 2), "mem-rewards", &line, &err);
        }
    }
    return st;
}

/* dir/state.ckpt, whole; *len its size. free() it. */
static char *read_ckpt(const char *dir, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/state.ckpt", dir);
    return tu_read_file(path, len);
}

/* The partitions behind the streams of every run here: gope_pipeline_line
 * is stream 0; feed_join() uses streams 0 to 4. */
static const gope_stream_name names[] = {
    {"alloc", 0, 0}, {"alloc", 3, 1}, {"rewards", 0, 2}, {"rewards", 1, 3}, {"rewards", 2, 4}};

/* Write `r`'s checkpoint to `dir` with two partitions. */
static gope_status save(run *r, const char *dir, size_t *bytes)
{
    gope_err err = {{0}};
    const gope_kafka_pos pos[] = {{"alloc", 0, 1234}, {"alloc", 3, 99}};
    return gope_checkpoint_write(dir, r->p, pos, 2, names, 5, bytes, &err);
}

/* Read `dir`'s checkpoint into a fresh run. */
static gope_status restore(run *r, const char *dir, int64_t size_ms, gope_err *err)
{
    gope_checkpoint_t *c = NULL;
    gope_status st = run_open(r, size_ms, size_ms / 4);
    if (st == GOPE_OK)
        st = gope_checkpoint_read(dir, &c, err);
    if (st == GOPE_OK)
        st = gope_checkpoint_restore(c, r->p, err);
    gope_checkpoint_free(c);
    return st;
}

/* Both runs finish and write their summaries; `b` (restored) must have written
 * exactly what `a` (never stopped) wrote after its first a_out / a_dead bytes. */
static void expect_same_tail(run *a, run *b, size_t a_out, size_t a_dead)
{
    gope_err err = {{0}};
    cr_assert_eq(gope_pipeline_finish(a->p, &err), GOPE_OK);
    cr_assert_eq(gope_pipeline_finish(b->p, &err), GOPE_OK);
    cr_assert_eq(gope_pipeline_summary(a->p, NULL, &err), GOPE_OK);
    cr_assert_eq(gope_pipeline_summary(b->p, NULL, &err), GOPE_OK);
    cr_assert_eq(b->out_m.len, a->out_m.len - a_out);
    cr_expect(memcmp(b->out_m.data, a->out_m.data + a_out, b->out_m.len) == 0,
              "records and summary after the checkpoint, byte for byte");
    cr_assert_eq(b->dead_m.len, a->dead_m.len - a_dead);
    cr_expect(memcmp(b->dead_m.data, a->dead_m.data + a_dead, b->dead_m.len) == 0,
              "dead letters after the checkpoint, with their positions");
}

Test(checkpoint, restored_run_writes_the_bytes_of_the_run_that_never_stopped)
{
    char *dir = tu_tmpdir(), *dir2 = tu_tmpdir();
    run a, b;
    gope_err err = {{0}};
    cr_assert_eq(run_open(&a, 8000, 2000), GOPE_OK);
    cr_assert_eq(feed(&a, 0, 700), GOPE_OK);
    size_t bytes = 0;
    cr_assert_eq(save(&a, dir, &bytes), GOPE_OK);
    size_t flen;
    char *fa = read_ckpt(dir, &flen);
    cr_assert(fa);
    cr_expect_eq(bytes, flen);

    cr_assert_eq(restore(&b, dir, 8000, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(save(&b, dir2, NULL), GOPE_OK);
    size_t flen2;
    char *fb = read_ckpt(dir2, &flen2);
    cr_assert(fb && flen2 == flen && memcmp(fa, fb, flen) == 0, "a re-save gives the same file");

    /* from here on both write the same bytes */
    size_t a_out = a.out_m.len, a_dead = a.dead_m.len;
    cr_assert_gt(a_out, 0, "windows closed before the checkpoint");
    cr_assert_eq(feed(&a, 700, 1500), GOPE_OK);
    cr_assert_eq(feed(&b, 700, 1500), GOPE_OK);
    expect_same_tail(&a, &b, a_out, a_dead);
    const gope_pipeline_stats *sa = gope_pipeline_stats_get(a.p), *sb = gope_pipeline_stats_get(b.p);
    cr_expect(memcmp(sa, sb, sizeof *sa) == 0, "the counters continue from the checkpoint");
    cr_expect_gt(sa->late, 0);
    cr_expect_gt(sa->by_reason[GOPE_R_DUPLICATE_EVENT_ID], 0);
    /* an id accepted before the checkpoint is still a duplicate after it */
    run d;
    cr_assert_eq(restore(&d, dir, 8000, &err), GOPE_OK, "%s", err.msg);
    const gope_pipeline_stats *sd = gope_pipeline_stats_get(d.p);
    const uint64_t dups = sd->by_reason[GOPE_R_DUPLICATE_EVENT_ID];
    char line[] = "{\"event_id\":\"e699\",\"ts\":174800,\"user_id\":\"u\",\"candidates\":"
                  "[{\"streamer_id\":\"a\",\"ev\":1}],\"action\":0,\"propensity\":1,\"reward\":0}";
    gope_line l = {.data = line, .len = strlen(line), .lineno = 1};
    cr_assert_eq(gope_pipeline_line(d.p, "mem", &l, &err), GOPE_OK);
    cr_expect_eq(sd->by_reason[GOPE_R_DUPLICATE_EVENT_ID], dups + 1);
    run_close(&d);

    gope_checkpoint_t *c;
    cr_assert_eq(gope_checkpoint_read(dir, &c, &err), GOPE_OK);
    size_t n;
    const gope_kafka_pos *pos = gope_checkpoint_offsets(c, &n);
    cr_assert_eq(n, 2);
    cr_expect(strcmp(pos[0].topic, "alloc") == 0 && pos[0].partition == 0 && pos[0].offset == 1234);
    cr_expect(strcmp(pos[1].topic, "alloc") == 0 && pos[1].partition == 3 && pos[1].offset == 99);
    gope_checkpoint_free(c);
    free(fa);
    free(fb);
    run_close(&a);
    run_close(&b);
    tu_rmtree(dir);
    tu_rmtree(dir2);
}

Test(checkpoint, join_and_clock_restore_to_the_run_that_never_stopped)
{
    char *dir = tu_tmpdir(), *dir2 = tu_tmpdir();
    run a, b;
    gope_err err = {{0}};
    cr_assert_eq(run_open(&a, 8000, 2000), GOPE_OK);
    cr_assert_eq(feed_join(&a, 0, 300), GOPE_OK);
    const gope_pipeline_stats *sa = gope_pipeline_stats_get(a.p);
    cr_assert_gt(sa->decisions_pending, 0, "decisions wait in the checkpoint");
    cr_assert_gt(sa->rewards_held, 0, "early rewards are held in the checkpoint");
    cr_assert_gt(sa->rewards_joined, 0);
    cr_assert_gt(sa->rewards_orphaned, 0);
    cr_assert_eq(save(&a, dir, NULL), GOPE_OK);
    cr_assert_eq(restore(&b, dir, 8000, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_pipeline_clock(b.p), gope_pipeline_clock(a.p));
    cr_assert_eq(save(&b, dir2, NULL), GOPE_OK);
    size_t la, lb;
    char *fa = read_ckpt(dir, &la), *fb = read_ckpt(dir2, &lb);
    cr_assert(fa && fb && la == lb && memcmp(fa, fb, la) == 0, "a re-save gives the same file");

    /* the streams come back under their numbers, with their partitions */
    gope_checkpoint_t *c;
    cr_assert_eq(gope_checkpoint_read(dir, &c, &err), GOPE_OK);
    run d;
    cr_assert_eq(run_open(&d, 8000, 2000), GOPE_OK);
    cr_assert_eq(gope_checkpoint_restore(c, d.p, &err), GOPE_OK, "%s", err.msg);
    size_t n;
    const gope_stream_name *st = gope_checkpoint_streams(c, &n);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(st[i].stream, 5);
        const gope_stream_name *want = &names[st[i].stream];
        cr_expect(strcmp(st[i].topic, want->topic) == 0 && st[i].partition == want->partition,
                  "stream %u is %s/%d", st[i].stream, st[i].topic, st[i].partition);
    }
    gope_checkpoint_free(c);
    run_close(&d);

    size_t a_out = a.out_m.len, a_dead = a.dead_m.len;
    cr_assert_eq(feed_join(&a, 300, 700), GOPE_OK);
    cr_assert_eq(feed_join(&b, 300, 700), GOPE_OK);
    expect_same_tail(&a, &b, a_out, a_dead);
    const gope_pipeline_stats *sb = gope_pipeline_stats_get(b.p);
    cr_expect(memcmp(sa, sb, sizeof *sa) == 0, "the counters continue from the checkpoint");
    cr_expect_eq(sa->lines_read, sa->accepted + sa->rejected + sa->late);
    free(fa);
    free(fb);
    run_close(&a);
    run_close(&b);
    tu_rmtree(dir);
    tu_rmtree(dir2);
}

Test(checkpoint, a_stream_without_a_partition_name_is_refused)
{
    char *dir = tu_tmpdir();
    run r;
    gope_err err = {{0}};
    cr_assert_eq(run_open(&r, 8000, 2000), GOPE_OK);
    cr_assert_eq(feed_join(&r, 0, 50), GOPE_OK);
    const gope_kafka_pos pos[] = {{"alloc", 0, 1}};
    cr_expect_eq(gope_checkpoint_write(dir, r.p, pos, 1, names, 3, NULL, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "stream 3 of the clock has no partition name"), "%s", err.msg);
    run_close(&r);
    tu_rmtree(dir);
}

/* Records of `m` as lines ("revision":N is in each). */
static int count_text(const mem_sink *m, const char *needle)
{
    int n = 0;
    for (const char *p = m->data; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(checkpoint, revision_counts_emissions_that_differ)
{
    run r;
    gope_err err = {{0}};
    cr_assert_eq(run_open(&r, 100000, 100000), GOPE_OK);
    cr_assert_eq(feed(&r, 0, 10), GOPE_OK); /* ts 0 .. 2250: one open window */
    cr_assert_eq(gope_pipeline_finish(r.p, &err), GOPE_OK);
    cr_assert_eq(count_text(&r.out_m, "\"revision\":1,"), 8);
    size_t first = r.out_m.len;
    /* the end of a batch again, nothing new: the same records again */
    cr_assert_eq(gope_pipeline_finish(r.p, &err), GOPE_OK);
    cr_assert_eq(r.out_m.len, 2 * first);
    cr_expect(memcmp(r.out_m.data, r.out_m.data + first, first) == 0);
    /* one more event in the window: the next emission is revision 2 */
    cr_assert_eq(feed(&r, 10, 11), GOPE_OK);
    cr_assert_eq(gope_pipeline_finish(r.p, &err), GOPE_OK);
    cr_expect_eq(count_text(&r.out_m, "\"revision\":2,"), 8);
    /* the window closes for good: revision 2 still (no new event) */
    char line[] = "{\"event_id\":\"late-clock\",\"ts\":500000,\"user_id\":\"u\",\"candidates\":"
                  "[{\"streamer_id\":\"a\",\"ev\":1}],\"action\":0,\"propensity\":1,\"reward\":0}";
    gope_line l = {.data = line, .len = strlen(line), .lineno = 1};
    cr_assert_eq(gope_pipeline_line(r.p, "mem", &l, &err), GOPE_OK);
    cr_expect_eq(count_text(&r.out_m, "\"revision\":2,"), 16);
    cr_expect_eq(count_text(&r.out_m, "\"revision\":3,"), 0);
    run_close(&r);
}

Test(checkpoint, missing_is_eof_not_an_error)
{
    char *dir = tu_tmpdir();
    gope_checkpoint_t *c = NULL;
    gope_err err = {{0}};
    cr_expect_eq(gope_checkpoint_read(dir, &c, &err), GOPE_EOF);
    cr_expect_null(c);
    tu_rmtree(dir);
}

/* consume --partials --checkpoint: one file per partition, under its own
 * name, holding that partition's offset; it restores like state.ckpt. */
Test(checkpoint, a_named_file_per_partition_round_trips)
{
    char *dir = tu_tmpdir();
    run a, b;
    gope_err err = {{0}};
    cr_assert_eq(run_open(&a, 8000, 2000), GOPE_OK);
    cr_assert_eq(feed(&a, 0, 700), GOPE_OK);
    const gope_kafka_pos pos = {"alloc", 3, 99};
    const gope_stream_name own = {"alloc", 3, 0};
    cr_assert_eq(gope_checkpoint_write_as(dir, "alloc.3.ckpt", a.p, &pos, 1, &own, 1, NULL, &err),
                 GOPE_OK, "%s", err.msg);
    size_t n;
    cr_expect_null(read_ckpt(dir, &n), "not state.ckpt");
    gope_checkpoint_t *c = NULL;
    cr_expect_eq(gope_checkpoint_read_as(dir, "alloc.4.ckpt", &c, &err), GOPE_EOF);
    cr_assert_eq(gope_checkpoint_read_as(dir, "alloc.3.ckpt", &c, &err), GOPE_OK, "%s", err.msg);
    const gope_kafka_pos *back = gope_checkpoint_offsets(c, &n);
    cr_assert_eq(n, 1);
    cr_expect(back[0].partition == 3 && back[0].offset == 99);
    cr_assert_eq(run_open(&b, 8000, 2000), GOPE_OK);
    cr_assert_eq(gope_checkpoint_restore(c, b.p, &err), GOPE_OK, "%s", err.msg);
    const gope_stream_name *sn = gope_checkpoint_streams(c, &n);
    cr_assert_eq(n, 1);
    cr_expect(sn[0].partition == 3 && sn[0].stream == 0);
    gope_checkpoint_free(c);
    size_t a_out = a.out_m.len, a_dead = a.dead_m.len;
    cr_assert_eq(feed(&a, 700, 1500), GOPE_OK);
    cr_assert_eq(feed(&b, 700, 1500), GOPE_OK);
    expect_same_tail(&a, &b, a_out, a_dead);
    run_close(&a);
    run_close(&b);
    tu_rmtree(dir);
}

/* A valid checkpoint in a new directory; *data its bytes. */
static char *valid_checkpoint(char **data, size_t *len)
{
    char *dir = tu_tmpdir();
    run r;
    cr_assert_eq(run_open(&r, 8000, 2000), GOPE_OK);
    cr_assert_eq(feed_join(&r, 0, 250), GOPE_OK);
    cr_assert_gt(gope_pipeline_stats_get(r.p)->decisions_pending, 0);
    cr_assert_eq(save(&r, dir, NULL), GOPE_OK);
    run_close(&r);
    *data = read_ckpt(dir, len);
    cr_assert(*data);
    return dir;
}

/* Write `data` as the checkpoint of `dir` and read it back: an input error
 * that names the file and contains `needle`. */
static void expect_bad(const char *dir, const char *data, size_t len, const char *needle,
                       const char *what)
{
    char path[600];
    snprintf(path, sizeof path, "%s/state.ckpt", dir);
    cr_assert(tu_write_file(path, data, len));
    run r;
    gope_err err = {{0}};
    gope_status st = restore(&r, dir, 8000, &err);
    cr_expect_eq(st, GOPE_ERR_INPUT, "%s: status %d (%s)", what, st, err.msg);
    cr_expect(strstr(err.msg, path), "%s: \"%s\" names the file", what, err.msg);
    cr_expect(strstr(err.msg, needle), "%s: \"%s\" lacks \"%s\"", what, err.msg, needle);
    run_close(&r);
}

Test(checkpoint, truncated_at_any_length_is_an_error_naming_file_and_byte)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 997) {
        char what[64], needle[64];
        snprintf(what, sizeof what, "cut at %zu", cut);
        snprintf(needle, sizeof needle, "truncated at byte %zu", cut);
        expect_bad(dir, data, cut, needle, what);
    }
    free(data);
    tu_rmtree(dir);
}

Test(checkpoint, a_flipped_bit_anywhere_is_an_error)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    for (size_t at = 0; at < len; at += at < 40 ? 1 : 331) {
        char what[64];
        snprintf(what, sizeof what, "bit flipped at byte %zu", at);
        data[at] ^= 0x10;
        expect_bad(dir, data, len, at < 8 ? "not a giftope checkpoint" : "checksum", what);
        data[at] ^= 0x10;
    }
    /* and trailing garbage */
    char *more = malloc(len + 3);
    cr_assert(more);
    memcpy(more, data, len);
    memcpy(more + len, "xyz", 3);
    expect_bad(dir, more, len + 3, "3 bytes after the payload", "trailing bytes");
    free(more);
    free(data);
    tu_rmtree(dir);
}

Test(checkpoint, another_configuration_is_a_usage_error_naming_the_option)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    run r;
    gope_err err = {{0}};
    cr_expect_eq(restore(&r, dir, 16000, &err), GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, "--window 8000 ms, this run has 16000 ms"), "%s", err.msg);
    run_close(&r);
    free(data);
    tu_rmtree(dir);
}

/* CRC-32 (IEEE, reflected), bit by bit: the test's own, to forge headers. */
static uint32_t crc32_bits(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

Test(checkpoint, a_version_1_file_is_refused_saying_why)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    unsigned char *h = (unsigned char *)data;
    h[8] = 1; /* format version 1, with a header checksum that matches */
    uint32_t crc = crc32_bits(h, 28);
    for (int i = 0; i < 4; i++)
        h[28 + i] = (unsigned char)(crc >> (8 * i));
    expect_bad(dir, data, len, "format version 1, from a giftope without the reward join",
               "version 1");
    free(data);
    tu_rmtree(dir);
}

Test(checkpoint, another_reward_wait_or_no_join_is_a_usage_error)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    gope_err err = {{0}};
    gope_checkpoint_t *c;
    cr_assert_eq(gope_checkpoint_read(dir, &c, &err), GOPE_OK);
    for (int k = 0; k < 2; k++) {
        run r;
        cr_assert_eq(run_open(&r, 8000, 2000), GOPE_OK);
        gope_pipeline_free(r.p); /* made again with another join setting */
        r.conf.join = k == 0;
        r.conf.reward_wait_ms = 4000;
        cr_assert_eq(gope_pipeline_new(&r.conf, r.pol, r.set, &r.out, &r.dead, &r.p, &err),
                     GOPE_OK);
        cr_expect_eq(gope_checkpoint_restore(c, r.p, &err), GOPE_ERR_USAGE);
        cr_expect(strstr(err.msg, k == 0 ? "--reward-wait 3000 ms, this run has 4000 ms"
                                         : "the reward join on, this run has off"),
                  "%s", err.msg);
        run_close(&r);
    }
    gope_checkpoint_free(c);
    free(data);
    tu_rmtree(dir);
}

Test(checkpoint, write_failure_keeps_the_old_checkpoint)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/state.ckpt.tmp", dir);
    cr_assert_eq(mkdir(tmp, 0700), 0); /* the temporary file cannot be created */
    run r;
    cr_assert_eq(run_open(&r, 8000, 2000), GOPE_OK);
    gope_err err = {{0}};
    const gope_kafka_pos pos[] = {{"alloc", 0, 1}};
    cr_expect_eq(gope_checkpoint_write(dir, r.p, pos, 1, names, 1, NULL, &err), GOPE_ERR_IO);
    cr_expect(strstr(err.msg, "state.ckpt.tmp"), "%s", err.msg);
    size_t now_len;
    char *now = read_ckpt(dir, &now_len);
    cr_expect(now && now_len == len && memcmp(now, data, len) == 0, "the old file is intact");
    free(now);
    run_close(&r);
    rmdir(tmp);
    free(data);
    tu_rmtree(dir);
}

/* failalloc: every allocation while saving, and while reading + restoring. */
/* The directory comes from the environment: making one allocates, and the
 * test's own allocations must not be the ones that fail. */
static gope_status op_save(void)
{
    const char *dir = getenv("GOPE_CKPT_TEST_DIR");
    run r;
    gope_status st = run_open(&r, 8000, 2000);
    if (st == GOPE_OK)
        st = feed_join(&r, 0, 150);
    if (st == GOPE_OK)
        st = save(&r, dir, NULL);
    run_close(&r);
    return st;
}

static gope_status op_restore(void)
{
    const char *dir = getenv("GOPE_CKPT_TEST_DIR");
    run r;
    gope_err err = {{0}};
    gope_status st = restore(&r, dir, 8000, &err);
    run_close(&r);
    return st;
}

Test(checkpoint, every_allocation_failure_while_saving)
{
    char *dir = tu_tmpdir();
    setenv("GOPE_CKPT_TEST_DIR", dir, 1);
    fa_exhaust(op_save, "checkpoint save");
    tu_rmtree(dir);
}

Test(checkpoint, every_allocation_failure_while_restoring)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    setenv("GOPE_CKPT_TEST_DIR", dir, 1);
    fa_exhaust(op_restore, "checkpoint restore");
    free(data);
    tu_rmtree(dir);
}

Test(checkpoint, accumulator_words_round_trip_and_impossible_ones_are_refused)
{
    gope_estset_t *set;
    gope_err err;
    cr_assert_eq(gope_estset_parse("all", &set, &err), GOPE_OK);
    size_t size = gope_acc_size(set), nw = gope_acc_words(set);
    gope_acc *a = aligned_alloc(16, (size + 15) & ~(size_t)15);
    gope_acc *b = aligned_alloc(16, (size + 15) & ~(size_t)15);
    uint64_t *w = malloc(nw * sizeof *w), *w2 = malloc(nw * sizeof *w2);
    cr_assert(a && b && w && w2);
    gope_acc_init(set, a);
    for (int i = 0; i < 100; i++) {
        gope_obs o = {.w = i % 9 == 0 ? 0 : 1.0 / (1 + i % 7), .r = i * 0.37, .q = 0.1 * i,
                      .v = 1.0 / 3};
        gope_acc_add(set, a, &o);
    }
    gope_acc_save(set, a, w);
    cr_assert(gope_acc_load(set, b, w));
    gope_acc_save(set, b, w2);
    cr_expect(memcmp(w, w2, nw * sizeof *w) == 0, "save(load(save(a))) == save(a)");
    gope_result *ra = gope_result_new(set), *rb = gope_result_new(set);
    cr_assert(ra && rb);
    gope_acc_result(set, a, ra);
    gope_acc_result(set, b, rb);
    for (size_t i = 0; i < ra->count; i++)
        cr_expect(memcmp(&ra->estimates[i], &rb->estimates[i], sizeof ra->estimates[i]) == 0);
    w2[1] = w2[0] + 1; /* more zero-weight events than events */
    cr_expect_not(gope_acc_load(set, b, w2));
    memcpy(w2, w, nw * sizeof *w);
    w2[3] = GOPE_TOPK + 1; /* a top list too long */
    cr_expect_not(gope_acc_load(set, b, w2));
    memcpy(w2, w, nw * sizeof *w);
    uint64_t t = w2[4];
    w2[4] = w2[5];
    w2[5] = t; /* top list not descending */
    cr_expect_not(gope_acc_load(set, b, w2));
    gope_result_free(ra);
    gope_result_free(rb);
    free(a);
    free(b);
    free(w);
    free(w2);
    gope_estset_free(set);
}

Test(checkpoint, the_outputs_sizes_round_trip)
{
    char *dir = tu_tmpdir();
    run a, b;
    gope_err err = {{0}};
    cr_assert_eq(run_open(&a, 8000, 2000), GOPE_OK);
    cr_assert_eq(feed(&a, 0, 300), GOPE_OK);
    const gope_kafka_pos pos = {"alloc", 0, 7};
    const gope_stream_name own = {"alloc", 0, 0};
    const gope_ckpt_output outs[] = {{"/data/out.jsonl", 1234567890123ULL}, {"dead.jsonl", 0}};
    gope_checkpoint_save sv = {.dir = dir, .p = a.p, .pos = &pos, .n_pos = 1, .streams = &own,
                               .n_streams = 1, .outputs = outs, .n_outputs = 2};
    cr_assert_eq(gope_checkpoint_write_with(&sv, NULL, &err), GOPE_OK, "%s", err.msg);
    gope_checkpoint_t *c = NULL;
    cr_assert_eq(gope_checkpoint_read(dir, &c, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_checkpoint_version(c), 3);
    size_t n;
    const gope_ckpt_output *back = gope_checkpoint_outputs(c, &n);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(back[0].path, "/data/out.jsonl");
    cr_expect_eq(back[0].bytes, 1234567890123ULL);
    cr_expect_str_eq(back[1].path, "dead.jsonl");
    cr_expect_eq(back[1].bytes, 0);
    cr_assert_eq(run_open(&b, 8000, 2000), GOPE_OK);
    cr_expect_eq(gope_checkpoint_restore(c, b.p, &err), GOPE_OK, "%s", err.msg);
    gope_checkpoint_free(c);
    run_close(&a);
    run_close(&b);
    tu_rmtree(dir);
}

static void put32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t le32_of(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A version 2 file is a version 3 one without its (empty) OUTS section:
 * forged from a valid checkpoint, it must load, with no outputs. */
Test(checkpoint, a_version_2_file_loads_without_output_sizes)
{
    char *data;
    size_t len;
    char *dir = valid_checkpoint(&data, &len);
    unsigned char *d = (unsigned char *)data;
    size_t offs_end = 32 + 16 + le32_of(d + 32 + 8); /* OFFS: tag, version, u64 length, body */
    cr_assert_eq(memcmp(d + offs_end, "OUTS", 4), 0, "OUTS follows OFFS");
    const size_t outs_len = 16 + 4; /* header and a zero count */
    cr_assert_eq(le32_of(d + offs_end + 8), 4, "an empty OUTS section");
    memmove(d + offs_end, d + offs_end + outs_len, len - offs_end - outs_len);
    len -= outs_len;
    put32(d + 8, 2);
    put32(d + 16, (uint32_t)(len - 32));
    put32(d + 24, crc32_bits(d + 32, len - 32));
    put32(d + 28, crc32_bits(d, 28));
    char path[600];
    snprintf(path, sizeof path, "%s/state.ckpt", dir);
    cr_assert(tu_write_file(path, data, len));
    gope_checkpoint_t *c = NULL;
    gope_err err = {{0}};
    cr_assert_eq(gope_checkpoint_read(dir, &c, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(gope_checkpoint_version(c), 2);
    size_t n = 9;
    gope_checkpoint_outputs(c, &n);
    cr_expect_eq(n, 0);
    run r;
    cr_assert_eq(run_open(&r, 8000, 2000), GOPE_OK);
    cr_expect_eq(gope_checkpoint_restore(c, r.p, &err), GOPE_OK, "%s", err.msg);
    cr_expect_gt(gope_pipeline_stats_get(r.p)->decisions_pending, 0, "the state came back");
    gope_checkpoint_free(c);
    run_close(&r);
    free(data);
    tu_rmtree(dir);
}
