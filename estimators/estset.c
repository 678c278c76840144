/*
 * estset.c — the estimator registry and estimator sets: parsing a spec such as
 * "snips,dr,ips_clip:lambda=50", and laying out the accumulator slices.
 *
 * A set lists its estimators in the canonical output order (the registry's
 * order), whatever the order of the spec: records then always read the same,
 * and two specs naming the same estimators give the same set. `logged` is
 * always part of a set, because every record reports the baseline. Each type
 * appears at most once, so a set is a fixed-size struct (one allocation).
 * The set also decides where each estimator's sums live in an accumulator,
 * so that a sum several of them keep (sum w, ...) is added only once.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimators_int.h"

/* Output order: the order of every record's "estimates" object. */
static const gope_estimator_ops *const registry[GOPE_EST_TYPES] = {
    &gope_est_ips,   &gope_est_ips_clip,  &gope_est_snips,
    &gope_est_dm,    &gope_est_dr,        &gope_est_sndr,
    &gope_est_switch_dr, &gope_est_dr_os, &gope_est_logged,
    &gope_est_snips_lift,
};

#define KNOWN "ips, ips_clip, snips, dm, dr, sndr, switch_dr, dr_os, logged, snips_lift"

/* The longest item (name plus ":lambda=" and a number) worth copying. */
#define ITEM_MAX 128

const gope_estimator_ops *const *gope_estimator_all(size_t *count)
{
    *count = GOPE_EST_TYPES;
    return registry;
}

static int registry_index(const char *name, size_t len)
{
    for (int i = 0; i < GOPE_EST_TYPES; i++)
        if (strlen(registry[i]->name) == len && memcmp(registry[i]->name, name, len) == 0)
            return i;
    return -1;
}

const gope_estimator_ops *gope_estimator_find(const char *name)
{
    int i = registry_index(name, strlen(name));
    return i < 0 ? NULL : registry[i];
}

/* Parses "lambda=X" (X finite, > 0) into *lambda. */
static gope_status parse_param(const char *param, size_t idx, const char *item, double *lambda,
                               gope_err *err)
{
    static const char key[] = "lambda=";
    if (strncmp(param, key, sizeof key - 1) != 0)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "estimators: item %zu \"%s\": unknown parameter (only lambda=X)",
                            idx, item);
    const char *num = param + sizeof key - 1;
    char *end;
    double x = strtod(num, &end);
    if (end == num || *end != '\0' || !isfinite(x) || !(x > 0))
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "estimators: item %zu \"%s\": lambda must be a finite number > 0",
                            idx, item);
    *lambda = x;
    return GOPE_OK;
}

/* Parses one item ("name" or "name:lambda=X", already trimmed) into chosen[]. */
static gope_status parse_item(const char *item, size_t idx, bool chosen[],
                              double lambda[], gope_err *err)
{
    const char *colon = strchr(item, ':');
    size_t name_len = colon ? (size_t)(colon - item) : strlen(item);
    int t = registry_index(item, name_len);
    if (t < 0 && name_len == 3 && memcmp(item, "all", 3) == 0)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "estimators: item %zu \"%s\": \"all\" must be the whole list", idx, item);
    if (t < 0)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "estimators: item %zu \"%s\": unknown estimator (known: " KNOWN ")",
                            idx, item);
    if (chosen[t])
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "estimators: item %zu \"%s\": %s is listed twice", idx, item,
                            registry[t]->name);
    chosen[t] = true;
    lambda[t] = registry[t]->default_lambda;
    if (!colon)
        return GOPE_OK;
    if (!registry[t]->has_lambda)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "estimators: item %zu \"%s\": %s takes no parameter "
                            "(lambda applies to ips_clip, switch_dr, dr_os)",
                            idx, item, registry[t]->name);
    return parse_param(colon + 1, idx, item, &lambda[t], err);
}

/* Narrows [*p, *p + *len) to exclude surrounding blanks. */
static void trim(const char **p, size_t *len)
{
    while (*len && isspace((unsigned char)**p))
        (*p)++, (*len)--;
    while (*len && isspace((unsigned char)(*p)[*len - 1]))
        (*len)--;
}

/* Copies item [p, p + len) without surrounding blanks into buf. */
static gope_status take_item(const char *p, size_t len, size_t idx, char buf[ITEM_MAX],
                             gope_err *err)
{
    trim(&p, &len);
    if (len == 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "estimators: item %zu is empty", idx);
    if (len >= ITEM_MAX)
        return gope_err_set(err, GOPE_ERR_USAGE, "estimators: item %zu \"%.40s...\" is too long",
                            idx, p);
    memcpy(buf, p, len);
    buf[len] = '\0';
    return GOPE_OK;
}

