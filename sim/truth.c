/*
 * truth.c — V_online and the section-4 metrics of every policy over seeds,
 * paired against the logging policy, written as truth.v1 lines (truth.h,
 * docs/truth.md).
 *
 * The loop is seed-major: a seed's world is built once and every policy
 * runs on it, so no run builds a world of its own and, because the engine keys
 * every random draw by (seed, decision), all policies of one seed see the
 * same arrivals and uniforms. What each run leaves behind is small and kept
 * per (policy, seed): V_online, the revenue, and every metric of
 * gope_metrics_names() with whether it was defined.
 *
 * V_online is the run's mean of sum_j pi_j true_ev_j, the expected reward of
 * each decision given everything before it, not the realised revenue per
 * decision (also written, as v_online_realized). Both estimate the same
 * on-policy value without bias, but a run's realised revenue carries the
 * gift draws' heavy tail (a 13,140 gift is one in 2,000 gifts) while the
 * expectation keeps only what the trajectory itself varies: its interval
 * over seeds is several times narrower (docs/truth.md). The summaries
 * over seeds are computed only when the lines are written: a mean and 95% t
 * interval per value (gope_mean_ci95), over the seeds where it is defined,
 * and the same over the per-seed differences policy - logging policy. Those
 * differences are paired by seed, which is the point: the interval of a
 * difference of two runs that share every random number is far narrower
 * than two independent intervals suggest, and for the logging policy
 * itself it is exactly [0, 0].
 *
 * A line ("row") is a policy of the set, run through
 * gope_sim_policy_allocator() by index, or an allocator spec run through
 * gope_sim_allocator_new(): a logging allocator (row 0, V_static from the
 * logged probs) or one of conf.allocators (no V_static). An allocator is
 * bound to its world, so each run makes its own. gope_simtruth_new()
 * builds the first seed's world once just to make every spec's allocator:
 * a typo in a spec costs that, not a V_static pass and a simulation.
 */
#include "truth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_int.h"
#include "gope_stats.h"

/* Where a line's values come from. */
typedef enum {
    ROW_POLICY,    /* a policy of the set: V_static from its pi */
    ROW_LOGGING,   /* the logging allocator: V_static from the logged probs */
    ROW_SIMULATED, /* one of conf.allocators: no V_static */
} row_kind;

typedef struct {
    row_kind kind;
    const char *name;  /* the line's "policy" */
    const char *spec;  /* the allocator spec; NULL for a policy of the set */
    size_t policy;     /* ROW_POLICY: index in the set */
} row;

struct gope_simtruth_s {
    gope_simtruth_conf c;
    size_t nr, np, nm;      /* rows (lines), policies of the set, metrics */
    row *rows;
    size_t logging;         /* the logging row */
    char *logging_name;     /* ROW_LOGGING: the spec's name part */
    bool online_done;
    double *v_online;       /* [row][seed] */
    double *revenue;        /* [row][seed] */
    double *met;            /* [row][seed][metric] */
    bool *met_ok;           /* [row][seed][metric] */
    double *scratch;        /* one value per seed: the summaries' work space,
                               written even by the const writers */
    const char *log;        /* V_static's log; NULL without one */
    double *v_static;       /* [policy of the set] */
    double v_logged;        /* ROW_LOGGING's V_static */
    gope_simtruth_log_stats log_stats;
};

/* calloc of a x b elements of `size` bytes, NULL on overflow too. */
static void *table(size_t a, size_t b, size_t size)
{
    return a && b > SIZE_MAX / a / size ? NULL : calloc(a * b, size);
}

void gope_simtruth_free(gope_simtruth_t *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t->logging_name);
    free(t->v_online);
    free(t->revenue);
    free(t->met);
    free(t->met_ok);
    free(t->scratch);
    free(t->v_static);
    free(t);
}

size_t gope_simtruth_lines(const gope_simtruth_t *t) { return t->nr; }

void gope_simtruth_metrics_conf(const gope_sim_world_t *w, gope_metrics_conf *mc)
{
    gope_sim_world_view v;
    gope_sim_world_get(w, &v);
    gope_metrics_conf_init(mc, v.n_users, v.n_streamers);
    mc->user_top01 = v.top01;
    mc->user_top1 = v.top1;
    mc->streamer_cold = v.cold_start;
    mc->streamer_head = v.head;
}

