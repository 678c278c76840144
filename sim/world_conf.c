/*
 * world_conf.c — the world.v1 field table, the range rules of a world
 * configuration (gope_world_validate) and its JSON form (gope_world_json).
 *
 * The table below is the single list of world.v1 fields: world_parse.c reads
 * JSON through it, gope_world_json writes through it, and validation checks
 * each row's own rule (finite, > 0, [0, 1], integer range) through it, so the
 * three cannot drift apart. What a row cannot say — rules between fields —
 * is check_cross(), written out once.
 *
 * Messages name the field by its JSON path ("users.count", "amount.tiers[3]")
 * because that is what a person edits, and show the offending value in the
 * shortest form that reads back exactly (so "got 1" never hides
 * 1.0000000000000002).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world_conf_int.h"

#define M(field) offsetof(gope_world_conf, field)
#define NREAL(field) ((unsigned)(sizeof((gope_world_conf *)0)->field / sizeof(double)))
#define U32(g, k, field, lo, hi) {g, k, GOPE_WF_U32, M(field), 1, GOPE_WR_ANY, lo, hi}
#define I64(g, k, field) {g, k, GOPE_WF_I64, M(field), 1, GOPE_WR_ANY, 0, GOPE_WORLD_MAX_EXACT_INT}
#define REAL(g, k, field, rule) {g, k, GOPE_WF_REAL, M(field), NREAL(field), rule, 0, 0}
#define FLAG(g, k, field) {g, k, GOPE_WF_BOOL, M(field), 1, GOPE_WR_ANY, 0, 0}

static const gope_world_field fields[] = {
    U32("users", "count", n_users, 1, GOPE_SIM_MAX_USERS),
    REAL("users", "wealth_mu", wealth_mu, GOPE_WR_ANY),
    REAL("users", "wealth_sigma", wealth_sigma, GOPE_WR_POSITIVE),
    REAL("users", "pareto_share", pareto_share, GOPE_WR_UNIT),
    REAL("users", "pareto_alpha", pareto_alpha, GOPE_WR_POSITIVE),
    REAL("users", "pareto_xm", pareto_xm, GOPE_WR_POSITIVE),
    REAL("users", "whale_frac", whale_frac, GOPE_WR_UNIT),
    U32("users", "dim", dim, 1, GOPE_SIM_MAX_DIM),

    U32("streamers", "count", n_streamers, 1, GOPE_SIM_MAX_STREAMERS),
    REAL("streamers", "popularity_alpha", popularity_alpha, GOPE_WR_POSITIVE),
    REAL("streamers", "new_frac", new_frac, GOPE_WR_UNIT),
    REAL("streamers", "head_frac", head_frac, GOPE_WR_UNIT),
    REAL("streamers", "tier_top_frac", tier_top_frac, GOPE_WR_UNIT),
    REAL("streamers", "tier_middle_frac", tier_middle_frac, GOPE_WR_UNIT),
    I64("streamers", "capacity_top", capacity_top),
    I64("streamers", "capacity_middle", capacity_middle),
    I64("streamers", "capacity_tail", capacity_tail),

    REAL("gift", "theta", theta, GOPE_WR_ANY),
    REAL("gift", "big_gift", big_gift, GOPE_WR_NONNEG),

    REAL("amount", "tiers", tiers, GOPE_WR_POSITIVE),
    REAL("amount", "tier_base", tier_base, GOPE_WR_NONNEG),
    REAL("amount", "wealth_slope", wealth_slope, GOPE_WR_ANY),
    REAL("amount", "wealth_center", wealth_center, GOPE_WR_ANY),
    REAL("amount", "wealth_scale", wealth_scale, GOPE_WR_POSITIVE),
    REAL("amount", "wealth_lo", wealth_lo, GOPE_WR_ANY),
    REAL("amount", "wealth_hi", wealth_hi, GOPE_WR_ANY),
    REAL("amount", "match_slope", match_slope, GOPE_WR_ANY),
    REAL("amount", "gamma", gamma, GOPE_WR_NONNEG),
    FLAG("amount", "capacity_externality", capacity_externality),
    REAL("amount", "capacity_alpha", capacity_alpha, GOPE_WR_NONNEG),

    REAL("ev_model", "noise_sd", ev_noise_sd, GOPE_WR_NONNEG),
    REAL("ev_model", "cold_mult", ev_noise_cold_mult, GOPE_WR_NONNEG),

    I64("time", "start_ms", start_ms),
    REAL("time", "arrivals_per_s", arrivals_per_s, GOPE_WR_POSITIVE),
    REAL("time", "peak_hour", peak_hour, GOPE_WR_HOUR),
    REAL("time", "peak_amplitude", peak_amplitude, GOPE_WR_NONNEG),
    REAL("time", "peak_width_h", peak_width_h, GOPE_WR_POSITIVE),
    U32("time", "round_users", round_users, 1, GOPE_SIM_MAX_USERS),
    {"time", "session", GOPE_WF_SESSION, M(session), 1, GOPE_WR_ANY, 0, 0},
    REAL("time", "dwell_mean_s", dwell_mean_s, GOPE_WR_POSITIVE),

    U32("candidates", "k", candidates, 0, GOPE_MAX_CANDIDATES),
    REAL("candidates", "random_frac", recall_random_frac, GOPE_WR_UNIT),
};

static const char *const session_names[GOPE_WORLD_N_SESSIONS] = {
    [GOPE_SESSION_ROUND] = "round",
    [GOPE_SESSION_DWELL] = "dwell",
};

/* |sum - 1| allowed for amount.tier_base; tier shares may add a little slack. */
#define TIER_BASE_TOL 1e-6
#define SHARE_TOL 1e-12

