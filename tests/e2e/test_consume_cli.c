/*
 * test_consume_cli.c — `giftope consume` without a broker (suite consume_cli):
 * usage errors exit 2 naming the option or the librdkafka property (also a
 * topic given twice across --topic and --reward-topic, a bad --idle-timeout),
 * before any connection is tried; an unreachable broker is retried and reported on
 * stderr, and --idle-exit still ends the run cleanly with an empty summary;
 * a SIGTERM sent once that summary is in --out, while the process is still
 * closing, leaves exit status 0 (also for merge, which shares the handling).
 * The runs against a real broker are in tests/kafka/test_kafka_consume.c.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clitest.h"
#include "spawn.h"
#include "testutil.h"

#define B "127.0.0.1:1" /* nothing listens on port 1 */

Test(consume_cli, usage_errors_exit_2_naming_the_problem)
{
    tu_cli c;
    tu_cli_init(&c);
    struct {
        const char *args[18];
        const char *needle;
    } cases[] = {
        {{"consume", "--topic", "t", "--group", "g", NULL}, "--brokers is required"},
        {{"consume", "--brokers", B, "--group", "g", NULL}, "--topic is required"},
        {{"consume", "--brokers", B, "--topic", "t", NULL}, "--group is required"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "", NULL}, "--group is required"},
        {{"consume", "--brokers", B, "--topic", ",", "--group", "g", NULL}, "no topic"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "-X", "no.such.prop=1", NULL},
         "-X no.such.prop=1: No such configuration property"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "-Xfetch.wait.max.ms=abc",
          NULL},
         "fetch.wait.max.ms"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "-X", "novalue", NULL},
         "-X 'novalue': expected key=value"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "-X", "group.id=x", NULL},
         "-X group.id: reserved"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "-X",
          "enable.auto.offset.store=true", NULL},
         "reserved"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "-X", NULL}, "-X needs a value"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--idle-exit", "5x", NULL},
         "--idle-exit"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--max-events", "0", NULL},
         "--max-events"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "--window", "7x", NULL},
         "--window"},
        {{"consume", "--brokers", B, "--topic", "t", "--group", "g", "extra", NULL},
         "unexpected argument 'extra'"},
        {{"consume", "--bogus", NULL}, "unknown option"},
        {{"consume", "--brokers", B, "--topic", "a,b", "--reward-topic", "b", "--group", "g",
          NULL},
         "topic b is given twice"},
        {{"consume", "--brokers", B, "--topic", "a,a", "--group", "g", NULL},
         "topic a is given twice"},
        {{"consume", "--brokers", B, "--topic", "a", "--group", "g", "--idle-timeout", "-1s",
          NULL},
         "--idle-timeout"},
        {{"consume", "--brokers", B, "--topic", "a,b", "--group", "g", "--partials", "kafka:p",
          NULL},
         "--partials takes one --topic and at most one --reward-topic"},
        {{"consume", "--brokers", B, "--topic", "a", "--reward-topic", "r", "--group", "g",
          "--partials", "kafka:p", NULL},
         "--partials with --reward-topic needs --checkpoint"},
        {{"consume", "--brokers", B, "--topic", "a", "--reward-topic", "r", "--group", "g",
          "--partials", "kafka:p", "--checkpoint", "ck", "-X",
          "partition.assignment.strategy=cooperative-sticky", NULL},
         "needs -X partition.assignment.strategy=range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tu_cli_expect(&c, cases[i].args, 2, cases[i].needle);
    const char *help[] = {"consume", "--help", NULL};
    tu_cli_expect(&c, help, 0, NULL);
    char *out = tu_read_file(c.out, NULL);
    cr_assert(out);
    cr_expect(strstr(out, "--idle-exit") && strstr(out, "-X KEY=VALUE") &&
                  strstr(out, "--reward-topic") && strstr(out, "--idle-timeout DUR") &&
                  strstr(out, "(default: 30s)"),
              "help: %s", out);
    free(out);
    tu_cli_done(&c);
}

Test(consume_cli, unreachable_broker_is_reported_and_idle_exit_ends_the_run, .timeout = 60)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *args[] = {"consume", "--brokers", B, "--topic", "t", "--group", "g",
                          "--idle-exit", "1s", "-X", "reconnect.backoff.ms=100", NULL};
    tu_cli_expect(&c, args, 0, "Connection refused");
    cJSON *lines = tu_read_jsonl(c.out);
    cr_assert(lines);
    cr_assert_eq(cJSON_GetArraySize(lines), 1, "only the summary");
    const cJSON *s = cJSON_GetArrayItem(lines, 0);
    cr_expect_str_eq(tu_str(s, "schema"), "ope_run.v1");
    cr_expect_eq(tu_num(s, "lines_read"), 0);
    cr_expect_str_eq(tu_str(s, "kafka.stopped_by"), "idle");
    cr_expect_str_eq(tu_str(s, "kafka.group"), "g");
    cJSON_Delete(lines);
    tu_cli_done(&c);
}

