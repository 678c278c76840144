/*
 * truth_log.c — V_static on a simulated log (see truth.h, docs/truth.md).
 *
 * A log written by `giftope sim` carries, on every candidate, the true
 * expected value the world knew at decision time ("true_ev"; replay ignores
 * it). For each logged decision i and policy pi,
 *     sum_j pi_j(x_i) true_ev_ij
 * is the exact expected reward of pi on that context, and its mean over the
 * log is V_static: what every unbiased off-policy estimator is estimating.
 *
 * Each line goes through the project's own source and decoder, so the events
 * are the ones replay accepts (same validation, rewards required) and pi is
 * computed by the very gope_policy_probs() call the estimators make; the
 * decoder does not keep unknown candidate fields, so true_ev comes from a
 * cJSON parse of the same line. Lines the decoder rejects are counted by
 * reason, as replay counts them, and skipped; an accepted line without
 * true_ev is a fault of the input (a log that is not a simulator's), named
 * by file, line and candidate. Duplicated event ids are not removed: a
 * simulator log has none.
 *
 * A stateful logging allocator (whale_matching, ...) is no policy of the
 * set, so its pi cannot be recomputed; but the log carries it: "probs" is
 * exactly the distribution the allocator sampled from, so its V_static is
 * the same mean with the logged probs as pi. A line without probs is then a
 * fault of the input, like a missing true_ev.
 *
 * Sums are compensated (gope_ksum) at both levels, in the same order as the
 * engine's, so the logging policy's V_static reproduces the run summary's
 * v_static to the last bits.
 */
#include "truth.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gope_status gope_simtruth_log_policy(const char *path, char **name, gope_err *err)
{
    gope_source_t *src = NULL;
    gope_line line;
    *name = NULL;
    gope_status st = gope_source_open(path, &src, err);
    if (st == GOPE_OK)
        st = gope_source_next(src, &line, err);
    if (st == GOPE_OK) {
        cJSON *root = line.too_long ? NULL : cJSON_ParseWithLength(line.data, line.len);
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(root, "logging_policy");
        if (cJSON_IsString(lp)) {
            const size_t len = strlen(lp->valuestring) + 1;
            if ((*name = malloc(len)))
                memcpy(*name, lp->valuestring, len);
            else
                st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
        }
        cJSON_Delete(root);
    }
    gope_source_close(src);
    return st == GOPE_EOF ? GOPE_OK : st;
}

/* The true_ev of the n candidates of an accepted line into tev[0..n). */
static gope_status read_true_ev(const char *source, const gope_line *line, size_t n,
                                double *tev, gope_err *err)
{
    cJSON *root = cJSON_ParseWithLength(line->data, line->len);
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(root, "candidates");
    gope_status st = GOPE_OK;
    if (!cJSON_IsArray(cands) || (size_t)cJSON_GetArraySize(cands) != n) {
        /* the decoder accepted the line, so only cJSON running out of memory
         * (or disagreeing with the decoder) ends here */
        st = gope_err_set(err, GOPE_ERR_INPUT,
                          "%s:%llu: candidates: cJSON cannot read the line the decoder "
                          "accepted (out of memory?)",
                          source, (unsigned long long)line->lineno);
        goto cleanup;
    }
    size_t j = 0;
    for (const cJSON *c = cands->child; c; c = c->next, j++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "true_ev");
        if (!v) {
            st = gope_err_set(err, GOPE_ERR_INPUT,
                              "%s:%llu: candidates[%zu].true_ev: missing (truth --log needs "
                              "a log written by `giftope sim`, which has it on every "
                              "candidate)",
                              source, (unsigned long long)line->lineno, j);
            goto cleanup;
        }
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) {
            st = gope_err_set(err, GOPE_ERR_INPUT,
                              "%s:%llu: candidates[%zu].true_ev: expected a finite number "
                              ">= 0",
                              source, (unsigned long long)line->lineno, j);
            goto cleanup;
        }
        tev[j] = v->valuedouble;
    }
