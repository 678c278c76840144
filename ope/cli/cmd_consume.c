/*
 * cmd_consume.c — `giftope consume`: evaluate policies continuously on a Kafka
 * topic, as a member of a consumer group (docs/consume.md).
 *
 * The evaluation is replay's (evalrun.c: same decoder, validation, policies,
 * estimators, windows, sinks and --truth agreement); only the source differs:
 * ingest/kafka_source.c hands out one message at a time with its position
 * (dead letters name "kafka:TOPIC/PARTITION" and the offset). A message's
 * offset is stored once the pipeline has taken it, so committed offsets never
 * run ahead of what was processed (at-least-once).
 *
 * The run ends on SIGINT/SIGTERM, after --idle-exit without a message, after
 * --max-events messages, or on a fatal consumer error. Every way out ends the
 * same way, like replay at the end of its input: the open windows are
 * emitted, the stored offsets committed, the group left, the summary written.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "evalrun.h"
#include "gope_ingest.h"
#include "options.h"

typedef struct {
    gope_eval_opts eval;
    const char *brokers, *topic, *group, *idle_exit, *max_events;
    bool quiet;
} consume_opts;

#define OPT(n, v, f, d, h) {n, v, GOPE_OPT_STR, offsetof(consume_opts, f), d, h}
static const gope_opt consume_table[] = {
    OPT("--brokers", "HOST:PORT", brokers, NULL, "bootstrap brokers, comma-separated (required)"),
    OPT("--topic", "TOPIC[,TOPIC]", topic, NULL, "topic(s) of alloc.v1 messages (required)"),
    OPT("--group", "ID", group, NULL, "consumer group; a restart resumes after its commits (required)"),
    GOPE_EVAL_OPT_ROWS(consume_opts, eval),
    OPT("--idle-exit", "DUR", idle_exit, NULL, "end the run after no message for DUR (batch use, tests)"),
    OPT("--max-events", "N", max_events, NULL, "end the run after N messages"),
    {"--quiet", NULL, GOPE_OPT_FLAG, offsetof(consume_opts, quiet), NULL,
     "only warnings and errors on stderr"},
};

static const gope_cmd_spec consume_spec = {
    .command = "consume",
    .synopsis = "--brokers HOST:PORT --topic TOPIC --group ID [options] [-X KEY=VALUE]...",
    .about = "Evaluate every policy on the alloc.v1 messages of Kafka topics, one message per\n"
             "line, exactly as replay does on files, until SIGINT/SIGTERM, --idle-exit or\n"
             "--max-events; then emit the open windows, commit, leave the group and write\n"
             "the ope_run.v1 summary. -X KEY=VALUE (repeatable) sets any librdkafka\n"
             "property (security.protocol, sasl.*, ssl.*, fetch tuning ...).\n"
             "Exit status: 0 success (also when stopped by a signal), 1 fatal consumer\n"
             "error or output fault, 2 usage error.",
    .opts = consume_table,
    .n_opts = sizeof consume_table / sizeof consume_table[0],
};

/* The one piece of mutable global state: a signal handler can only tell the
 * loop to stop through a volatile sig_atomic_t of static storage (C11
 * 7.14.1.1); there is no context pointer to pass it. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

#define POLL_MS 200 /* how often the loop looks at the stop flag and the idle clock */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* librdkafka's logs: warnings and errors always, the rest unless --quiet. */
static void on_log(void *ctx, int level, const char *what, const char *msg)
{
    const bool *quiet = ctx;
    if (level <= 4 || !*quiet)
        fprintf(stderr, "giftope consume: kafka %s: %s\n", what, msg);
}

/* Take the -X items out of argv (they repeat, which the option table does
 * not do): "-X KEY=VALUE" and "-XKEY=VALUE" go to props, the rest to rest.
 * Both arrays have room for argc. @return 0 or 2 (usage, printed). */
static int split_props(int argc, char **argv, const char **props, size_t *n_props,
                       char **rest, int *n_rest)
{
    *n_props = 0;
    *n_rest = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { /* the rest is the option parser's */
            while (i < argc)
                rest[(*n_rest)++] = argv[i++];
            break;
        }
        if (strncmp(argv[i], "-X", 2) != 0) {
            rest[(*n_rest)++] = argv[i];
        } else if (argv[i][2]) {
            props[(*n_props)++] = argv[i] + 2;
        } else if (i + 1 < argc) {
            props[(*n_props)++] = argv[++i];
        } else {
            fputs("giftope consume: -X needs a value (KEY=VALUE)\n", stderr);
            return 2;
        }
    }
    return 0;
}

/* --topic A,B: the topics, pointing into `buf` (a copy of the text). */
static size_t split_topics(char *buf, const char **topics)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        topics[n++] = t;
    return n;
}

typedef enum { STOP_SIGNAL, STOP_IDLE, STOP_MAX, STOP_FATAL, STOP_FAULT } stop_reason;
static const char *const stop_names[] = {"signal", "idle", "max_events", "fatal_error",
                                         "output_fault"};

/* Poll, evaluate and store offsets until one of the stops. */
static stop_reason consume_loop(gope_eval *ev, gope_kafka_source_t *ks, int64_t idle_ms,
                                uint64_t max_events)
{
    gope_err err = {{0}};
    uint64_t n = 0;
    double last = now_ms();
    while (!stop_signal) {
        if (max_events && n >= max_events)
            return STOP_MAX;
        gope_kafka_msg m;
        gope_status st = gope_kafka_source_next(ks, POLL_MS, &m, &err);
        if (st == GOPE_EOF) {
            if (idle_ms && now_ms() - last >= (double)idle_ms)
                return STOP_IDLE;
            continue;
        }
        if (st != GOPE_OK) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FATAL;
        }
        if (gope_pipeline_line(ev->pl, m.source, &m.line, &err) ||
            gope_kafka_source_store(ks, &err)) {
            fprintf(stderr, "giftope consume: %s\n", err.msg);
            return STOP_FAULT;
        }
        n++;
        last = now_ms();
    }
    return STOP_SIGNAL;
}