const gope_world_field *gope_world__fields(size_t *n)
{
    *n = sizeof fields / sizeof fields[0];
    return fields;
}

const char *gope_world__session_name(gope_session_mode m)
{
    return (unsigned)m < GOPE_WORLD_N_SESSIONS ? session_names[m] : NULL;
}

void gope_world__path(const gope_world_field *f, int index, char *buf, size_t size)
{
    if (index < 0)
        snprintf(buf, size, "%s.%s", f->group, f->key);
    else
        snprintf(buf, size, "%s.%s[%d]", f->group, f->key, index);
}

const char *gope_world__num(double v, char buf[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (!isfinite(v) || strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

gope_status gope_world__fail(gope_err *err, const char *prefix, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return gope_err_set(err, GOPE_ERR_USAGE, "%s: %s", prefix, what);
}

gope_status gope_world__check_int(const gope_world_field *f, double v, const char *prefix,
                                  gope_err *err)
{
    if (v >= (double)f->min && v <= (double)f->max)
        return GOPE_OK;
    char path[80], got[32];
    gope_world__path(f, -1, path, sizeof path);
    if (fabs(v) < 0x1p64) /* every digit: -9223372036854775808, not -9.2233720368547758e+18 */
        snprintf(got, sizeof got, "%.0f", v);
    else
        gope_world__num(v, got);
    return gope_world__fail(err, prefix, "%s must be %lld..%lld, got %s", path,
                            (long long)f->min, (long long)f->max, got);
}

static gope_status check_real(const gope_world_field *f, int index, double v,
                              const char *prefix, gope_err *err)
{
    static const char *const rule_text[] = {
        [GOPE_WR_ANY] = "finite",     [GOPE_WR_POSITIVE] = "> 0",
        [GOPE_WR_NONNEG] = ">= 0",    [GOPE_WR_UNIT] = "in [0, 1]",
        [GOPE_WR_HOUR] = "in [0, 24)",
    };
    bool ok = isfinite(v);
    switch (f->rule) {
    case GOPE_WR_ANY:
        break;
    case GOPE_WR_POSITIVE:
        ok = ok && v > 0;
        break;
    case GOPE_WR_NONNEG:
        ok = ok && v >= 0;
        break;
    case GOPE_WR_UNIT:
        ok = ok && v >= 0 && v <= 1;
        break;
    case GOPE_WR_HOUR:
        ok = ok && v >= 0 && v < 24;
        break;
    }
    if (ok)
        return GOPE_OK;
    char path[80], got[32];
    gope_world__path(f, index, path, sizeof path);
    return gope_world__fail(err, prefix, "%s must be %s, got %s", path,
                            isfinite(v) ? rule_text[f->rule] : "finite", gope_world__num(v, got));
}

/* One row's own rule on the struct's value. */
static gope_status check_field(const gope_world_field *f, const gope_world_conf *c,
                               const char *prefix, gope_err *err)
{
    const void *at = (const char *)c + f->offset;
    gope_status st = GOPE_OK;
    switch (f->type) {
    case GOPE_WF_U32:
        return gope_world__check_int(f, *(const uint32_t *)at, prefix, err);
    case GOPE_WF_I64:
        return gope_world__check_int(f, (double)*(const int64_t *)at, prefix, err);
    case GOPE_WF_REAL:
        for (unsigned i = 0; i < f->n && st == GOPE_OK; i++)
            st = check_real(f, f->n > 1 ? (int)i : -1, ((const double *)at)[i], prefix, err);
        return st;
    case GOPE_WF_BOOL:
        return GOPE_OK;
    case GOPE_WF_SESSION: {
        const gope_session_mode m = *(const gope_session_mode *)at;
        if (gope_world__session_name(m))
            return GOPE_OK;
        return gope_world__fail(err, prefix,
                                "%s.%s must be \"round\" or \"dwell\", got enum value %d",
                                f->group, f->key, (int)m);
    }
    }
    return GOPE_OK;
}

static gope_status check_name(const gope_world_conf *c, const char *prefix, gope_err *err)
{
    const char *end = memchr(c->name, '\0', sizeof c->name);
    if (!end)
        return gope_world__fail(err, prefix, "name must be at most %zu bytes (unterminated)",
                                sizeof c->name - 1);
    if (end == c->name)
        return gope_world__fail(err, prefix, "name must not be empty");
    if (!gope_utf8_valid(c->name, (size_t)(end - c->name)))
        return gope_world__fail(err, prefix, "name must be valid UTF-8");
    return GOPE_OK;
}

/* The rules between fields. */
static gope_status check_cross(const gope_world_conf *c, const char *prefix, gope_err *err)
{
    char a[32], b[32];
    const double shares = c->tier_top_frac + c->tier_middle_frac;
    if (shares > 1 + SHARE_TOL)
        return gope_world__fail(
            err, prefix,
            "streamers.tier_top_frac + streamers.tier_middle_frac must be <= 1, got %s",
            gope_world__num(shares, a));
    gope_ksum sum = {0, 0};
    for (int k = 0; k < GOPE_SIM_TIERS; k++) {
        if (k > 0 && !(c->tiers[k] > c->tiers[k - 1]))
            return gope_world__fail(err, prefix,
                                    "amount.tiers[%d] must be > amount.tiers[%d] = %s (strictly "
                                    "increasing), got %s",
                                    k, k - 1, gope_world__num(c->tiers[k - 1], a),
                                    gope_world__num(c->tiers[k], b));
        gope_ksum_add(&sum, c->tier_base[k]);
    }
    if (fabs(gope_ksum_value(&sum) - 1) > TIER_BASE_TOL)
        return gope_world__fail(err, prefix,
                                "amount.tier_base must sum to 1 (within %g), sums to %s",
                                TIER_BASE_TOL, gope_world__num(gope_ksum_value(&sum), a));
    if (!(c->wealth_lo < c->wealth_hi))
        return gope_world__fail(err, prefix,
                                "amount.wealth_lo must be < amount.wealth_hi = %s, got %s",
                                gope_world__num(c->wealth_hi, a), gope_world__num(c->wealth_lo, b));
    if (c->round_users > c->n_users)
        return gope_world__fail(err, prefix,
                                "time.round_users must be 1..users.count = %u, got %u",
                                (unsigned)c->n_users, (unsigned)c->round_users);
    if (c->candidates == 0 && c->n_streamers > GOPE_MAX_CANDIDATES)
        return gope_world__fail(
            err, prefix, "candidates.k = 0 (every streamer) needs streamers.count <= %d, got %u",
            GOPE_MAX_CANDIDATES, (unsigned)c->n_streamers);
    if (c->candidates > c->n_streamers)
        return gope_world__fail(err, prefix,
                                "candidates.k must be 0..min(%d, streamers.count) = %u, got %u",
                                GOPE_MAX_CANDIDATES, (unsigned)c->n_streamers,
                                (unsigned)c->candidates);
    return GOPE_OK;
}

gope_status gope_world__validate(const gope_world_conf *c, const char *prefix, gope_err *err)
{
    gope_status st = check_name(c, prefix, err);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && st == GOPE_OK; i++)
        st = check_field(&fields[i], c, prefix, err);
    return st == GOPE_OK ? check_cross(c, prefix, err) : st;
}

gope_status gope_world_validate(const gope_world_conf *c, gope_err *err)
{
    return gope_world__validate(c, "world.v1", err);
}

static void write_value(const gope_world_field *f, const gope_world_conf *c, gope_jbuf *b)
{
    const void *at = (const char *)c + f->offset;
    switch (f->type) {
    case GOPE_WF_U32:
        gope_jbuf_u64(b, *(const uint32_t *)at);
        return;
    case GOPE_WF_I64:
        gope_jbuf_i64(b, *(const int64_t *)at);
        return;
    case GOPE_WF_REAL:
        if (f->n == 1) {
            gope_jbuf_num(b, *(const double *)at, true);
            return;
        }
        for (unsigned i = 0; i < f->n; i++) {
            gope_jbuf_raw(b, i ? "," : "[", 1);
            gope_jbuf_num(b, ((const double *)at)[i], true);
        }
        gope_jbuf_raw(b, "]", 1);
        return;
    case GOPE_WF_BOOL:
        gope_jbuf_str(b, *(const bool *)at ? "true" : "false");
        return;
    case GOPE_WF_SESSION: {
        const char *name = gope_world__session_name(*(const gope_session_mode *)at);
        if (name)
            gope_jbuf_quote(b, name, strlen(name));
        else
            gope_jbuf_str(b, "null");
        return;
    }
    }
}

/* Groups are contiguous in the table: a new group closes the previous one. */
void gope_world_json(const gope_world_conf *c, gope_jbuf *b)
{
    const char *group = NULL;
    gope_jbuf_raw(b, "{", 1);
    gope_jbuf_key(b, "schema");
    gope_jbuf_str(b, "\"world.v1\"");
    gope_jbuf_key(b, "name");
    gope_jbuf_quote(b, c->name, strnlen(c->name, sizeof c->name));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const gope_world_field *f = &fields[i];
        if (!group || strcmp(group, f->group) != 0) {
            if (group)
                gope_jbuf_raw(b, "}", 1);
            gope_jbuf_key(b, f->group);
            gope_jbuf_raw(b, "{", 1);
            group = f->group;
        }
        gope_jbuf_key(b, f->key);
        write_value(f, c, b);
    }
    gope_jbuf_raw(b, "}}", 2);
}