cleanup:
    cJSON_Delete(root);
    return st;
}

static void count_reject(gope_simtruth_log_stats *s, const gope_line *line, gope_reason r,
                         const char *detail)
{
    s->rejected++;
    s->by_reason[r]++;
    if (s->first_reject_line)
        return;
    s->first_reject_line = line->lineno;
    s->first_reject_reason = r;
    snprintf(s->first_reject_detail, sizeof s->first_reject_detail, "%s", detail);
}

/* sum_j pi_j tev_j over n candidates, compensated, in the engine's order. */
static double expected(const double *pi, const double *tev, size_t n)
{
    gope_ksum v = {0, 0};
    for (size_t j = 0; j < n; j++)
        gope_ksum_add(&v, pi[j] * tev[j]);
    return gope_ksum_value(&v);
}

gope_status gope_simtruth_log_static(const char *path, const gope_policy_set_t *set,
                                     double *v_static, double *v_logged,
                                     gope_simtruth_log_stats *stats, gope_err *err)
{
    const size_t np = gope_policies_count(set);
    gope_source_t *src = NULL;
    gope_decoder_t *dec = gope_decoder_new();
    gope_ksum *sums = calloc(np + 1, sizeof *sums); /* [np]: the logged probs' */
    double *pi = malloc(3 * GOPE_MAX_CANDIDATES * sizeof *pi), *scratch, *tev;
    gope_line line;
    gope_event ev;
    char detail[256];
    gope_status st;
    *stats = (gope_simtruth_log_stats){0};
    if (!dec || !sums || !pi) {
        st = gope_err_set(err, GOPE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    scratch = pi + GOPE_MAX_CANDIDATES;
    tev = pi + 2 * GOPE_MAX_CANDIDATES;
    st = gope_source_open(path, &src, err);
    while (st == GOPE_OK && (st = gope_source_next(src, &line, err)) == GOPE_OK) {
        stats->lines_read++;
        if (line.too_long) {
            snprintf(detail, sizeof detail, "%zu bytes, limit %u", line.full_len, GOPE_MAX_LINE);
            count_reject(stats, &line, GOPE_R_LINE_TOO_LONG, detail);
            continue;
        }
        const gope_reason r =
            gope_decode_line(dec, line.data, line.len, true, &ev, detail, sizeof detail);
        if (r != GOPE_R_OK) {
            count_reject(stats, &line, r, detail);
            continue;
        }
        if (v_logged && !ev.probs) {
            st = gope_err_set(err, GOPE_ERR_INPUT,
                              "%s:%llu: probs: missing (the logging allocator's V_static is "
                              "computed from the logged probs, which `giftope sim` writes on "
                              "every line)",
                              gope_source_name(src), (unsigned long long)line.lineno);
            break;
        }
        if ((st = read_true_ev(gope_source_name(src), &line, ev.n_candidates, tev, err)))
            break;
        for (size_t i = 0; i < np; i++) {
            gope_policy_probs(set, i, &ev, pi, scratch);
            gope_ksum_add(&sums[i], expected(pi, tev, ev.n_candidates));
        }
        if (v_logged)
            gope_ksum_add(&sums[np], expected(ev.probs, tev, ev.n_candidates));
        stats->accepted++;
    }
    if (st == GOPE_EOF && stats->accepted == 0)
        st = gope_err_set(err, GOPE_ERR_INPUT,
                          "%s: no valid decision to compute V_static on (%llu lines read, "
                          "%llu rejected)",
                          path, (unsigned long long)stats->lines_read,
                          (unsigned long long)stats->rejected);
    else if (st == GOPE_EOF) {
        st = GOPE_OK;
        for (size_t i = 0; i < np; i++)
            v_static[i] = gope_ksum_value(&sums[i]) / (double)stats->accepted;
        if (v_logged)
            *v_logged = gope_ksum_value(&sums[np]) / (double)stats->accepted;
    }
cleanup:
    gope_source_close(src);
    gope_decoder_free(dec);
    free(sums);
    free(pi);
    return st;
}
