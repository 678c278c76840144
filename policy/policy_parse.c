/*
 * policy_parse.c — the policies.v1 parser (schemas/policies.v1.schema.json).
 *
 * A policies file is configuration a person edits, so the parser is strict
 * and specific: unknown keys (typos such as "temprature"), duplicate keys, and
 * parameters that do not apply to the chosen selection rule are errors, never
 * silently ignored, and every message names the source, the policy (its name,
 * or its 1-based index while the name is unknown) and the field:
 *   policies.json: policy "ucb" (#2): temperature: must be > 0
 *
 * The keys are driven by one table (field_specs): its type and range per key,
 * the selection rules it applies to, and the rules it is required for. The
 * parser turns each policy into the flat gope_policy of policy_int.h,
 * resolving at parse time everything the hot path would otherwise re-decide
 * per event (e.g. which shadow-price source is active).
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gope_json.h"
#include "policy_int.h"

#define SEL_BIT(s) (1u << (s))
#define SEL_ALL (SEL_BIT(GOPE_SEL_COUNT) - 1u)
/* Score parameters: meaningless for "uniform", which ignores the score. */
#define SEL_SCORED (SEL_ALL & ~SEL_BIT(GOPE_SEL_UNIFORM))
#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: integers a double holds */

static const char *const select_names[GOPE_SEL_COUNT] = {
    [GOPE_SEL_GREEDY] = "greedy",
    [GOPE_SEL_SOFTMAX] = "softmax",
    [GOPE_SEL_EPSILON_GREEDY] = "epsilon_greedy",
    [GOPE_SEL_UNIFORM] = "uniform",
};

typedef enum {
    F_NAME,        /* handled before the other keys: it labels messages */
    F_SELECT,      /* idem: it decides which parameters apply */
    F_DESCRIPTION, /* free text, ignored */
    F_REAL,        /* any finite number */
    F_NONNEG,      /* finite, >= 0 */
    F_POSITIVE,    /* finite, > 0 */
    F_UNIT,        /* finite, in [0, 1] */
    F_COUNT,       /* integer in [0, 2^53] */
    F_LAMBDA,      /* "log" or {constraint: price} */
} field_kind;

typedef struct {
    const char *key;
    field_kind kind;
    size_t offset;     /* of the double (int64_t for F_COUNT) in gope_policy */
    unsigned applies;  /* SEL_BIT()s of the rules that accept the key */
    unsigned required; /* SEL_BIT()s of the rules that need the key */
} field_spec;

static const field_spec field_specs[] = {
    {"name", F_NAME, 0, SEL_ALL, SEL_ALL},
    {"select", F_SELECT, 0, SEL_ALL, SEL_ALL},
    {"description", F_DESCRIPTION, 0, SEL_ALL, 0},
    {"beta", F_REAL, offsetof(gope_policy, beta), SEL_SCORED, 0},
    {"crowding_alpha", F_NONNEG, offsetof(gope_policy, crowding_alpha), SEL_SCORED, 0},
    {"crowding_threshold", F_REAL, offsetof(gope_policy, crowding_threshold), SEL_SCORED, 0},
    {"coldstart_bonus", F_REAL, offsetof(gope_policy, coldstart_bonus), SEL_SCORED, 0},
    {"lambda", F_LAMBDA, 0, SEL_SCORED, 0},
    {"whale_k", F_COUNT, offsetof(gope_policy, whale_k), SEL_SCORED, 0},
    {"temperature", F_POSITIVE, offsetof(gope_policy, temperature),
     SEL_BIT(GOPE_SEL_SOFTMAX), SEL_BIT(GOPE_SEL_SOFTMAX)},
    {"epsilon", F_UNIT, offsetof(gope_policy, epsilon),
     SEL_BIT(GOPE_SEL_EPSILON_GREEDY), SEL_BIT(GOPE_SEL_EPSILON_GREEDY)},
};
#define N_FIELDS (sizeof field_specs / sizeof field_specs[0])

/* Who is being parsed, for error messages. */
typedef struct {
    const char *source;
    size_t index;     /* 1-based position in the array */
    const char *name; /* the validated name, NULL until known */
    gope_err *err;
} parse_ctx;

