/*
 * metrics.c — the per-run metrics accumulator (see sim_metrics.h; every
 * definition in docs/metrics.md).
 *
 * Design. Most metrics are ratios of running counts and compensated sums
 * kept per run. The concentration metrics (Gini, top shares, capture) need
 * each user's and each streamer's total, so one small record per user and
 * per streamer is allocated up front; the world's flags (whale tiers, cold
 * start, head) are copied into those records so the caller's arrays are not
 * needed later. Two things are not bounded by the world: the per-round
 * revenue series (CVaR, variance) and the gift amounts (exact percentiles),
 * kept in geometrically grown arrays.
 *
 * Why rounds must not decrease: a round's revenue is summed in one running
 * sum and appended when the next round starts, and a capacity violation is
 * counted once per (round, streamer) by remembering, per streamer, the last
 * round in which it was violated. Both are O(1) per decision only because a
 * round never comes back.
 *
 * gope_metrics_finish() leaves the accumulator usable: it copies users',
 * streamers' and rounds' totals into one scratch array (the gope_stats.h
 * functions sort a second one), except that it sorts the gift amounts in
 * place (their order carries no information).
 */
#include "sim_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gope_stats.h"

enum { U_SEEN = 1, U_TOP01 = 2, U_TOP1 = 4 };
enum { S_COLD = 1, S_HEAD = 2, S_USED = 4, S_GIFTED = 8, S_VIOLATED = 16 };

typedef struct {
    gope_ksum rev;
    double best_match; /* the user's best match so far (when U_SEEN) */
    uint8_t flags;
} user_acc;

typedef struct {
    gope_ksum rev;
    uint32_t violated_round; /* last round with a capacity violation (S_VIOLATED) */
    uint8_t flags;
} streamer_acc;

/* A growable array of doubles. */
typedef struct {
    double *v;
    size_t n, cap;
} dvec;

struct gope_metrics_s {
    uint32_t n_users, n_streamers;
    double crowded_below, return_match;
    user_acc *users;
    streamer_acc *streamers;

    uint64_t decisions, gifts, users_seen, head_decisions, overloaded, crowded;
    uint64_t capacity_violations;
    gope_ksum revenue, head_revenue, dwell, v_static, true_ev;

    dvec rounds;        /* revenue of every finished round */
    gope_ksum cur_rev;  /* revenue of the current round */
    uint32_t cur_round; /* valid when decisions > 0 */
    dvec amounts;       /* every positive reward */

    gope_status st; /* sticky error of gope_metrics_add() */
    gope_err err;
};

void gope_metrics_conf_init(gope_metrics_conf *c, uint32_t n_users, uint32_t n_streamers)
{
    *c = (gope_metrics_conf){
        .n_users = n_users,
        .n_streamers = n_streamers,
        .crowded_below = GOPE_METRICS_CROWDED_BELOW,
        .return_match = GOPE_METRICS_RETURN_MATCH,
    };
}

static bool flag(const bool *a, uint32_t i) { return a && a[i]; }

gope_metrics_t *gope_metrics_new(const gope_metrics_conf *conf)
{
    gope_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n_users = conf->n_users;
    m->n_streamers = conf->n_streamers;
    m->crowded_below = conf->crowded_below;
    m->return_match = conf->return_match;
    /* +1: calloc(0) may return NULL, which is not an error here */
    m->users = calloc((size_t)conf->n_users + 1, sizeof *m->users);
    m->streamers = calloc((size_t)conf->n_streamers + 1, sizeof *m->streamers);
    if (!m->users || !m->streamers)
        goto cleanup;
    for (uint32_t u = 0; u < conf->n_users; u++)
        m->users[u].flags = (uint8_t)((flag(conf->user_top01, u) ? U_TOP01 : 0) |
                                      (flag(conf->user_top1, u) ? U_TOP1 : 0));
    for (uint32_t s = 0; s < conf->n_streamers; s++)
        m->streamers[s].flags = (uint8_t)((flag(conf->streamer_cold, s) ? S_COLD : 0) |
                                          (flag(conf->streamer_head, s) ? S_HEAD : 0));
    return m;
cleanup:
    gope_metrics_free(m);
    return NULL;
}

