/*
 * alloc_registry.c — from a spec string to an allocator
 * (gope_sim_allocator_new), and the pieces the stateful allocators share.
 *
 * A spec is a policy name of the set, or one of the stateful allocators
 * followed by options: "whale_matching:k=3",
 * "frequency_cap:cap=2,cooldown=300,base=softmax". The allocator names are
 * looked up first, so they are reserved: a policy of the set with one of
 * these names cannot be the logging policy (the log's logging_policy would
 * not tell the two apart anyway). Policy names cannot contain ':' (the
 * policy library allows letters, digits, '_', '.', '-'), so the first ':'
 * always ends the name.
 *
 * Options are parsed against each kind's table (alloc_int.h) into a copy of
 * its defaults, strictly: an unknown key, a key given twice, a value that
 * is not a finite number / an integer / a name, or one out of range is a
 * usage error naming the allocator and the key, because a typo silently
 * ignored would simulate a different allocator than the one meant.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_int.h"
#include "sim_int.h"

static const gope_sim__alloc_kind *const kinds[] = {
    &gope_sim__shadow_kind,
    &gope_sim__whale_kind,
    &gope_sim__freqcap_kind,
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const char *const kind_names[N_KINDS + 1] = {
    "shadow_price_online", "whale_matching", "frequency_cap", NULL,
};

const char *const *gope_sim_allocator_kinds(void) { return kind_names; }

size_t gope_sim__max_candidates(const gope_sim_world_t *w)
{
    const uint32_t k = w->conf.candidates, ns = w->n_streamers;
    return k != 0 && k < ns ? k : ns;
}

bool gope_sim__policy_index(const gope_policy_set_t *set, const char *name, size_t *index)
{
    for (size_t i = 0; i < gope_policies_count(set); i++)
        if (strcmp(gope_policy_name(set, i), name) == 0) {
            *index = i;
            return true;
        }
    return false;
}

/* ------------------------------------------------------------- subsets */

gope_status gope_sim__subset_init(gope_sim__subset *s, size_t cap)
{
    *s = (gope_sim__subset){.cap = cap};
    const size_t n = cap ? cap : 1;
    s->keep = malloc(n * sizeof *s->keep);
    s->cand = malloc(n * sizeof *s->cand);
    s->index = malloc(n * sizeof *s->index);
    s->pi = malloc(n * sizeof *s->pi);
    s->scratch = malloc(n * sizeof *s->scratch);
    return s->keep && s->cand && s->index && s->pi && s->scratch ? GOPE_OK : GOPE_ERR_NOMEM;
}

void gope_sim__subset_free(gope_sim__subset *s)
{
    free(s->keep);
    free(s->cand);
    free(s->index);
    free(s->pi);
    free(s->scratch);
    *s = (gope_sim__subset){0};
}

void gope_sim__subset_probs(gope_sim__subset *s, const gope_policy_set_t *set, size_t i,
                            const gope_event *ev, double *pi)
{
    const size_t n = ev->n_candidates;
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
        if (s->keep[j]) {
            s->cand[m] = ev->candidates[j];
            s->index[m++] = (uint32_t)j;
        }
    if (m == 0 || m == n) {
        gope_policy_probs(set, i, ev, pi, s->scratch);
        return;
    }
    gope_event sub = *ev;
    sub.candidates = s->cand;
    sub.n_candidates = m;
    sub.probs = NULL;
    gope_policy_probs(set, i, &sub, s->pi, s->scratch);
    for (size_t j = 0; j < n; j++)
        pi[j] = 0;
    for (size_t k = 0; k < m; k++)
        pi[s->index[k]] = s->pi[k];
}

/* ---------------------------------------------------------------- specs */

/* "a, b, c" of the set's policy names into buf, shortened with "..." when
 * it does not fit. */
static void policy_list(const gope_policy_set_t *set, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < gope_policies_count(set); i++) {
        const char *name = gope_policy_name(set, i);
        const size_t need = strlen(name) + (i ? 2 : 0);
        if (len + need + 4 >= size) {
            snprintf(buf + len, size - len, "%s...", i ? ", " : "");
            return;
        }
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", name);
    }
}

/* "k, cap, ..." of a kind's option keys. */
static void key_list(const gope_sim__alloc_kind *kind, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < kind->n_opts && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", kind->opts[i].key);
}

static const gope_sim__opt *find_opt(const gope_sim__alloc_kind *kind, const char *key, size_t klen)
{
    for (size_t i = 0; i < kind->n_opts; i++)
        if (strlen(kind->opts[i].key) == klen && memcmp(kind->opts[i].key, key, klen) == 0)
            return &kind->opts[i];
    return NULL;
}

