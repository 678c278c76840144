/* options.c — parsing and help for gope_cmd_spec tables, and the checks of
 * option values the commands share (see options.h). */
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const gope_opt *find(const gope_cmd_spec *spec, const char *name, size_t len)
{
    for (size_t i = 0; i < spec->n_opts; i++)
        if (strlen(spec->opts[i].name) == len && strncmp(spec->opts[i].name, name, len) == 0)
            return &spec->opts[i];
    return NULL;
}

void gope_opts_help(const gope_cmd_spec *spec, FILE *fp)
{
    fprintf(fp, "usage: giftope %s %s\n\n%s\n\noptions:\n", spec->command, spec->synopsis,
            spec->about);
    for (size_t i = 0; i < spec->n_opts; i++) {
        const gope_opt *o = &spec->opts[i];
        char head[64];
        snprintf(head, sizeof head, "%s%s%s", o->name, o->value ? " " : "",
                 o->value ? o->value : "");
        fprintf(fp, "  %-26s %s", head, o->help);
        if (o->def)
            fprintf(fp, " (default: %s)", o->def);
        fputc('\n', fp);
    }
    fprintf(fp, "  %-26s %s\n", "--help", "show this help");
}

static void store_default(const gope_opt *o, void *settings)
{
    char *field = (char *)settings + o->offset;
    if (o->type == GOPE_OPT_FLAG)
        *(bool *)(void *)field = false;
    else
        *(const char **)(void *)field = o->def;
}

int gope_opts_parse(const gope_cmd_spec *spec, int argc, char **argv, void *settings,
                    const char **pos, int *n_pos, bool *help)
{
    *n_pos = 0;
    *help = false;
    for (size_t i = 0; i < spec->n_opts; i++)
        store_default(&spec->opts[i], settings);
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            pos[(*n_pos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            gope_opts_help(spec, stdout);
            *help = true;
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const gope_opt *o = find(spec, a, len);
        if (!o) {
            fprintf(stderr, "giftope %s: unknown option '%.*s' (see --help)\n",
                    spec->command, (int)len, a);
            return 2;
        }
        char *field = (char *)settings + o->offset;
        if (o->type == GOPE_OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "giftope %s: %s takes no value\n", spec->command, o->name);
                return 2;
            }
            *(bool *)(void *)field = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "giftope %s: %s needs a value (%s)\n", spec->command, o->name,
                    o->value);
            return 2;
        }
        *(const char **)(void *)field = val;
    }
    return 0;
}

int gope_opt_u64(const char *cmd, const char *opt, const char *text, uint64_t lo, uint64_t hi,
                 uint64_t *out)
{
    if (!text) {
        fprintf(stderr, "giftope %s: %s is required (see --help)\n", cmd, opt);
        return 2;
    }
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr,
                "giftope %s: %s: '%.200s' is not an integer in [%" PRIu64 ", %" PRIu64 "]\n",
                cmd, opt, text, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

int gope_opts_split_x(const char *cmd, int argc, char **argv, const char **props,
                      size_t *n_props, char **rest, int *n_rest)
{
    *n_props = 0;
    *n_rest = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { /* the rest is the option parser's */
            while (i < argc)
                rest[(*n_rest)++] = argv[i++];
            break;
        }
        if (strncmp(argv[i], "-X", 2) != 0) {
            rest[(*n_rest)++] = argv[i];
        } else if (argv[i][2]) {
            props[(*n_props)++] = argv[i] + 2;
        } else if (i + 1 < argc) {
            props[(*n_props)++] = argv[++i];
        } else {
            fprintf(stderr, "giftope %s: -X needs a value (KEY=VALUE)\n", cmd);
            return 2;
        }
    }
    return 0;
}