/* Prefixes err's message with where it happened: the seed, and the line's
 * name when it is not NULL. */
static gope_status in_run(gope_status st, const char *name, uint64_t seed, gope_err *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return gope_err_set(err, st, "truth: seed %llu%s%s: %s", (unsigned long long)seed,
                        name ? ", policy " : "", name ? name : "", msg);
}

/* Prefixes err's message with the spec's place in the configuration:
 * allocators[i], or the logging spec when i is SIZE_MAX. */
static gope_status in_spec(gope_status st, size_t i, gope_err *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (i == SIZE_MAX)
        return gope_err_set(err, st, "truth: logging: %s", msg);
    return gope_err_set(err, st, "truth: allocators[%zu]: %s", i, msg);
}

/* Whether the spec names a stateful allocator (the registry looks those up
 * first, so a policy of the same name never wins). */
static bool names_allocator(const char *spec)
{
    const size_t len = strcspn(spec, ":");
    for (const char *const *k = gope_sim_allocator_kinds(); *k; k++)
        if (strlen(*k) == len && strncmp(*k, spec, len) == 0)
            return true;
    return false;
}

/* Makes (and frees) the allocator of spec `i` (as in_spec) in `w`, so its
 * errors show now; allocators[i] must name a stateful allocator. */
static gope_status try_spec(const gope_simtruth_conf *c, const gope_sim_world_t *w, size_t i,
                            gope_err *err)
{
    const char *spec = i == SIZE_MAX ? c->logging : c->allocators[i];
    if (i != SIZE_MAX && !names_allocator(spec)) {
        char kinds[200];
        size_t len = 0;
        kinds[0] = '\0';
        for (const char *const *k = gope_sim_allocator_kinds(); *k && len < sizeof kinds; k++)
            len += (size_t)snprintf(kinds + len, sizeof kinds - len, "%s%s", len ? ", " : "", *k);
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "truth: allocators[%zu]: \"%.100s\" is not a stateful allocator "
                            "(%s); every policy of the set has its line already",
                            i, spec, kinds);
    }
    gope_sim_allocator a;
    gope_status st = gope_sim_allocator_new(spec, c->policies, w, &a, err);
    gope_sim_allocator_free(&a);
    return st ? in_spec(st, i, err) : GOPE_OK;
}

/* The rows: [logging allocator,] the set's policies, the allocators; every
 * spec tried on the first seed's world, every name unique. */
static gope_status make_rows(gope_simtruth_t *t, gope_err *err)
{
    const gope_simtruth_conf *c = &t->c;
    gope_sim_world_t *w = NULL;
    gope_status st = gope_sim_world_new(c->world, c->seed, &w, err);
    if (st)
        return in_run(st, NULL, c->seed, err);
    st = try_spec(c, w, SIZE_MAX, err);
    for (size_t i = 0; i < c->n_allocators && st == GOPE_OK; i++)
        st = try_spec(c, w, i, err);
    if (st)
        goto cleanup;
    size_t r = 0;
    if (names_allocator(c->logging)) {
        const size_t len = strcspn(c->logging, ":");
        if (!(t->logging_name = malloc(len + 1))) {
            st = gope_err_set(err, GOPE_ERR_NOMEM, "truth: out of memory");
            goto cleanup;
        }
        memcpy(t->logging_name, c->logging, len);
        t->logging_name[len] = '\0';
        t->rows[r++] = (row){ROW_LOGGING, t->logging_name, c->logging, 0};
    }
    for (size_t p = 0; p < t->np; p++)
        t->rows[r++] = (row){ROW_POLICY, gope_policy_name(c->policies, p), NULL, p};
    for (size_t i = 0; i < c->n_allocators; i++)
        t->rows[r++] = (row){ROW_SIMULATED, c->allocators[i], c->allocators[i], 0};
    t->nr = r;
    t->logging = 0; /* the logging allocator's row, or (try_spec found it) the policy's: */
    if (!t->logging_name)
        gope_sim__policy_index(c->policies, c->logging, &t->logging);
    for (size_t a = 0; a < t->nr && st == GOPE_OK; a++)
        for (size_t b = a + 1; b < t->nr && st == GOPE_OK; b++)
            if (strcmp(t->rows[a].name, t->rows[b].name) == 0)
                st = gope_err_set(err, GOPE_ERR_USAGE,
                                  "truth: two lines would be called \"%s\" (policy and "
                                  "allocator names must differ; the logging allocator is "
                                  "named by its spec's name part, the others by their spec)",
                                  t->rows[a].name);
cleanup:
    gope_sim_world_free(w);
    return st;
}

