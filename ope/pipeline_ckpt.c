/*
 * pipeline_ckpt.c — the pipeline's state as checkpoint sections.
 *
 * Sections, in this order (each with its own layout version, ckpt_int.h):
 *   CONF  what the state is only valid for: window size, slide, lateness,
 *         dedupe horizon, the estimators with their lambdas, the policy
 *         names. A restore under other options would add new events to
 *         accumulators of another shape or meaning, so it is refused.
 *   STAT  the run counters (lines read, accepted, rejected by reason, late,
 *         windows, records, min/max ts): a restored run's summary counts the
 *         whole history, each message once.
 *   DEDU  the remembered event ids (dedupe.c).
 *   WIND  the window clock, the open panes and the revision marks (windows.c).
 * The reward join and the per-stream clock will add their own sections after
 * WIND (JOIN, CLCK), with the file format version raised to 2; a reader
 * refuses versions and sections it does not know rather than drop state.
 * Reject reasons are saved by name, so new reasons do not move old counts.
 */
#include <string.h>

#include "ckpt_int.h"
#include "pipeline_int.h"

enum { CONF_V = 1, STAT_V = 1, DEDU_V = 1, WIND_V = 1 };

#define NAME_MAX_LEN 256

static gope_status conf_save(const void *obj, FILE *f, gope_err *err)
{
    const gope_pipeline_t *p = obj;
    (void)err;
    gope_ckw_i64(f, p->conf.window.size_ms);
    gope_ckw_i64(f, p->conf.window.slide_ms);
    gope_ckw_i64(f, p->conf.window.lateness_ms);
    gope_ckw_i64(f, p->conf.dedupe_horizon_ms);
    gope_ckw_u32(f, (uint32_t)gope_estset_count(p->set));
    for (size_t i = 0; i < gope_estset_count(p->set); i++) {
        const gope_estimator_conf *e = gope_estset_get(p->set, i);
        gope_ckw_str(f, e->ops->name);
        gope_ckw_f64(f, e->lambda);
    }
    gope_ckw_u32(f, (uint32_t)gope_policies_count(p->policies));
    for (size_t i = 0; i < gope_policies_count(p->policies); i++)
        gope_ckw_str(f, gope_policy_name(p->policies, i));
    return GOPE_OK;
}

static gope_status differs(const gope_ckr *r, gope_err *err, const char *what, const char *saved,
                           const char *now)
{
    return gope_err_set(err, GOPE_ERR_USAGE,
                        "%s was written with %s %s, this run has %s (use the same options, or "
                        "another checkpoint directory)", r->name, what, saved, now);
}

static gope_status conf_check_i64(const gope_ckr *r, gope_err *err, const char *what,
                                  int64_t saved, int64_t now)
{
    if (saved == now)
        return GOPE_OK;
    char a[32], b[32];
    snprintf(a, sizeof a, "%lld ms", (long long)saved);
    snprintf(b, sizeof b, "%lld ms", (long long)now);
    return differs(r, err, what, a, b);
}

static gope_status conf_load(gope_pipeline_t *p, gope_ckr *r, gope_err *err)
{
    int64_t v[4];
    const int64_t now[4] = {p->conf.window.size_ms, p->conf.window.slide_ms,
                            p->conf.window.lateness_ms, p->conf.dedupe_horizon_ms};
    static const char *const what[4] = {"--window", "--slide", "--lateness", "--dedupe-horizon"};
    gope_status st;
    for (int i = 0; i < 4; i++)
        if (!gope_ckr_i64(r, &v[i]))
            return gope_ckr_fail(r, err, "truncated: configuration");
    for (int i = 0; i < 4; i++)
        if ((st = conf_check_i64(r, err, what[i], v[i], now[i])))
            return st;
    uint32_t n;
    char name[NAME_MAX_LEN];
    double lambda;
    if (!gope_ckr_u32(r, &n))
        return gope_ckr_fail(r, err, "truncated: estimators");
    if (n != gope_estset_count(p->set))
        return differs(r, err, "--estimators", "another set", "this one");
    for (size_t i = 0; i < n; i++) {
        const gope_estimator_conf *e = gope_estset_get(p->set, i);
        if (!gope_ckr_str(r, name, sizeof name) || !gope_ckr_f64(r, &lambda))
            return gope_ckr_fail(r, err, "truncated: estimator %zu", i);
        if (strcmp(name, e->ops->name) != 0 || memcmp(&lambda, &e->lambda, sizeof lambda) != 0)
            return differs(r, err, "estimator", name, e->ops->name);
    }
    if (!gope_ckr_u32(r, &n))
        return gope_ckr_fail(r, err, "truncated: policies");
    if (n != gope_policies_count(p->policies))
        return differs(r, err, "--policies", "another set", "this one");
    for (size_t i = 0; i < n; i++) {
        if (!gope_ckr_str(r, name, sizeof name))
            return gope_ckr_fail(r, err, "truncated: policy %zu", i);
        if (strcmp(name, gope_policy_name(p->policies, i)) != 0)
            return differs(r, err, "policy", name, gope_policy_name(p->policies, i));
    }
    return gope_ckr_end(r, "CONF", err);
}

