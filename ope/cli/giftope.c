/* giftope.c — entry point: `giftope <command> [options]`. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *about;
} commands[] = {
    {"sim", gope_cmd_sim, "simulate a policy in a world: an allocation log with exact propensities"},
    {"replay", gope_cmd_replay, "evaluate policies on allocation logs (files, zstd, stdin)"},
    {"consume", gope_cmd_consume, "evaluate policies continuously on a Kafka topic (consumer group)"},
    {"merge", gope_cmd_merge, "combine consume --partials of several instances into final windows"},
    {"truth", gope_cmd_truth, "simulator ground truth per policy: on-policy value, metrics, V_static on a log"},
    {"agree", gope_cmd_agree, "compare OPE estimates with simulator truth: verdict per policy"},
    {"validate", gope_cmd_validate, "the whole loop: sim -> replay -> truth -> agree, one command"},
    {"calibrate", gope_cmd_calibrate, "fit a world to allocation logs: a simulator for production logs"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: giftope <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].about);
    fprintf(fp, "\n`giftope <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "giftope: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
