/*
 * validate.c — everything after the syntax, shared by both decoders.
 *
 * A decoder hands over a gope_dec_raw (see decode_int.h); this file applies
 * the contract's checks in its fixed order, independent of the order of the
 * keys in the line. A reward.v1 line (validate_reward) has only event_id, ts
 * and reward to check, in the same steps. An alloc.v1 line:
 *   unknown_schema; wrong_type (top-level fields in gope_dec_field order,
 *   then each candidate in index order); missing_field (same orders); then
 *   values: event_id, ts, candidate count, each candidate (ev, then sigma,
 *   load, capacity, whales), action, propensity, reward, probs, and the
 *   non-finite checks of lambda_values, uncertainty_score and
 *   constraint_violations.
 * Detail texts name the field with its path ("candidates[3].load") and the
 * offending value, printed in its shortest round-trip form.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "decode_int.h"

const char *const gope_dec_field_names[GOPE_F_COUNT] = {
    "event_id", "ts", "user_id", "candidates", "action", "propensity", "reward",
    "probs", "is_whale", "logging_policy", "lambda_values", "uncertainty_score",
    "constraint_violations", "schema",
};

const char *const gope_dec_cfield_names[GOPE_CF_COUNT] = {
    "streamer_id", "ev", "sigma", "load", "capacity", "whales", "cold_start", "head",
};

/* Accepted kinds, as bit masks over gope_dec_kind. */
#define K(kind) (1u << GOPE_DK_##kind)
#define W_STRING K(STRING)
#define W_INT K(INT)
#define W_NUMBER (K(INT) | K(FLOAT))
#define W_BOOL (K(TRUE) | K(FALSE))

static const unsigned top_want[GOPE_F_COUNT] = {
    [GOPE_F_EVENT_ID] = W_STRING, [GOPE_F_TS] = W_INT, [GOPE_F_USER_ID] = W_STRING,
    [GOPE_F_CANDIDATES] = K(ARRAY), [GOPE_F_ACTION] = W_INT,
    [GOPE_F_PROPENSITY] = W_NUMBER, [GOPE_F_REWARD] = W_NUMBER, [GOPE_F_PROBS] = K(ARRAY),
    [GOPE_F_IS_WHALE] = W_BOOL, [GOPE_F_LOGGING_POLICY] = W_STRING,
    [GOPE_F_LAMBDA_VALUES] = K(OBJECT), [GOPE_F_UNCERTAINTY_SCORE] = W_NUMBER,
    [GOPE_F_CONSTRAINT_VIOLATIONS] = K(OBJECT), [GOPE_F_SCHEMA] = W_STRING,
};

static const unsigned cand_want[GOPE_CF_COUNT] = {
    [GOPE_CF_STREAMER_ID] = W_STRING, [GOPE_CF_EV] = W_NUMBER, [GOPE_CF_SIGMA] = W_NUMBER,
    [GOPE_CF_LOAD] = W_INT, [GOPE_CF_CAPACITY] = W_INT, [GOPE_CF_WHALES] = W_INT,
    [GOPE_CF_COLD_START] = W_BOOL, [GOPE_CF_HEAD] = W_BOOL,
};

static bool wrong_kind(uint8_t kind, unsigned want)
{
    return kind != GOPE_DK_ABSENT && !(want >> kind & 1);
}

static bool is_finite(double d)
{
    return d - d == 0;
}

/* ------------------------------------------------ folding, during a parse */

