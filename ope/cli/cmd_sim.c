/*
 * cmd_sim.c — `giftope sim`: run one logging policy in a simulated world and
 * write its allocation log (alloc.v1 with exact propensities, the full probs
 * and each candidate's true_ev), ready for `giftope replay` and
 * `giftope truth --log`.
 *
 * Seeds BASE .. BASE+S-1 run one after another into the same log, each in
 * its own world (gope_sim_world_new(conf, seed)); event ids carry the seed
 * ("sim-<seed>-<decision>") so they never repeat, while ts restarts at the
 * world's start_ms for every seed — time windows in replay therefore pool
 * the seeds, which is what a multi-seed log is for. The logging policy is a
 * spec (gope_sim_allocator_new): a policy of the set or a stateful
 * allocator. Usage errors, a bad spec included, are found before the log is
 * created (exit 2): the first seed's world and allocator are built first. A
 * failed write ends the run (exit 1). The summary (sim_run.v1) goes to
 * stdout, or to stderr when the log goes there.
 *
 * `--out kafka:TOPIC --brokers HOST:PORT` streams the log to a topic instead,
 * one message per line keyed by event_id, through the Kafka sink of the
 * evaluating commands (ope/sink_kafka.c): the run fails (exit 1) when a
 * message cannot be delivered within message.timeout.ms.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../jsonbuf.h"
#include "commands.h"
#include "gope_ope.h"
#include "gope_sim.h"
#include "options.h"

typedef struct {
    const char *world, *policy, *policies, *decisions, *seeds, *seed, *out, *brokers;
    bool quiet;
    const char **props; /* -X KEY=VALUE: producer properties of --out kafka:TOPIC */
    size_t n_props;
} sim_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(sim_opts, f), d, h}
#define FLAG(n, f, h) {n, NULL, GOPE_OPT_FLAG, offsetof(sim_opts, f), NULL, h}
static const gope_opt sim_table[] = {
    OPT("--world", "PRESET|FILE", world, "giftlive-v2", "world preset (giftlive-v2, kuailive) or world.v1 file"),
    OPT("--policy", "SPEC", policy, NULL, "the logging policy: a policy of the set, or an allocator such as whale_matching:k=3 (required)"),
    OPT("--policies", "FILE", policies, NULL, "policies.v1 JSON file (built-in default set when absent)"),
    OPT("--decisions", "N", decisions, "10000", "decisions per seed"),
    OPT("--seeds", "S", seeds, "1", "number of seeds (worlds) run one after another into the log"),
    OPT("--seed", "BASE", seed, "42", "first seed: the seeds are BASE .. BASE+S-1"),
    OPT("--out", "LOG|kafka:TOPIC", out, NULL, "the alloc.v1 log (required); zstd when it ends in .zst, - is stdout; kafka:TOPIC streams it to a topic keyed by event_id"),
    OPT("--brokers", "HOST:PORT", brokers, NULL, "with --out kafka:TOPIC: bootstrap brokers, comma-separated"),
    FLAG("--quiet", quiet, "no progress on stderr"),
};

static const gope_cmd_spec sim_spec = {
    .command = "sim",
    .synopsis = "--policy SPEC --out LOG|kafka:TOPIC [--brokers HOST:PORT] [options] "
                "[-X KEY=VALUE]...",
    .about = "Simulate a logging policy (a policy of the set, or a stateful allocator,\n"
             "docs/allocators.md) in a world and write its allocation log: one alloc.v1\n"
             "line per decision with the exact propensity, the full probs, the reward and\n"
             "each candidate's true expected value (true_ev, for `giftope truth --log`).\n"
             "Seeds run one after another into the same log, each in its own world;\n"
             "event ids are sim-<seed>-<decision>, and ts restarts at the world's start\n"
             "time for every seed (replay pools the seeds with its default --window all;\n"
             "with sized windows give --lateness the span of one seed, or later seeds\n"
             "arrive late). Prints a sim_run.v1 summary line to stdout (to stderr when\n"
             "the log goes to stdout). --out kafka:TOPIC --brokers HOST:PORT streams the\n"
             "log to a topic, one message per line keyed by event_id; -X KEY=VALUE\n"
             "(repeatable) sets any librdkafka producer property (security.protocol,\n"
             "sasl.*, message.timeout.ms ...).\n"
             "Exit status: 0 success, 1 I/O error, 2 usage error.",
    .opts = sim_table,
    .n_opts = sizeof sim_table / sizeof sim_table[0],
};

static int fail(int rc, const char *msg)
{
    fprintf(stderr, "giftope sim: %s\n", msg);
    return rc;
}

/* librdkafka's warnings and errors (broker unreachable, ...) on stderr. */
static void on_kafka_log(void *ctx, int level, const char *what, const char *msg)
{
    (void)ctx;
    if (level <= 4)
        fprintf(stderr, "giftope sim: kafka %s: %s\n", what, msg);
}

/* --out: a file (zstd when it ends in .zst), or kafka:TOPIC through a Kafka
 * sink whose key is the event id. @return 0, 1 (I/O, out of memory) or 2
 * (usage: a bad topic name). */
