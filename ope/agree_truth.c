/*
 * agree_truth.c — the truth file (schemas/truth.v1.schema.json): what the
 * simulator knows about every policy, as written by `giftope truth`.
 *
 * One truth.v1 line per policy, exactly one of them the logging policy's
 * ("logging":true), then a truth_run.v1 line describing the run. Only what
 * agreement needs is kept: V_online's mean and CI, V_static, and the run's
 * world, seeds, decisions and log. The per-metric block ("metrics") is not
 * read. The file is small (a line per policy), so the policies sit in one
 * array searched linearly.
 *
 * A missing logging line is a usage error rather than an input fault: the
 * file may be well-formed, but it is not a truth file that agreement can
 * use (no baseline, so no lift).
 */
#include "agree_int.h"

#include <stdlib.h>
#include <string.h>

struct gope_truth_s {
    gope_truth_policy *pol;
    size_t n, cap;
    size_t logging;        /* index of the logging policy, when have_logging */
    bool have_logging, have_run;
    gope_truth_meta meta;  /* world and log are owned */
};

static char *dup_str(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    return d ? memcpy(d, s, len) : NULL;
}

void gope_truth_free(gope_truth_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free((char *)t->pol[i].policy);
    free(t->pol);
    free((char *)t->meta.world);
    free((char *)t->meta.log);
    free(t);
}

const gope_truth_policy *gope_truth_find(const gope_truth_t *t, const char *policy)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->pol[i].policy, policy) == 0)
            return &t->pol[i];
    return NULL;
}

const gope_truth_policy *gope_truth_logging(const gope_truth_t *t) { return &t->pol[t->logging]; }

const gope_truth_meta *gope_truth_meta_get(const gope_truth_t *t) { return &t->meta; }

static gope_status nomem(gope_err *err)
{
    return gope_err_set(err, GOPE_ERR_NOMEM, "truth: out of memory");
}

/* Replaces an owned string of the meta with a copy of `s` (NULL clears). */
static gope_status set_meta_str(const char **field, const char *s, gope_err *err)
{
    char *d = NULL;
    if (s && !(d = dup_str(s)))
        return nomem(err);
    free((char *)*field);
    *field = d;
    return GOPE_OK;
}

/* world, seeds and decisions where the line has them (optional). */
static gope_status read_meta(gope_truth_t *t, const gope_jpos *at, const cJSON *root,
                             gope_err *err)
{
    const char *world;
    int64_t v;
    gope_status st;
    if (cJSON_GetObjectItemCaseSensitive(root, "world") &&
        ((st = gope_jstr(at, root, NULL, "world", &world, err)) ||
         (st = set_meta_str(&t->meta.world, world, err))))
        return st;
    if (cJSON_GetObjectItemCaseSensitive(root, "seeds")) {
        if ((st = gope_jint(at, root, NULL, "seeds", 0, &v, err)))
            return st;
        t->meta.seeds = (uint64_t)v;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "decisions")) {
        if ((st = gope_jint(at, root, NULL, "decisions", 0, &v, err)))
            return st;
        t->meta.decisions = (uint64_t)v;
    }
    return GOPE_OK;
}

/* v_online {mean, ci_low, ci_high, n} and v_static {value, n} or null. */
static gope_status read_values(const gope_jpos *at, const cJSON *root, gope_truth_policy *p,
                               gope_err *err)
{
    const cJSON *on, *stat;
    bool ok, lo_ok, hi_ok;
    int64_t n;
    gope_status st;
    if ((st = gope_jobj(at, root, NULL, "v_online", true, false, &on, err)) ||
        (st = gope_jnum(at, on, "v_online", "mean", true, &p->online_mean, &ok, err)) ||
        (st = gope_jnum(at, on, "v_online", "ci_low", false, &p->online_ci_low, &lo_ok, err)) ||
        (st = gope_jnum(at, on, "v_online", "ci_high", false, &p->online_ci_high, &hi_ok, err)) ||
        (st = gope_jint(at, on, "v_online", "n", 1, &n, err)) ||
        (st = gope_jobj(at, root, NULL, "v_static", false, true, &stat, err)))
        return st;
    p->online_ci_ok = lo_ok && hi_ok;
    p->online_n = (uint64_t)n;
    if (stat && (st = gope_jnum(at, stat, "v_static", "value", true, &p->v_static,
                                &p->v_static_ok, err)))
        return st;
    return GOPE_OK;
}