/* The summary's "kafka" object and the shared run description. */
static void describe_run(gope_jbuf *b, const consume_opts *o, const gope_eval *ev,
                         const char *const *topics, size_t n_topics, stop_reason why)
{
    gope_jbuf_str(b, "\"kafka\":{\"brokers\":");
    gope_jbuf_quote(b, o->brokers, strlen(o->brokers));
    gope_jbuf_str(b, ",\"topics\":[");
    for (size_t i = 0; i < n_topics; i++) {
        if (i)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, topics[i], strlen(topics[i]));
    }
    gope_jbuf_str(b, "],\"group\":");
    gope_jbuf_quote(b, o->group, strlen(o->group));
    gope_jbuf_str(b, ",\"stopped_by\":\"");
    gope_jbuf_str(b, stop_names[why]);
    gope_jbuf_str(b, "\"}");
    gope_eval_describe(b, ev);
}

/* Required options, --idle-exit and --max-events. @return 0 or 2 (printed). */
static int check_opts(const consume_opts *o, int64_t *idle_ms, uint64_t *max_events)
{
    const struct {
        const char *value, *name;
    } required[] = {{o->brokers, "--brokers"}, {o->topic, "--topic"}, {o->group, "--group"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!required[i].value || !*required[i].value) {
            fprintf(stderr, "giftope consume: %s is required (see --help)\n", required[i].name);
            return 2;
        }
    gope_err err = {{0}};
    *idle_ms = 0;
    if (o->idle_exit && gope_duration_parse(o->idle_exit, "--idle-exit", idle_ms, &err)) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        return 2;
    }
    *max_events = 0;
    return o->max_events ? gope_opt_u64("consume", "--max-events", o->max_events, 1,
                                        UINT64_MAX, max_events)
                         : 0;
}

int gope_cmd_consume(int argc, char **argv)
{
    consume_opts o;
    const char **props = calloc((size_t)argc + 1, sizeof *props);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    char *topic_buf = NULL;
    const char **topics = NULL;
    size_t n_props = 0, n_topics = 0;
    int n_rest = 0, n_pos = 0, rc = 1;
    bool help = false;
    int64_t idle_ms = 0;
    uint64_t max_events = 0;
    gope_eval ev = {0};
    gope_kafka_source_t *ks = NULL;
    gope_jbuf extra = {0};
    gope_err err = {{0}};
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    bool handlers = false;

    if (!props || !rest || !pos) {
        fputs("giftope consume: out of memory\n", stderr);
        goto cleanup;
    }
    if ((rc = split_props(argc, argv, props, &n_props, rest, &n_rest)) ||
        (rc = gope_opts_parse(&consume_spec, n_rest, rest, &o, pos, &n_pos, &help)) || help)
        goto cleanup;
    rc = 2;
    if (n_pos) {
        fprintf(stderr, "giftope consume: unexpected argument '%s' (see --help)\n", pos[0]);
        goto cleanup;
    }
    if ((rc = check_opts(&o, &idle_ms, &max_events)))
        goto cleanup;
    topic_buf = strdup(o.topic);
    topics = calloc(strlen(o.topic) / 2 + 1, sizeof *topics);
    if (!topic_buf || !topics) {
        fputs("giftope consume: out of memory\n", stderr);
        rc = 1;
        goto cleanup;
    }
    n_topics = split_topics(topic_buf, topics);
    gope_pipeline_conf base = {.require_reward = true};
    if ((rc = gope_eval_open(&ev, "consume", &o.eval, &base)))
        goto cleanup;
    gope_kafka_conf kc = {.brokers = o.brokers, .topics = topics, .n_topics = n_topics,
                          .group = o.group, .props = props, .n_props = n_props,
                          .log = on_log, .log_ctx = &o.quiet};
    gope_status st = gope_kafka_source_open(&kc, &ks, &err);
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = st == GOPE_ERR_USAGE ? 2 : 1;
        goto cleanup;
    }
    stop_signal = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = true;
    if (!o.quiet)
        fprintf(stderr, "giftope consume: reading %s as group %s from %s\n", o.topic, o.group,
                o.brokers);
    stop_reason why = consume_loop(&ev, ks, idle_ms, max_events);
    rc = why == STOP_FATAL || why == STOP_FAULT ? 1 : 0;
    /* like replay at the end of its input: emit the open windows, then commit and leave */
    describe_run(&extra, &o, &ev, topics, n_topics, why);
    if (why != STOP_FAULT && gope_eval_finish(&ev, &extra))
        rc = 1;
    st = gope_kafka_source_close(ks, &err);
    ks = NULL;
    if (st != GOPE_OK) {
        fprintf(stderr, "giftope consume: %s\n", err.msg);
        rc = 1;
    }
    gope_eval_hint_dropped(&ev, &o.eval, o.quiet);
cleanup:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    gope_kafka_source_close(ks, &err);
    if (ev.cmd)
        rc = gope_eval_close(&ev, rc);
    gope_jbuf_free(&extra);
    free(topics);
    free(topic_buf);
    free(pos);
    free(rest);
    free(props);
    return rc;
}