/* NULL, blank and "all" mean every estimator with its default lambda. */
static bool is_all(const char *spec)
{
    if (!spec)
        return true;
    size_t len = strlen(spec);
    trim(&spec, &len);
    return len == 0 || (len == 3 && memcmp(spec, "all", 3) == 0);
}

/* Marks the estimators named by `spec` in chosen[] with their lambdas. */
static gope_status parse_spec(const char *spec, bool chosen[], double lambda[], gope_err *err)
{
    if (is_all(spec)) {
        for (int t = 0; t < GOPE_EST_TYPES; t++) {
            chosen[t] = true;
            lambda[t] = registry[t]->default_lambda;
        }
        return GOPE_OK;
    }
    char item[ITEM_MAX];
    size_t idx = 1;
    for (const char *p = spec;; idx++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        gope_status st = take_item(p, len, idx, item, err);
        if (st == GOPE_OK)
            st = parse_item(item, idx, chosen, lambda, err);
        if (st != GOPE_OK)
            return st;
        if (!comma)
            return GOPE_OK;
        p = comma + 1;
    }
}

/* Places the sums of the configured estimators in an accumulator (see
 * struct gope_estset_s): a shared sum once, however many slices list it. */
static void lay_out(gope_estset_t *set)
{
    unsigned used = 1u << GOPE_SUM_W | 1u << GOPE_SUM_X; /* the diagnostics' */
    for (size_t i = 0; i < set->count; i++) {
        const gope_estimator_ops *ops = set->conf[i].ops;
        assert(ops->n_sums <= GOPE_EST_MAX_SUMS);
        for (size_t k = 0; k < ops->n_sums; k++)
            used |= ops->layout[k] == GOPE_SUM_OWN ? 0 : 1u << ops->layout[k];
    }
    uint8_t shared_at[GOPE_SUM_SHARED] = {0};
    size_t n = 0;
    for (int id = 0; id < GOPE_SUM_SHARED; id++)
        if (used >> id & 1)
            shared_at[id] = (uint8_t)n++;
    for (size_t i = 0; i < set->count; i++) {
        const gope_estimator_ops *ops = set->conf[i].ops;
        set->own[i] = n;
        for (size_t k = 0; k < ops->n_sums; k++)
            set->at[i][k] = ops->layout[k] == GOPE_SUM_OWN ? (uint8_t)n++
                                                           : shared_at[ops->layout[k]];
        set->n_saved += ops->n_sums;
        if (ops->add)
            set->adder[set->n_adders++] = (uint8_t)i;
    }
    set->shared = used;
    set->n_sums = n;
}

gope_status gope_estset_parse(const char *spec, gope_estset_t **out, gope_err *err)
{
    bool chosen[GOPE_EST_TYPES] = {false};
    double lambda[GOPE_EST_TYPES] = {0};
    *out = NULL;
    gope_status st = parse_spec(spec, chosen, lambda, err);
    if (st != GOPE_OK)
        return st;
    gope_estset_t *set = calloc(1, sizeof *set);
    if (!set)
        return gope_err_set(err, GOPE_ERR_NOMEM, "estimators: out of memory");
    chosen[registry_index("logged", strlen("logged"))] = true; /* the baseline, always */
    for (int t = 0; t < GOPE_EST_TYPES; t++)
        if (chosen[t])
            set->conf[set->count++] = (gope_estimator_conf){registry[t], lambda[t]};
    lay_out(set);
    *out = set;
    return GOPE_OK;
}

void gope_estset_free(gope_estset_t *set) { free(set); }

size_t gope_estset_count(const gope_estset_t *set) { return set->count; }

const gope_estimator_conf *gope_estset_get(const gope_estset_t *set, size_t i)
{
    return i < set->count ? &set->conf[i] : NULL;
}

/* The shortest %g form of x that reads back exactly, without an exponent
 * for whole numbers below 1e15 ("100", not "1e+02"). */
static void format_lambda(double x, char tmp[32])
{
    if (x == floor(x) && x < 1e15) {
        snprintf(tmp, 32, "%.0f", x);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, 32, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            return;
    }
}

size_t gope_estset_describe(const gope_estset_t *set, char *buf, size_t size)
{
    size_t need = 0;
    for (size_t i = 0; i < set->count; i++) {
        const gope_estimator_conf *c = &set->conf[i];
        char num[32] = "";
        if (c->ops->has_lambda)
            format_lambda(c->lambda, num);
        int k = snprintf(need < size ? buf + need : NULL, need < size ? size - need : 0,
                         "%s%s%s%s", i ? "," : "", c->ops->name,
                         c->ops->has_lambda ? ":lambda=" : "", num);
        need += k > 0 ? (size_t)k : 0;
    }
    return need;
}
