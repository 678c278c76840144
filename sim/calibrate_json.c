/*
 * calibrate_json.c — the calibration.v1 line (schemas/
 * calibration.v1.schema.json) and the text of a world field for the
 * terminal table (calibrate.h).
 *
 * The line has five parts: the inputs, "log" (what the scan measured),
 * "fit" (how the gift model was fitted and the list of world.v1 paths
 * calibrate set), "world" (the complete fitted world, exactly the object
 * written to --out) and "report" (the simulated-vs-log rows). Undefined
 * values are null, never absent, so every line has the same keys.
 */
#include <stdio.h>
#include <string.h>

#include "calibrate.h"
#include "world_conf_int.h"

static void num(gope_jbuf *b, const char *key, double v, bool ok)
{
    gope_jbuf_key(b, key);
    gope_jbuf_num(b, v, ok);
}

static void u64(gope_jbuf *b, const char *key, uint64_t v)
{
    gope_jbuf_key(b, key);
    gope_jbuf_u64(b, v);
}

static void boolean(gope_jbuf *b, const char *key, bool v)
{
    gope_jbuf_key(b, key);
    gope_jbuf_str(b, v ? "true" : "false");
}

static void str(gope_jbuf *b, const char *key, const char *s, bool ok)
{
    gope_jbuf_key(b, key);
    if (ok)
        gope_jbuf_quote(b, s, strlen(s));
    else
        gope_jbuf_str(b, "null");
}

static void counts(gope_jbuf *b, const char *key, const uint64_t *v, size_t n)
{
    gope_jbuf_key(b, key);
    for (size_t i = 0; i < n; i++) {
        gope_jbuf_raw(b, i ? "," : "[", 1);
        gope_jbuf_u64(b, v[i]);
    }
    gope_jbuf_raw(b, "]", 1);
}

static void log_lines(gope_jbuf *b, const gope_calib_log *l)
{
    u64(b, "files", l->files);
    u64(b, "lines_read", l->lines_read);
    u64(b, "accepted", l->accepted);
    u64(b, "rejected", l->rejected);
    gope_jbuf_key(b, "rejected_by_reason");
    gope_jbuf_raw(b, "{", 1);
    for (int r = 1; r < GOPE_R_COUNT; r++)
        if (l->by_reason[r])
            u64(b, gope_reason_name((gope_reason)r), l->by_reason[r]);
    gope_jbuf_raw(b, "}", 1);
}

static void log_time(gope_jbuf *b, const gope_calib_log *l)
{
    gope_jbuf_key(b, "time");
    gope_jbuf_raw(b, "{", 1);
    gope_jbuf_key(b, "first_ts");
    gope_jbuf_i64(b, l->first_ts);
    gope_jbuf_key(b, "last_ts");
    gope_jbuf_i64(b, l->last_ts);
    u64(b, "segments", l->segments);
    num(b, "covered_s", l->exposure_s, true);
    gope_jbuf_key(b, "rate_by_hour");
    for (int h = 0; h < 24; h++) {
        gope_jbuf_raw(b, h ? "," : "[", 1);
        gope_jbuf_num(b, l->time.rate_by_hour[h], l->time.hour_ok[h]);
    }
    gope_jbuf_raw(b, "]", 1);
    boolean(b, "shape_fitted", l->time.shape_ok);
    gope_jbuf_raw(b, "}", 1);
}