gope_status gope_simtruth_new(const gope_simtruth_conf *conf, gope_simtruth_t **out,
                              gope_err *err)
{
    *out = NULL;
    if (conf->seeds == 0 || conf->decisions == 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "truth: seeds and decisions must be >= 1");
    if (conf->seeds - 1 > UINT64_MAX - conf->seed)
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "truth: seeds %llu from seed %llu go beyond 2^64 - 1",
                            (unsigned long long)conf->seeds, (unsigned long long)conf->seed);
    if (!conf->logging)
        return gope_err_set(err, GOPE_ERR_USAGE, "truth: no logging policy or allocator");
    gope_simtruth_t *t = calloc(1, sizeof *t);
    if (!t)
        return gope_err_set(err, GOPE_ERR_NOMEM, "truth: out of memory");
    t->c = *conf;
    t->np = gope_policies_count(conf->policies);
    gope_metrics_names(&t->nm);
    const size_t rows = t->np + 1 + conf->n_allocators; /* at most */
    const size_t seeds = conf->seeds > SIZE_MAX ? SIZE_MAX : (size_t)conf->seeds;
    const size_t cells = rows < t->np || seeds > SIZE_MAX / rows ? 0 : rows * seeds;
    t->rows = table(rows, 1, sizeof *t->rows);
    t->v_online = table(cells, 1, sizeof *t->v_online);
    t->revenue = table(cells, 1, sizeof *t->revenue);
    t->met = table(cells, t->nm, sizeof *t->met);
    t->met_ok = table(cells, t->nm, sizeof *t->met_ok);
    t->scratch = table(seeds, 1, sizeof *t->scratch);
    t->v_static = table(t->np, 1, sizeof *t->v_static);
    gope_status st = GOPE_OK;
    if (!cells || !t->rows || !t->v_online || !t->revenue || !t->met || !t->met_ok ||
        !t->scratch || !t->v_static)
        st = gope_err_set(err, GOPE_ERR_NOMEM,
                          "truth: out of memory for %zu lines x %llu seeds", rows,
                          (unsigned long long)conf->seeds);
    else
        st = make_rows(t, err);
    if (st) {
        gope_simtruth_free(t);
        return st;
    }
    *out = t;
    return GOPE_OK;
}

/* ------------------------------------------------------------ the runs */

/* The run's step callback: every outcome into the metrics. Stops the run at
 * the accumulator's first (sticky) error, with its message. */
static gope_status feed_metrics(void *ctx, const gope_sim_step *step, gope_err *err)
{
    gope_sim_metrics unused;
    if (gope_metrics_add(ctx, step->outcome) == GOPE_OK)
        return GOPE_OK;
    return gope_metrics_finish(ctx, &unused, err);
}

