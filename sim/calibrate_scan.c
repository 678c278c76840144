/*
 * calibrate_scan.c — read allocation logs and measure what they reveal
 * (calibrate.h, docs/calibrate.md "What is measured").
 *
 * Every line goes through the project's source and decoder with rewards
 * required, exactly as replay reads it; a rejected line is counted by reason
 * and skipped. The decoder does not keep the id strings, so an accepted line
 * is parsed a second time with cJSON for user_id, the candidates'
 * streamer_id and logging_policy. That second parse is the scan's main cost
 * on wide lines; calibration runs once per log, so clarity wins.
 *
 * One pass, bounded state: per user and per streamer a few numbers (dense
 * indices from calibrate_ids.c), the outcome sample (calibrate_sample.c),
 * the time-of-day bins, a histogram of candidate counts, the time segments
 * the logs cover, and the sums that identify sessions. What needs the
 * whole log (capacity tiers, medians, Chao1, the arrival fit) is done once
 * at the end by calibrate_measure.c.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate_int.h"

/* The time segment the current file is in: a new one at each file and
 * whenever ts falls more than GOPE_CALIB_GAP_MS behind the segment's
 * latest (a log that restarts its clock). */
static gope_status segment_add(gope_calib_scan_state *s, int64_t ts, bool new_file)
{
    gope_calib_segment *cur = s->n_segs ? &s->segs[s->n_segs - 1] : NULL;
    if (cur && !new_file && ts >= cur->hi - GOPE_CALIB_GAP_MS) {
        cur->lo = ts < cur->lo ? ts : cur->lo;
        cur->hi = ts > cur->hi ? ts : cur->hi;
        return GOPE_OK;
    }
    bool ok = true;
    s->segs = gope_calib__grow(s->segs, &s->cap_segs, s->n_segs + 1, sizeof *s->segs, &ok);
    if (!ok)
        return GOPE_ERR_NOMEM;
    s->segs[s->n_segs++] = (gope_calib_segment){ts, ts};
    s->have_prev_viewers = false; /* sessions restart with the clock */
    return GOPE_OK;
}

/* The per-streamer record of candidate j, created on first sight. */
static gope_status streamer_add(gope_calib_scan_state *s, const cJSON *id, const gope_candidate *c)
{
    bool is_new;
    const int64_t i = gope_calib_ids_get(s->streamers, id->valuestring, strlen(id->valuestring),
                                         &is_new);
    bool ok = i >= 0;
    s->srec = gope_calib__grow(s->srec, &s->cap_srec, (size_t)i + 1, sizeof *s->srec, &ok);
    if (!ok)
        return GOPE_ERR_NOMEM;
    gope_calib_streamer *r = &s->srec[i];
    if (is_new)
        *r = (gope_calib_streamer){0};
    r->appearances++;
    r->capacity = c->capacity;
    r->cold |= c->cold_start;
    r->head |= c->head;
    if (c->ev > 0 && c->sigma > 0) {
        const double ratio = c->sigma / c->ev;
        r->sd_sum += sqrt(log1p(ratio * ratio));
        r->sd_n++;
    }
    return GOPE_OK;
}

/* The most frequent logging_policy: counts of the first few names (a name
 * of 64 bytes or more is not counted). */
static void policy_add(gope_calib_scan_state *s, const cJSON *lp)
{
    if (!cJSON_IsString(lp))
        return;
    for (size_t i = 0; i < s->n_pol; i++)
        if (strcmp(s->pol[i].name, lp->valuestring) == 0) {
            s->pol[i].n++;
            return;
        }
    if (s->n_pol < GOPE_CALIB_POLICIES && strlen(lp->valuestring) < sizeof s->pol[0].name) {
        strcpy(s->pol[s->n_pol].name, lp->valuestring);
        s->pol[s->n_pol++].n = 1;
    }
}

/* Viewers present (the sum of the loads when every streamer is offered):
 * round sessions count up by one and fall to zero. */
static void viewers_add(gope_calib_scan_state *s, const gope_event *ev)
{
    int64_t sum = 0;
    for (size_t j = 0; j < ev->n_candidates; j++)
        sum += ev->candidates[j].load;
    if (s->have_prev_viewers) {
        s->viewer_pairs++;
        s->round_pairs += sum == 0 || sum == s->prev_viewers + 1;
    }
    s->prev_viewers = sum;
    s->have_prev_viewers = true;
    s->max_viewers = sum > s->max_viewers ? sum : s->max_viewers;
    gope_ksum_add(&s->viewers, (double)sum);
}

