/*
 * kafka_load.c — the Kafka side of the consume benchmark (bench/consume_bench.sh,
 * bench/README.md "The consume bench"): it puts a log into a topic, and it
 * measures how fast librdkafka alone hands the messages back.
 *
 *   kafka_load produce --brokers B --topic T [--rate R] [--stamp-ts] [--linger-ms L]
 *                      [-X KEY=VALUE]... < log.jsonl
 *   kafka_load drain   --brokers B --topic T --group G --count N [--timeout-s S]
 *                      [-X KEY=VALUE]...
 *
 * produce: one message per input line, keyed by the line's event_id (the
 * default partitioner hashes the key, so the partitions get even shares),
 * zstd-compressed batches of up to 2 MB. --rate paces the messages at R per
 * second of wall time; --stamp-ts replaces each line's "ts" with the wall
 * clock (epoch ms) at the moment it is produced, so the log's event time is
 * the produce time: what the end-to-end latency is measured against. The
 * topic's metadata is fetched before the first line, so that time does not
 * include the producer's start. Every message must be acknowledged by the
 * broker (a failed delivery fails the run).
 *
 * drain: a consumer-group member that polls N messages with
 * rd_kafka_consumer_poll (the call giftope consume uses) and does nothing
 * with them: the floor under consume's time, as zstd -dc is under replay's.
 *
 * Both print one JSON line with their counts and rates on stdout.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROPS 64

typedef struct {
    const char *brokers, *topic, *group;
    const char *props[MAX_PROPS];
    size_t n_props;
    double rate;          /* produce: messages per second; 0 = as fast as possible */
    bool stamp_ts;
    long linger_ms;
    uint64_t count;       /* drain: messages to read */
    double timeout_s;     /* drain: give up after this long without a message */
} load_conf;

typedef struct {
    uint64_t delivered, failed;
    char first_error[256];
} dr_stats;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set(rd_kafka_conf_t *c, const char *key, const char *value)
{
    char e[512];
    if (rd_kafka_conf_set(c, key, value, e, sizeof e) == RD_KAFKA_CONF_OK)
        return 0;
    fprintf(stderr, "kafka_load: %s=%s: %s\n", key, value, e);
    return -1;
}

