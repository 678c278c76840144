/*
 * test_consume_join_cli.c — the options of `giftope consume` for the reward
 * join and the per-partition clock, without a broker (suite
 * consume_join_cli): a topic given twice, a bad --idle-timeout; --help
 * shows both. The runs against a real broker are in
 * tests/kafka/test_kafka_join.c.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "testutil.h"

#define B "127.0.0.1:1" /* nothing listens on port 1 */

Test(consume_join_cli, usage_errors_exit_2_naming_the_problem)
{
    tu_cli c;
    tu_cli_init(&c);
    struct {
        const char *args[12];
        const char *needle;
    } cases[] = {
        {{"consume", "--brokers", B, "--topic", "a,b", "--reward-topic", "b", "--group", "g",
          NULL},
         "topic b is given twice"},
        {{"consume", "--brokers", B, "--topic", "a,a", "--group", "g", NULL},
         "topic a is given twice"},
        {{"consume", "--brokers", B, "--topic", "a", "--group", "g", "--idle-timeout", "-1s",
          NULL},
         "--idle-timeout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tu_cli_expect(&c, cases[i].args, 2, cases[i].needle);
    const char *help[] = {"consume", "--help", NULL};
    tu_cli_expect(&c, help, 0, NULL);
    char *out = tu_read_file(c.out, NULL);
    cr_assert(out);
    cr_expect(strstr(out, "--reward-topic") && strstr(out, "--idle-timeout DUR") &&
                  strstr(out, "(default: 30s)"),
              "help: %s", out);
    free(out);
    tu_cli_done(&c);
}