static gope_status stat_save(const void *obj, FILE *f, gope_err *err)
{
    const gope_pipeline_stats *s = obj;
    (void)err;
    const uint64_t counts[] = {s->lines_read, s->accepted, s->rejected, s->late, s->windows,
                               s->records};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        gope_ckw_u64(f, counts[i]);
    gope_ckw_i64(f, s->min_ts);
    gope_ckw_i64(f, s->max_ts);
    uint32_t n = 0;
    for (int r = 1; r < GOPE_R_COUNT; r++)
        n += s->by_reason[r] != 0;
    gope_ckw_u32(f, n);
    for (int r = 1; r < GOPE_R_COUNT; r++)
        if (s->by_reason[r]) {
            gope_ckw_str(f, gope_reason_name((gope_reason)r));
            gope_ckw_u64(f, s->by_reason[r]);
        }
    return GOPE_OK;
}

static int reason_by_name(const char *name)
{
    for (int r = 1; r < GOPE_R_COUNT; r++)
        if (strcmp(gope_reason_name((gope_reason)r), name) == 0)
            return r;
    return -1;
}

static gope_status stat_load(gope_pipeline_stats *s, gope_ckr *r, gope_err *err)
{
    uint64_t *counts[] = {&s->lines_read, &s->accepted, &s->rejected, &s->late, &s->windows,
                          &s->records};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (!gope_ckr_u64(r, counts[i]))
            return gope_ckr_fail(r, err, "truncated: counters");
    uint32_t n;
    if (!gope_ckr_i64(r, &s->min_ts) || !gope_ckr_i64(r, &s->max_ts) || !gope_ckr_u32(r, &n))
        return gope_ckr_fail(r, err, "truncated: counters");
    for (uint32_t i = 0; i < n; i++) {
        char name[NAME_MAX_LEN];
        uint64_t count;
        size_t at = r->pos;
        if (!gope_ckr_str(r, name, sizeof name) || !gope_ckr_u64(r, &count))
            return gope_ckr_fail(r, err, "truncated: reject reason %u", i);
        int reason = reason_by_name(name);
        if (reason < 0) {
            r->pos = at;
            return gope_ckr_fail(r, err, "unknown reject reason \"%s\"", name);
        }
        s->by_reason[reason] = count;
    }
    return gope_ckr_end(r, "STAT", err);
}

gope_status gope_pipeline_save(const gope_pipeline_t *p, FILE *f, gope_err *err)
{
    gope_status st;
    if ((st = gope_ckw_section(f, "CONF", CONF_V, conf_save, p, err)) ||
        (st = gope_ckw_section(f, "STAT", STAT_V, stat_save, &p->stats, err)) ||
        (st = gope_ckw_section(f, "DEDU", DEDU_V, gope_dedupe_save, p->dedupe, err)))
        return st;
    return gope_ckw_section(f, "WIND", WIND_V, gope_windows_save, p->win, err);
}

gope_status gope_pipeline_load(gope_pipeline_t *p, gope_ckr *r, gope_err *err)
{
    gope_ckr sub;
    uint32_t version;
    gope_status st;
    if ((st = gope_ckr_section(r, "CONF", CONF_V, &sub, &version, err)) ||
        (st = conf_load(p, &sub, err)) ||
        (st = gope_ckr_section(r, "STAT", STAT_V, &sub, &version, err)) ||
        (st = stat_load(&p->stats, &sub, err)) ||
        (st = gope_ckr_section(r, "DEDU", DEDU_V, &sub, &version, err)) ||
        (st = gope_dedupe_load(p->dedupe, &sub, err)) ||
        (st = gope_ckr_end(&sub, "DEDU", err)) ||
        (st = gope_ckr_section(r, "WIND", WIND_V, &sub, &version, err)) ||
        (st = gope_windows_load(p->win, &sub, err)))
        return st;
    return gope_ckr_end(&sub, "WIND", err);
}