void gope_metrics_free(gope_metrics_t *m)
{
    if (!m)
        return;
    free(m->users);
    free(m->streamers);
    free(m->rounds.v);
    free(m->amounts.v);
    free(m);
}

static bool dvec_push(dvec *d, double x)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        double *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return false;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = x;
    return true;
}

/* The first problem with `o`, written into m->err; GOPE_OK if none. */
static gope_status check(gope_metrics_t *m, const gope_sim_outcome *o)
{
    const uint64_t d = o->decision;
    gope_err *e = &m->err;
    if (o->user >= m->n_users)
        return gope_err_set(e, GOPE_ERR_INPUT, "decision %" PRIu64 ": user %" PRIu32
                            " outside the world (%" PRIu32 " users)", d, o->user, m->n_users);
    if (o->streamer >= m->n_streamers)
        return gope_err_set(e, GOPE_ERR_INPUT, "decision %" PRIu64 ": streamer %" PRIu32
                            " outside the world (%" PRIu32 " streamers)", d, o->streamer,
                            m->n_streamers);
    if (m->decisions && o->round < m->cur_round)
        return gope_err_set(e, GOPE_ERR_INPUT, "decision %" PRIu64 ": round %" PRIu32
                            " after round %" PRIu32 " (rounds must not decrease)", d, o->round,
                            m->cur_round);
    if (o->load < 0 || o->capacity < 0)
        return gope_err_set(e, GOPE_ERR_INPUT, "decision %" PRIu64 ": load %" PRId64
                            ", capacity %" PRId64 ": must be >= 0", d, o->load, o->capacity);
    const struct {
        const char *name;
        double v;
    } num[] = {{"reward", o->reward}, {"match", o->match}, {"externality", o->externality},
               {"true_ev", o->true_ev}, {"v_static", o->v_static}};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (!isfinite(num[i].v))
            return gope_err_set(e, GOPE_ERR_INPUT, "decision %" PRIu64 ": %s: not finite", d,
                                num[i].name);
    if (o->reward < 0)
        return gope_err_set(e, GOPE_ERR_INPUT, "decision %" PRIu64 ": reward %.17g: negative",
                            d, o->reward);
    return GOPE_OK;
}

static gope_status nomem(gope_metrics_t *m, const gope_sim_outcome *o, const char *what)
{
    return m->st = gope_err_set(&m->err, GOPE_ERR_NOMEM, "decision %" PRIu64
                                ": out of memory growing the %s", o->decision, what);
}

gope_status gope_metrics_add(gope_metrics_t *m, const gope_sim_outcome *o)
{
    if (m->st != GOPE_OK || (m->st = check(m, o)) != GOPE_OK)
        return m->st;
    if (m->decisions == 0) {
        m->cur_round = o->round;
    } else if (o->round != m->cur_round) {
        if (!dvec_push(&m->rounds, gope_ksum_value(&m->cur_rev)))
            return nomem(m, o, "per-round revenue series");
        m->cur_rev = (gope_ksum){0};
        m->cur_round = o->round;
    }
    const double r = o->reward;
    if (r > 0 && !dvec_push(&m->amounts, r))
        return nomem(m, o, "gift amounts");

    user_acc *u = &m->users[o->user];
    streamer_acc *s = &m->streamers[o->streamer];
    m->decisions++;
    if (!(u->flags & U_SEEN)) {
        u->flags |= U_SEEN;
        u->best_match = o->match;
        m->users_seen++;
    } else if (o->match > u->best_match) {
        u->best_match = o->match;
    }
    s->flags |= S_USED;
    if (r > 0) {
        m->gifts++;
        s->flags |= S_GIFTED;
    }
    gope_ksum_add(&m->revenue, r);
    gope_ksum_add(&m->cur_rev, r);
    gope_ksum_add(&u->rev, r);
    gope_ksum_add(&s->rev, r);
    if (s->flags & S_HEAD) {
        m->head_decisions++;
        gope_ksum_add(&m->head_revenue, r);
    }
    if (o->capacity > 0 && o->load >= o->capacity) { /* load + 1 > capacity */
        m->overloaded++;
        if (!(s->flags & S_VIOLATED) || s->violated_round != o->round) {
            s->flags |= S_VIOLATED;
            s->violated_round = o->round;
            m->capacity_violations++;
        }
    }
    if (o->externality < m->crowded_below)
        m->crowded++;
    gope_ksum_add(&m->dwell, o->externality * (1 + o->match) / 2);
    gope_ksum_add(&m->v_static, o->v_static);
    gope_ksum_add(&m->true_ev, o->true_ev);
    return GOPE_OK;
}

