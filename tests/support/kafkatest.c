/*
 * kafkatest.c — the Kafka test helpers (kafkatest.h). Reading a topic back
 * assigns every partition at its beginning without joining a group, with
 * enable.partition.eof, and stops once each partition has reported its end:
 * the commands under test have exited (their producers flushed), so the
 * end is final.
 */
#include "kafkatest.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *env_or_skip(const char *name)
{
    const char *b = getenv(name);
    if (!b || !*b)
        cr_skip_test("%s is not set (tests/kafka/run.sh starts a broker)", name);
    return b;
}

const char *tk_brokers_or_skip(void)
{
    return env_or_skip("GOPE_KAFKA_BROKERS");
}

const char *tk_sasl_brokers_or_skip(void)
{
    return env_or_skip("GOPE_KAFKA_SASL_BROKERS");
}

void tk_unique(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "gope-%s-%ld-%ld", what, (long)getpid(), (long)time(NULL));
}

static void conf_set(rd_kafka_conf_t *c, const char *key, const char *value)
{
    char e[512];
    cr_assert_eq(rd_kafka_conf_set(c, key, value, e, sizeof e), RD_KAFKA_CONF_OK, "%s", e);
}

static rd_kafka_conf_t *conf_new(const char *brokers)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    cr_assert(c);
    conf_set(c, "bootstrap.servers", brokers);
    return c;
}

void tk_create_topic(const char *brokers, const char *topic, int partitions)
{
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(brokers), e, sizeof e);
    cr_assert(rk, "admin client: %s", e);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, e, sizeof e);
    cr_assert(nt, "%s", e);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    cr_assert_eq(rd_kafka_AdminOptions_set_operation_timeout(opt, TK_WAIT_MS, e, sizeof e), 0,
                 "%s", e);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TK_WAIT_MS + 5000);
    cr_assert(ev, "CreateTopics %s: no answer", topic);
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    cr_assert(res, "CreateTopics: %s", rd_kafka_event_error_string(ev));
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    cr_assert(n == 1 && !rd_kafka_topic_result_error(tr[0]), "create %s: %s", topic,
              n ? rd_kafka_topic_result_error_string(tr[0]) : "no result");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    *(int *)opaque += m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* The event_id of a line as the key, or "line-N". */
static void key_of(const char *line, size_t len, int n, char *key, size_t size)
{
    /* searched in a copy of the line's head: strstr on the line in place
     * would read the whole rest of the text (ASan's interceptor does, which
     * made producing a large text quadratic) */
    char head[4096];
    size_t h = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, line, h);
    head[h] = '\0';
    const char *id = strstr(head, "\"event_id\":\"");
    const char *q = id ? strchr(id + 12, '"') : NULL;
    if (q)
        snprintf(key, size, "%.*s", (int)(q - id - 12), id + 12);
    else
        snprintf(key, size, "line-%d", n);
}

int tk_produce_lines(const char *brokers, const char *topic, const char *text)
{
    return tk_produce_lines_to(brokers, topic, RD_KAFKA_PARTITION_UA, text);
}

int tk_produce_lines_to(const char *brokers, const char *topic, int32_t partition,
                        const char *text)
{
    char e[512], key[160];
    int failed = 0, n = 0;
    rd_kafka_conf_t *c = conf_new(brokers);
    conf_set(c, "enable.idempotence", "true");
    rd_kafka_conf_set_opaque(c, &failed);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    cr_assert(rk, "producer: %s", e);
    for (const char *p = text; *p; n++) {
        const char *nl = strchr(p, '\n');
        const size_t len = nl ? (size_t)(nl - p) : strlen(p);
        key_of(p, len, n, key, sizeof key);
        rd_kafka_resp_err_t r;
        while ((r = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE((void *)p, len),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        cr_assert_eq(r, 0, "produce: %s", rd_kafka_err2str(r));
        p += len + (nl != NULL);
    }
    cr_assert_eq(rd_kafka_flush(rk, TK_WAIT_MS), 0, "flush: %d left", rd_kafka_outq_len(rk));
    cr_assert_eq(failed, 0, "%d deliveries failed", failed);
    rd_kafka_destroy(rk);
    return n;
}

const char *tk_small_world(tu_cli *c, int k)
{
    char json[160];
    snprintf(json, sizeof json,
             "{\"base\":\"kuailive\",\"users\":{\"count\":500},"
             "\"streamers\":{\"count\":40},\"candidates\":{\"k\":%d}}",
             k);
    return tu_cli_write(c, "world.json", json);
}

char *tk_sim_log(tu_cli *c, int k, int decisions, const char *path)
{
    char n[24];
    snprintf(n, sizeof n, "%d", decisions);
    const char *sim[] = {"sim", "--world", tk_small_world(c, k), "--policy", "eps_greedy",
                         "--decisions", n, "--out", path, "--quiet", NULL};
    tu_cli_expect(c, sim, 0, NULL);
    char *text = tu_read_file(path, NULL);
    cr_assert(text && *text, "no log at %s", path);
    return text;
}

static int partition_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t r = rd_kafka_metadata(rk, 0, rkt, &md, TK_WAIT_MS);
    cr_assert_eq(r, 0, "metadata of %s: %s", topic, rd_kafka_err2str(r));
    cr_assert(md->topic_cnt == 1 && !md->topics[0].err, "metadata of %s: %s", topic,
              md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "none");
    int n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static char *dup_bytes(const void *p, size_t len)
{
    char *s = malloc(len + 1);
    cr_assert(s);
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

tk_msg *tk_read_topic(const char *brokers, const char *topic, size_t *n)
{
    char e[512];
    rd_kafka_conf_t *c = conf_new(brokers);
    conf_set(c, "group.id", "gope-tk-reader");
    conf_set(c, "enable.partition.eof", "true");
    conf_set(c, "enable.auto.commit", "false");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    cr_assert(rk, "consumer: %s", e);
    const int parts = partition_count(rk, topic);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);

    size_t cap = 64, count = 0;
    tk_msg *out = malloc(cap * sizeof *out);
    cr_assert(out);
    int ended = 0;
    const time_t deadline = time(NULL) + TK_WAIT_MS / 1000;
    while (ended < parts) {
        cr_assert(time(NULL) < deadline, "%s: only %d of %d partitions read to the end", topic,
                  ended, parts);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            ended++;
        } else {
            cr_assert_eq(m->err, 0, "%s: %s", topic, rd_kafka_message_errstr(m));
            if (count == cap) {
                out = realloc(out, (cap *= 2) * sizeof *out);
                cr_assert(out);
            }
            out[count++] = (tk_msg){.key = dup_bytes(m->key, m->key_len),
                                    .value = dup_bytes(m->payload, m->len),
                                    .partition = m->partition};
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *n = count;
    return out;
}

void tk_msgs_free(tk_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].value);
    }
    free(m);
}
