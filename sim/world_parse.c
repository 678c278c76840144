/*
 * world_parse.c — world.v1 JSON to a gope_world_conf (gope_world_parse), and
 * "a preset name or a file" (gope_world_load).
 *
 * A world file is a diff against a preset: it starts from the preset named by
 * "base" (default giftlive-v2) and changes only the fields it gives, so
 * {"users":{"count":2000}} is a complete world. That makes strictness
 * essential: a misspelt field ("wealth_sgima") would otherwise leave the
 * preset's value in force without a word, so unknown fields at any level,
 * repeated fields, wrong types and non-integral integers are all errors that
 * name the field by its JSON path and the file. The fields themselves come
 * from the table in world_conf.c (world_conf_int.h); after the fields, the
 * whole struct goes through the same range rules as a preset.
 *
 * The result is written to the caller's struct only on success.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_json.h"
#include "world_conf_int.h"

#define DEFAULT_BASE "giftlive-v2"
#define WORLD_FILE_MAX (1u << 20) /* a world file is a few KB; this stops /dev/zero */

typedef struct {
    const char *source;
    gope_err *err;
} parse_ctx;

/* "<source>: <message>" (gope_world__fail) for the file being parsed. */
#define FAIL(x, ...) gope_world__fail((x)->err, (x)->source, __VA_ARGS__)

/* Text from the file, for a message: at most 48 bytes, control bytes as '?'. */
static const char *shown(const char *s, char buf[52])
{
    size_t i = 0;
    for (; s[i] && i < 48; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    strcpy(buf + i, s[i] ? "..." : "");
    return buf;
}

/* Was `it`'s key already used earlier in `obj`? */
static bool repeated(const cJSON *obj, const cJSON *it)
{
    for (const cJSON *p = obj->child; p != it; p = p->next)
        if (strcmp(p->string, it->string) == 0)
            return true;
    return false;
}

/* The table row of group.key, or NULL. */
static const gope_world_field *find_field(const char *group, const char *key)
{
    size_t n;
    const gope_world_field *t = gope_world__fields(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].group, group) == 0 && (!key || strcmp(t[i].key, key) == 0))
            return &t[i];
    return NULL;
}

/* "unknown field "users.cuont" (users has: count, wealth_mu, ...)";
 * group NULL = the top level, whose fields are schema, name, base and the
 * groups. */
static gope_status unknown(const parse_ctx *x, const char *group, const char *key)
{
    char list[400] = "schema, name, base", name[52];
    size_t n, len;
    const gope_world_field *t = gope_world__fields(&n);
    if (group)
        list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *item = group ? t[i].key : t[i].group;
        if (group ? strcmp(t[i].group, group) != 0 : i > 0 && strcmp(t[i - 1].group, item) == 0)
            continue;
        len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", item);
    }
    return FAIL(x, "unknown field \"%s%s%s\" (%s has: %s)", group ? group : "",
                group ? "." : "", shown(key, name), group ? group : "the top level", list);
}

static gope_status parse_int(const parse_ctx *x, const gope_world_field *f, const cJSON *it,
                             const char *path, void *at)
{
    char got[32];
    if (!cJSON_IsNumber(it))
        return FAIL(x, "%s must be an integer, got %s", path, gope_json_type(it));
    const double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return FAIL(x, "%s must be an integer, got %s", path, gope_world__num(v, got));
    gope_status st = gope_world__check_int(f, v, x->source, x->err);
    if (st != GOPE_OK)
        return st;
    if (f->type == GOPE_WF_U32)
        *(uint32_t *)at = (uint32_t)v;
    else
        *(int64_t *)at = (int64_t)v;
    return GOPE_OK;
}

static gope_status parse_reals(const parse_ctx *x, const gope_world_field *f, const cJSON *it,
                               const char *path, double *at)
{
    if (f->n == 1) {
        if (!cJSON_IsNumber(it))
            return FAIL(x, "%s must be a number, got %s", path, gope_json_type(it));
        *at = it->valuedouble;
        return GOPE_OK;
    }
    if (!cJSON_IsArray(it))
        return FAIL(x, "%s must be an array of %u numbers, got %s", path, f->n, gope_json_type(it));
    const int size = cJSON_GetArraySize(it);
    if (size != (int)f->n)
        return FAIL(x, "%s must be an array of %u numbers, got %d", path, f->n, size);
    unsigned i = 0;
    for (const cJSON *e = it->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e))
            return FAIL(x, "%s[%u] must be a number, got %s", path, i, gope_json_type(e));
        at[i] = e->valuedouble;
    }
    return GOPE_OK;
}

static gope_status parse_session(const parse_ctx *x, const cJSON *it, const char *path,
                                 gope_session_mode *at)
{
    char got[52];
    if (cJSON_IsString(it)) {
        for (int m = 0; m < GOPE_WORLD_N_SESSIONS; m++) {
            if (strcmp(it->valuestring, gope_world__session_name((gope_session_mode)m)) == 0) {
                *at = (gope_session_mode)m;
                return GOPE_OK;
            }
        }
        return FAIL(x, "%s must be \"round\" or \"dwell\", got \"%s\"", path,
                    shown(it->valuestring, got));
    }
    return FAIL(x, "%s must be \"round\" or \"dwell\", got %s", path, gope_json_type(it));
}