/* A value, defined when `ok` and finite: sums of finite rewards can still
 * overflow, and nothing defined may be inf or NaN. */
static gope_mval mval_if(double v, bool ok)
{
    ok = ok && isfinite(v);
    return (gope_mval){ok ? v : 0, ok};
}

static gope_mval mval(double v) { return mval_if(v, true); }

/* num / den, undefined when den is 0. */
static gope_mval ratio(double num, double den)
{
    return den != 0 ? mval(num / den) : (gope_mval){0, false};
}

/* Scratch space of gope_metrics_finish(): `x` for the values, `sort` for
 * the statistics that sort a copy; each holds max(users, streamers, rounds). */
typedef struct {
    double *x, *sort;
} scratch;

/* The Gini of x[0..n) (payers only with `drop_zeros`), undefined when no
 * value is used or their sum is 0. */
static gope_mval gini(const scratch *w, size_t n, bool drop_zeros)
{
    double g = 0;
    bool ok = gope_gini(w->x, n, drop_zeros, w->sort, &g);
    return mval_if(g, ok);
}

static void volume(const gope_metrics_t *m, gope_sim_metrics *r)
{
    const double total = gope_ksum_value(&m->revenue), d = (double)m->decisions;
    r->decisions = m->decisions;
    r->gifts = m->gifts;
    r->users_seen = m->users_seen;
    r->capacity_violations = m->capacity_violations;
    r->total_revenue = mval(total);
    r->revenue_per_decision = ratio(total, d);
    r->revenue_per_user = ratio(total, (double)m->users_seen);
    r->gift_rate = ratio((double)m->gifts, d);
    r->amount_mean = ratio(total, (double)m->gifts);
    r->head_share = ratio((double)m->head_decisions, d);
    r->head_revenue_share = ratio(gope_ksum_value(&m->head_revenue), total);
    r->overload_rate = ratio((double)m->overloaded, d);
    r->crowding_rate = ratio((double)m->crowded, d);
    r->dwell_proxy = ratio(gope_ksum_value(&m->dwell), d);
    r->v_static_mean = ratio(gope_ksum_value(&m->v_static), d);
    r->true_ev_mean = ratio(gope_ksum_value(&m->true_ev), d);
}

/* Amount percentiles; sorts the stored amounts in place (order is free). */
static void amounts(gope_metrics_t *m, gope_sim_metrics *r)
{
    const dvec *a = &m->amounts;
    if (a->n == 0)
        return;
    gope_sort_doubles(a->v, a->n);
    r->amount_p50 = mval(gope_quantile_sorted(a->v, a->n, 0.50));
    r->amount_p90 = mval(gope_quantile_sorted(a->v, a->n, 0.90));
    r->amount_p99 = mval(gope_quantile_sorted(a->v, a->n, 0.99));
}