static void log_world(gope_jbuf *b, const gope_calib_log *l)
{
    gope_jbuf_key(b, "candidates");
    gope_jbuf_raw(b, "{", 1);
    u64(b, "min", l->cand_min);
    u64(b, "median", l->cand_median);
    u64(b, "max", l->cand_max);
    boolean(b, "all_streamers", l->all_streamers);
    gope_jbuf_raw(b, "}", 1);
    u64(b, "users_seen", l->users_seen);
    num(b, "users_est", l->users_est, true);
    u64(b, "whale_users", l->whale_users);
    u64(b, "streamers_seen", l->streamers_seen);
    num(b, "streamers_est", l->streamers_est, true);
    u64(b, "cold_streamers", l->cold_streamers);
    u64(b, "head_streamers", l->head_streamers);
    gope_jbuf_key(b, "capacity");
    gope_jbuf_raw(b, "{", 1);
    u64(b, "values", l->capacity_values);
    gope_jbuf_key(b, "tiers");
    for (int t = 0; t < 3; t++) {
        gope_jbuf_raw(b, t ? "," : "[", 1);
        gope_jbuf_i64(b, l->capacity[t]);
    }
    gope_jbuf_raw(b, "]", 1);
    num(b, "top_frac", l->capacity_frac[0], true);
    num(b, "middle_frac", l->capacity_frac[1], true);
    num(b, "over_capacity_frac", (double)l->over_capacity / (double)l->accepted, true);
    gope_jbuf_raw(b, "}", 1);
    gope_jbuf_key(b, "session");
    gope_jbuf_raw(b, "{", 1);
    str(b, "mode", gope_world__session_name(l->session), l->session_known);
    num(b, "round_pairs_frac", l->round_pairs_frac, l->session_known);
    gope_jbuf_key(b, "round_users");
    if (l->session_known && l->session == GOPE_SESSION_ROUND)
        gope_jbuf_u64(b, l->round_users);
    else
        gope_jbuf_str(b, "null");
    num(b, "mean_viewers", l->mean_viewers, l->session_known);
    gope_jbuf_raw(b, "}", 1);
    num(b, "noise_sd", l->noise_sd, l->noise_ok);
    num(b, "cold_noise_sd", l->cold_noise_sd, l->cold_noise_ok);
    str(b, "logging_policy", l->policy, l->policy[0] != 0);
    u64(b, "logging_policy_lines", l->policy_lines);
}

static void log_outcomes(gope_jbuf *b, const gope_calib_stats *s)
{
    u64(b, "decisions", s->decisions);
    u64(b, "gifts", s->gifts);
    u64(b, "whale_gifts", s->whale_gifts);
    u64(b, "payers", s->payers);
    gope_jbuf_key(b, "tiers");
    gope_jbuf_raw(b, "{", 1);
    counts(b, "all", s->tier_counts[GOPE_CALIB_ALL], GOPE_SIM_TIERS);
    counts(b, "whales", s->tier_counts[GOPE_CALIB_WHALE], GOPE_SIM_TIERS);
    counts(b, "others", s->tier_counts[GOPE_CALIB_OTHER], GOPE_SIM_TIERS);
    gope_jbuf_raw(b, "}", 1);
}

static void fit_part(gope_jbuf *b, const gope_calib_report *r)
{
    const gope_calib_fit_info *i = r->info;
    gope_jbuf_key(b, "fit");
    gope_jbuf_raw(b, "{", 1);
    str(b, "policy", i->policy, i->policy[0] != 0);
    boolean(b, "policy_from_log", i->policy_from_log);
    u64(b, "seed", r->fit->seed);
    u64(b, "decisions", r->fit->decisions);
    u64(b, "iterations", i->iterations);
    boolean(b, "converged", i->converged);
    boolean(b, "gift_fitted", i->gift_fitted);
    boolean(b, "slope_fitted", i->slope_fitted);
    num(b, "sim_gift_rate", i->sim_gift_rate, i->iterations > 0);
    num(b, "tier_tv", i->tier_tv, i->iterations > 0);
    num(b, "tilt_log", i->tilt_log, i->gift_fitted);
    num(b, "tilt_sim", i->tilt_sim, i->iterations > 0);
    gope_jbuf_key(b, "fitted");
    gope_jbuf_raw(b, "[", 1);
    for (size_t k = 0; k < i->n_fitted; k++) {
        if (k)
            gope_jbuf_raw(b, ",", 1);
        gope_jbuf_quote(b, i->fitted[k], strlen(i->fitted[k]));
    }
    gope_jbuf_raw(b, "]}", 2);
}