void gope_dec_cand_done(gope_decoder_t *dec, size_t idx, const uint8_t *kinds)
{
    gope_dec_raw *raw = &dec->raw;
    if (raw->cand_type_at == GOPE_DEC_NONE) {
        unsigned bad = 0; /* bit f: field f has a wrong kind; no branch per field */
        for (int f = 0; kinds && f < GOPE_CF_COUNT; f++)
            bad |= (unsigned)wrong_kind(kinds[f], cand_want[f]) << f;
        if (!kinds || bad) {
            raw->cand_type_at = idx;
            raw->cand_type_field = kinds ? __builtin_ctz(bad) : -1;
        }
    }
    if (kinds && raw->cand_missing_at == GOPE_DEC_NONE) {
        int miss = kinds[GOPE_CF_STREAMER_ID] == GOPE_DK_ABSENT ? GOPE_CF_STREAMER_ID
                 : kinds[GOPE_CF_EV] == GOPE_DK_ABSENT ? GOPE_CF_EV : -1;
        if (miss >= 0) {
            raw->cand_missing_at = idx;
            raw->cand_missing_field = miss;
        }
    }
}

void gope_dec_lambda_member(gope_dec_raw *raw, int c, const gope_dec_val *v)
{
    gope_dec_nums_add(&raw->lambda, v);
    if (c >= 0 && !raw->lambda_seen[c]) {
        raw->lambda_seen[c] = true;
        raw->lambda_values[c] = v->d; /* a non-number is a type fault anyway */
    }
}

/* ---------------------------------------------------------------- details */

gope_reason gope_dec_fail(gope_reason r, char *detail, size_t size, const char *fmt, ...)
{
    if (detail && size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, size, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* The shortest of %.15g..%.17g that reads back as `d`. */
typedef struct {
    char s[32];
} numtext;

static numtext num(double d)
{
    numtext t;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t.s, sizeof t.s, "%.*g", prec, d);
        if (strtod(t.s, NULL) == d)
            break;
    }
    return t;
}

/* ----------------------------------------------------------------- checks */

/* Every check below has `detail` and `size` in scope. */
#define FAIL(reason, ...) gope_dec_fail(reason, detail, size, __VA_ARGS__)

static gope_reason check_nums_type(const gope_dec_raw *raw, gope_dec_field f,
                                   const gope_dec_nums *ns, char *detail, size_t size)
{
    const char *name = gope_dec_field_names[f];
    if (wrong_kind(raw->f[f].kind, top_want[f]))
        return FAIL(GOPE_R_WRONG_TYPE, "%s", name);
    if (raw->f[f].kind == GOPE_DK_ABSENT || ns->not_number == GOPE_DEC_NONE)
        return GOPE_R_OK;
    if (f == GOPE_F_PROBS)
        return FAIL(GOPE_R_WRONG_TYPE, "probs[%zu]", ns->not_number);
    return FAIL(GOPE_R_WRONG_TYPE, "%s member #%zu", name, ns->not_number);
}

static gope_reason check_types(const gope_dec_raw *raw, char *detail, size_t size)
{
    for (int f = 0; f < GOPE_F_SCHEMA; f++) {
        gope_reason r = GOPE_R_OK;
        if (f == GOPE_F_PROBS)
            r = check_nums_type(raw, GOPE_F_PROBS, &raw->probs, detail, size);
        else if (f == GOPE_F_LAMBDA_VALUES)
            r = check_nums_type(raw, GOPE_F_LAMBDA_VALUES, &raw->lambda, detail, size);
        else if (f == GOPE_F_CONSTRAINT_VIOLATIONS)
            r = check_nums_type(raw, GOPE_F_CONSTRAINT_VIOLATIONS, &raw->cv, detail, size);
        else if (wrong_kind(raw->f[f].kind, top_want[f]))
            r = FAIL(GOPE_R_WRONG_TYPE, "%s", gope_dec_field_names[f]);
        if (r != GOPE_R_OK)
            return r;
    }
    size_t at = raw->cand_type_at;
    if (at == GOPE_DEC_NONE)
        return GOPE_R_OK;
    if (raw->cand_type_field < 0)
        return FAIL(GOPE_R_WRONG_TYPE, "candidates[%zu]", at);
    return FAIL(GOPE_R_WRONG_TYPE, "candidates[%zu].%s", at,
                gope_dec_cfield_names[raw->cand_type_field]);
}

