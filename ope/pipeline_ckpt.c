/*
 * pipeline_ckpt.c — the pipeline's state as checkpoint sections.
 *
 * Sections, in this order (each with its own layout version, ckpt_int.h):
 *   CONF  what the state is only valid for: window size, slide, lateness,
 *         dedupe horizon, whether rewards are joined and the wait, the
 *         estimators with their lambdas, the policy names. A restore under
 *         other options would add new events to accumulators of another
 *         shape or meaning, so it is refused.
 *   STAT  the run counters (lines read, accepted, rejected by reason, late,
 *         windows, records, min/max ts, the join's counters and gauges): a
 *         restored run's summary counts the whole history, each message once.
 *   DEDU  the remembered event ids (dedupe.c).
 *   WIND  the window watermark, the open panes and the revision marks
 *         (windows.c).
 *   JOIN  the decisions waiting for rewards and the rewards held
 *         (join_save.c); empty when the join is off.
 * The stream clock (CLCK) follows in the file, written by the checkpoint,
 * which knows the partitions behind the streams (ckpt_clock.c). CONF and
 * STAT are at layout version 2 (format version 2 added the join); a reader
 * refuses versions and sections it does not know rather than drop state.
 * Reject reasons are saved by name, so new reasons do not move old counts.
 */
#include <string.h>

#include "ckpt_int.h"
#include "pipeline_int.h"

enum { CONF_V = 2, STAT_V = 2, DEDU_V = 1, WIND_V = 1, JOIN_V = 1 };

#define NAME_MAX_LEN 256

static gope_status conf_save(const void *obj, FILE *f, gope_err *err)
{
    const gope_pipeline_t *p = obj;
    (void)err;
    gope_ckw_i64(f, p->conf.window.size_ms);
    gope_ckw_i64(f, p->conf.window.slide_ms);
    gope_ckw_i64(f, p->conf.window.lateness_ms);
    gope_ckw_i64(f, p->conf.dedupe_horizon_ms);
    gope_ckw_u32(f, p->join != NULL);
    gope_ckw_i64(f, p->join ? p->conf.reward_wait_ms : 0);
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
    uint32_t n, join;
    int64_t wait;
    if (!gope_ckr_u32(r, &join) || !gope_ckr_i64(r, &wait))
        return gope_ckr_fail(r, err, "truncated: reward join");
    if (join != (p->join != NULL))
        return differs(r, err, "the reward join", join ? "on" : "off", p->join ? "on" : "off");
    if (p->join && (st = conf_check_i64(r, err, "--reward-wait", wait, p->conf.reward_wait_ms)))
        return st;
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
                               s->records, s->rewards_joined, s->decisions_defaulted,
                               s->rewards_orphaned, s->decisions_pending, s->rewards_held};
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
                          &s->records, &s->rewards_joined, &s->decisions_defaulted,
                          &s->rewards_orphaned, &s->decisions_pending, &s->rewards_held};
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

static gope_status join_save(const void *join, FILE *f, gope_err *err)
{
    return join ? gope_join_save(join, f, err) : GOPE_OK;
}

/* The join's bytes are read through a FILE over the section's body; every
 * byte of it must belong to the join. */
static gope_status join_load(gope_join_t *j, gope_ckr *r, gope_err *err)
{
    if (!j)
        return gope_ckr_end(r, "JOIN", err);
    if (r->pos == r->len)
        return gope_ckr_fail(r, err, "section JOIN is empty, the reward join is on");
    FILE *f = fmemopen((void *)(r->data + r->pos), r->len - r->pos, "rb");
    if (!f)
        return gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", r->name);
    gope_status st = gope_join_load(j, f, err);
    long used = ftell(f);
    fclose(f);
    if (st == GOPE_ERR_INPUT)
        return gope_ckr_fail(r, err, "%s", err->msg);
    if (st != GOPE_OK)
        return st;
    r->pos += (size_t)used;
    return gope_ckr_end(r, "JOIN", err);
}

gope_status gope_pipeline_save(const gope_pipeline_t *p, FILE *f, gope_err *err)
{
    gope_status st;
    if ((st = gope_ckw_section(f, "CONF", CONF_V, conf_save, p, err)) ||
        (st = gope_ckw_section(f, "STAT", STAT_V, stat_save, &p->stats, err)) ||
        (st = gope_ckw_section(f, "DEDU", DEDU_V, gope_dedupe_save, p->dedupe, err)) ||
        (st = gope_ckw_section(f, "WIND", WIND_V, gope_windows_save, p->win, err)))
        return st;
    return gope_ckw_section(f, "JOIN", JOIN_V, join_save, p->join, err);
}

/* The next section must be `tag` at exactly layout `v`: the older layouts
 * only ever were in format-1 files, which the header refuses. */
static gope_status section(gope_ckr *r, const char *tag, uint32_t v, gope_ckr *sub,
                           gope_err *err)
{
    uint32_t version;
    gope_status st = gope_ckr_section(r, tag, v, sub, &version, err);
    if (st == GOPE_OK && version != v)
        st = gope_ckr_fail(r, err, "section %s has layout version %u, expected %u", tag, version,
                           v);
    return st;
}

gope_status gope_pipeline_load(gope_pipeline_t *p, gope_ckr *r, gope_err *err)
{
    gope_ckr sub;
    gope_status st;
    if ((st = section(r, "CONF", CONF_V, &sub, err)) || (st = conf_load(p, &sub, err)) ||
        (st = section(r, "STAT", STAT_V, &sub, err)) || (st = stat_load(&p->stats, &sub, err)) ||
        (st = section(r, "DEDU", DEDU_V, &sub, err)) ||
        (st = gope_dedupe_load(p->dedupe, &sub, err)) ||
        (st = gope_ckr_end(&sub, "DEDU", err)) ||
        (st = section(r, "WIND", WIND_V, &sub, err)) ||
        (st = gope_windows_load(p->win, &sub, err)) ||
        (st = gope_ckr_end(&sub, "WIND", err)) ||
        (st = section(r, "JOIN", JOIN_V, &sub, err)))
        return st;
    return join_load(p->join, &sub, err);
}
