/*
 * kafka_conf.c — librdkafka settings from the command line, for every Kafka
 * client giftope makes (the consumer of ingest/kafka_source.c, the producer
 * of ope/sink_kafka.c): -X "key=value" items applied in order, refusing the
 * keys the client owns, with messages that name the item as the user wrote
 * it. Both clients pass -X through here, so `consume -X ...`, which feeds
 * the same items to its consumer and its producers, is parsed one way.
 */
#include "gope_ingest.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#define ERRSTR 512
#define KEY_MAX 127 /* librdkafka's longest property name is under 50 bytes */

gope_status gope_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                                gope_err *err)
{
    char e[ERRSTR];
    if (rd_kafka_conf_set(conf, key, value, e, sizeof e) != RD_KAFKA_CONF_OK)
        return gope_err_set(err, GOPE_ERR_USAGE, "-X %s=%s: %s", key, value, e);
    return GOPE_OK;
}

/* One item; the key is copied into a bounded buffer, since a longer one
 * cannot be a librdkafka property anyway. */
static gope_status apply_item(rd_kafka_conf_t *conf, const char *item,
                              const gope_kafka_reserved *reserved, size_t n_reserved,
                              gope_err *err)
{
    const char *eq = strchr(item, '=');
    char key[KEY_MAX + 1];
    if (!eq || eq == item)
        return gope_err_set(err, GOPE_ERR_USAGE, "-X '%s': expected key=value", item);
    const size_t klen = (size_t)(eq - item);
    if (klen > KEY_MAX)
        return gope_err_set(err, GOPE_ERR_USAGE, "-X '%.*s': no such property", (int)klen, item);
    memcpy(key, item, klen);
    key[klen] = '\0';
    for (size_t i = 0; i < n_reserved; i++)
        if (strcmp(reserved[i].key, key) == 0)
            return gope_err_set(err, GOPE_ERR_USAGE, "-X %s: %s", key, reserved[i].why);
    return gope_kafka_conf_set(conf, key, eq + 1, err);
}

gope_status gope_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n,
                                  const gope_kafka_reserved *reserved, size_t n_reserved,
                                  gope_err *err)
{
    gope_status st;
    for (size_t i = 0; i < n; i++)
        if ((st = apply_item(conf, props[i], reserved, n_reserved, err)))
            return st;
    return GOPE_OK;
}