/* "source: policy "x" (#2): field: what" (the field is optional). */
static gope_status fail(const parse_ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static gope_status fail(const parse_ctx *c, const char *field, const char *fmt, ...)
{
    char what[256], label[GOPE_POLICY_NAME_MAX + 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->name)
        snprintf(label, sizeof label, "policy \"%s\" (#%zu)", c->name, c->index);
    else
        snprintf(label, sizeof label, "policy #%zu", c->index);
    return gope_err_set(c->err, GOPE_ERR_USAGE, "%s: %s: %s%s%s", c->source, label,
                        field ? field : "", field ? ": " : "", what);
}

/* Untrusted text quoted in a message: at most 64 bytes, control bytes as '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

/* Levenshtein distance, capped: only used to suggest a key for a typo. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[GOPE_POLICY_NAME_MAX + 1];
    if (la > GOPE_POLICY_NAME_MAX || lb > GOPE_POLICY_NAME_MAX)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static gope_status unknown_key(const parse_ctx *c, const char *key)
{
    char shown[GOPE_POLICY_NAME_MAX + 1];
    const char *near = NULL;
    for (size_t i = 0; i < N_FIELDS && !near; i++)
        if (edit_distance(key, field_specs[i].key) <= 2)
            near = field_specs[i].key;
    printable(key, shown, sizeof shown);
    if (near)
        return fail(c, shown, "unknown key (did you mean \"%s\"?)", near);
    return fail(c, shown, "unknown key");
}

static const field_spec *find_spec(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(field_specs[i].key, key) == 0)
            return &field_specs[i];
    return NULL;
}

/* True when a sibling before `item` in `parent` has the same key. */
static int repeated_key(const cJSON *parent, const cJSON *item)
{
    for (const cJSON *p = parent->child; p != item; p = p->next)
        if (strcmp(p->string, item->string) == 0)
            return 1;
    return 0;
}

/* [A-Za-z0-9_.-], spelled out: isalnum() would depend on the locale. */
static int name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

static gope_status parse_name(const cJSON *obj, parse_ctx *c, gope_policy *p)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!it)
        return fail(c, "name", "missing");
    if (!cJSON_IsString(it))
        return fail(c, "name", "must be a string");
    size_t len = strlen(it->valuestring);
    if (len == 0)
        return fail(c, "name", "must not be empty");
    if (len > GOPE_POLICY_NAME_MAX)
        return fail(c, "name", "longer than %d bytes", GOPE_POLICY_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!name_char(it->valuestring[i]))
            return fail(c, "name", "only letters, digits, '_', '.' and '-' are allowed");
    memcpy(p->name, it->valuestring, len + 1);
    c->name = p->name;
    return GOPE_OK;
}

static gope_status parse_select(const cJSON *obj, const parse_ctx *c, gope_policy *p)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "select");
    char shown[GOPE_POLICY_NAME_MAX + 1];
    if (!it)
        return fail(c, "select", "missing");
    if (!cJSON_IsString(it))
        return fail(c, "select", "must be a string");
    for (int s = 0; s < GOPE_SEL_COUNT; s++) {
        if (strcmp(it->valuestring, select_names[s]) == 0) {
            p->select = (gope_select)s;
            return GOPE_OK;
        }
    }
    return fail(c, "select",
                "unknown rule \"%s\" (expected greedy, softmax, epsilon_greedy or uniform)",
                printable(it->valuestring, shown, sizeof shown));
}

/* A finite number of the range `kind` demands. */
static gope_status parse_number(const cJSON *it, const parse_ctx *c, const char *field,
                                field_kind kind, double *out)
{
    if (!cJSON_IsNumber(it))
        return fail(c, field, "must be a number");
    double v = it->valuedouble;
    if (!isfinite(v))
        return fail(c, field, "must be a finite number");
    if (kind == F_NONNEG && !(v >= 0))
        return fail(c, field, "must be >= 0");
    if (kind == F_POSITIVE && !(v > 0))
        return fail(c, field, "must be > 0");
    if (kind == F_UNIT && !(v >= 0 && v <= 1))
        return fail(c, field, "must be in [0, 1]");
    if (kind == F_COUNT && !(v >= 0 && v <= MAX_EXACT_INT && v == floor(v)))
        return fail(c, field, "must be an integer >= 0");
    *out = v;
    return GOPE_OK;
}

static gope_status parse_price(const cJSON *obj, const cJSON *it, const parse_ctx *c,
                               gope_policy *p)
{
    char field[GOPE_POLICY_NAME_MAX + 8], shown[GOPE_POLICY_NAME_MAX + 1];
    for (int k = 0; k < GOPE_C_COUNT; k++) {
        const char *cname = gope_constraint_name((gope_constraint)k);
        if (strcmp(it->string, cname) != 0)
            continue;
        if (repeated_key(obj, it))
            return fail(c, "lambda", "duplicate constraint \"%s\"", cname);
        snprintf(field, sizeof field, "lambda.%s", cname);
        return parse_number(it, c, field, F_REAL, &p->lambda[k]);
    }
    return fail(c, "lambda",
                "unknown constraint \"%s\" (known: capacity, coldstart, head, whale)",
                printable(it->string, shown, sizeof shown));
}

