/*
 * metrics_prom.c — what `consume --metrics-addr` and `merge --metrics-addr`
 * export, rendered as Prometheus text exposition format 0.0.4 (gope_ope.h,
 * "metrics"; docs/prometheus.md lists every series). The two differ only in
 * their counters: the per-policy series, lag, delays and ages are common.
 * With per-partition state consume's records are partition shares; they
 * then only time the close delay (gope_prom_conf.no_estimates).
 *
 * The per-policy gauges come from the records themselves: a sink wrapper
 * reads every ope_metrics.v1 line back (cJSON) on its way to --out, after
 * the agreement sink has added its block, and keeps the latest window of
 * each policy. Reading the output rather than hooking the window engine
 * means the dashboard shows exactly what was written, estimators and
 * agreement included, and this file needs nothing from the pipeline's
 * internals. Records are one per window and policy, so the cost is nothing
 * next to the events.
 *
 * Everything here runs on the consumer's thread; the HTTP server only ever
 * sees the rendered text (metrics_http.c).
 */
#include "gope_ope.h"

#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonbuf.h"

typedef struct {
    char *name;
    double value, ci_low, ci_high; /* NaN for a JSON null */
} est_gauge;

typedef struct {
    char *name;
    est_gauge *est;
    size_t n_est, cap_est;
    double n, ess, window_end_s;
    int verdict; /* gope_verdict, or -1 without an agreement block */
} policy_gauges;

typedef struct {
    char topic[256]; /* Kafka topic names are at most 249 bytes */
    int32_t partition;
    int64_t lag;
} lag_entry;

struct gope_prom_s {
    gope_wallclock_fn clock;
    void *clock_ctx;
    bool no_estimates; /* records only time the close delay (gope_prom_conf) */
    double start_s;
    gope_sink inner; /* the sink gope_prom_wrap_sink() interposed on */
    policy_gauges *pol;
    size_t n_pol, cap_pol;
    lag_entry *lag;
    size_t n_lag, cap_lag;
    double close_delay_s, checkpoint_s;
    bool have_close_delay, have_checkpoint, changed;
    gope_jbuf text;
};

static double realtime_s(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* `arr` (*cap elements of `size` bytes) with room for n + 1: itself or a
 * larger copy (*cap updated), or NULL when out of memory (`arr` intact). */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 8;
    void *a = realloc(arr, c * size);
    if (a)
        *cap = c;
    return a;
}

/* ------------------------------------------------------ reading records */

static double num_or_nan(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static policy_gauges *policy_slot(gope_prom_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_pol; i++)
        if (strcmp(m->pol[i].name, name) == 0)
            return &m->pol[i];
    policy_gauges *pol = grow(m->pol, &m->cap_pol, m->n_pol, sizeof *m->pol);
    if (!pol)
        return NULL;
    m->pol = pol;
    policy_gauges *p = &m->pol[m->n_pol];
    *p = (policy_gauges){.name = strdup(name), .verdict = -1};
    if (!p->name)
        return NULL;
    m->n_pol++;
    return p;
}

static est_gauge *est_slot(policy_gauges *p, const char *name)
{
    for (size_t i = 0; i < p->n_est; i++)
        if (strcmp(p->est[i].name, name) == 0)
            return &p->est[i];
    est_gauge *est = grow(p->est, &p->cap_est, p->n_est, sizeof *p->est);
    if (!est)
        return NULL;
    p->est = est;
    est_gauge *e = &p->est[p->n_est];
    *e = (est_gauge){.name = strdup(name)};
    if (!e->name)
        return NULL;
    p->n_est++;
    return e;
}

static int verdict_of(const cJSON *record)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(record, "agreement"), "verdict");
    for (int i = 0; cJSON_IsString(v) && i < GOPE_VERDICT_COUNT; i++)
        if (strcmp(v->valuestring, gope_verdict_name((gope_verdict)i)) == 0)
            return i;
    return -1;
}

