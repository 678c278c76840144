/*
 * metrics_json.c — generic access to gope_sim_metrics: the name table, the
 * value accessor and the JSON writer (see sim_metrics.h).
 *
 * One X-macro list names every field once, in JSON order; the name array
 * and the field table are both expanded from it, so they cannot drift
 * apart. A field missing from the list is caught by a test comparing the
 * table against sizeof(gope_sim_metrics).
 */
#include "sim_metrics.h"

#include <stddef.h>

enum kind { COUNT, VALUE };

#define METRICS(X)                                                                         \
    X(decisions, COUNT)                                                                    \
    X(total_revenue, VALUE)                                                                \
    X(revenue_per_decision, VALUE)                                                         \
    X(users_seen, COUNT)                                                                   \
    X(revenue_per_user, VALUE)                                                             \
    X(gifts, COUNT)                                                                        \
    X(gift_rate, VALUE)                                                                    \
    X(amount_p50, VALUE)                                                                   \
    X(amount_p90, VALUE)                                                                   \
    X(amount_p99, VALUE)                                                                   \
    X(amount_mean, VALUE)                                                                  \
    X(top01_capture, VALUE)                                                                \
    X(top1_capture, VALUE)                                                                 \
    X(user_gini_payers, VALUE)                                                             \
    X(top1_user_share, VALUE)                                                              \
    X(streamer_gini_all, VALUE)                                                            \
    X(streamer_gini_payers, VALUE)                                                         \
    X(head_share, VALUE)                                                                   \
    X(head_revenue_share, VALUE)                                                           \
    X(cold_start_success_rate, VALUE)                                                      \
    X(cold_start_coverage, VALUE)                                                          \
    X(coverage, VALUE)                                                                     \
    X(streamers_without_gift_frac, VALUE)                                                  \
    X(overload_rate, VALUE)                                                                \
    X(crowding_rate, VALUE)                                                                \
    X(capacity_violations, COUNT)                                                          \
    X(rounds, COUNT)                                                                       \
    X(cvar05, VALUE)                                                                       \
    X(round_revenue_var, VALUE)                                                            \
    X(dwell_proxy, VALUE)                                                                  \
    X(return_proxy, VALUE)                                                                 \
    X(v_static_mean, VALUE)                                                                \
    X(true_ev_mean, VALUE)

#define NAME(field, kind) #field,
static const char *const names[] = {METRICS(NAME)};

/* Type-checked offsets: a COUNT must be a uint64_t, a VALUE a gope_mval. */
#define CHECK_COUNT(field) _Generic(((gope_sim_metrics *)0)->field, uint64_t: 1)
#define CHECK_VALUE(field) _Generic(((gope_sim_metrics *)0)->field, gope_mval: 1)
#define FIELD(field, kind)                                                                 \
    {offsetof(gope_sim_metrics, field) * CHECK_##kind(field), kind},
static const struct {
    size_t off;
    enum kind kind;
} fields[] = {METRICS(FIELD)};

#define N_METRICS (sizeof names / sizeof names[0])

const char *const *gope_metrics_names(size_t *n)
{
    *n = N_METRICS;
    return names;
}

bool gope_metrics_is_count(size_t i) { return i < N_METRICS && fields[i].kind == COUNT; }

double gope_metrics_value(const gope_sim_metrics *m, size_t i, bool *defined)
{
    bool ok = false;
    double v = 0;
    if (i < N_METRICS) {
        const char *p = (const char *)m + fields[i].off;
        if (fields[i].kind == COUNT) {
            ok = true;
            v = (double)*(const uint64_t *)(const void *)p;
        } else {
            const gope_mval *mv = (const gope_mval *)(const void *)p;
            ok = mv->ok;
            v = ok ? mv->v : 0;
        }
    }
    if (defined)
        *defined = ok;
    return v;
}

void gope_metrics_json(const gope_sim_metrics *m, gope_jbuf *b)
{
    gope_jbuf_raw(b, "{", 1);
    for (size_t i = 0; i < N_METRICS; i++) {
        const char *p = (const char *)m + fields[i].off;
        gope_jbuf_key(b, names[i]);
        if (fields[i].kind == COUNT) {
            gope_jbuf_u64(b, *(const uint64_t *)(const void *)p);
        } else {
            const gope_mval *mv = (const gope_mval *)(const void *)p;
            gope_jbuf_num(b, mv->v, mv->ok);
        }
    }
    gope_jbuf_raw(b, "}", 1);
}