static void report_part(gope_jbuf *b, const gope_calib_report *r)
{
    gope_calib_row rows[GOPE_CALIB_ROWS];
    gope_calib_rows(&r->log->stats, r->sim, rows);
    gope_jbuf_key(b, "report");
    gope_jbuf_raw(b, "{", 1);
    str(b, "policy", r->report_policy, true);
    u64(b, "seed", r->report_seed);
    u64(b, "decisions", r->report_decisions);
    gope_jbuf_key(b, "rows");
    for (size_t i = 0; i < GOPE_CALIB_ROWS; i++) {
        gope_jbuf_raw(b, i ? ",{" : "[{", 2);
        str(b, "metric", rows[i].metric, true);
        num(b, "log", rows[i].log.v, rows[i].log.ok);
        num(b, "sim", rows[i].sim.v, rows[i].sim.ok);
        num(b, "abs_err", rows[i].abs_err.v, rows[i].abs_err.ok);
        num(b, "rel_err", rows[i].rel_err.v, rows[i].rel_err.ok);
        gope_jbuf_raw(b, "}", 1);
    }
    gope_jbuf_raw(b, "]}", 2);
}

void gope_calib_json(const gope_calib_report *r, gope_jbuf *b)
{
    gope_jbuf_str(b, "{\"schema\":\"calibration.v1\"");
    gope_jbuf_key(b, "inputs");
    for (size_t i = 0; i < r->n_inputs; i++) {
        gope_jbuf_raw(b, i ? "," : "[", 1);
        gope_jbuf_quote(b, r->inputs[i], strlen(r->inputs[i]));
    }
    gope_jbuf_raw(b, r->n_inputs ? "]" : "[]", r->n_inputs ? 1 : 2);
    str(b, "base", r->base, true);
    str(b, "out", r->out, true);
    gope_jbuf_key(b, "log");
    gope_jbuf_raw(b, "{", 1);
    log_lines(b, r->log);
    log_time(b, r->log);
    log_world(b, r->log);
    log_outcomes(b, &r->log->stats);
    gope_jbuf_raw(b, "}", 1);
    fit_part(b, r);
    gope_jbuf_key(b, "world");
    gope_world_json(r->world, b);
    report_part(b, r);
    gope_jbuf_raw(b, "}", 1);
}

const char *gope_calib_field_text(const gope_world_conf *c, const char *path, char *buf,
                                  size_t size)
{
    size_t n, len = 0;
    const gope_world_field *f = gope_world__fields(&n);
    char name[96];
    for (size_t i = 0; i < n; i++, f++) {
        snprintf(name, sizeof name, "%s.%s", f->group, f->key);
        if (strcmp(name, path) != 0)
            continue;
        const void *at = (const char *)c + f->offset;
        switch (f->type) {
        case GOPE_WF_U32: snprintf(buf, size, "%u", *(const uint32_t *)at); break;
        case GOPE_WF_I64: snprintf(buf, size, "%lld", (long long)*(const int64_t *)at); break;
        case GOPE_WF_BOOL: snprintf(buf, size, "%s", *(const bool *)at ? "true" : "false"); break;
        case GOPE_WF_SESSION:
            snprintf(buf, size, "%s", gope_world__session_name(*(const gope_session_mode *)at));
            break;
        case GOPE_WF_REAL:
            buf[0] = 0;
            for (unsigned k = 0; k < f->n && len < size; k++)
                len += (size_t)snprintf(buf + len, size - len, "%s%.6g%s",
                                        f->n > 1 && !k ? "[" : k ? ", " : "",
                                        ((const double *)at)[k], f->n > 1 && k + 1 == f->n ? "]" : "");
            break;
        }
        return buf;
    }
    snprintf(buf, size, "?");
    return buf;
}
