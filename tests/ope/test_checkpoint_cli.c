/*
 * test_checkpoint_cli.c — `giftope consume --checkpoint` refuses a bad
 * checkpoint before it connects (no broker needed: the broker address is
 * never reached). A corrupt file is exit 1 naming the file; a checkpoint of
 * other options is exit 2 naming the option; a bad interval is exit 2.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "clitest.h"
#include "gope_ope.h"
#include "testutil.h"

/* 127.0.0.1:9 (discard) is never a Kafka broker. */
#define CONSUME(dir, window)                                                                       \
    "consume", "--brokers", "127.0.0.1:9", "--topic", "t", "--group", "g", "--checkpoint", dir,  \
        "--window", window, "--idle-exit", "1s", "--quiet"

Test(checkpoint_cli, corrupt_checkpoint_is_exit_1_naming_the_file)
{
    tu_cli c;
    tu_cli_init(&c);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tu_cli_path(&c, "ckpt"));
    const char *mk[] = {CONSUME(dir, "1h"), NULL};
    tu_cli_expect(&c, mk, 0, NULL); /* nothing consumed: a checkpoint of the empty state */
    tu_cli_write(&c, "ckpt/state.ckpt", "GOPECKPT but not really");
    const char *args[] = {CONSUME(dir, "1h"), NULL};
    tu_cli_expect(&c, args, 1, "ckpt/state.ckpt: truncated at byte 23");
    tu_cli_done(&c);
}

Test(checkpoint_cli, other_options_are_exit_2_naming_the_option)
{
    tu_cli c;
    tu_cli_init(&c);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tu_cli_path(&c, "ckpt"));
    const char *mk[] = {CONSUME(dir, "1h"), NULL};
    tu_cli_expect(&c, mk, 0, NULL);
    const char *args[] = {CONSUME(dir, "2h"), NULL};
    tu_cli_expect(&c, args, 2, "--window 3600000 ms, this run has 7200000 ms");
    const char *bad[] = {CONSUME(dir, "1h"), "--checkpoint-interval", "soon", NULL};
    tu_cli_expect(&c, bad, 2, "--checkpoint-interval");
    tu_cli_done(&c);
}
