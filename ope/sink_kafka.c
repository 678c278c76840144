/*
 * sink_kafka.c — the Kafka sink: one line, one message, keyed by the sink key
 * (the policy for window records, the reason for dead letters), and the
 * "kafka:TOPIC or file" choice of an output spec (gope_sink_open).
 *
 * The producer is idempotent with acks=all, so librdkafka's retries neither
 * lose nor duplicate a record, and keeps per-partition order. Lines are
 * copied into librdkafka's queue, batched for a few ms (linger.ms=5) and
 * zstd-compressed. A record is only safe once its delivery report says so:
 * reports are served inside write (rd_kafka_poll(0)), flush and close
 * (rd_kafka_flush), on the caller's thread, together with librdkafka's logs (log.queue forwarded
 * to the main queue), so library code never prints and needs no lock. The
 * first failed report ends the run at the next write. Flush (before a
 * checkpoint counts the lines as emitted: consume --checkpoint) and close
 * wait until every message produced so far has its report, and fail with
 * the count of those that failed or never left: a checkpoint then is not
 * written, so the records after the last one are emitted again by the next
 * run rather than lost. The sink counts the messages without a report
 * itself (rd_kafka_outq_len also counts queued log events).
 *
 * Every wait is bounded by message.timeout.ms (librdkafka fails a message
 * it could not deliver in that time, broker down or topic missing): a full
 * queue drains by deliveries or by such failures, and flush and close wait
 * for at most that long plus a margin. The default is 30 s instead of
 * librdkafka's 5 min, so a command facing a dead broker ends with a clear
 * message soon.
 */
#include "gope_ope.h"

#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ERRSTR 512
#define TOPIC_MAX 249                   /* Kafka's limit on a topic name */
#define FULL_WAIT_MS 100                /* a poll while the producer queue is full */
#define FLUSH_MARGIN_MS 5000            /* flush waits message.timeout.ms + this */
#define NO_TIMEOUT_FLUSH_MS 30000       /* flush's wait when message.timeout.ms is 0 (infinite) */

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    gope_kafka_log_fn log;
    void *log_ctx;
    uint64_t in_flight;                 /* produced, no delivery report yet */
    uint64_t failed;                    /* delivery reports with an error */
    char first_error[256];              /* the reason of the first of them */
    bool fatal;                         /* the producer gave up (fatal error) */
    char fatal_msg[256];
    int flush_ms;                       /* flush's and close's bound */
    char topic[TOPIC_MAX + 1];
} kafka_ctx;

/* Keys the sink owns: changing them would break its delivery contract. */
static const gope_kafka_reserved reserved[] = {
    {"bootstrap.servers", "reserved (give the brokers as --brokers)"},
    {"acks", "reserved (the Kafka sink always waits for all in-sync replicas)"},
    {"enable.idempotence", "reserved (the Kafka sink is always idempotent)"},
};

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kafka_ctx *k = rd_kafka_opaque(rk);
    if (k->log)
        k->log(k->log_ctx, level, fac, buf);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_ctx *k = opaque;
    (void)rk;
    k->in_flight--;
    if (m->err && k->failed++ == 0)
        snprintf(k->first_error, sizeof k->first_error, "%s%s", rd_kafka_err2str(m->err),
                 m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                     ? " (is the broker reachable, and does the topic exist?)"
                     : "");
}

/* A fatal error (e.g. the idempotent producer lost its sequence) fails
 * every message still queued; remember why so write and close can say it. */
static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    kafka_ctx *k = opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char why[200];
        rd_kafka_fatal_error(rk, why, sizeof why);
        snprintf(k->fatal_msg, sizeof k->fatal_msg, "%s", why);
        k->fatal = true;
        return;
    }
    if (code != RD_KAFKA_RESP_ERR__TRANSPORT && k->log) /* transport: logged already (FAIL) */
        k->log(k->log_ctx, 3, rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
}

static gope_status delivery_error(const kafka_ctx *k, uint64_t undelivered, gope_err *err)
{
    if (k->fatal)
        return gope_err_set(err, GOPE_ERR_IO, "kafka:%s: fatal producer error: %s", k->topic,
                            k->fatal_msg);
    return gope_err_set(err, GOPE_ERR_IO, "kafka:%s: %llu message(s) not delivered: %s",
                        k->topic, (unsigned long long)undelivered, k->first_error);
}

static gope_status kafka_write(void *ctx, const char *key, const char *line, size_t len,
                               gope_err *err)
{
    kafka_ctx *k = ctx;
    rd_kafka_resp_err_t r;
    rd_kafka_poll(k->rk, 0);
    for (;;) {
        if (k->failed || k->fatal)
            return delivery_error(k, k->failed, err);
        r = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt),
                              RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                              RD_KAFKA_V_VALUE((void *)line, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* bounded: queued messages are delivered or fail within message.timeout.ms */
        rd_kafka_poll(k->rk, FULL_WAIT_MS);
    }
    if (r)
        return gope_err_set(err, GOPE_ERR_IO, "kafka:%s: cannot produce a %zu-byte message: %s",
                            k->topic, len, rd_kafka_err2str(r));
    k->in_flight++;
    return GOPE_OK;
}

static void kafka_free(kafka_ctx *k)
{
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    free(k);
}

/* Every message produced so far delivered: wait for their reports (at most
 * flush_ms; rd_kafka_flush serves them as they come and sends lingering
 * batches at once). A failure is final: it is reported again by every later
 * flush and by close, since those records are lost. */