/* An accepted event and its line: everything the scan counts. */
static gope_status accept(gope_calib_scan_state *s, const char *source, const gope_line *line,
                          const gope_event *ev, bool new_file, gope_err *err)
{
    gope_calib_log *log = s->log;
    cJSON *root = cJSON_ParseWithLength(line->data, line->len);
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(root, "user_id");
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    gope_status st = GOPE_OK;
    if (!cJSON_IsString(uid) || !cJSON_IsArray(cands) ||
        (size_t)cJSON_GetArraySize(cands) != ev->n_candidates) {
        /* the decoder accepted the line: only cJSON failing ends here */
        st = gope_err_set(err, GOPE_ERR_INPUT,
                          "%s:%llu: cJSON cannot read the line the decoder accepted (out of "
                          "memory?)",
                          source, (unsigned long long)line->lineno);
        goto cleanup;
    }
    bool is_new;
    const int64_t user = gope_calib_ids_get(s->users, uid->valuestring, strlen(uid->valuestring),
                                            &is_new);
    const gope_candidate *chosen = &ev->candidates[ev->action];
    if (user < 0 || segment_add(s, ev->ts, new_file) != GOPE_OK ||
        gope_calib_sample_add(s->sample, (uint32_t)user, ev->is_whale, chosen->ev, ev->reward))
        goto nomem;
    size_t j = 0;
    for (const cJSON *c = cands->child; c; c = c->next, j++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "streamer_id");
        if (!cJSON_IsString(id)) {
            st = gope_err_set(err, GOPE_ERR_INPUT, "%s:%llu: candidates[%zu].streamer_id: not a "
                              "string to cJSON", source, (unsigned long long)line->lineno, j);
            goto cleanup;
        }
        if (streamer_add(s, id, &ev->candidates[j]) != GOPE_OK)
            goto nomem;
    }
    log->accepted++;
    log->first_ts = log->accepted == 1 || ev->ts < log->first_ts ? ev->ts : log->first_ts;
    log->last_ts = ev->ts > log->last_ts ? ev->ts : log->last_ts;
    log->bin_count[(ev->ts % 86400000) / (86400000 / GOPE_CALIB_TIME_BINS)]++;
    s->cand_hist[ev->n_candidates]++;
    log->over_capacity += chosen->capacity > 0 && chosen->load >= chosen->capacity;
    viewers_add(s, ev);
    policy_add(s, cJSON_GetObjectItemCaseSensitive(root, "logging_policy"));
    goto cleanup;
nomem:
    st = gope_err_set(err, GOPE_ERR_NOMEM, "%s:%llu: out of memory", source,
                      (unsigned long long)line->lineno);
cleanup:
    cJSON_Delete(root);
    return st;
}

static void reject(gope_calib_scan_state *s, const char *source, const gope_line *line,
                   gope_reason r, const char *detail)
{
    s->log->rejected++;
    s->log->by_reason[r]++;
    if (s->first_reject[0])
        return;
    snprintf(s->first_reject, sizeof s->first_reject, "first at %.200s:%llu: %s: %.200s", source,
             (unsigned long long)line->lineno, gope_reason_name(r), detail);
}

/* Every line of one log. @return GOPE_OK at its end, or the fault. */
static gope_status scan_file(gope_calib_scan_state *s, const char *path, gope_err *err)
{
    gope_source_t *src = NULL;
    gope_line line;
    gope_event ev;
    char detail[256];
    bool new_file = true;
    gope_status st = gope_source_open(path, &src, err);
    while (st == GOPE_OK && (st = gope_source_next(src, &line, err)) == GOPE_OK) {
        s->log->lines_read++;
        if (line.too_long) {
            snprintf(detail, sizeof detail, "%zu bytes, limit %u", line.full_len, GOPE_MAX_LINE);
            reject(s, gope_source_name(src), &line, GOPE_R_LINE_TOO_LONG, detail);
            continue;
        }
        const gope_reason r =
            gope_decode_line(s->dec, line.data, line.len, true, &ev, detail, sizeof detail);
        if (r != GOPE_R_OK) {
            reject(s, gope_source_name(src), &line, r, detail);
            continue;
        }
        st = accept(s, gope_source_name(src), &line, &ev, new_file, err);
        new_file = false;
    }
    gope_source_close(src);
    s->log->files++;
    return st == GOPE_EOF ? GOPE_OK : st;
}

static void state_free(gope_calib_scan_state *s)
{
    gope_decoder_free(s->dec);
    gope_calib_ids_free(s->users);
    gope_calib_ids_free(s->streamers);
    gope_calib_sample_free(s->sample);
    free(s->srec);
    free(s->segs);
    free(s->cand_hist);
}

gope_status gope_calib_scan(const char *const *paths, size_t n, const gope_world_conf *base,
                            gope_calib_log *out, gope_err *err)
{
    gope_calib_scan_state s = {.log = out, .base = base};
    gope_status st = GOPE_OK;
    memset(out, 0, sizeof *out);
    s.dec = gope_decoder_new();
    s.users = gope_calib_ids_new();
    s.streamers = gope_calib_ids_new();
    s.sample = gope_calib_sample_new(base->tiers);
    s.cand_hist = calloc(GOPE_MAX_CANDIDATES + 1, sizeof *s.cand_hist);
    if (!s.dec || !s.users || !s.streamers || !s.sample || !s.cand_hist)
        st = gope_err_set(err, GOPE_ERR_NOMEM, "calibrate: out of memory");
    for (size_t i = 0; i < n && st == GOPE_OK; i++)
        st = scan_file(&s, paths[i], err);
    if (st == GOPE_OK && out->accepted == 0)
        st = gope_err_set(err, GOPE_ERR_INPUT,
                          "no valid decision in the logs (%llu lines read, %llu rejected%s%s)",
                          (unsigned long long)out->lines_read,
                          (unsigned long long)out->rejected, s.first_reject[0] ? "; " : "",
                          s.first_reject);
    if (st == GOPE_OK)
        st = gope_calib__measure(&s, err);
    state_free(&s);
    return st;
}
