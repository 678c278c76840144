/*
 * test_sink_cli.c — `--out kafka:TOPIC` and `--dead-letter kafka:TOPIC` from
 * the command line, without a broker (suite sink_cli): usage errors exit 2
 * before anything is read or simulated (replay has no brokers; a bad topic;
 * a property the sink owns; sim's --brokers and -X without a Kafka output),
 * and a broker that is down makes consume and sim exit 1 naming the topic and
 * the count of undelivered messages once message.timeout.ms has passed. The
 * runs against a real broker are in tests/kafka/test_kafka_sink.c.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "testutil.h"

#define B "127.0.0.1:1" /* nothing listens on port 1 */
#define SAMPLE GOPE_TEST_DATA "/../../schemas/examples/alloc.sample.jsonl.zst"

Test(sink_cli, usage_errors_exit_2_naming_the_problem)
{
    tu_cli c;
    tu_cli_init(&c);
    struct {
        const char *args[16];
        const char *needle;
    } cases[] = {
        {{"replay", "--out", "kafka:t", SAMPLE, NULL},
         "--out kafka:t: kafka:TOPIC needs --brokers (consume)"},
        {{"replay", "--dead-letter", "kafka:dl", SAMPLE, NULL},
         "--dead-letter kafka:dl: kafka:TOPIC needs --brokers (consume)"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--out", "kafka:a/b", NULL},
         "--out: kafka:a/b: a topic name is"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--dead-letter", "kafka:",
          NULL},
         "--dead-letter: kafka:: a topic name is"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--out", "kafka:t", "-X",
          "acks=0", NULL},
         "-X acks: reserved"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--out", "kafka:t", "-X",
          "enable.idempotence=false", NULL},
         "-X enable.idempotence: reserved"},
        {{"sim", "--policy", "greedy", "--out", "kafka:t", NULL},
         "--out kafka:TOPIC needs --brokers HOST:PORT"},
        {{"sim", "--policy", "greedy", "--out", "log.jsonl", "--brokers", B, NULL},
         "--brokers and -X need --out kafka:TOPIC"},
        {{"sim", "--policy", "greedy", "--out", "log.jsonl", "-X", "linger.ms=1", NULL},
         "--brokers and -X need --out kafka:TOPIC"},
        {{"sim", "--policy", "greedy", "--out", "kafka:t", "--brokers", B, "-X", NULL},
         "-X needs a value"},
        {{"sim", "--policy", "greedy", "--out", "kafka:bad!", "--brokers", B, NULL},
         "kafka:bad!: a topic name is"},
        {{"sim", "--policy", "greedy", "--out", "kafka:t", "--brokers", B, "-X",
          "no.such.prop=1", NULL},
         "-X no.such.prop=1: No such configuration property"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tu_cli_expect(&c, cases[i].args, 2, cases[i].needle);
    const char *const cmds[] = {"replay", "consume", "sim"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *help[] = {cmds[i], "--help", NULL};
        tu_cli_expect(&c, help, 0, NULL);
        char *out = tu_read_file(c.out, NULL);
        cr_assert(out);
        cr_expect(strstr(out, "kafka:TOPIC"), "%s --help: %s", cmds[i], out);
        free(out);
    }
    tu_cli_done(&c);
}

Test(sink_cli, consume_with_a_broker_that_is_down_fails_naming_the_undelivered_records,
     .timeout = 60)
{
    tu_cli c;
    tu_cli_init(&c);
    /* nothing is consumed: the one record is the summary, and it cannot be delivered */
    const char *args[] = {"consume", "--brokers", B, "--topic", "t", "--group", "g",
                          "--idle-exit", "1s", "--out", "kafka:records", "--quiet",
                          "-X", "message.timeout.ms=1000", NULL};
    tu_cli_expect(&c, args, 1,
                  "kafka:records: 1 message(s) not delivered: Local: Message timed out");
    tu_cli_done(&c);
}

Test(sink_cli, sim_with_a_broker_that_is_down_fails_naming_the_undelivered_lines, .timeout = 60)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *world = tu_cli_write(&c, "world.json",
                                     "{\"base\":\"kuailive\",\"users\":{\"count\":500},"
                                     "\"streamers\":{\"count\":20},\"candidates\":{\"k\":5}}");
    const char *args[] = {"sim", "--world", world, "--policy", "greedy", "--decisions", "30",
                          "--out", "kafka:alloc", "--brokers", B, "--quiet",
                          "-X", "message.timeout.ms=1000", NULL};
    tu_cli_expect(&c, args, 1, "kafka:alloc: 30 message(s) not delivered");
    char *out = tu_read_file(c.out, NULL);
    cr_expect(out && !*out, "no sim_run.v1 summary after a failed run: %s", out ? out : "");
    free(out);
    tu_cli_done(&c);
}