static gope_reason check_missing(const gope_dec_raw *raw, bool require_reward,
                                 char *detail, size_t size)
{
    for (int f = 0; f <= GOPE_F_REWARD; f++) {
        if (raw->f[f].kind == GOPE_DK_ABSENT && (f != GOPE_F_REWARD || require_reward))
            return FAIL(GOPE_R_MISSING_FIELD, "%s", gope_dec_field_names[f]);
    }
    if (raw->cand_missing_at == GOPE_DEC_NONE)
        return GOPE_R_OK;
    return FAIL(GOPE_R_MISSING_FIELD, "candidates[%zu].%s", raw->cand_missing_at,
                gope_dec_cfield_names[raw->cand_missing_field]);
}

/* event_id and ts: the fields both schemas key on. */
static gope_reason check_key(const gope_dec_raw *raw, char *detail, size_t size)
{
    if (raw->event_id_len == 0)
        return FAIL(GOPE_R_BAD_EVENT_ID, "event_id is empty");
    if (raw->event_id_len > GOPE_MAX_EVENT_ID)
        return FAIL(GOPE_R_BAD_EVENT_ID, "event_id is %zu bytes, max %d", raw->event_id_len,
                    GOPE_MAX_EVENT_ID);
    const gope_dec_val *ts = &raw->f[GOPE_F_TS];
    if (ts->big)
        return FAIL(GOPE_R_BAD_TS, "ts %s out of range", num(ts->d).s);
    if (ts->i < 0 || ts->i > GOPE_DEC_TS_MAX)
        return FAIL(GOPE_R_BAD_TS, "ts %lld %s", (long long)ts->i,
                    ts->i < 0 ? "is negative" : "is after the year 9999");
    return GOPE_R_OK;
}

static gope_reason check_header(const gope_dec_raw *raw, char *detail, size_t size)
{
    gope_reason r = check_key(raw, detail, size);
    if (r != GOPE_R_OK)
        return r;
    if (raw->n_cand == 0 || raw->n_cand > GOPE_MAX_CANDIDATES)
        return FAIL(GOPE_R_BAD_CANDIDATES, "%zu candidates, need 1..%d", raw->n_cand,
                    GOPE_MAX_CANDIDATES);
    return GOPE_R_OK;
}

/* load, capacity or whales of candidate i below `min`, or out of range. */
static gope_reason check_count(const gope_decoder_t *dec, size_t i, gope_dec_cfield f,
                               int64_t value, int64_t min, char *detail, size_t size)
{
    const char *name = gope_dec_cfield_names[f];
    if (dec->cand_flags[i] & GOPE_DEC_BIG(f))
        return FAIL(GOPE_R_BAD_CANDIDATE_FIELD, "candidates[%zu].%s out of range", i, name);
    if (value < min)
        return FAIL(GOPE_R_BAD_CANDIDATE_FIELD, "candidates[%zu].%s %lld < %lld", i, name,
                    (long long)value, (long long)min);
    return GOPE_R_OK;
}

static gope_reason check_candidates(const gope_decoder_t *dec, char *detail, size_t size)
{
    for (size_t i = 0; i < dec->raw.n_cand; i++) {
        const gope_candidate *c = &dec->cands[i];
        if (!(c->ev >= 0 && c->ev <= DBL_MAX))
            return FAIL(GOPE_R_BAD_EV, "candidates[%zu].ev %s", i, num(c->ev).s);
        if (!(c->sigma >= 0 && c->sigma <= DBL_MAX))
            return FAIL(GOPE_R_BAD_CANDIDATE_FIELD, "candidates[%zu].sigma %s", i,
                        num(c->sigma).s);
        gope_reason r = check_count(dec, i, GOPE_CF_LOAD, c->load, 0, detail, size);
        if (r == GOPE_R_OK && (dec->cand_flags[i] & GOPE_DEC_HAS_CAPACITY))
            r = check_count(dec, i, GOPE_CF_CAPACITY, c->capacity, 1, detail, size);
        if (r == GOPE_R_OK)
            r = check_count(dec, i, GOPE_CF_WHALES, c->whales, 0, detail, size);
        if (r != GOPE_R_OK)
            return r;
    }
    return GOPE_R_OK;
}

