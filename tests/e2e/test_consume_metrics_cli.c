/*
 * test_consume_metrics_cli.c — `giftope consume --metrics-addr` without a
 * broker: a bad address is a usage error that names it, and a consumer
 * whose broker is unreachable still serves /metrics (counters at 0) and
 * /healthz until SIGTERM. The series with data are checked against a real
 * broker and a real Prometheus in tests/kafka/test_kafka_prometheus.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clitest.h"
#include "httpclient.h"
#include "spawn.h"

Test(consume_metrics_cli, a_bad_address_is_a_usage_error_naming_it)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *bad[] = {"127.0.0.1:http", "192.0.2.1:9100", "[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"consume", "--brokers", "127.0.0.1:1", "--topic", "t", "--group",
                              "g", "--idle-exit", "1s", "--metrics-addr", bad[i], NULL};
        char needle[64];
        snprintf(needle, sizeof needle, "--metrics-addr: metrics address '%s'", bad[i]);
        tu_cli_expect(&c, args, 2, needle);
    }
    tu_cli_done(&c);
}

Test(consume_metrics_cli, serves_metrics_while_the_broker_is_unreachable, .timeout = 60)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *argv[] = {GOPE_BIN, "consume", "--brokers", "127.0.0.1:1", "--topic", "t",
                          "--group", "g", "--idle-exit", "30s", "--metrics-addr",
                          "127.0.0.1:0", "--out", c.out, NULL};
    pid_t pid = ts_spawn(argv, NULL, c.err);
    cr_assert_gt(pid, 0);
    char *err = ts_wait_for(c.err, "metrics on port ", 20000);
    cr_assert(err, "no 'metrics on port' on stderr");
    int port = atoi(strstr(err, "metrics on port ") + 16);
    free(err);
    int status;
    char *body = th_get(port, "/metrics", &status);
    for (int i = 0; i < 100 && status == 503; i++) { /* before the loop's first publish */
        free(body);
        ts_sleep_ms(100);
        body = th_get(port, "/metrics", &status);
    }
    cr_assert(body);
    cr_expect_eq(status, 200);
    cr_expect(strstr(body, "\ngiftope_up 1\n"), "%s", body);
    cr_expect(strstr(body, "\ngiftope_lines_read_total 0\n"), "%s", body);
    cr_expect(strstr(body, "# TYPE giftope_consumer_lag_messages gauge\n"), "%s", body);
    free(body);
    body = th_get(port, "/healthz", &status);
    cr_expect_eq(status, 200);
    free(body);
    cr_expect_eq(ts_stop(pid, 30000), 0, "SIGTERM: exit 0");
    tu_cli_done(&c);
}
