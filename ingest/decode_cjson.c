/*
 * decode_cjson.c — the reference alloc.v1 / reward.v1 decoder, built on cJSON.
 *
 * It exists to be compared with the fast decoder (decode.c): the line is
 * parsed into a cJSON tree, the fields are looked up by name
 * (cJSON_GetObjectItemCaseSensitive, so the first of duplicate keys wins) and
 * reduced to the same gope_dec_raw, which the shared validator (validate.c)
 * judges. Slow (a DOM and an allocation per value), simple, independent of
 * the fast decoder's lexer and number conversion.
 *
 * cJSON is laxer than RFC 8259 in ways a tree cannot show afterwards. Some
 * are visible in the raw bytes, so a pre-scan (blind_spot) rejects them
 * before cJSON runs and the two decoders still agree:
 *   - control bytes: cJSON skips every byte <= 0x20 as whitespace (strict
 *     JSON allows only space, \t, \n, \r), keeps raw control bytes inside
 *     strings, and stops at a NUL byte, silently dropping the rest;
 *   - \u escapes that cJSON turns into U+0000: \u0000 itself, and escapes
 *     with non-hex digits (cJSON reads them as 0). A NUL would cut cJSON's
 *     C strings (an event_id "a\u0000b" would become "a"), so both decoders
 *     reject U+0000 in any string as invalid_json.
 * The line is parsed from a NUL-terminated copy with
 * require_null_terminated, so trailing data after the value is an error
 * (plain cJSON_Parse would accept it).
 *
 * DOCUMENTED DIVERGENCES — where cJSON cannot see the difference and the fast
 * decoder, which is the correct one, gives another verdict:
 *   1. Number spellings that strtod takes but JSON forbids: leading zeros
 *      (01, -01, 00.5), a bare or trailing point (1., -.5, 1.e5). cJSON
 *      accepts them; the fast decoder says invalid_json. (+1, .5, - and
 *      1e are rejected by both.)
 *   2. Integer fields written as float literals (5.0, 1e3, 1.5e1, -0.0):
 *      cJSON only keeps the double, so the reference takes any integral
 *      value as an integer (and +-inf as an out-of-range integer); the
 *      fast decoder says wrong_type.
 * Invalid UTF-8 is not a divergence: neither decoder checks it.
 * A cJSON allocation failure also looks like invalid_json here, and cJSON
 * records parse errors in a global: use this decoder from one thread.
 */
#include <math.h>

#include <cJSON.h>

#include "decode_int.h"

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* The escape "\u" + p[0..3]: four hex digits, not all zero? */
static bool good_u_escape(const char *p, size_t avail)
{
    return avail >= 4 && is_hex(p[0]) && is_hex(p[1]) && is_hex(p[2]) && is_hex(p[3]) &&
           memcmp(p, "0000", 4) != 0;
}

/* Whether the line holds a fault cJSON would miss (see the top comment).
 * Strings are tracked the way cJSON finds their end (a backslash escapes
 * the next byte), which is exact for every line cJSON accepts. */
static bool blind_spot(const char *s, size_t n)
{
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!in_string) {
            if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
                return true;
            in_string = ch == '"';
        } else if (ch < 0x20) {
            return true;
        } else if (ch == '"') {
            in_string = false;
        } else if (ch == '\\' && i + 1 < n) {
            if (s[i + 1] == 'u' && !good_u_escape(s + i + 2, n - i - 2))
                return true;
            i++;
        }
    }
    return false;
}

static gope_dec_val value_of(const cJSON *item)
{
    gope_dec_val v = {0};
    if (!item)
        v.kind = GOPE_DK_ABSENT;
    else if (cJSON_IsNull(item))
        v.kind = GOPE_DK_NULL;
    else if (cJSON_IsFalse(item))
        v.kind = GOPE_DK_FALSE;
    else if (cJSON_IsTrue(item))
        v.kind = GOPE_DK_TRUE;
    else if (cJSON_IsString(item))
        v.kind = GOPE_DK_STRING;
    else if (cJSON_IsArray(item))
        v.kind = GOPE_DK_ARRAY;
    else if (cJSON_IsObject(item))
        v.kind = GOPE_DK_OBJECT;
    else if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        bool integral = !(d - d == 0) || d == floor(d); /* inf: a huge integer */
        v.kind = integral ? GOPE_DK_INT : GOPE_DK_FLOAT;
        v.d = d;
        v.big = integral && !(fabs(d) < GOPE_DEC_INT_LIMIT);
        v.i = integral && !v.big ? (int64_t)d : 0;
    }
    return v;
}

