/*
 * bench_args.h — the argument helpers the statistical bench tools share
 * (coverage_bench, bias_bench, tier_fit): `--name value` options with a
 * default, and an exit naming the tool on a library error. Benchmarks are
 * run by hand and by bench scripts, so a bad value is left to strtoul & co.
 */
#ifndef GOPE_BENCH_ARGS_H
#define GOPE_BENCH_ARGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_common.h"

/* The value after `name` in argv, or `def`. */
static inline const char *bench_arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

/* Prints "TOOL: message" and exits 1. */
static inline void bench_die(const char *tool, const gope_err *err)
{
    fprintf(stderr, "%s: %s\n", tool, err->msg);
    exit(1);
}

#endif /* GOPE_BENCH_ARGS_H */
