/*
 * options.h — table-driven command-line options for the giftope subcommands.
 * One table row per option (name, value name, offset into the command's
 * settings struct, default, help) drives both parsing and `--help`, so the two
 * never disagree (the Fluent Bit config_map idea).
 */
#ifndef GOPE_CLI_OPTIONS_H
#define GOPE_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { GOPE_OPT_STR, GOPE_OPT_FLAG } gope_opt_type;

typedef struct {
    const char *name;   /* "--window" */
    const char *value;  /* "DUR" shown in help; NULL for flags */
    gope_opt_type type;
    size_t offset;      /* of a `const char *` or a `bool` in the settings */
    const char *def;    /* default shown in help and stored before parsing */
    const char *help;
} gope_opt;

typedef struct {
    const char *command;  /* "replay" */
    const char *synopsis; /* "[options] INPUT..." */
    const char *about;    /* one paragraph */
    const gope_opt *opts;
    size_t n_opts;
} gope_cmd_spec;

/* Parse argv (after the subcommand name) into `settings`; positional
 * arguments are collected into `pos` (argv pointers, caller array of argc).
 * "-" alone is positional; "--" ends options. --help prints help to stdout
 * and sets *help.
 * @return 0, or 2 after printing a usage message to stderr. */
int gope_opts_parse(const gope_cmd_spec *spec, int argc, char **argv, void *settings,
                    const char **pos, int *n_pos, bool *help);

void gope_opts_help(const gope_cmd_spec *spec, FILE *fp);

/*! gope_opt_u64() : `text`, the value of option `opt` of `giftope cmd`, as a
 * decimal integer in [lo, hi] into *out (digits only: no sign, blanks or
 * suffix). NULL `text` means the option was not given.
 * @return 0; or 2 after printing "giftope CMD: OPT is required (see --help)"
 *         or "giftope CMD: OPT: 'TEXT' is not an integer in [LO, HI]" to
 *         stderr (*out untouched). */
int gope_opt_u64(const char *cmd, const char *opt, const char *text, uint64_t lo, uint64_t hi,
                 uint64_t *out);

/*! gope_opts_split_x() : take the librdkafka properties out of argv (they
 * repeat, which the option table does not do): "-X KEY=VALUE" and
 * "-XKEY=VALUE" go to `props` (pointers to the KEY=VALUE text), everything
 * else to `rest`, in order; after "--" everything is rest. Both arrays need
 * room for argc entries.
 * @return 0; or 2 after printing "giftope CMD: -X needs a value (KEY=VALUE)". */
int gope_opts_split_x(const char *cmd, int argc, char **argv, const char **props,
                      size_t *n_props, char **rest, int *n_rest);

#endif /* GOPE_CLI_OPTIONS_H */