/* Capture, user Gini, top-1% share and the return proxy. */
static void users(const gope_metrics_t *m, const scratch *w, gope_sim_metrics *r)
{
    double *x = w->x;
    const double total = gope_ksum_value(&m->revenue);
    gope_ksum top01 = {0}, top1 = {0};
    size_t n = 0;
    uint64_t returning = 0;
    for (uint32_t i = 0; i < m->n_users; i++) {
        const user_acc *u = &m->users[i];
        if (!(u->flags & U_SEEN))
            continue;
        const double rev = gope_ksum_value(&u->rev);
        x[n++] = rev;
        if (u->flags & U_TOP01)
            gope_ksum_add(&top01, rev);
        if (u->flags & U_TOP1)
            gope_ksum_add(&top1, rev);
        if (u->best_match >= m->return_match)
            returning++;
    }
    r->top01_capture = ratio(gope_ksum_value(&top01), total);
    r->top1_capture = ratio(gope_ksum_value(&top1), total);
    r->return_proxy = ratio((double)returning, (double)n);
    double share = 0;
    bool ok = gope_top_share(x, n, 0.01, w->sort, &share);
    r->top1_user_share = mval_if(share, ok);
    r->user_gini_payers = gini(w, n, true);
}

/* Streamer Ginis, cold start and coverage. */
static void streamers(const gope_metrics_t *m, const scratch *w, gope_sim_metrics *r)
{
    double *x = w->x;
    uint64_t cold = 0, cold_used = 0, cold_gifted = 0, gifted = 0;
    for (uint32_t i = 0; i < m->n_streamers; i++) {
        const streamer_acc *s = &m->streamers[i];
        x[i] = gope_ksum_value(&s->rev);
        gifted += (s->flags & S_GIFTED) != 0;
        if (s->flags & S_COLD) {
            cold++;
            cold_used += (s->flags & S_USED) != 0;
            cold_gifted += (s->flags & S_GIFTED) != 0;
        }
    }
    const double n = (double)m->n_streamers;
    r->cold_start_success_rate = ratio((double)cold_gifted, (double)cold);
    r->cold_start_coverage = ratio((double)cold_used, (double)cold);
    r->coverage = ratio((double)gifted, n);
    r->streamers_without_gift_frac = ratio(n - (double)gifted, n);
    r->streamer_gini_all = gini(w, m->n_streamers, false);
    r->streamer_gini_payers = gini(w, m->n_streamers, true);
}

/* CVaR@5% and sample variance of the per-round revenue. */
static void risk(const gope_metrics_t *m, const scratch *w, gope_sim_metrics *r)
{
    double *x = w->x;
    size_t n = m->rounds.n;
    if (n) /* rounds.v is NULL before the first round closes */
        memcpy(x, m->rounds.v, n * sizeof *x);
    if (m->decisions)
        x[n++] = gope_ksum_value(&m->cur_rev); /* the open round */
    r->rounds = n;
    if (n == 0)
        return;
    double cvar = 0;
    bool ok = gope_cvar_lower(x, n, 0.05, w->sort, &cvar);
    r->cvar05 = mval_if(cvar, ok);
    if (n < 2)
        return;
    gope_ksum sum = {0}, dev2 = {0};
    for (size_t i = 0; i < n; i++)
        gope_ksum_add(&sum, x[i]);
    const double mean = gope_ksum_value(&sum) / (double)n;
    for (size_t i = 0; i < n; i++)
        gope_ksum_add(&dev2, (x[i] - mean) * (x[i] - mean));
    r->round_revenue_var = mval(gope_ksum_value(&dev2) / (double)(n - 1));
}

gope_status gope_metrics_finish(gope_metrics_t *m, gope_sim_metrics *out, gope_err *err)
{
    if (m->st != GOPE_OK)
        return gope_err_set(err, m->st, "%s", m->err.msg);
    size_t n = m->rounds.n + 1;
    if (n < m->n_users)
        n = m->n_users;
    if (n < m->n_streamers)
        n = m->n_streamers;
    double *x = malloc(2 * n * sizeof *x);
    if (!x)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics: out of memory for %zu scratch values",
                            2 * n);
    const scratch w = {x, x + n};
    gope_sim_metrics r = {0};
    volume(m, &r);
    amounts(m, &r);
    users(m, &w, &r);
    streamers(m, &w, &r);
    risk(m, &w, &r);
    free(x);
    *out = r;
    return GOPE_OK;
}