/* Row r on world w (seed index k): V_online, revenue and metrics. */
static gope_status run_one(gope_simtruth_t *t, const gope_sim_world_t *w,
                           const gope_metrics_conf *mc, size_t r, size_t k, gope_err *err)
{
    const row *rw = &t->rows[r];
    gope_sim_allocator alloc = {0};
    gope_sim_summary sum;
    gope_sim_metrics m;
    gope_metrics_t *acc = NULL;
    gope_status st = rw->spec ? gope_sim_allocator_new(rw->spec, t->c.policies, w, &alloc, err)
                              : gope_sim_policy_allocator(t->c.policies, rw->policy, &alloc, err);
    if (st == GOPE_OK && !(acc = gope_metrics_new(mc)))
        st = gope_err_set(err, GOPE_ERR_NOMEM, "out of memory");
    if (st == GOPE_OK) {
        const gope_sim_run_conf rc = {.decisions = t->c.decisions, .on_step = feed_metrics, .ctx = acc,
                                      .outcome_only = true};
        st = gope_sim_run(w, &alloc, &rc, &sum, err);
    }
    if (st == GOPE_OK)
        st = gope_metrics_finish(acc, &m, err);
    if (st == GOPE_OK) {
        const size_t cell = r * (size_t)t->c.seeds + k;
        t->v_online[cell] = sum.v_static; /* E[reward | state] along the run: see top */
        t->revenue[cell] = sum.revenue;
        for (size_t i = 0; i < t->nm; i++)
            t->met[cell * t->nm + i] = gope_metrics_value(&m, i, &t->met_ok[cell * t->nm + i]);
    }
    gope_metrics_free(acc);
    gope_sim_allocator_free(&alloc);
    return st ? in_run(st, rw->name, gope_sim_world_seed(w), err) : GOPE_OK;
}

/* Seed index k: its world, then every row on it. */
static gope_status run_seed(gope_simtruth_t *t, uint64_t k, gope_err *err)
{
    const uint64_t seed = t->c.seed + k;
    gope_sim_world_t *w = NULL;
    gope_status st = gope_sim_world_new(t->c.world, seed, &w, err);
    if (st)
        return in_run(st, NULL, seed, err);
    gope_metrics_conf mc;
    gope_simtruth_metrics_conf(w, &mc);
    for (size_t r = 0; r < t->nr && st == GOPE_OK; r++)
        st = run_one(t, w, &mc, r, (size_t)k, err);
    gope_sim_world_free(w);
    return st;
}

/* The seeds shared among workers. Seeds are handed out in order and every
 * seed writes only its own cells, so the tables (and the lines) do not
 * depend on how many workers ran them. After a failure no new seed starts;
 * the error kept is the lowest failing seed's, which is the one a single
 * worker stops at: every lower seed was handed out before it, and runs. */
typedef struct {
    gope_simtruth_t *t;
    pthread_mutex_t mu; /* guards the rest */
    uint64_t next, done;
    bool failed;
    uint64_t failed_k;
    gope_status st;
    gope_err err;
} seed_pool;

static void *pool_work(void *arg)
{
    seed_pool *p = arg;
    gope_simtruth_t *t = p->t;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        const bool stop = p->failed || p->next == t->c.seeds;
        const uint64_t k = p->next;
        p->next += !stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        gope_err e;
        const gope_status st = run_seed(t, k, &e);
        pthread_mutex_lock(&p->mu);
        if (st && (!p->failed || k < p->failed_k)) {
            p->failed = true;
            p->failed_k = k;
            p->st = st;
            p->err = e;
        } else if (st == GOPE_OK && t->c.progress) {
            /* under the lock: one report at a time, `done` counting up */
            t->c.progress(t->c.progress_ctx, ++p->done, t->c.seeds, t->c.seed + k);
        }
        pthread_mutex_unlock(&p->mu);
    }
}

