/*
 * policy_set.c — the policy set's lifecycle: load from a file, accessors, free.
 *
 * Parsing lives in policy_parse.c and evaluation in policy_score.c; this file
 * only reads bytes and hands them over. A policies file is small
 * configuration, so it is read whole (capped, so a wrong path such as a log
 * file or /dev/zero fails fast instead of filling memory).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define POLICIES_FILE_MAX (16u * 1024u * 1024u)

/* Reads all of `f` into a fresh buffer (*out, *len). */
static gope_status read_all(FILE *f, const char *path, char **out, size_t *len,
                            gope_err *err)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    gope_status st = GOPE_OK;
    if (!buf)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f)) {
            st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n < cap)
            break;
        if (cap >= POLICIES_FILE_MAX) {
            st = gope_err_set(err, GOPE_ERR_USAGE, "%s: %u bytes or more: too large for a policies file",
                              path, POLICIES_FILE_MAX);
            goto cleanup;
        }
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
            goto cleanup;
        }
        buf = grown;
        cap *= 2;
    }
    *out = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    return st;
}

gope_status gope_policies_load(const char *path, gope_policy_set_t **out, gope_err *err)
{
    char *text = NULL;
    size_t len = 0;
    gope_status st;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    st = read_all(f, path, &text, &len, err);
    if (st == GOPE_OK)
        st = gope_policies_parse(text, len, path, out, err);
    free(text);
    fclose(f);
    return st;
}

void gope_policies_free(gope_policy_set_t *set)
{
    free(set);
}

size_t gope_policies_count(const gope_policy_set_t *set)
{
    return set->n;
}

const char *gope_policy_name(const gope_policy_set_t *set, size_t i)
{
    assert(i < set->n);
    return set->policies[i].name;
}