/* One ope_metrics.v1 record: its policy's gauges become this window's. */
static gope_status take_record(gope_prom_t *m, const cJSON *r, gope_err *err)
{
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(r, "policy");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r, "window"), "end");
    const cJSON *est = cJSON_GetObjectItemCaseSensitive(r, "estimates");
    const char *missing = !cJSON_IsString(policy) ? "policy"
                          : !cJSON_IsNumber(end)  ? "window.end"
                          : !cJSON_IsObject(est)  ? "estimates"
                                                  : NULL;
    if (missing)
        return gope_err_set(err, GOPE_ERR_INPUT, "metrics: ope_metrics.v1 record: %s: missing",
                            missing);
    m->close_delay_s = m->clock(m->clock_ctx) - end->valuedouble / 1e3;
    m->have_close_delay = true;
    m->changed = true;
    if (m->no_estimates)
        return GOPE_OK;
    policy_gauges *p = policy_slot(m, policy->valuestring);
    if (!p)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics: out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, est) {
        est_gauge *g = est_slot(p, e->string);
        if (!g)
            return gope_err_set(err, GOPE_ERR_NOMEM, "metrics: out of memory");
        g->value = num_or_nan(e, "value");
        g->ci_low = num_or_nan(e, "ci_low");
        g->ci_high = num_or_nan(e, "ci_high");
    }
    p->n = num_or_nan(r, "n");
    p->ess = num_or_nan(cJSON_GetObjectItemCaseSensitive(r, "diagnostics"), "ess");
    p->window_end_s = end->valuedouble / 1e3;
    p->verdict = verdict_of(r);
    return GOPE_OK;
}

static gope_status wrap_write(void *ctx, const char *key, const char *line, size_t len,
                              gope_err *err)
{
    gope_prom_t *m = ctx;
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(j, "schema");
    gope_status st = GOPE_OK;
    if (cJSON_IsString(schema) && strcmp(schema->valuestring, "ope_metrics.v1") == 0)
        st = take_record(m, j, err);
    cJSON_Delete(j);
    if (st != GOPE_OK)
        return st;
    return m->inner.ops->write(m->inner.ctx, key, line, len, err);
}

static gope_status wrap_close(void *ctx, gope_err *err)
{
    gope_prom_t *m = ctx;
    return gope_sink_close(&m->inner, err);
}

static gope_status wrap_flush(void *ctx, gope_err *err)
{
    gope_prom_t *m = ctx;
    return gope_sink_flush(&m->inner, err);
}

static const gope_sink_ops metrics_sink_ops = {
    .name = "metrics", .write = wrap_write, .close = wrap_close, .flush = wrap_flush,
};

void gope_prom_wrap_sink(gope_prom_t *m, gope_sink *sink)
{
    m->inner = *sink;
    *sink = (gope_sink){.ops = &metrics_sink_ops, .ctx = m};
}

/* ------------------------------------------------------------ rendering */

/* "# HELP" and "# TYPE" of a family; help texts are plain ASCII literals
 * without backslashes or newlines, so they need no escaping. */
static void family(gope_jbuf *b, const char *name, const char *type, const char *help)
{
    gope_jbuf_str(b, "# HELP ");
    gope_jbuf_str(b, name);
    gope_jbuf_raw(b, " ", 1);
    gope_jbuf_str(b, help);
    gope_jbuf_str(b, "\n# TYPE ");
    gope_jbuf_str(b, name);
    gope_jbuf_raw(b, " ", 1);
    gope_jbuf_str(b, type);
    gope_jbuf_raw(b, "\n", 1);
}

/* A label value, escaped as the exposition format requires: backslash,
 * double quote and newline. */
static void label_value(gope_jbuf *b, const char *v)
{
    for (const char *s = v; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc)
            gope_jbuf_str(b, esc);
        else
            gope_jbuf_raw(b, s, 1);
    }
}

