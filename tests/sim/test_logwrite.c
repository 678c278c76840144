/*
 * test_logwrite.c — the simulator's alloc.v1 writer (sim/logwrite.c) and the
 * sampling of a logging policy through the library.
 *
 * The writer's number formatter claims to print exactly what "%.17g" prints;
 * the first test holds it to that on hand-built decisions: random bit
 * patterns over the whole double range, the edges of its fast path, signed
 * zero, subnormals and non-finite values (null). The line itself is compared
 * byte for byte with an independent rendering built here with snprintf.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "failalloc.h"
#include "gope_sim.h"
#include "gope_stats.h"
#include "testutil.h"

/* ------------------------------------------------------- a built decision */

enum { K = 1000 };

typedef struct {
    gope_candidate cand[K];
    uint32_t streamers[K];
    double true_ev[K], pi[K];
    gope_event ev;
    gope_sim_step step;
} built;

static uint64_t next_bits(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A finite double from random bits: every exponent, either sign. */
static double any_double(uint64_t *s)
{
    for (;;) {
        uint64_t b = next_bits(s);
        double v;
        memcpy(&v, &b, sizeof v);
        if (isfinite(v))
            return v;
    }
}

/* The cases the fast path must get right or hand over: its range edges,
 * roundings that carry into a new decade, integers, zeros, subnormals,
 * non-finite values. */
static const double specials[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1.0 / 3, 2.0 / 3, 1e-4, 9.9999999999999991e-5,
    1.0000000000000001e-5, 1e-5, 1e-11, 1.0000000000000001e-11, 9.9999999999999994e-12, 1e-12,
    123456789012345.67, 1e15, 9999999999999998.0, 1e16, 99999999999999984.0, 1e17, 1.5e17,
    1e22, 1e300, DBL_MAX, DBL_MIN, 4.9406564584124654e-324, 2.2250738585072009e-308,
    0.99999999999999989, 9.9999999999999982, 99.999999999999986, 0.30000000000000004,
    NAN, INFINITY, -INFINITY, 13140, 1314.5, 5200.25,
};

/* A hand-built decision of `n_cand` candidates, the next from `rng`. */
static void build(built *b, uint64_t *rng, size_t n_cand, const char *id, const char *policy)
{
    const size_t ns = sizeof specials / sizeof specials[0];
    for (size_t j = 0; j < n_cand; j++) {
        const uint64_t r = next_bits(rng);
        b->cand[j] = (gope_candidate){
            .ev = j < ns ? specials[j] : any_double(rng),
            .sigma = j < ns ? specials[ns - 1 - j] : fabs(any_double(rng)),
            .load = j == 7 ? INT64_MIN : (int64_t)(r % 300),
            .capacity = (int64_t)(r >> 8) % 4 * 20,
            .whales = (int64_t)(r >> 16) % 3,
            .cold_start = r >> 20 & 1,
            .head = r >> 21 & 1,
        };
        b->streamers[j] = j == 3 ? UINT32_MAX : (uint32_t)(j * 7919u);
        b->true_ev[j] = (double)(r >> 11) * 0x1p-53 * pow(10, (double)(r % 30) - 15);
        b->pi[j] = j == 5 ? 0x1p-1074 : (double)(r >> 11) * 0x1p-53;
    }
    b->ev = (gope_event){.ts = 1735689600123, .action = (int64_t)(n_cand - 1),
                         .propensity = b->pi[n_cand - 1], .reward = 52 * 0.97,
                         .has_reward = true, .is_whale = n_cand % 2,
                         .n_candidates = n_cand, .candidates = b->cand, .probs = b->pi,
                         .has_lambda_values = n_cand > 2,
                         .lambda_values = {0.25, 0, 1e-9, 3}};
    b->ev.event_id_len = strlen(id);
    memcpy(b->ev.event_id, id, b->ev.event_id_len + 1);
    b->step = (gope_sim_step){&b->ev, b->streamers, b->true_ev, b->pi, 4000000000u, policy, NULL};
}

/* The same line as the writer should produce, printed the slow way. */
static void reference_num(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, "%.17g", v);
    else
        fputs("null", fp);
}