/* The -X items after the built-in settings, so they can override them. */
static int set_props(rd_kafka_conf_t *c, const load_conf *lc)
{
    for (size_t i = 0; i < lc->n_props; i++) {
        const char *eq = strchr(lc->props[i], '=');
        char key[256];
        if (!eq || eq == lc->props[i] || (size_t)(eq - lc->props[i]) >= sizeof key) {
            fprintf(stderr, "kafka_load: -X '%s': expected KEY=VALUE\n", lc->props[i]);
            return -1;
        }
        memcpy(key, lc->props[i], (size_t)(eq - lc->props[i]));
        key[eq - lc->props[i]] = '\0';
        if (set(c, key, eq + 1))
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ produce */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_stats *s = opaque;
    (void)rk;
    if (!m->err) {
        s->delivered++;
        return;
    }
    if (s->failed++ == 0)
        snprintf(s->first_error, sizeof s->first_error, "%s", rd_kafka_err2str(m->err));
}

/* The first `pat` in line[0, len), or NULL (memmem is not POSIX). */
static const char *find(const char *line, size_t len, const char *pat)
{
    size_t m = strlen(pat);
    for (const char *p = line; m <= len - (size_t)(p - line);) {
        const char *q = memchr(p, pat[0], len - (size_t)(p - line) - m + 1);
        if (!q || memcmp(q, pat, m) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

/* The value of the string field `"name":"..."` in `line`, or NULL. */
static const char *str_field(const char *line, size_t len, const char *name, size_t *vlen)
{
    const char *p = find(line, len, name);
    if (!p)
        return NULL;
    p += strlen(name);
    const char *q = memchr(p, '"', len - (size_t)(p - line));
    if (!q)
        return NULL;
    *vlen = (size_t)(q - p);
    return p;
}

/* `line` with its "ts" value replaced by `ts`, into `out` (cap bytes).
 * @return the new length, or 0 when the line has no integer "ts". */
static size_t restamp(const char *line, size_t len, int64_t ts, char *out, size_t cap)
{
    static const char key[] = "\"ts\":";
    const char *p = find(line, len, key);
    if (!p)
        return 0;
    size_t head = (size_t)(p - line) + sizeof key - 1, end = head;
    while (end < len && line[end] >= '0' && line[end] <= '9')
        end++;
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)ts);
    if (end == head || head + (size_t)n + (len - end) > cap)
        return 0;
    memcpy(out, line, head);
    memcpy(out + head, num, (size_t)n);
    memcpy(out + head + (size_t)n, line + end, len - end);
    return head + (size_t)n + (len - end);
}

static rd_kafka_t *producer_new(const load_conf *lc, dr_stats *dr)
{
    char e[512], linger[32];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    snprintf(linger, sizeof linger, "%ld", lc->linger_ms);
    if (!c || set(c, "bootstrap.servers", lc->brokers) ||
        set(c, "compression.codec", "zstd") || set(c, "linger.ms", linger) ||
        set(c, "batch.size", "2000000") || set(c, "batch.num.messages", "100000") ||
        set(c, "queue.buffering.max.messages", "1000000") || set_props(c, lc)) {
        if (c)
            rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_opaque(c, dr);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!rk) {
        fprintf(stderr, "kafka_load: cannot create the producer: %s\n", e);
        rd_kafka_conf_destroy(c);
    }
    return rk;
}

/* --rate: sleep until message i is due (t0 + i / rate); a lag is not made up
 * by bursts beyond what the queue takes. */
static void pace(const load_conf *lc, double t0, uint64_t i)
{
    if (lc->rate <= 0)
        return;
    double ahead = t0 + (double)i / lc->rate - mono_s();
    if (ahead < 1e-3)
        return;
    struct timespec ts = {.tv_sec = (time_t)ahead, .tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One message: retried while the local queue is full. @return 0 or -1. */
static int send_line(rd_kafka_t *rk, const load_conf *lc, const char *v, size_t len,
                     int64_t ts, uint64_t lineno)
{
    size_t klen = 0;
    const char *key = str_field(v, len, "\"event_id\":\"", &klen);
    for (;;) {
        rd_kafka_resp_err_t r = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(lc->topic), RD_KAFKA_V_KEY(key, key ? klen : 0),
            RD_KAFKA_V_VALUE((void *)v, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
        if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "kafka_load: stdin:%llu: produce: %s\n", (unsigned long long)lineno,
                    rd_kafka_err2str(r));
            return -1;
        }
        rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
    return 0;
}

/* Learn the topic's partition leaders before the first message: a fresh
 * producer otherwise holds the first messages ~1 s until it has them,
 * which --stamp-ts would count as end-to-end latency. @return 0 or -1. */
static int warm_up(rd_kafka_t *rk, const load_conf *lc)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, lc->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t r = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 30000) : rd_kafka_last_error();
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    fprintf(stderr, "kafka_load: metadata of %s: %s\n", lc->topic, rd_kafka_err2str(r));
    return -1;
}

static int cmd_produce(const load_conf *lc)
{
    dr_stats dr = {0};
    rd_kafka_t *rk = producer_new(lc, &dr);
    char *line = NULL, *stamped = NULL;
    size_t cap = 0, stamped_cap = 0;
    ssize_t len;
    uint64_t n = 0, bytes = 0;
    int64_t first_ts = 0, last_ts = 0;
    int rc = 1;
    if (!rk)
        return 1;
    if (warm_up(rk, lc))
        goto cleanup;
    double t0 = mono_s();
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        pace(lc, t0, n);
        int64_t ts = wall_ms();
        const char *v = line;
        if (lc->stamp_ts) {
            if (stamped_cap < (size_t)len + 32) {
                char *nb = realloc(stamped, (size_t)len + 32);
                if (!nb) {
                    fputs("kafka_load: out of memory\n", stderr);
                    goto cleanup;
                }
                stamped = nb;
                stamped_cap = (size_t)len + 32;
            }
            if (!(len = (ssize_t)restamp(line, (size_t)len, ts, stamped, stamped_cap))) {
                fprintf(stderr, "kafka_load: stdin:%llu: no integer \"ts\" to restamp\n",
                        (unsigned long long)n + 1);
                goto cleanup;
            }
            v = stamped;
        }
        if (send_line(rk, lc, v, (size_t)len, ts, n + 1))
            goto cleanup;
        first_ts = n ? first_ts : ts;
        last_ts = ts;
        n++;
        bytes += (uint64_t)len;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "kafka_load: stdin: read failed: %s\n", strerror(errno));
        goto cleanup;
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka_load: %d message(s) still unacknowledged after 120 s\n",
                rd_kafka_outq_len(rk));
        goto cleanup;
    }
    double secs = mono_s() - t0;
    if (dr.failed) {
        fprintf(stderr, "kafka_load: %llu message(s) not delivered, the first: %s\n",
                (unsigned long long)dr.failed, dr.first_error);
        goto cleanup;
    }
    printf("{\"produced\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
           "\"first_ts\":%lld,\"last_ts\":%lld}\n",
           (unsigned long long)dr.delivered, (unsigned long long)bytes, secs,
           (double)n / secs, (long long)first_ts, (long long)last_ts);
    rc = 0;