/* Runs `argv` (stderr to `err`) and, from the moment `out` holds the
 * ope_run summary line, sends it SIGTERM every millisecond until it ends,
 * as a supervisor that stops a batch run on its summary does; the run is
 * over by then, so the signal must not kill the process (the Kafka tests
 * did this and, under the sanitizers' slow exit, saw death by SIGTERM).
 * @return the exit status, -1 when killed by a signal. */
static int sigterm_after_summary(const char *const *argv, const char *out, const char *err,
                                 const char *summary)
{
    pid_t pid = ts_spawn(argv, NULL, err);
    cr_assert_gt(pid, 0);
    int status = 0, terms = 0;
    for (int ms = 0; waitpid(pid, &status, WNOHANG) != pid; ms++) {
        cr_assert_lt(ms, 30000, "%s never ended", argv[1]);
        char *text = terms ? NULL : tu_read_file(out, NULL);
        if (terms || (text && strstr(text, summary))) {
            kill(pid, SIGTERM);
            terms++;
        }
        free(text);
        ts_sleep_ms(1);
    }
    cr_log_info("%s: %d SIGTERMs after the summary", argv[1], terms);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(consume_cli, sigterm_after_the_summary_leaves_exit_0, .timeout = 60)
{
    tu_cli c;
    tu_cli_init(&c);
    const char *out = tu_cli_path(&c, "consume.jsonl");
    const char *consume[] = {GOPE_BIN, "consume", "--brokers", B, "--topic", "t", "--group",
                             "g", "--idle-exit", "500ms", "-X", "reconnect.backoff.ms=100",
                             "--out", out, NULL};
    int rc = sigterm_after_summary(consume, out, c.err, "\"ope_run.v1\"");
    cr_expect_eq(rc, 0, "consume: exit %d (-1: killed)", rc);
    const char *mout = tu_cli_path(&c, "merge.jsonl");
    const char *merge[] = {GOPE_BIN, "merge", "--brokers", B, "--topic", "p",
                           "--source-partitions", "1", "--idle-exit", "500ms", "-X",
                           "reconnect.backoff.ms=100", "--out", mout, NULL};
    rc = sigterm_after_summary(merge, mout, c.err, "\"ope_merge_run.v1\"");
    cr_expect_eq(rc, 0, "merge: exit %d (-1: killed)", rc);
    tu_cli_done(&c);
}

/* Without --partials a checkpoint directory holds one instance's whole
 * state: a second instance on it stops at its start (exit 2, naming the
 * holder's pid) instead of overwriting the first one's checkpoints; once
 * the first has ended, the directory is free again. */
Test(consume_cli, a_checkpoint_dir_takes_one_instance, .timeout = 60)
{
    tu_cli c;
    tu_cli_init(&c);
    char ck[600], err_a[600];
    snprintf(ck, sizeof ck, "%s/ck", c.dir);
    snprintf(err_a, sizeof err_a, "%s/a.err", c.dir);
    const char *a[] = {GOPE_BIN, "consume", "--brokers", B, "--topic", "t", "--group", "g",
                       "--checkpoint", ck, "--idle-exit", "30s", "--quiet", NULL};
    pid_t pid = ts_spawn(a, NULL, err_a);
    cr_assert_gt(pid, 0);
    char lock[640], holder[32];
    snprintf(lock, sizeof lock, "%s/state.lock", ck);
    snprintf(holder, sizeof holder, "%d\n", (int)pid);
    for (int ms = 0;; ms += 20) { /* A holds the lock once it wrote its pid */
        char *text = tu_read_file(lock, NULL);
        bool held = text && strcmp(text, holder) == 0;
        free(text);
        if (held)
            break;
        cr_assert_lt(ms, 20000, "A never locked %s", ck);
        ts_sleep_ms(20);
    }
    char needle[800];
    snprintf(needle, sizeof needle, "--checkpoint %s is in use by another instance (pid %d)", ck,
             (int)pid);
    const char *b[] = {"consume", "--brokers", B, "--topic", "t", "--group", "g",
                       "--checkpoint", ck, "--idle-exit", "1s", "--quiet", NULL};
    tu_cli_expect(&c, b, 2, needle);
    cr_assert_eq(ts_stop(pid, 30000), 0, "A");
    tu_cli_expect(&c, b, 0, NULL);
    tu_cli_done(&c);
}