static void reference_line(FILE *fp, const built *b, const char *id_json, const char *policy_json)
{
    const gope_event *ev = &b->ev;
    fprintf(fp, "{\"schema\":\"alloc.v1\",\"event_id\":%s,\"ts\":%lld,\"user_id\":\"u%u\","
                "\"candidates\":[",
            id_json, (long long)ev->ts, b->step.user);
    for (size_t j = 0; j < ev->n_candidates; j++) {
        const gope_candidate *c = &ev->candidates[j];
        fprintf(fp, "%s{\"streamer_id\":\"s%u\",\"ev\":", j ? "," : "", b->streamers[j]);
        reference_num(fp, c->ev);
        fputs(",\"sigma\":", fp);
        reference_num(fp, c->sigma);
        fprintf(fp, ",\"load\":%lld", (long long)c->load);
        if (c->capacity > 0)
            fprintf(fp, ",\"capacity\":%lld", (long long)c->capacity);
        fprintf(fp, ",\"whales\":%lld%s%s,\"true_ev\":", (long long)c->whales,
                c->cold_start ? ",\"cold_start\":true" : "", c->head ? ",\"head\":true" : "");
        reference_num(fp, b->true_ev[j]);
        fputc('}', fp);
    }
    fprintf(fp, "],\"action\":%lld,\"propensity\":", (long long)ev->action);
    reference_num(fp, ev->propensity);
    fputs(",\"reward\":", fp);
    reference_num(fp, ev->reward);
    fputs(",\"probs\":[", fp);
    for (size_t j = 0; j < ev->n_candidates; j++) {
        if (j)
            fputc(',', fp);
        reference_num(fp, b->pi[j]);
    }
    fprintf(fp, "],\"is_whale\":%s", ev->is_whale ? "true" : "false");
    if (ev->has_lambda_values) {
        fputs(",\"lambda_values\":{", fp);
        const char *names[] = {"capacity", "coldstart", "head", "whale"};
        for (int c = 0; c < GOPE_C_COUNT; c++) {
            fprintf(fp, "%s\"%s\":", c ? "," : "", names[c]);
            reference_num(fp, ev->lambda_values[c]);
        }
        fputc('}', fp);
    }
    if (policy_json)
        fprintf(fp, ",\"logging_policy\":%s", policy_json);
    fputs("}\n", fp);
}

Test(sim_log, lines_match_printf_rendering_byte_for_byte)
{
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    static built b;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char *want = NULL;
    size_t want_len = 0;
    FILE *ref = open_memstream(&want, &want_len);
    gope_sim_log_t *log = NULL;
    gope_err err;
    cr_assert_eq(gope_sim_log_open(path, &log, &err), GOPE_OK, "%s", err.msg);
    /* 1000-candidate lines (60,000 random doubles), a short one, and one
     * without a logging policy, with ids and names that need escaping */
    for (int line = 0; line < 22; line++) {
        const size_t n = line == 20 ? 1 : line == 21 ? 2 : K;
        const char *policy = line == 21 ? NULL : "p\x01\"q";
        build(&b, &rng, n, "sim-\"1\"\\2", policy);
        cr_assert_eq(gope_sim_log_write(log, &b.step, &err), GOPE_OK, "%s", err.msg);
        reference_line(ref, &b, "\"sim-\\\"1\\\"\\\\2\"", policy ? "\"p\\u0001\\\"q\"" : NULL);
    }
    cr_assert_eq(gope_sim_log_close(log, &err), GOPE_OK, "%s", err.msg);
    fclose(ref);
    size_t got_len;
    char *got = tu_read_file(path, &got_len);
    cr_assert(got);
    cr_expect_eq(got_len, want_len);
    size_t at = 0;
    while (at < got_len && at < want_len && got[at] == want[at])
        at++;
    cr_expect_eq(at, want_len, "first difference at byte %zu: got \"%.60s\", want \"%.60s\"", at,
                 got + (at > 20 ? at - 20 : 0), want + (at > 20 ? at - 20 : 0));
    free(got);
    free(want);
    tu_rmtree(dir);
}

/* ------------------------------------------------------ runs into logs */

/* users 200, streamers 8, every streamer a candidate, rounds of 20 */
static const char small_world[] =
    "{\"base\":\"giftlive-v2\",\"users\":{\"count\":200},\"streamers\":{\"count\":8},"
    "\"candidates\":{\"k\":0},\"time\":{\"round_users\":20}}";

typedef struct {
    gope_sim_world_t *w;
    gope_policy_set_t *pol;
    gope_sim_allocator alloc;
} sim_env;