static gope_reason check_reward(const gope_dec_raw *raw, char *detail, size_t size)
{
    const gope_dec_val *rw = &raw->f[GOPE_F_REWARD];
    if (rw->kind != GOPE_DK_ABSENT && !(rw->d >= 0 && rw->d <= DBL_MAX))
        return FAIL(GOPE_R_BAD_REWARD, "reward %s", num(rw->d).s);
    return GOPE_R_OK;
}

static gope_reason check_choice(const gope_dec_raw *raw, char *detail, size_t size)
{
    const gope_dec_val *a = &raw->f[GOPE_F_ACTION];
    if (a->big || a->i < 0 || (uint64_t)a->i >= raw->n_cand)
        return FAIL(GOPE_R_ACTION_OUT_OF_RANGE, "action %s of %zu candidates", num(a->d).s,
                    raw->n_cand);
    double p = raw->f[GOPE_F_PROPENSITY].d;
    if (!(p > 0 && p <= 1))
        return FAIL(GOPE_R_BAD_PROPENSITY, "propensity %s", num(p).s);
    return check_reward(raw, detail, size);
}

static gope_reason check_probs(const gope_decoder_t *dec, char *detail, size_t size)
{
    const gope_dec_raw *raw = &dec->raw;
    if (raw->f[GOPE_F_PROBS].kind == GOPE_DK_ABSENT)
        return GOPE_R_OK;
    if (raw->probs.n != raw->n_cand)
        return FAIL(GOPE_R_BAD_PROBS, "probs has %zu entries for %zu candidates", raw->probs.n,
                    raw->n_cand);
    gope_ksum sum = {0, 0};
    for (size_t i = 0; i < raw->probs.n; i++) {
        double p = dec->probs[i];
        if (!(p >= 0 && p <= 1))
            return FAIL(GOPE_R_BAD_PROBS, "probs[%zu] %s outside [0,1]", i, num(p).s);
        gope_ksum_add(&sum, p);
    }
    double total = gope_ksum_value(&sum);
    if (fabs(total - 1) > 1e-6)
        return FAIL(GOPE_R_BAD_PROBS, "probs sum to %s", num(total).s);
    double pa = dec->probs[raw->f[GOPE_F_ACTION].i], prop = raw->f[GOPE_F_PROPENSITY].d;
    if (fabs(pa - prop) > 1e-6)
        return FAIL(GOPE_R_BAD_PROBS, "probs[action] %s != propensity %s", num(pa).s,
                    num(prop).s);
    return GOPE_R_OK;
}

static gope_reason check_optional(const gope_dec_raw *raw, char *detail, size_t size)
{
    if (raw->lambda.not_finite != GOPE_DEC_NONE)
        return FAIL(GOPE_R_BAD_FIELD_VALUE, "lambda_values member #%zu not finite",
                    raw->lambda.not_finite);
    const gope_dec_val *u = &raw->f[GOPE_F_UNCERTAINTY_SCORE];
    if (u->kind != GOPE_DK_ABSENT && !is_finite(u->d))
        return FAIL(GOPE_R_BAD_FIELD_VALUE, "uncertainty_score %s", num(u->d).s);
    if (raw->cv.not_finite != GOPE_DEC_NONE)
        return FAIL(GOPE_R_BAD_FIELD_VALUE, "constraint_violations member #%zu not finite",
                    raw->cv.not_finite);
    return GOPE_R_OK;
}

