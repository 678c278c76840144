/*
 * agree_read.c — reading the JSON lines that agreement consumes: replay's
 * ope_metrics.v1 records and the truth file.
 *
 * Both are small (one line per window x policy, one per policy), so cJSON's
 * tree is the simple choice. The helpers check each field's type and name the
 * file, line and dotted field path in every message ("run.jsonl:3:
 * estimates.snips.value: expected a number or null, got string"), which is
 * what a user needs to fix a hand-edited or truncated file.
 */
#include "agree_int.h"
#include "gope_json.h"

#include <math.h>
#include <string.h>

/* 2^53: the largest range of integers a double holds exactly. */
#define JSON_INT_MAX 9007199254740992.0

static gope_status field_err(const gope_jpos *at, const char *path, const char *key,
                             const char *want, const cJSON *got, gope_err *err)
{
    return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: %s%s%s: expected %s, got %s", at->source,
                        (unsigned long long)at->lineno, path ? path : "", path ? "." : "", key,
                        want, gope_json_type(got));
}

gope_status gope_jline_parse(const gope_jpos *at, const char *line, size_t len, cJSON **root,
                             gope_err *err)
{
    *root = NULL;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return GOPE_OK;
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: not a JSON object", at->source,
                            (unsigned long long)at->lineno);
    }
    *root = j;
    return GOPE_OK;
}

gope_status gope_jnum(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      bool required, double *v, bool *ok, gope_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    *v = 0;
    *ok = false;
    if (cJSON_IsNumber(j)) {
        *v = j->valuedouble;
        *ok = true;
        return GOPE_OK;
    }
    if (!required && (!j || cJSON_IsNull(j)))
        return GOPE_OK;
    return field_err(at, path, key, required ? "a number" : "a number or null", j, err);
}

gope_status gope_jint(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      int64_t min, int64_t *v, gope_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    double x = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(x == floor(x) && x >= (double)min && fabs(x) <= JSON_INT_MAX)) {
        char want[64];
        snprintf(want, sizeof want, "an integer >= %lld", (long long)min);
        if (cJSON_IsNumber(j))
            return gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: %s%s%s: expected %s, got %.17g",
                                at->source, (unsigned long long)at->lineno, path ? path : "",
                                path ? "." : "", key, want, x);
        return field_err(at, path, key, want, j, err);
    }
    *v = (int64_t)x;
    return GOPE_OK;
}

gope_status gope_jstr(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      const char **s, gope_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(j))
        return field_err(at, path, key, "a string", j, err);
    *s = j->valuestring;
    return GOPE_OK;
}

gope_status gope_jobj(const gope_jpos *at, const cJSON *obj, const char *path, const char *key,
                      bool required, bool nullable, const cJSON **out, gope_err *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (cJSON_IsObject(j)) {
        *out = j;
        return GOPE_OK;
    }
    if ((!j && !required) || (cJSON_IsNull(j) && nullable))
        return GOPE_OK;
    return field_err(at, path, key, nullable ? "an object or null" : "an object", j, err);
}

gope_status gope_jschema(const gope_jpos *at, const cJSON *root, const char **schema,
                         gope_err *err)
{
    return gope_jstr(at, root, NULL, "schema", schema, err);
}

/* estimates.<name>: value, ci_low, ci_high (each a number or null); an
 * estimator the run did not configure is absent and undefined. */
static gope_status read_est(const gope_jpos *at, const cJSON *ests, const char *name,
                            gope_agree_est *e, gope_err *err)
{
    char path[64];
    const cJSON *o;
    bool lo_ok, hi_ok;
    *e = (gope_agree_est){0};
    snprintf(path, sizeof path, "estimates.%s", name);
    gope_status st = gope_jobj(at, ests, "estimates", name, false, false, &o, err);
    if (st || !o)
        return st;
    if ((st = gope_jnum(at, o, path, "value", false, &e->value, &e->value_ok, err)) ||
        (st = gope_jnum(at, o, path, "ci_low", false, &e->ci_low, &lo_ok, err)) ||
        (st = gope_jnum(at, o, path, "ci_high", false, &e->ci_high, &hi_ok, err)))
        return st;
    e->ci_ok = e->value_ok && lo_ok && hi_ok;
    return GOPE_OK;
}

gope_status gope_agree_read_record(const gope_jpos *at, const cJSON *root, gope_agree_ope *ope,
                                   gope_err *err)
{
    const cJSON *win, *ests, *diag;
    int64_t n;
    gope_status st;
    *ope = (gope_agree_ope){0};
    if ((st = gope_jobj(at, root, NULL, "window", true, false, &win, err)) ||
        (st = gope_jint(at, win, "window", "start", INT64_MIN, &ope->start, err)) ||
        (st = gope_jint(at, win, "window", "end", INT64_MIN, &ope->end, err)) ||
        (st = gope_jstr(at, root, NULL, "policy", &ope->policy, err)) ||
        (st = gope_jint(at, root, NULL, "n", 0, &n, err)) ||
        (st = gope_jobj(at, root, NULL, "estimates", true, false, &ests, err)) ||
        (st = read_est(at, ests, "snips", &ope->snips, err)) ||
        (st = read_est(at, ests, "dr", &ope->dr, err)) ||
        (st = read_est(at, ests, "snips_lift", &ope->lift, err)) ||
        (st = gope_jobj(at, root, NULL, "diagnostics", true, false, &diag, err)) ||
        (st = gope_jnum(at, diag, "diagnostics", "ess", false, &ope->ess, &ope->ess_ok, err)))
        return st;
    ope->n = (uint64_t)n;
    return GOPE_OK;
}