static void read_candidates(gope_decoder_t *dec, const cJSON *arr)
{
    size_t idx = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, arr) {
        if (!cJSON_IsObject(el)) {
            gope_dec_cand_done(dec, idx++, NULL);
            continue;
        }
        size_t slot = gope_dec_cand_slot(dec, idx);
        uint8_t kinds[GOPE_CF_COUNT];
        for (int f = 0; f < GOPE_CF_COUNT; f++) {
            const char *name = gope_dec_cfield_names[f];
            gope_dec_val v = value_of(cJSON_GetObjectItemCaseSensitive(el, name));
            kinds[f] = v.kind;
            gope_dec_cand_store(dec, slot, (gope_dec_cfield)f, &v);
        }
        gope_dec_cand_done(dec, idx++, kinds);
    }
    dec->raw.n_cand = idx;
}

/* probs, lambda_values or constraint_violations: every element a number. */
static void read_numbers(gope_decoder_t *dec, gope_dec_field f, const cJSON *container)
{
    size_t idx = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, container) {
        gope_dec_val v = value_of(el);
        if (f == GOPE_F_PROBS) {
            if (idx < GOPE_MAX_CANDIDATES)
                dec->probs[idx] = v.d;
            gope_dec_nums_add(&dec->raw.probs, &v);
        } else if (f == GOPE_F_LAMBDA_VALUES) {
            int c = GOPE_C_COUNT - 1;
            while (c >= 0 && strcmp(el->string, gope_constraint_name((gope_constraint)c)) != 0)
                c--;
            gope_dec_lambda_member(&dec->raw, c, &v);
        } else {
            gope_dec_nums_add(&dec->raw.cv, &v);
        }
        idx++;
    }
}

static void read_top(gope_decoder_t *dec, const cJSON *root)
{
    gope_dec_raw *raw = &dec->raw;
    for (int f = 0; f < GOPE_F_COUNT; f++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, gope_dec_field_names[f]);
        raw->f[f] = value_of(item);
        if (f == GOPE_F_EVENT_ID && cJSON_IsString(item)) {
            raw->event_id_len = strlen(item->valuestring);
            size_t n = raw->event_id_len;
            n = n < GOPE_MAX_EVENT_ID ? n : GOPE_MAX_EVENT_ID;
            memcpy(raw->event_id, item->valuestring, n);
        } else if (f == GOPE_F_SCHEMA && cJSON_IsString(item)) {
            const char *s = item->valuestring;
            raw->schema_is = strcmp(s, "alloc.v1") == 0    ? GOPE_EV_DECISION
                           : strcmp(s, "reward.v1") == 0 ? GOPE_EV_REWARD
                                                         : -1;
        } else if (f == GOPE_F_CANDIDATES && cJSON_IsArray(item)) {
            read_candidates(dec, item);
        } else if ((f == GOPE_F_PROBS && cJSON_IsArray(item)) ||
                   ((f == GOPE_F_LAMBDA_VALUES || f == GOPE_F_CONSTRAINT_VIOLATIONS) &&
                    cJSON_IsObject(item))) {
            read_numbers(dec, (gope_dec_field)f, item);
        }
    }
}

gope_reason gope_decode_line_cjson(gope_decoder_t *dec, const char *line,
                                   size_t len, bool require_reward,
                                   gope_event *out, char *detail,
                                   size_t detail_size)
{
    if (len > GOPE_MAX_LINE)
        return gope_dec_fail(GOPE_R_LINE_TOO_LONG, detail, detail_size, "%zu bytes, limit %u",
                             len, GOPE_MAX_LINE);
    if (blind_spot(line, len))
        return gope_dec_fail(GOPE_R_INVALID_JSON, detail, detail_size,
                             "control byte or bad \\u escape");
    memcpy(dec->scratch, line, len);
    dec->scratch[len] = '\0';
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithOpts(dec->scratch, &stop, 1);
    if (!root)
        return gope_dec_fail(GOPE_R_INVALID_JSON, detail, detail_size,
                             "not one JSON value (byte %zu)",
                             stop ? (size_t)(stop - dec->scratch) : 0);
    gope_reason r;
    if (!cJSON_IsObject(root)) {
        r = gope_dec_fail(GOPE_R_NOT_OBJECT, detail, detail_size, "top level is not an object");
    } else {
        gope_dec_reset(dec);
        read_top(dec, root);
        r = gope_dec_validate(dec, require_reward, out, detail, detail_size);
    }
    cJSON_Delete(root);
    return r;
}