static void env_open(sim_env *e, const char *policy, uint64_t seed)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(gope_world_parse(small_world, strlen(small_world), "small", &c, &err), GOPE_OK,
                 "%s", err.msg);
    cr_assert_eq(gope_sim_world_new(&c, seed, &e->w, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_policies_default(&e->pol, &err), GOPE_OK, "%s", err.msg);
    size_t i = 0;
    while (strcmp(gope_policy_name(e->pol, i), policy) != 0)
        i++;
    cr_assert_eq(gope_sim_policy_allocator(e->pol, i, &e->alloc, &err), GOPE_OK, "%s", err.msg);
}

static void env_close(sim_env *e)
{
    gope_sim_allocator_free(&e->alloc);
    gope_sim_world_free(e->w);
    gope_policies_free(e->pol);
}

/* Every step to two logs. */
static gope_status write_both(void *ctx, const gope_sim_step *st, gope_err *err)
{
    gope_sim_log_t **logs = ctx;
    gope_status s = gope_sim_log_write(logs[0], st, err);
    return s ? s : gope_sim_log_write(logs[1], st, err);
}

static char *zstd_decompress(const char *path, size_t *out_len)
{
    size_t zlen;
    char *z = tu_read_file(path, &zlen);
    cr_assert(z);
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t cap = 1 << 20, len = 0, left = 1;
    char *out = malloc(cap);
    ZSTD_inBuffer in = {z, zlen, 0};
    while (in.pos < in.size) {
        if (len == cap)
            cr_assert((out = realloc(out, cap *= 2)));
        ZSTD_outBuffer o = {out + len, cap - len, 0};
        left = ZSTD_decompressStream(ds, &o, &in);
        cr_assert(!ZSTD_isError(left), "%s", ZSTD_getErrorName(left));
        len += o.pos;
    }
    cr_expect_eq(left, 0, "the frame is complete");
    ZSTD_freeDStream(ds);
    free(z);
    *out_len = len;
    return out;
}