static void fill_event(const gope_decoder_t *dec, gope_event *out)
{
    const gope_dec_raw *raw = &dec->raw;
    out->kind = GOPE_EV_DECISION;
    memcpy(out->event_id, raw->event_id, raw->event_id_len);
    out->event_id[raw->event_id_len] = '\0';
    out->event_id_len = raw->event_id_len;
    out->ts = raw->f[GOPE_F_TS].i;
    out->action = raw->f[GOPE_F_ACTION].i;
    out->propensity = raw->f[GOPE_F_PROPENSITY].d;
    out->has_reward = raw->f[GOPE_F_REWARD].kind != GOPE_DK_ABSENT;
    out->reward = out->has_reward ? raw->f[GOPE_F_REWARD].d : 0;
    out->is_whale = raw->f[GOPE_F_IS_WHALE].kind == GOPE_DK_TRUE;
    out->n_candidates = raw->n_cand;
    out->candidates = dec->cands;
    out->probs = raw->f[GOPE_F_PROBS].kind != GOPE_DK_ABSENT ? dec->probs : NULL;
    out->has_lambda_values = raw->f[GOPE_F_LAMBDA_VALUES].kind != GOPE_DK_ABSENT;
    memcpy(out->lambda_values, raw->lambda_values, sizeof out->lambda_values);
}

/* A reward.v1 line: event_id, ts and reward, each of the right type, present
 * and in range, in that order; every other member is unknown to reward.v1
 * and ignored, as unknown members of alloc.v1 are. */
static gope_reason validate_reward(const gope_dec_raw *raw, gope_event *out, char *detail,
                                   size_t size)
{
    static const gope_dec_field fields[] = {GOPE_F_EVENT_ID, GOPE_F_TS, GOPE_F_REWARD};
    for (size_t i = 0; i < 3; i++)
        if (wrong_kind(raw->f[fields[i]].kind, top_want[fields[i]]))
            return FAIL(GOPE_R_WRONG_TYPE, "%s", gope_dec_field_names[fields[i]]);
    for (size_t i = 0; i < 3; i++)
        if (raw->f[fields[i]].kind == GOPE_DK_ABSENT)
            return FAIL(GOPE_R_MISSING_FIELD, "%s", gope_dec_field_names[fields[i]]);
    gope_reason r = check_key(raw, detail, size);
    if (r == GOPE_R_OK)
        r = check_reward(raw, detail, size);
    if (r != GOPE_R_OK)
        return r;
    *out = (gope_event){.kind = GOPE_EV_REWARD, .event_id_len = raw->event_id_len,
                        .ts = raw->f[GOPE_F_TS].i, .reward = raw->f[GOPE_F_REWARD].d,
                        .has_reward = true};
    memcpy(out->event_id, raw->event_id, raw->event_id_len);
    out->event_id[raw->event_id_len] = '\0';
    if (detail && size > 0)
        detail[0] = '\0';
    return GOPE_R_OK;
}

gope_reason gope_dec_validate(gope_decoder_t *dec, bool require_reward,
                              gope_event *out, char *detail, size_t size)
{
    const gope_dec_raw *raw = &dec->raw;
    uint8_t schema = raw->f[GOPE_F_SCHEMA].kind;
    bool named = schema == GOPE_DK_STRING && raw->schema_is >= 0;
    if (schema != GOPE_DK_ABSENT && !named)
        return FAIL(GOPE_R_UNKNOWN_SCHEMA, "schema is not \"alloc.v1\" or \"reward.v1\"");
    if (named && raw->schema_is == GOPE_EV_REWARD)
        return validate_reward(raw, out, detail, size);
    gope_reason r = check_types(raw, detail, size);
    if (r == GOPE_R_OK)
        r = check_missing(raw, require_reward, detail, size);
    if (r == GOPE_R_OK)
        r = check_header(raw, detail, size);
    if (r == GOPE_R_OK)
        r = check_candidates(dec, detail, size);
    if (r == GOPE_R_OK)
        r = check_choice(raw, detail, size);
    if (r == GOPE_R_OK)
        r = check_probs(dec, detail, size);
    if (r == GOPE_R_OK)
        r = check_optional(raw, detail, size);
    if (r == GOPE_R_OK) {
        fill_event(dec, out);
        if (detail && size > 0)
            detail[0] = '\0';
    }
    return r;
}