/* Stores `value` (NUL-terminated) for option `o` into `conf`. */
static gope_status set_opt(const gope_sim__alloc_kind *kind, const gope_sim__opt *o,
                           const char *value, void *conf, gope_err *err)
{
    char *end;
    char *field = (char *)conf + o->offset;
    if (o->type == GOPE_SIM__OPT_NAME) {
        const size_t len = strlen(value);
        if (len == 0 || len > GOPE_SIM__NAME_MAX)
            return gope_err_set(err, GOPE_ERR_USAGE,
                                "allocator %s: %s: \"%s\" is not a policy name (1..%d bytes)",
                                kind->name, o->key, value, GOPE_SIM__NAME_MAX);
        memcpy(field, value, len + 1);
        return GOPE_OK;
    }
    errno = 0;
    const double x = o->type == GOPE_SIM__OPT_INT ? (double)strtoll(value, &end, 10)
                                                  : strtod(value, &end);
    if (*value == '\0' || isspace((unsigned char)*value) || *end != '\0' || errno == ERANGE ||
        !isfinite(x))
        return gope_err_set(err, GOPE_ERR_USAGE, "allocator %s: %s: \"%s\" is not %s", kind->name,
                            o->key, value,
                            o->type == GOPE_SIM__OPT_INT ? "an integer" : "a finite number");
    if (x < o->min || x > o->max)
        return gope_err_set(err, GOPE_ERR_USAGE, "allocator %s: %s: %s is outside [%g, %g]",
                            kind->name, o->key, value, o->min, o->max);
    if (o->type == GOPE_SIM__OPT_INT) {
        const int64_t v = strtoll(value, NULL, 10);
        memcpy(field, &v, sizeof v);
    } else {
        memcpy(field, &x, sizeof x);
    }
    return GOPE_OK;
}

/* Parses "key=value,key=value" (`opts`, NUL-terminated) into conf. */
static gope_status parse_opts(const gope_sim__alloc_kind *kind, const char *opts, void *conf,
                              gope_err *err)
{
    char value[128];
    bool seen[32] = {false};
    assert(kind->n_opts <= sizeof seen / sizeof seen[0]);
    const char *p = opts;
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq == p)
            return gope_err_set(err, GOPE_ERR_USAGE,
                                "allocator %s: \"%.*s\": expected key=value", kind->name,
                                (int)(end - p), p);
        const gope_sim__opt *o = find_opt(kind, p, (size_t)(eq - p));
        if (!o) {
            char keys[256];
            key_list(kind, keys, sizeof keys);
            return gope_err_set(err, GOPE_ERR_USAGE,
                                "allocator %s: %.*s: unknown key (known: %s)", kind->name,
                                (int)(eq - p), p, keys);
        }
        const size_t oi = (size_t)(o - kind->opts);
        if (seen[oi])
            return gope_err_set(err, GOPE_ERR_USAGE, "allocator %s: %s: given twice",
                                kind->name, o->key);
        seen[oi] = true;
        const size_t vlen = (size_t)(end - eq - 1);
        if (vlen >= sizeof value)
            return gope_err_set(err, GOPE_ERR_USAGE, "allocator %s: %s: value too long",
                                kind->name, o->key);
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        gope_status st = set_opt(kind, o, value, conf, err);
        if (st != GOPE_OK)
            return st;
        if (*end == '\0')
            return GOPE_OK;
        p = end + 1;
    }
}

gope_status gope_sim_allocator_new(const char *spec, const gope_policy_set_t *set,
                                   const gope_sim_world_t *w, gope_sim_allocator *out,
                                   gope_err *err)
{
    *out = (gope_sim_allocator){0};
    const char *colon = strchr(spec, ':');
    const size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t k = 0; k < N_KINDS; k++) {
        const gope_sim__alloc_kind *kind = kinds[k];
        if (strlen(kind->name) != nlen || memcmp(kind->name, spec, nlen) != 0)
            continue;
        alignas(max_align_t) unsigned char conf[GOPE_SIM__CONF_MAX];
        memcpy(conf, kind->defaults, kind->conf_size);
        if (colon) {
            gope_status st = parse_opts(kind, colon + 1, conf, err);
            if (st != GOPE_OK)
                return st;
        }
        return kind->create(conf, set, w, out, err);
    }
    size_t index;
    char name[GOPE_SIM__NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)nlen, spec);
    if (nlen <= GOPE_SIM__NAME_MAX && gope_sim__policy_index(set, name, &index)) {
        if (colon)
            return gope_err_set(err, GOPE_ERR_USAGE,
                                "policy %s: takes no options (\"%s\"); options are for the "
                                "allocators %s, %s, %s",
                                name, colon + 1, kind_names[0], kind_names[1], kind_names[2]);
        return gope_sim_policy_allocator(set, index, out, err);
    }
    char names[300];
    policy_list(set, names, sizeof names);
    return gope_err_set(err, GOPE_ERR_USAGE,
                        "unknown policy or allocator \"%.*s\" (policies: %s; allocators: %s, %s, %s)",
                        (int)(nlen > 64 ? 64 : nlen), spec, names, kind_names[0], kind_names[1],
                        kind_names[2]);
}