gope_status gope_simtruth_online(gope_simtruth_t *t, gope_err *err)
{
    t->online_done = false;
    seed_pool p = {.t = t};
    pthread_mutex_init(&p.mu, NULL);
    /* jobs - 1 helpers and this thread; a helper that cannot be started
     * only means fewer workers. */
    const uint64_t want = t->c.jobs > 1 ? t->c.jobs - 1 : 0;
    const size_t n = (size_t)(want < t->c.seeds - 1 ? want : t->c.seeds - 1);
    pthread_t *tid = n ? malloc(n * sizeof *tid) : NULL;
    size_t started = 0;
    while (tid && started < n && pthread_create(&tid[started], NULL, pool_work, &p) == 0)
        started++;
    pool_work(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    pthread_mutex_destroy(&p.mu);
    if (p.failed) {
        *err = p.err;
        return p.st;
    }
    t->online_done = true;
    return GOPE_OK;
}

gope_status gope_simtruth_static(gope_simtruth_t *t, const char *path, gope_err *err)
{
    t->log = NULL;
    const bool logged = t->rows[t->logging].kind == ROW_LOGGING;
    gope_status st = gope_simtruth_log_static(path, t->c.policies, t->v_static,
                                              logged ? &t->v_logged : NULL, &t->log_stats, err);
    if (st == GOPE_OK)
        t->log = path;
    return st;
}

const gope_simtruth_log_stats *gope_simtruth_log_stats_get(const gope_simtruth_t *t)
{
    return &t->log_stats;
}

/* ------------------------------------------------------------ output */

/* "key":{"mean","sd",["se",]"ci_low","ci_high","n"}; undefined parts null. */
static void put_summary(gope_jbuf *b, const char *key, const gope_mean_ci *m, bool with_se)
{
    gope_jbuf_key(b, key);
    gope_jbuf_raw(b, "{", 1);
    gope_jbuf_key(b, "mean");
    gope_jbuf_num(b, m->mean, m->n > 0);
    gope_jbuf_key(b, "sd");
    gope_jbuf_num(b, m->sd, m->has_sd);
    if (with_se) {
        gope_jbuf_key(b, "se");
        gope_jbuf_num(b, m->se, m->has_sd);
    }
    gope_jbuf_key(b, "ci_low");
    gope_jbuf_num(b, m->ci_low, m->has_sd);
    gope_jbuf_key(b, "ci_high");
    gope_jbuf_num(b, m->ci_high, m->has_sd);
    gope_jbuf_key(b, "n");
    gope_jbuf_u64(b, m->n);
    gope_jbuf_raw(b, "}", 1);
}

/* Summary over seeds of x[r][.] - x[logging][.] (paired by seed). */
static gope_mean_ci paired(const gope_simtruth_t *t, const double *x, size_t p)
{
    const size_t n = (size_t)t->c.seeds;
    for (size_t k = 0; k < n; k++)
        t->scratch[k] = x[p * n + k] - x[t->logging * n + k];
    return gope_mean_ci95(t->scratch, n);
}

/* "metrics":{name:{...}}: each over the seeds where it is defined. */
static void put_metrics(gope_jbuf *b, const gope_simtruth_t *t, size_t p)
{
    size_t nm;
    const char *const *names = gope_metrics_names(&nm);
    const size_t n = (size_t)t->c.seeds;
    gope_jbuf_key(b, "metrics");
    gope_jbuf_raw(b, "{", 1);
    for (size_t i = 0; i < nm; i++) {
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
            const size_t cell = (p * n + k) * nm + i;
            if (t->met_ok[cell])
                t->scratch[m++] = t->met[cell];
        }
        const gope_mean_ci s = gope_mean_ci95(t->scratch, m);
        put_summary(b, names[i], &s, false);
    }
    gope_jbuf_raw(b, "}", 1);
}

static void put_str(gope_jbuf *b, const char *key, const char *s)
{
    gope_jbuf_key(b, key);
    gope_jbuf_quote(b, s, strlen(s));
}

/* The fields both kinds of line share: world, seeds, decisions. */
static void put_run_fields(gope_jbuf *b, const gope_simtruth_t *t)
{
    put_str(b, "world", t->c.world_name);
    gope_jbuf_key(b, "seeds");
    gope_jbuf_u64(b, t->c.seeds);
    gope_jbuf_key(b, "decisions");
    gope_jbuf_u64(b, t->c.decisions);
}

/* "v_static": {value, n} of row r, or null (no log, or an allocator OPE
 * cannot evaluate). */
static void put_v_static(gope_jbuf *b, const gope_simtruth_t *t, const row *r)
{
    gope_jbuf_key(b, "v_static");
    if (!t->log || r->kind == ROW_SIMULATED) {
        gope_jbuf_str(b, "null");
        return;
    }
    gope_jbuf_str(b, "{\"value\":");
    gope_jbuf_num(b, r->kind == ROW_LOGGING ? t->v_logged : t->v_static[r->policy], true);
    gope_jbuf_str(b, ",\"n\":");
    gope_jbuf_u64(b, t->log_stats.accepted);
    gope_jbuf_raw(b, "}", 1);
}