/* "lambda": "log", or an object of prices; all-zero prices mean no term. */
static gope_status parse_lambda(const cJSON *it, const parse_ctx *c, gope_policy *p)
{
    if (cJSON_IsString(it) && strcmp(it->valuestring, "log") == 0) {
        p->lambda_mode = GOPE_LAMBDA_LOG;
        return GOPE_OK;
    }
    if (!cJSON_IsObject(it))
        return fail(c, "lambda", "must be \"log\" or an object {constraint: price}");
    for (const cJSON *e = it->child; e; e = e->next) {
        gope_status st = parse_price(it, e, c, p);
        if (st != GOPE_OK)
            return st;
    }
    for (int k = 0; k < GOPE_C_COUNT; k++)
        if (p->lambda[k] != 0)
            p->lambda_mode = GOPE_LAMBDA_FIXED;
    return GOPE_OK;
}

/* One key of a policy object, its selection rule already known. */
static gope_status parse_field(const cJSON *obj, const cJSON *it, const parse_ctx *c,
                               gope_policy *p)
{
    const field_spec *f = find_spec(it->string);
    if (!f)
        return unknown_key(c, it->string);
    if (repeated_key(obj, it))
        return fail(c, f->key, "duplicate key");
    if (!(f->applies & SEL_BIT(p->select)))
        return fail(c, f->key, "does not apply to select \"%s\"", select_names[p->select]);
    char *at = (char *)p + f->offset;
    double v = 0;
    gope_status st;
    switch (f->kind) {
    case F_NAME:
    case F_SELECT:
        return GOPE_OK;
    case F_DESCRIPTION:
        return cJSON_IsString(it) ? GOPE_OK : fail(c, f->key, "must be a string");
    case F_LAMBDA:
        return parse_lambda(it, c, p);
    case F_COUNT:
        st = parse_number(it, c, f->key, f->kind, &v);
        if (st == GOPE_OK)
            *(int64_t *)(void *)at = (int64_t)v;
        return st;
    default:
        return parse_number(it, c, f->key, f->kind, (double *)(void *)at);
    }
}

static void policy_defaults(gope_policy *p)
{
    memset(p, 0, sizeof *p);
    p->select = GOPE_SEL_GREEDY;
    p->crowding_threshold = 1.0;
    p->whale_k = 1;
    p->lambda_mode = GOPE_LAMBDA_NONE;
}

static gope_status parse_policy(const cJSON *obj, parse_ctx *c, gope_policy *p)
{
    gope_status st;
    policy_defaults(p);
    if (!cJSON_IsObject(obj))
        return fail(c, NULL, "must be a JSON object");
    if ((st = parse_name(obj, c, p)) != GOPE_OK || (st = parse_select(obj, c, p)) != GOPE_OK)
        return st;
    for (const cJSON *it = obj->child; it; it = it->next)
        if ((st = parse_field(obj, it, c, p)) != GOPE_OK)
            return st;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field_spec *f = &field_specs[i];
        if ((f->required & SEL_BIT(p->select)) &&
            !cJSON_GetObjectItemCaseSensitive(obj, f->key))
            return fail(c, f->key, "missing (required for select \"%s\")",
                        select_names[p->select]);
    }
    return GOPE_OK;
}

/* Checks the array's shape, then parses each policy into `set`. */
static gope_status parse_array(const cJSON *root, const char *source,
                               gope_policy_set_t **out, gope_err *err)
{
    if (!cJSON_IsArray(root))
        return gope_err_set(err, GOPE_ERR_USAGE, "%s: expected a JSON array of policies",
                            source);
    int n = cJSON_GetArraySize(root);
    if (n == 0)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "%s: empty array: at least one policy is required", source);
    if (n > GOPE_POLICIES_MAX)
        return gope_err_set(err, GOPE_ERR_USAGE, "%s: %d policies: at most %d are allowed",
                            source, n, GOPE_POLICIES_MAX);
    gope_policy_set_t *set = malloc(sizeof *set + (size_t)n * sizeof set->policies[0]);
    if (!set)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", source);
    gope_status st = GOPE_OK;
    set->n = 0;
    for (const cJSON *obj = root->child; obj && st == GOPE_OK; obj = obj->next) {
        parse_ctx c = {source, set->n + 1, NULL, err};
        gope_policy *p = &set->policies[set->n];
        st = parse_policy(obj, &c, p);
        for (size_t j = 0; j < set->n && st == GOPE_OK; j++)
            if (strcmp(set->policies[j].name, p->name) == 0)
                st = fail(&c, "name", "duplicate of policy #%zu", j + 1);
        set->n++;
    }
    if (st != GOPE_OK) {
        free(set);
        return st;
    }
    *out = set;
    return GOPE_OK;
}

gope_status gope_policies_parse(const char *text, size_t len, const char *source,
                                gope_policy_set_t **out, gope_err *err)
{
    cJSON *root = NULL;
    *out = NULL;
    if (!source)
        source = "policies";
    gope_status st = gope_json_parse(text, len, source, &root, err);
    if (st == GOPE_OK)
        st = parse_array(root, source, out, err);
    cJSON_Delete(root);
    return st;
}