Test(sim_log, zst_decompresses_to_the_plain_bytes)
{
    char *dir = tu_tmpdir(), plain[600], zst[600];
    snprintf(plain, sizeof plain, "%s/log.jsonl", dir);
    snprintf(zst, sizeof zst, "%s/log.jsonl.zst", dir);
    sim_env e;
    env_open(&e, "softmax", 7);
    gope_sim_log_t *logs[2];
    gope_err err;
    gope_sim_summary sum;
    cr_assert_eq(gope_sim_log_open(plain, &logs[0], &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sim_log_open(zst, &logs[1], &err), GOPE_OK, "%s", err.msg);
    const gope_sim_run_conf rc = {.decisions = 3000, .on_step = write_both, .ctx = logs};
    cr_assert_eq(gope_sim_run(e.w, &e.alloc, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sim_log_close(logs[0], &err), GOPE_OK, "%s", err.msg);
    cr_assert_eq(gope_sim_log_close(logs[1], &err), GOPE_OK, "%s", err.msg);
    size_t plain_len, unz_len, zst_len;
    char *want = tu_read_file(plain, &plain_len), *got = zstd_decompress(zst, &unz_len);
    free(tu_read_file(zst, &zst_len));
    cr_assert(want);
    cr_expect_eq(unz_len, plain_len);
    cr_expect(unz_len == plain_len && memcmp(got, want, plain_len) == 0);
    cr_expect_lt(zst_len, plain_len / 2, "compressed: %zu of %zu bytes", zst_len, plain_len);
    size_t lines = 0;
    for (size_t i = 0; i < plain_len; i++)
        lines += want[i] == '\n';
    cr_expect_eq(lines, 3000);
    free(want);
    free(got);
    env_close(&e);
    tu_rmtree(dir);
}

/* --------------------------------------------------- sampling frequencies */

enum { NS = 8 };

typedef struct {
    double counts[NS];
    gope_ksum expected[NS];
    size_t bad;
} tally;

static gope_status count_step(void *ctx, const gope_sim_step *st, gope_err *err)
{
    (void)err;
    tally *t = ctx;
    const gope_event *ev = st->event;
    t->bad += ev->n_candidates != NS || ev->probs != st->pi || ev->propensity != st->pi[ev->action];
    /* with every streamer a candidate, candidate j is streamer j */
    for (size_t j = 0; j < ev->n_candidates; j++) {
        t->bad += st->streamers[j] != j;
        gope_ksum_add(&t->expected[j], st->pi[j]);
    }
    t->counts[ev->action]++;
    return GOPE_OK;
}

/* The chosen action follows pi: Pearson's chi-square of the action counts
 * against the summed probabilities (a sum of independent categorical draws,
 * one per decision), 7 degrees of freedom. */
Test(sim_log, softmax_actions_follow_pi)
{
    sim_env e;
    env_open(&e, "softmax", 11);
    tally t;
    memset(&t, 0, sizeof t);
    gope_sim_summary sum;
    gope_err err;
    const gope_sim_run_conf rc = {.decisions = 24000, .on_step = count_step, .ctx = &t};
    cr_assert_eq(gope_sim_run(e.w, &e.alloc, &rc, &sum, &err), GOPE_OK, "%s", err.msg);
    cr_expect_eq(t.bad, 0);
    double chi2 = 0, lo = INFINITY, hi = 0, total = 0;
    for (int j = 0; j < NS; j++) {
        const double ex = gope_ksum_value(&t.expected[j]);
        chi2 += (t.counts[j] - ex) * (t.counts[j] - ex) / ex;
        lo = fmin(lo, ex);
        hi = fmax(hi, ex);
        total += t.counts[j];
    }
    cr_expect_eq(total, 24000);
    cr_assert_gt(lo, 100, "every action has room to be tested (smallest expected count %g)", lo);
    cr_expect_lt(lo / hi, 0.9, "pi is not uniform, so the test can tell actions apart");
    const double p = gope_chi2_sf(chi2, NS - 1);
    cr_expect_gt(p, 1e-4, "chi2 %g, p %g", chi2, p);
    env_close(&e);
}

/* ---------------------------------------------------------------- errors */

Test(sim_log, open_error_names_the_path)
{
    gope_sim_log_t *log = (gope_sim_log_t *)&log;
    gope_err err;
    cr_expect_eq(gope_sim_log_open("/nonexistent-dir/x.jsonl.zst", &log, &err), GOPE_ERR_IO);
    cr_expect_null(log);
    cr_expect(strstr(err.msg, "/nonexistent-dir/x.jsonl.zst"), "%s", err.msg);
    cr_expect(strstr(err.msg, strerror(ENOENT)), "%s", err.msg);
    cr_expect_eq(gope_sim_log_close(NULL, &err), GOPE_OK);
}

/* A full disk: /dev/full fails once stdio's buffer goes out, during the run
 * for a long log, at close for a short one; plain and zstd alike. */
static void expect_full(const char *path, int lines)
{
    static built b;
    uint64_t rng = 5;
    gope_sim_log_t *log;
    gope_err err;
    cr_assert_eq(gope_sim_log_open(path, &log, &err), GOPE_OK, "%s", err.msg);
    gope_status st = GOPE_OK;
    for (int i = 0; i < lines && st == GOPE_OK; i++) {
        build(&b, &rng, K, "id", "p");
        st = gope_sim_log_write(log, &b.step, &err);
    }
    if (st == GOPE_OK)
        st = gope_sim_log_close(log, &err);
    else
        gope_sim_log_close(log, NULL);
    cr_expect_eq(st, GOPE_ERR_IO, "%s, %d lines", path, lines);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, strerror(ENOSPC)), "%s", err.msg);
}

Test(sim_log, full_disk_is_an_io_error)
{
    char *dir = tu_tmpdir(), zst[600];
    snprintf(zst, sizeof zst, "%s/full.zst", dir);
    cr_assert_eq(symlink("/dev/full", zst), 0);
    expect_full("/dev/full", 1);
    expect_full("/dev/full", 40); /* 4 MB through a 1 MiB buffer */
    expect_full(zst, 1);
    tu_rmtree(dir);
}

static char nomem_path[600];

static gope_status op_log(void)
{
    static built b;
    uint64_t rng = 3;
    gope_sim_log_t *log;
    gope_err err;
    gope_status st = gope_sim_log_open(nomem_path, &log, &err);
    for (size_t n = 1; n <= K && st == GOPE_OK; n *= 10) { /* the line buffer grows */
        build(&b, &rng, n, "id", "policy");
        st = gope_sim_log_write(log, &b.step, &err);
    }
    gope_status cs = gope_sim_log_close(log, &err); /* NULL when open failed */
    return st ? st : cs;
}

Test(sim_log, out_of_memory_is_reported)
{
    char *dir = tu_tmpdir();
    snprintf(nomem_path, sizeof nomem_path, "%s/log.jsonl.zst", dir);
    fa_exhaust(op_log, "sim log zstd");
    snprintf(nomem_path, sizeof nomem_path, "%s/log.jsonl", dir);
    fa_exhaust(op_log, "sim log plain");
    tu_rmtree(dir);
}