/* name{k1="v1",k2="v2"} with `n` key/value pairs in `kv`, then a space. */
static void series(gope_jbuf *b, const char *name, const char *const *kv, size_t n)
{
    gope_jbuf_str(b, name);
    for (size_t i = 0; i < n; i++) {
        gope_jbuf_raw(b, i ? "," : "{", 1);
        gope_jbuf_str(b, kv[2 * i]);
        gope_jbuf_str(b, "=\"");
        label_value(b, kv[2 * i + 1]);
        gope_jbuf_raw(b, "\"", 1);
    }
    gope_jbuf_str(b, n ? "} " : " ");
}

/* A sample value: the shortest decimal that reads back exactly (as in the
 * JSON records), or NaN / +Inf / -Inf. */
static void value(gope_jbuf *b, double v)
{
    if (isnan(v))
        gope_jbuf_str(b, "NaN");
    else if (isinf(v))
        gope_jbuf_str(b, v > 0 ? "+Inf" : "-Inf");
    else
        gope_jbuf_num(b, v, true);
    gope_jbuf_raw(b, "\n", 1);
}

static void count(gope_jbuf *b, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64 "\n", v);
    gope_jbuf_str(b, s);
}

static void counter(gope_jbuf *b, const char *name, const char *help, uint64_t v)
{
    family(b, name, "counter", help);
    series(b, name, NULL, 0);
    count(b, v);
}

static void gauge(gope_jbuf *b, const char *name, const char *help, double v)
{
    family(b, name, "gauge", help);
    series(b, name, NULL, 0);
    value(b, v);
}

static void render_pipeline(gope_jbuf *b, const gope_pipeline_stats *s)
{
    counter(b, "giftope_lines_read_total", "Input lines (Kafka messages) read.", s->lines_read);
    counter(b, "giftope_events_accepted_total", "Events accepted into their windows.",
            s->accepted);
    const char *name = "giftope_events_rejected_total";
    family(b, name, "counter", "Lines rejected, by reason code (docs/schema.md).");
    for (int r = GOPE_R_OK + 1; r < GOPE_R_COUNT; r++) {
        if (r == GOPE_R_LATE) /* late lines have a counter of their own */
            continue;
        const char *kv[] = {"reason", gope_reason_name((gope_reason)r)};
        series(b, name, kv, 1);
        count(b, s->by_reason[r]);
    }
    counter(b, "giftope_events_late_total", "Valid events whose windows had all closed.",
            s->late);
    counter(b, "giftope_rewards_joined_total", "Reward lines summed into their decision.",
            s->rewards_joined);
    counter(b, "giftope_decisions_defaulted_total",
            "Decisions whose reward wait expired without a reward (entered with 0).",
            s->decisions_defaulted);
    counter(b, "giftope_rewards_orphaned_total",
            "Reward lines without a decision within the reward wait (dead-lettered).",
            s->rewards_orphaned);
    gauge(b, "giftope_join_decisions_pending", "Decisions now waiting for their rewards.",
          (double)s->decisions_pending);
    gauge(b, "giftope_join_rewards_held", "Rewards now held for a decision yet to come.",
          (double)s->rewards_held);
    counter(b, "giftope_windows_emitted_total", "Windows emitted.", s->windows);
    counter(b, "giftope_records_emitted_total", "Window records (window x policy) emitted.",
            s->records);
}

typedef enum { EST_VALUE, EST_CI_LOW, EST_CI_HIGH } est_field;

static void render_estimates(gope_jbuf *b, const gope_prom_t *m, const char *name,
                             est_field f, const char *help)
{
    family(b, name, "gauge", help);
    for (size_t i = 0; i < m->n_pol; i++)
        for (size_t j = 0; j < m->pol[i].n_est; j++) {
            const est_gauge *g = &m->pol[i].est[j];
            const char *kv[] = {"policy", m->pol[i].name, "estimator", g->name};
            series(b, name, kv, 2);
            value(b, f == EST_VALUE ? g->value : f == EST_CI_LOW ? g->ci_low : g->ci_high);
        }
}