static gope_status parse_value(const parse_ctx *x, const gope_world_field *f, const cJSON *it,
                               gope_world_conf *c)
{
    char path[80];
    void *at = (char *)c + f->offset;
    gope_world__path(f, -1, path, sizeof path);
    switch (f->type) {
    case GOPE_WF_U32:
    case GOPE_WF_I64:
        return parse_int(x, f, it, path, at);
    case GOPE_WF_REAL:
        return parse_reals(x, f, it, path, at);
    case GOPE_WF_BOOL:
        if (!cJSON_IsBool(it))
            return FAIL(x, "%s must be true or false, got %s", path, gope_json_type(it));
        *(bool *)at = cJSON_IsTrue(it);
        return GOPE_OK;
    case GOPE_WF_SESSION:
        return parse_session(x, it, path, at);
    }
    return GOPE_OK;
}

static gope_status parse_group(const parse_ctx *x, const cJSON *obj, gope_world_conf *c)
{
    const char *group = obj->string;
    if (!cJSON_IsObject(obj))
        return FAIL(x, "%s must be an object, got %s", group, gope_json_type(obj));
    for (const cJSON *it = obj->child; it; it = it->next) {
        const gope_world_field *f = find_field(group, it->string);
        if (!f)
            return unknown(x, group, it->string);
        if (repeated(obj, it))
            return FAIL(x, "%s.%s is given twice", group, it->string);
        gope_status st = parse_value(x, f, it, c);
        if (st != GOPE_OK)
            return st;
    }
    return GOPE_OK;
}

/* "schema", "base" and "name": checked before the groups, which apply on top
 * of the base. */
static gope_status parse_header(const parse_ctx *x, const cJSON *root, gope_world_conf *c)
{
    char got[52];
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (schema && !cJSON_IsString(schema))
        return FAIL(x, "schema must be \"world.v1\", got %s", gope_json_type(schema));
    if (schema && strcmp(schema->valuestring, "world.v1") != 0)
        return FAIL(x, "schema must be \"world.v1\", got \"%s\"", shown(schema->valuestring, got));
    if (base && !cJSON_IsString(base))
        return FAIL(x, "base must be a preset name, got %s", gope_json_type(base));
    gope_err perr;
    if (gope_world_preset(base ? base->valuestring : DEFAULT_BASE, c, &perr) != GOPE_OK)
        return FAIL(x, "base: %s", perr.msg);
    if (name && !cJSON_IsString(name))
        return FAIL(x, "name must be a string, got %s", gope_json_type(name));
    if (name && strlen(name->valuestring) >= sizeof c->name)
        return FAIL(x, "name must be at most %zu bytes, got %zu", sizeof c->name - 1,
                    strlen(name->valuestring));
    /* strncpy pads with NULs: no tail of the base's name stays behind, so
     * equal worlds are equal byte for byte (the round trip compares them so). */
    if (name)
        strncpy(c->name, name->valuestring, sizeof c->name);
    return GOPE_OK;
}

static gope_status parse_root(const parse_ctx *x, const cJSON *root, gope_world_conf *c)
{
    static const char *const header[] = {"schema", "base", "name"};
    gope_status st;
    if (!cJSON_IsObject(root))
        return FAIL(x, "a world.v1 document must be a JSON object, got %s", gope_json_type(root));
    for (const cJSON *it = root->child; it; it = it->next) {
        bool known = find_field(it->string, NULL) != NULL;
        for (size_t i = 0; i < sizeof header / sizeof header[0]; i++)
            known = known || strcmp(it->string, header[i]) == 0;
        if (!known)
            return unknown(x, NULL, it->string);
        if (repeated(root, it))
            return FAIL(x, "%s is given twice", it->string);
    }
    if ((st = parse_header(x, root, c)) != GOPE_OK)
        return st;
    for (const cJSON *it = root->child; it; it = it->next)
        if (find_field(it->string, NULL) && (st = parse_group(x, it, c)) != GOPE_OK)
            return st;
    return GOPE_OK;
}

gope_status gope_world_parse(const char *text, size_t len, const char *source,
                             gope_world_conf *c, gope_err *err)
{
    const parse_ctx x = {source ? source : "world", err};
    cJSON *root = NULL;
    gope_world_conf tmp;
    gope_status st = gope_json_parse(text, len, x.source, &root, err);
    if (st == GOPE_OK)
        st = parse_root(&x, root, &tmp);
    if (st == GOPE_OK)
        st = gope_world__validate(&tmp, x.source, err);
    if (st == GOPE_OK)
        memcpy(c, &tmp, sizeof tmp);
    cJSON_Delete(root);
    return st;
}

gope_status gope_world_load(const char *spec, gope_world_conf *c, gope_err *err)
{
    gope_err not_preset;
    if (gope_world_preset(spec, c, &not_preset) == GOPE_OK)
        return GOPE_OK;
    FILE *f = fopen(spec, "rb");
    if (!f)
        return gope_err_set(err, GOPE_ERR_IO, "%.200s: cannot open: %s; %s", spec,
                            strerror(errno), not_preset.msg);
    gope_status st;
    char *text = malloc(WORLD_FILE_MAX + 1);
    if (!text) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "%.200s: out of memory", spec);
        goto cleanup;
    }
    const size_t n = fread(text, 1, WORLD_FILE_MAX + 1, f);
    if (ferror(f))
        st = gope_err_set(err, GOPE_ERR_IO, "%.200s: cannot read: %s", spec, strerror(errno));
    else if (n > WORLD_FILE_MAX)
        st = gope_err_set(err, GOPE_ERR_USAGE, "%.200s: more than %u bytes: not a world file",
                          spec, WORLD_FILE_MAX);
    else
        st = gope_world_parse(text, n, spec, c, err);
cleanup:
    free(text);
    fclose(f);
    return st;
}