static gope_status kafka_flush(void *ctx, gope_err *err)
{
    kafka_ctx *k = ctx;
    rd_kafka_flush(k->rk, k->flush_ms);
    if (!k->failed && !k->fatal && !k->in_flight)
        return GOPE_OK;
    if (!k->failed && !k->fatal)
        snprintf(k->first_error, sizeof k->first_error, "still queued after %d ms", k->flush_ms);
    return delivery_error(k, k->failed + k->in_flight, err);
}

static gope_status kafka_close(void *ctx, gope_err *err)
{
    kafka_ctx *k = ctx;
    gope_status st = kafka_flush(k, err);
    if (st) { /* drop what is left so that destroy does not wait for it */
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0);
    }
    kafka_free(k);
    return st;
}

static const gope_sink_ops kafka_sink_ops = {
    .name = "kafka", .write = kafka_write, .close = kafka_close, .flush = kafka_flush,
};

static gope_status build_conf(const gope_kafka_sink_conf *conf, kafka_ctx *k, rd_kafka_conf_t *c,
                              gope_err *err)
{
    static const char *const defaults[][2] = {
        {"linger.ms", "5"},
        {"compression.codec", "zstd"},
        {"message.timeout.ms", "30000"},
        {"log.queue", "true"},
    };
    gope_status st;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if ((st = gope_kafka_conf_set(c, defaults[i][0], defaults[i][1], err)))
            return st;
    if ((st = gope_kafka_conf_props(c, conf->props, conf->n_props, reserved,
                                    sizeof reserved / sizeof reserved[0], err)) ||
        (st = gope_kafka_conf_set(c, "bootstrap.servers", conf->brokers, err)) ||
        (st = gope_kafka_conf_set(c, "acks", "all", err)) ||
        (st = gope_kafka_conf_set(c, "enable.idempotence", "true", err)))
        return st;
    char v[32];
    size_t vlen = sizeof v;
    if (rd_kafka_conf_get(c, "message.timeout.ms", v, &vlen) != RD_KAFKA_CONF_OK)
        return gope_err_set(err, GOPE_ERR_USAGE, "kafka: message.timeout.ms unreadable");
    const long timeout = strtol(v, NULL, 10);
    k->flush_ms = timeout <= 0                         ? NO_TIMEOUT_FLUSH_MS
                  : timeout > INT_MAX - FLUSH_MARGIN_MS ? INT_MAX
                                                        : (int)timeout + FLUSH_MARGIN_MS;
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_log_cb(c, on_log);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    return GOPE_OK;
}

static bool topic_ok(const char *t)
{
    const size_t n = strlen(t);
    if (n == 0 || n > TOPIC_MAX || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
        return false;
    return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

gope_status gope_sink_kafka_open(const gope_kafka_sink_conf *conf, const char *topic,
                                 gope_sink *out, gope_err *err)
{
    char e[ERRSTR];
    gope_status st;
    if (!topic_ok(topic))
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "kafka:%s: a topic name is 1-249 of A-Z a-z 0-9 . _ -", topic);
    if (!conf || !conf->brokers || !*conf->brokers)
        return gope_err_set(err, GOPE_ERR_USAGE, "kafka:%s: kafka:TOPIC needs --brokers", topic);
    kafka_ctx *k = calloc(1, sizeof *k);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!k || !c) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "kafka:%s: out of memory", topic);
        goto cleanup;
    }
    strcpy(k->topic, topic);
    k->log = conf->log;
    k->log_ctx = conf->log_ctx;
    if ((st = build_conf(conf, k, c, err)))
        goto cleanup;
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!k->rk) {
        /* librdkafka checks combinations here (e.g. a -X that contradicts idempotence) */
        st = gope_err_set(err, GOPE_ERR_USAGE, "kafka:%s: cannot create the producer: %s", topic, e);
        goto cleanup;
    }
    c = NULL; /* the handle owns it now */
    rd_kafka_resp_err_t r = rd_kafka_set_log_queue(k->rk, NULL); /* logs come with poll */
    if (r) {
        st = gope_err_set(err, GOPE_ERR_IO, "kafka:%s: %s", topic, rd_kafka_err2str(r));
        goto cleanup;
    }
    k->rkt = rd_kafka_topic_new(k->rk, topic, NULL);
    if (!k->rkt) {
        st = gope_err_set(err, GOPE_ERR_IO, "kafka:%s: %s", topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
        goto cleanup;
    }
    *out = (gope_sink){.ops = &kafka_sink_ops, .ctx = k};
    return GOPE_OK;
cleanup:
    if (c)
        rd_kafka_conf_destroy(c);
    if (k)
        kafka_free(k);
    return st;
}

bool gope_sink_is_kafka(const char *spec)
{
    return strncmp(spec, GOPE_SINK_KAFKA_PREFIX, sizeof GOPE_SINK_KAFKA_PREFIX - 1) == 0;
}

gope_status gope_sink_open(const char *spec, const char *what,
                           const gope_kafka_sink_conf *kafka, gope_sink *out, gope_err *err)
{
    if (!gope_sink_is_kafka(spec))
        return gope_sink_file_open(spec, out, err);
    const char *topic = spec + sizeof GOPE_SINK_KAFKA_PREFIX - 1;
    if (!kafka || !kafka->brokers || !*kafka->brokers)
        return gope_err_set(err, GOPE_ERR_USAGE, "%s %s: kafka:TOPIC needs --brokers", what, spec);
    gope_status st = gope_sink_kafka_open(kafka, topic, out, err);
    if (st == GOPE_ERR_USAGE && err) { /* name the option too */
        gope_err inner = *err;
        gope_err_set(err, st, "%s: %s", what, inner.msg);
    }
    return st;
}