/* One truth.v1 line. */
static gope_status read_policy(gope_truth_t *t, const gope_jpos *at, const cJSON *root,
                               gope_err *err)
{
    gope_truth_policy p = {0};
    const char *name;
    const cJSON *logging = cJSON_GetObjectItemCaseSensitive(root, "logging");
    gope_status st;
    if ((st = gope_jstr(at, root, NULL, "policy", &name, err)))
        return st;
    if (!cJSON_IsBool(logging))
        return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: logging: expected a boolean",
                            at->source, (unsigned long long)at->lineno);
    if (gope_truth_find(t, name))
        return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: policy \"%s\" appears twice",
                            at->source, (unsigned long long)at->lineno, name);
    p.logging = cJSON_IsTrue(logging);
    if (p.logging && t->have_logging)
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s:%llu: a second logging policy (\"%s\"; \"%s\" is already "
                            "the logging policy)",
                            at->source, (unsigned long long)at->lineno, name,
                            t->pol[t->logging].policy);
    if ((st = read_values(at, root, &p, err)) || (!t->n && (st = read_meta(t, at, root, err))))
        return st;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        gope_truth_policy *grown = realloc(t->pol, cap * sizeof *grown);
        if (!grown)
            return nomem(err);
        t->pol = grown;
        t->cap = cap;
    }
    if (!(p.policy = dup_str(name)))
        return nomem(err);
    if (p.logging) {
        t->logging = t->n;
        t->have_logging = true;
    }
    t->pol[t->n++] = p;
    return GOPE_OK;
}

/* The truth_run.v1 line: must name the logging policy of the truth.v1 lines. */
static gope_status read_run(gope_truth_t *t, const gope_jpos *at, const cJSON *root,
                            gope_err *err)
{
    const char *name;
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(root, "log");
    gope_status st;
    if ((st = gope_jstr(at, root, NULL, "logging_policy", &name, err)))
        return st;
    if (!t->have_logging || strcmp(name, t->pol[t->logging].policy) != 0)
        return gope_err_set(err, GOPE_ERR_INPUT,
                            "%s:%llu: logging_policy \"%s\" is not the policy of the "
                            "\"logging\":true line (%s)",
                            at->source, (unsigned long long)at->lineno, name,
                            t->have_logging ? t->pol[t->logging].policy : "none");
    if (log && !cJSON_IsNull(log) && !cJSON_IsString(log))
        return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: log: expected a string or null",
                            at->source, (unsigned long long)at->lineno);
    if ((st = read_meta(t, at, root, err)) ||
        (st = set_meta_str(&t->meta.log, cJSON_IsString(log) ? log->valuestring : NULL, err)))
        return st;
    t->have_run = true;
    return GOPE_OK;
}

static gope_status read_line(gope_truth_t *t, const gope_jpos *at, const gope_line *line,
                             gope_err *err)
{
    cJSON *root;
    const char *schema;
    if (line->too_long)
        return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: line longer than %u bytes",
                            at->source, (unsigned long long)at->lineno, GOPE_MAX_LINE);
    gope_status st = gope_jline_parse(at, line->data, line->len, &root, err);
    if (st || !root)
        return st;
    if ((st = gope_jschema(at, root, &schema, err)))
        goto cleanup;
    if (t->have_run)
        st = gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: a line after the truth_run.v1 line",
                          at->source, (unsigned long long)at->lineno);
    else if (strcmp(schema, "truth.v1") == 0)
        st = read_policy(t, at, root, err);
    else if (strcmp(schema, "truth_run.v1") == 0)
        st = read_run(t, at, root, err);
    else
        st = gope_err_set(err, GOPE_ERR_INPUT,
                          "%s:%llu: schema \"%s\" is not truth.v1 or truth_run.v1", at->source,
                          (unsigned long long)at->lineno, schema);
cleanup:
    cJSON_Delete(root);
    return st;
}

gope_status gope_truth_load(const char *path, gope_truth_t **out, gope_err *err)
{
    gope_source_t *src = NULL;
    gope_line line;
    *out = NULL;
    gope_truth_t *t = calloc(1, sizeof *t);
    if (!t)
        return nomem(err);
    gope_status st = gope_source_open(path, &src, err);
    while (st == GOPE_OK && (st = gope_source_next(src, &line, err)) == GOPE_OK) {
        const gope_jpos at = {gope_source_name(src), line.lineno};
        st = read_line(t, &at, &line, err);
    }
    if (st == GOPE_EOF && !t->have_logging)
        st = gope_err_set(err, GOPE_ERR_USAGE,
                          "%s: no truth.v1 line has \"logging\":true (the logging policy's "
                          "truth is needed as the baseline)",
                          path);
    else if (st == GOPE_EOF)
        st = GOPE_OK;
    gope_source_close(src);
    if (st != GOPE_OK) {
        gope_truth_free(t);
        return st;
    }
    *out = t;
    return GOPE_OK;
}