typedef enum { POL_ESS, POL_N, POL_END } pol_field;

static void render_policy(gope_jbuf *b, const gope_prom_t *m, const char *name,
                          pol_field f, const char *help)
{
    family(b, name, "gauge", help);
    for (size_t i = 0; i < m->n_pol; i++) {
        const policy_gauges *p = &m->pol[i];
        const char *kv[] = {"policy", p->name};
        series(b, name, kv, 1);
        value(b, f == POL_ESS ? p->ess : f == POL_N ? p->n : p->window_end_s);
    }
}

/* One series per policy and verdict, 1 for the current one: a dashboard
 * can then plot each verdict, and a missing series means no --truth. */
static void render_verdicts(gope_jbuf *b, const gope_prom_t *m)
{
    const char *name = "giftope_agreement_verdict";
    bool any = false;
    for (size_t i = 0; i < m->n_pol && !any; i++)
        any = m->pol[i].verdict >= 0;
    if (!any)
        return;
    family(b, name, "gauge",
           "Agreement verdict of the latest window with --truth: 1 for the current one.");
    for (size_t i = 0; i < m->n_pol; i++)
        for (int v = 0; m->pol[i].verdict >= 0 && v < GOPE_VERDICT_COUNT; v++) {
            const char *kv[] = {"policy", m->pol[i].name, "verdict",
                                gope_verdict_name((gope_verdict)v)};
            series(b, name, kv, 2);
            count(b, m->pol[i].verdict == v);
        }
}

static void render_lag(gope_jbuf *b, const gope_prom_t *m)
{
    const char *name = "giftope_consumer_lag_messages";
    family(b, name, "gauge",
           "Messages between the consumer's position and the partition's high watermark.");
    for (size_t i = 0; i < m->n_lag; i++) {
        char part[16];
        snprintf(part, sizeof part, "%" PRId32, m->lag[i].partition);
        const char *kv[] = {"topic", m->lag[i].topic, "partition", part};
        series(b, name, kv, 2);
        value(b, (double)m->lag[i].lag);
    }
}

/* The series every exporter starts with. */
static void render_head(gope_jbuf *b, const gope_prom_t *m)
{
    gope_jbuf_reset(b);
    gauge(b, "giftope_up", "1 while the process runs.", 1);
    gauge(b, "giftope_start_time_seconds", "When the process started (Unix time).",
          m->start_s);
}

/* The records' series, lag, delays and ages after the counters, and the
 * text handed out. */
static gope_status render_tail(gope_prom_t *m, const char **text, size_t *len, gope_err *err)
{
    gope_jbuf *b = &m->text;
    double now = m->clock(m->clock_ctx);
    if (!m->no_estimates) {
        render_estimates(b, m, "giftope_estimate", EST_VALUE,
                         "Estimated policy value in the latest closed window.");
        render_estimates(b, m, "giftope_estimate_ci_low", EST_CI_LOW,
                         "Lower end of the estimate's 95% confidence interval.");
        render_estimates(b, m, "giftope_estimate_ci_high", EST_CI_HIGH,
                         "Upper end of the estimate's 95% confidence interval.");
        render_policy(b, m, "giftope_window_ess", POL_ESS,
                      "Effective sample size of the policy's weights in the latest window.");
        render_policy(b, m, "giftope_window_events", POL_N, "Events in the latest window.");
        render_policy(b, m, "giftope_window_end_timestamp_seconds", POL_END,
                      "Event-time end of the latest closed window (Unix time).");
        render_verdicts(b, m);
    }
    render_lag(b, m);
    if (m->have_close_delay)
        gauge(b, "giftope_window_close_delay_seconds",
              "Wall clock at the latest window emission minus that window's end.",
              m->close_delay_s);
    if (m->have_checkpoint)
        gauge(b, "giftope_checkpoint_age_seconds", "Seconds since the last checkpoint.",
              now - m->checkpoint_s);
    if (b->oom)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics: out of memory");
    m->changed = false;
    *text = b->data;
    *len = b->len;
    return GOPE_OK;
}