/* One truth.v1 line. */
static void policy_line(gope_jbuf *b, const gope_simtruth_t *t, size_t p)
{
    const size_t n = (size_t)t->c.seeds;
    const row *r = &t->rows[p];
    gope_jbuf_str(b, "{\"schema\":\"truth.v1\"");
    put_run_fields(b, t);
    put_str(b, "policy", r->name);
    if (r->spec)
        put_str(b, "spec", r->spec);
    gope_jbuf_key(b, "logging");
    gope_jbuf_str(b, p == t->logging ? "true" : "false");
    const gope_mean_ci on = gope_mean_ci95(&t->v_online[p * n], n);
    put_summary(b, "v_online", &on, true);
    for (size_t k = 0; k < n; k++)
        t->scratch[k] = t->revenue[p * n + k] / (double)t->c.decisions;
    const gope_mean_ci realized = gope_mean_ci95(t->scratch, n);
    put_summary(b, "v_online_realized", &realized, true);
    put_v_static(b, t, r);
    gope_jbuf_key(b, "vs_logging");
    gope_jbuf_raw(b, "{", 1);
    const gope_mean_ci dv = paired(t, t->v_online, p), dr = paired(t, t->revenue, p);
    put_summary(b, "v_online", &dv, false);
    put_summary(b, "total_revenue", &dr, false);
    gope_jbuf_raw(b, "}", 1);
    put_metrics(b, t, p);
    gope_jbuf_raw(b, "}", 1);
}

/* The truth_run.v1 line: the run, the log and what its lines were. */
static void run_line(gope_jbuf *b, const gope_simtruth_t *t)
{
    const gope_simtruth_log_stats *s = &t->log_stats;
    gope_jbuf_str(b, "{\"schema\":\"truth_run.v1\"");
    put_str(b, "logging_policy", t->rows[t->logging].name);
    put_run_fields(b, t);
    gope_jbuf_key(b, "seed");
    gope_jbuf_u64(b, t->c.seed);
    gope_jbuf_key(b, "log");
    if (t->log)
        gope_jbuf_quote(b, t->log, strlen(t->log));
    else
        gope_jbuf_str(b, "null");
    gope_jbuf_key(b, "log_read");
    if (t->log) {
        gope_jbuf_raw(b, "{", 1);
        gope_jbuf_key(b, "lines_read");
        gope_jbuf_u64(b, s->lines_read);
        gope_jbuf_key(b, "accepted");
        gope_jbuf_u64(b, s->accepted);
        gope_jbuf_key(b, "rejected");
        gope_jbuf_u64(b, s->rejected);
        gope_jbuf_key(b, "rejected_by_reason");
        gope_jbuf_raw(b, "{", 1);
        for (int r = 1; r < GOPE_R_COUNT; r++)
            if (s->by_reason[r]) {
                gope_jbuf_key(b, gope_reason_name((gope_reason)r));
                gope_jbuf_u64(b, s->by_reason[r]);
            }
        gope_jbuf_raw(b, "}}", 2);
    } else {
        gope_jbuf_str(b, "null");
    }
    gope_jbuf_key(b, "world_config");
    gope_world_json(t->c.world, b);
    gope_jbuf_raw(b, "}", 1);
}

gope_status gope_simtruth_write(const gope_simtruth_t *t, gope_sink *out, gope_err *err)
{
    if (!t->online_done)
        return gope_err_set(err, GOPE_ERR_USAGE, "truth: nothing simulated yet");
    gope_jbuf b = {0};
    gope_status st = GOPE_OK;
    for (size_t p = 0; p <= t->nr && st == GOPE_OK; p++) {
        gope_jbuf_reset(&b);
        if (p < t->nr)
            policy_line(&b, t, p);
        else
            run_line(&b, t);
        st = b.oom ? gope_err_set(err, GOPE_ERR_NOMEM, "truth: out of memory")
                   : out->ops->write(out->ctx, p < t->nr ? "policy" : "summary", b.data,
                                     b.len, err);
    }
    gope_jbuf_free(&b);
    return st;
}