static int open_log(const sim_opts *o, gope_sink *sink, gope_sim_log_t **log)
{
    gope_err err = {{0}};
    gope_status st;
    if (!gope_sink_is_kafka(o->out)) {
        st = gope_sim_log_open(o->out, log, &err);
    } else {
        const gope_kafka_sink_conf kc = {.brokers = o->brokers, .props = o->props,
                                         .n_props = o->n_props, .log = on_kafka_log};
        st = gope_sink_open(o->out, "--out", &kc, sink, &err);
        if (st == GOPE_OK)
            st = gope_sim_log_open_lines(o->out, sink->ops->write, sink->ctx, log, &err);
    }
    return st == GOPE_OK ? 0 : fail(st == GOPE_ERR_USAGE ? 2 : 1, err.msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* What the seeds add up to. */
typedef struct {
    uint64_t decisions, gifts;
    gope_ksum revenue, v_static;
    double recall, elapsed;
} totals;

/* One seed's world and its allocator (which must not outlive the world).
 * @return GOPE_OK, or the status with err filled. */
static gope_status seed_new(const gope_world_conf *conf, uint64_t seed, const char *spec,
                            const gope_policy_set_t *pol, gope_sim_world_t **w,
                            gope_sim_allocator *alloc, gope_err *err)
{
    *alloc = (gope_sim_allocator){0};
    gope_status st = gope_sim_world_new(conf, seed, w, err);
    return st ? st : gope_sim_allocator_new(spec, pol, *w, alloc, err);
}

static void seed_free(gope_sim_world_t *w, gope_sim_allocator *alloc)
{
    gope_sim_allocator_free(alloc);
    gope_sim_world_free(w);
}

/* Seed after seed into the log: the first seed's world and allocator are
 * built already (that is where a bad --policy shows, before the log
 * exists), and it also measures the EV model's top-1% recall (untimed).
 * @return 0, or 1 with the message printed. */
static int run_seeds(const sim_opts *o, const gope_world_conf *conf, const gope_policy_set_t *pol,
                     uint64_t base, uint64_t seeds, uint64_t decisions, gope_sim_world_t *w,
                     gope_sim_allocator *alloc, gope_sim_log_t *log, totals *t)
{
    gope_err err = {{0}};
    const bool progress = !o->quiet && isatty(2);
    t->recall = gope_sim_ev_recall(w, 0.01, 1000, &err);
    gope_status st = t->recall < 0 ? GOPE_ERR_NOMEM : GOPE_OK;
    for (uint64_t i = 0; i < seeds && st == GOPE_OK; i++) {
        const double t0 = now_s();
        gope_sim_summary sum;
        if (i > 0)
            st = seed_new(conf, base + i, o->policy, pol, &w, alloc, &err);
        if (st == GOPE_OK) {
            const gope_sim_run_conf rc = {.decisions = decisions,
                                          .on_step = gope_sim_log_write, .ctx = log};
            st = gope_sim_run(w, alloc, &rc, &sum, &err);
        }
        seed_free(w, alloc);
        w = NULL;
        t->elapsed += now_s() - t0;
        if (st != GOPE_OK)
            break;
        t->decisions += sum.decisions;
        t->gifts += sum.gifts;
        gope_ksum_add(&t->revenue, sum.revenue);
        gope_ksum_add(&t->v_static, sum.v_static);
        if (progress)
            fprintf(stderr, "giftope sim: seed %" PRIu64 " done (%" PRIu64 "/%" PRIu64 "), %.1fs\n",
                    base + i, i + 1, seeds, t->elapsed);
    }
    seed_free(w, alloc); /* the first seed's, when the recall failed */
    return st == GOPE_OK ? 0 : fail(1, err.msg);
}

/* The sim_run.v1 line. */
static void summary(gope_jbuf *b, const sim_opts *o, const gope_world_conf *conf,
                    uint64_t decisions, uint64_t seeds, uint64_t base, const totals *t)
{
    const double n = (double)t->decisions, revenue = gope_ksum_value(&t->revenue);
    gope_jbuf_str(b, "{\"schema\":\"sim_run.v1\"");
    gope_jbuf_key(b, "world");
    gope_jbuf_quote(b, conf->name, strlen(conf->name));
    gope_jbuf_key(b, "world_spec");
    gope_jbuf_quote(b, o->world, strlen(o->world));
    gope_jbuf_key(b, "policy");
    gope_jbuf_quote(b, o->policy, strlen(o->policy));
    gope_jbuf_key(b, "seeds");
    gope_jbuf_u64(b, seeds);
    gope_jbuf_key(b, "seed");
    gope_jbuf_u64(b, base);
    gope_jbuf_key(b, "decisions");
    gope_jbuf_u64(b, decisions);
    gope_jbuf_key(b, "total_decisions");
    gope_jbuf_u64(b, t->decisions);
    gope_jbuf_key(b, "gifts");
    gope_jbuf_u64(b, t->gifts);
    gope_jbuf_key(b, "revenue");
    gope_jbuf_num(b, revenue, true);
    gope_jbuf_key(b, "gift_rate");
    gope_jbuf_num(b, (double)t->gifts / n, true);
    gope_jbuf_key(b, "revenue_per_decision");
    gope_jbuf_num(b, revenue / n, true);
    gope_jbuf_key(b, "v_static");
    gope_jbuf_num(b, gope_ksum_value(&t->v_static) / (double)seeds, true);
    gope_jbuf_key(b, "elapsed_s");
    gope_jbuf_num(b, t->elapsed, true);
    gope_jbuf_key(b, "decisions_per_s");
    gope_jbuf_num(b, t->elapsed > 0 ? n / t->elapsed : 0, t->elapsed > 0);
    gope_jbuf_key(b, "ev_top1_recall");
    gope_jbuf_num(b, t->recall, true);
    gope_jbuf_key(b, "out");
    gope_jbuf_quote(b, o->out, strlen(o->out));
    gope_jbuf_str(b, "}\n");
}

int gope_cmd_sim(int argc, char **argv)
{
    sim_opts o;
    gope_err err = {{0}};
    gope_world_conf conf;
    gope_policy_set_t *pol = NULL;
    gope_sim_world_t *w = NULL;
    gope_sim_allocator alloc = {0};
    gope_sim_log_t *log;
    gope_sink sink = {0}; /* --out kafka:TOPIC */
    gope_jbuf b = {0};
    totals t = {0};
    uint64_t decisions, seeds, base;
    bool help;
    int n_pos, rc;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    const char **props = calloc((size_t)argc + 1, sizeof *props);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n_rest;
    size_t n_props;
    if (!pos || !props || !rest) {
        rc = fail(1, "out of memory");
        goto cleanup;
    }
    if ((rc = gope_opts_split_x("sim", argc, argv, props, &n_props, rest, &n_rest)) ||
        (rc = gope_opts_parse(&sim_spec, n_rest, rest, &o, pos, &n_pos, &help)) || help)
        goto cleanup;
    o.props = props;
    o.n_props = n_props;
    if (n_pos) {
        rc = fail(2, "unexpected argument (the log is given with --out)");
        goto cleanup;
    }
    if (!o.policy || !o.out) {
        rc = fail(2, !o.policy ? "--policy SPEC is required (see --help)"
                               : "--out LOG is required (see --help)");
        goto cleanup;
    }
    if (gope_sink_is_kafka(o.out) != (o.brokers != NULL) ||
        (n_props && !gope_sink_is_kafka(o.out))) {
        rc = fail(2, gope_sink_is_kafka(o.out) ? "--out kafka:TOPIC needs --brokers HOST:PORT"
                                               : "--brokers and -X need --out kafka:TOPIC");
        goto cleanup;
    }
    if ((rc = gope_opt_u64("sim", "--decisions", o.decisions, 1, UINT64_C(1) << 53, &decisions)) ||
        (rc = gope_opt_u64("sim", "--seeds", o.seeds, 1, 1000000, &seeds)) ||
        (rc = gope_opt_u64("sim", "--seed", o.seed, 0, UINT64_MAX - (seeds - 1), &base)))
        goto cleanup;
    const double t0 = now_s();
    gope_status st = gope_world_load(o.world, &conf, &err);
    if (st == GOPE_OK)
        st = o.policies ? gope_policies_load(o.policies, &pol, &err)
                        : gope_policies_default(&pol, &err);
    if (st == GOPE_OK)
        st = seed_new(&conf, base, o.policy, pol, &w, &alloc, &err);
    if (st != GOPE_OK) {
        rc = fail(st == GOPE_ERR_NOMEM ? 1 : 2, err.msg);
        goto cleanup;
    }
    t.elapsed = now_s() - t0;
    if ((rc = open_log(&o, &sink, &log)))
        goto cleanup;
    rc = run_seeds(&o, &conf, pol, base, seeds, decisions, w, &alloc, log, &t);
    w = NULL; /* run_seeds frees every world */
    st = gope_sim_log_close(log, &err);
    if (st != GOPE_OK && rc == 0)
        rc = fail(1, err.msg);
    st = gope_sink_close(&sink, &err); /* Kafka: waits for every delivery */
    if (st != GOPE_OK && rc == 0)
        rc = fail(1, err.msg);
    if (rc)
        goto cleanup;
    summary(&b, &o, &conf, decisions, seeds, base, &t);
    FILE *fp = strcmp(o.out, "-") == 0 ? stderr : stdout;
    if (b.oom)
        rc = fail(1, "out of memory");
    else if (fwrite(b.data, 1, b.len, fp) != b.len || fflush(fp) != 0)
        rc = fail(1, "cannot write the summary");
cleanup:
    gope_sink_close(&sink, &err);
    seed_free(w, &alloc);
    gope_policies_free(pol);
    gope_jbuf_free(&b);
    free(rest);
    free(props);
    free(pos);
    return rc;
}