gope_status gope_prom_render(gope_prom_t *m, const gope_pipeline_stats *stats,
                                const char **text, size_t *len, gope_err *err)
{
    render_head(&m->text, m);
    render_pipeline(&m->text, stats);
    return render_tail(m, text, len, err);
}

static void render_merge(gope_jbuf *b, const gope_prom_merge_stats *s)
{
    counter(b, "giftope_merge_lines_read_total", "Lines (messages) read from the partials topic.",
            s->lines_read);
    counter(b, "giftope_merge_window_partials_total",
            "Window partials taken (a later revision of a share replaces the earlier one).",
            s->window_partials);
    counter(b, "giftope_merge_duplicate_partials_total",
            "Window partials dropped: a share seen before with the same or a later revision.",
            s->duplicate_partials);
    counter(b, "giftope_merge_progress_lines_total", "Progress lines taken.", s->progress_lines);
    counter(b, "giftope_records_emitted_total", "Window records (window x policy) emitted.",
            s->records);
    const char *name = "giftope_merge_rejected_total";
    family(b, name, "counter", "Lines of the partials topic refused, by reason.");
    for (size_t r = 0; r < s->n_reasons; r++) {
        const char *kv[] = {"reason", s->reason_names[r]};
        series(b, name, kv, 1);
        count(b, s->rejected[r]);
    }
    gauge(b, "giftope_merge_open_windows",
          "Windows with partials whose record is not out yet (some partition is behind).",
          (double)s->open_windows);
}

gope_status gope_prom_render_merge(gope_prom_t *m, const gope_prom_merge_stats *stats,
                                   const char **text, size_t *len, gope_err *err)
{
    render_head(&m->text, m);
    render_merge(&m->text, stats);
    return render_tail(m, text, len, err);
}

/* ------------------------------------------------------------ the rest */

gope_status gope_prom_new(const gope_prom_conf *conf, gope_prom_t **out,
                             gope_err *err)
{
    gope_prom_t *m = calloc(1, sizeof *m);
    if (!m)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics: out of memory");
    m->clock = conf && conf->clock ? conf->clock : realtime_s;
    m->clock_ctx = conf ? conf->clock_ctx : NULL;
    m->no_estimates = conf && conf->no_estimates;
    m->start_s = m->clock(m->clock_ctx);
    *out = m;
    return GOPE_OK;
}

void gope_prom_free(gope_prom_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_pol; i++) {
        for (size_t j = 0; j < m->pol[i].n_est; j++)
            free(m->pol[i].est[j].name);
        free(m->pol[i].est);
        free(m->pol[i].name);
    }
    free(m->pol);
    free(m->lag);
    gope_jbuf_free(&m->text);
    free(m);
}

bool gope_prom_changed(const gope_prom_t *m)
{
    return m->changed;
}

void gope_prom_lag_clear(gope_prom_t *m)
{
    m->n_lag = 0;
}

gope_status gope_prom_lag_set(gope_prom_t *m, const char *topic, int32_t partition,
                                 int64_t lag, gope_err *err)
{
    lag_entry *lags = grow(m->lag, &m->cap_lag, m->n_lag, sizeof *m->lag);
    if (!lags)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics: out of memory");
    m->lag = lags;
    lag_entry *e = &m->lag[m->n_lag++];
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    e->partition = partition;
    e->lag = lag;
    return GOPE_OK;
}

void gope_prom_checkpoint_done(gope_prom_t *m)
{
    m->checkpoint_s = m->clock(m->clock_ctx);
    m->have_checkpoint = true;
}