cleanup:
    free(line);
    free(stamped);
    rd_kafka_destroy(rk);
    return rc;
}

/* -------------------------------------------------------------- drain */

static rd_kafka_t *consumer_new(const load_conf *lc)
{
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c || set(c, "bootstrap.servers", lc->brokers) || set(c, "group.id", lc->group) ||
        set(c, "auto.offset.reset", "earliest") || set(c, "enable.auto.commit", "false") ||
        set_props(c, lc)) {
        if (c)
            rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!rk) {
        fprintf(stderr, "kafka_load: cannot create the consumer: %s\n", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, lc->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t r = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (r) {
        fprintf(stderr, "kafka_load: subscribe to %s: %s\n", lc->topic, rd_kafka_err2str(r));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

static int cmd_drain(const load_conf *lc)
{
    rd_kafka_t *rk = consumer_new(lc);
    if (!rk)
        return 1;
    uint64_t n = 0, bytes = 0;
    double t_start = mono_s(), t_first = 0, t_last = t_start;
    while (n < lc->count && mono_s() - t_last < lc->timeout_s) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            t_last = mono_s();
            t_first = n ? t_first : t_last;
            n++;
            bytes += m->len;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "kafka_load: consume: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    double secs = t_last - t_first;
    printf("{\"messages\":%llu,\"bytes\":%llu,\"seconds_to_first\":%.3f,"
           "\"seconds_first_to_last\":%.3f,\"events_per_s\":%.0f}\n",
           (unsigned long long)n, (unsigned long long)bytes, t_first - t_start, secs,
           secs > 0 ? (double)n / secs : 0.0);
    if (n < lc->count) {
        fprintf(stderr, "kafka_load: only %llu of %llu messages within %.0f s of silence\n",
                (unsigned long long)n, (unsigned long long)lc->count, lc->timeout_s);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ options */

static int usage(void)
{
    fputs("usage: kafka_load produce --brokers B --topic T [--rate R] [--stamp-ts]\n"
          "                          [--linger-ms L] [-X KEY=VALUE]... < log.jsonl\n"
          "       kafka_load drain --brokers B --topic T --group G --count N\n"
          "                        [--timeout-s S] [-X KEY=VALUE]...\n",
          stderr);
    return 2;
}

/* A number option in [lo, hi]. @return 0 or -1 (reported). */
static int number(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "kafka_load: %s: expected a number in [%g, %g], got '%s'\n", name, lo,
                hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* @return 0, or -1 on a usage error (named on stderr; main prints the usage). */
static int parse_args(int argc, char **argv, load_conf *lc)
{
    double x;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--stamp-ts") == 0) {
            lc->stamp_ts = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "kafka_load: %s needs a value\n", o);
            return -1;
        }
        i++;
        if (strcmp(o, "--brokers") == 0)
            lc->brokers = v;
        else if (strcmp(o, "--topic") == 0)
            lc->topic = v;
        else if (strcmp(o, "--group") == 0)
            lc->group = v;
        else if (strcmp(o, "-X") == 0 && lc->n_props < MAX_PROPS)
            lc->props[lc->n_props++] = v;
        else if (strcmp(o, "--rate") == 0 && number(o, v, 0, 1e8, &lc->rate) == 0)
            continue;
        else if (strcmp(o, "--linger-ms") == 0 && number(o, v, 0, 900000, &x) == 0)
            lc->linger_ms = (long)x;
        else if (strcmp(o, "--count") == 0 && number(o, v, 1, 0x1p53, &x) == 0)
            lc->count = (uint64_t)x;
        else if (strcmp(o, "--timeout-s") == 0 && number(o, v, 0.1, 86400, &lc->timeout_s) == 0)
            continue;
        else {
            fprintf(stderr, "kafka_load: bad option '%s' (or value '%s')\n", o, v);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    load_conf lc = {.linger_ms = 100, .timeout_s = 30};
    if (argc < 2 || parse_args(argc, argv, &lc))
        return usage();
    if (!lc.brokers || !lc.topic)
        return usage();
    if (strcmp(argv[1], "produce") == 0)
        return cmd_produce(&lc);
    if (strcmp(argv[1], "drain") == 0 && lc.group && lc.count)
        return cmd_drain(&lc);
    return usage();
}
