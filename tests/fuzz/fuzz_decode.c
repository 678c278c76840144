/*
 * fuzz_decode.c — both alloc.v1 decoders on arbitrary bytes.
 *
 * Neither may crash or read outside the input (it is not NUL-terminated
 * here; ASan watches). Unless the input holds one of the documented
 * divergences (ingest/decode_cjson.c), the two must agree: same reason,
 * same detail (except for invalid_json), and for an accepted line the same
 * event, doubles bit for bit. Both require_reward settings are tried, and
 * the decoders live across inputs, so leftovers of one line would show.
 * Each input is tried twice: as a whole line, and (after its first byte,
 * which picks the template) spliced into a valid event, so that mutations
 * also exercise the field checks and not only the JSON syntax.
 *
 * The divergence check is written here independently of the decoders:
 * outside strings, every run of number characters that cJSON would read as
 * a number (it starts with '-' or a digit) is measured twice, by a strict
 * RFC 8259 matcher and by strtod. A different length means a spelling only
 * cJSON accepts (class 1); a float literal (with '.', 'e' or 'E') whose
 * value is integral or infinite may sit in an integer field (class 2).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gope_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_num_char(char ch)
{
    return is_digit(ch) || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E';
}

/* Length of the strict JSON number at the start of s[0, n), or -1. */
static long strict_len(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && is_digit(s[i]))
        while (i < n && is_digit(s[i]))
            i++;
    else
        return -1;
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return (long)i;
}

/* The number-character run s[0, n) as cJSON reads it: divergent? */
static bool divergent_number(const char *s, size_t n)
{
    char buf[512];
    if (n >= sizeof buf)
        return true; /* not worth checking: skip the comparison */
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double d = strtod(buf, &end);
    long loose = end == buf ? -1 : (long)(end - buf), strict = strict_len(s, n);
    if (loose != strict)
        return true;
    bool float_literal = memchr(s, '.', (size_t)(strict > 0 ? strict : 0)) ||
                         memchr(s, 'e', (size_t)(strict > 0 ? strict : 0)) ||
                         memchr(s, 'E', (size_t)(strict > 0 ? strict : 0));
    return strict > 0 && float_literal && (isinf(d) || d == floor(d));
}

static bool has_divergence(const char *s, size_t n)
{
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        if (in_string) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_string = false;
        } else if (s[i] == '"') {
            in_string = true;
        } else if (s[i] == '-' || is_digit(s[i])) {
            size_t j = i;
            while (j < n && is_num_char(s[j]))
                j++;
            bool after_letter = i > 0 && ((s[i - 1] | 0x20) >= 'a' && (s[i - 1] | 0x20) <= 'z');
            if (!after_letter && divergent_number(s + i, j - i))
                return true;
            i = j - 1;
        }
    }
    return false;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_same_event(const gope_event *a, const gope_event *b)
{
    bool same = a->kind == b->kind && a->event_id_len == b->event_id_len &&
                memcmp(a->event_id, b->event_id, a->event_id_len + 1) == 0 && a->ts == b->ts &&
                a->action == b->action && same_double(a->propensity, b->propensity) &&
                same_double(a->reward, b->reward) && a->has_reward == b->has_reward &&
                a->is_whale == b->is_whale && a->n_candidates == b->n_candidates &&
                !a->probs == !b->probs && a->has_lambda_values == b->has_lambda_values &&
                memcmp(a->lambda_values, b->lambda_values, sizeof a->lambda_values) == 0;
    for (size_t i = 0; same && i < a->n_candidates; i++) {
        const gope_candidate *x = &a->candidates[i], *y = &b->candidates[i];
        same = same_double(x->ev, y->ev) && same_double(x->sigma, y->sigma) &&
               x->load == y->load && x->capacity == y->capacity && x->whales == y->whales &&
               x->cold_start == y->cold_start && x->head == y->head &&
               (!a->probs || same_double(a->probs[i], b->probs[i]));
    }
    if (!same)
        abort();
}

/* Valid events with one hole ('@'); a template input puts its bytes there,
 * so the mutations reach the field checks instead of dying in the syntax. */
static const char *const templates[] = {
    "{\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":\"s\","
    "\"ev\":1},{\"streamer_id\":\"t\",\"ev\":2}],\"action\":1,\"propensity\":0.5,\"reward\":0,@}",
    "{@\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":\"s\","
    "\"ev\":1}],\"action\":0,\"propensity\":1,\"reward\":0}",
    "{\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":\"s\","
    "\"ev\":1,@}],\"action\":0,\"propensity\":1,\"reward\":0}",
    "{\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":\"s\","
    "\"ev\":1},@],\"action\":0,\"propensity\":1,\"reward\":0}",
    "{\"event_id\":\"e\",\"ts\":1,\"user_id\":\"u\",\"candidates\":[{\"streamer_id\":\"s\","
    "\"ev\":1},{\"streamer_id\":\"t\",\"ev\":2}],\"action\":1,\"propensity\":0.5,\"reward\":0,"
    "\"probs\":[0.5,0.5],\"lambda_values\":{@}}",
    "{\"schema\":\"reward.v1\",\"event_id\":\"e\",\"ts\":1,\"reward\":2.5,@}",
};

/* Decode `line` both ways; abort if they disagree where they must not. */
static void compare(gope_decoder_t *fast, gope_decoder_t *ref, const char *line, size_t size)
{
    bool divergent = has_divergence(line, size);
    for (int rr = 0; rr < 2; rr++) {
        gope_event a, b;
        char da[256], db[256];
        gope_reason ra = gope_decode_line(fast, line, size, rr, &a, da, sizeof da);
        gope_reason rb = gope_decode_line_cjson(ref, line, size, rr, &b, db, sizeof db);
        if (divergent)
            continue;
        if (ra != rb || (ra != GOPE_R_INVALID_JSON && strcmp(da, db) != 0))
            abort();
        if (ra == GOPE_R_OK)
            check_same_event(&a, &b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* kept across inputs: decoding must not depend on the previous line */
    static gope_decoder_t *fast, *ref;
    if (!fast && (!(fast = gope_decoder_new()) || !(ref = gope_decoder_new())))
        abort();
    compare(fast, ref, (const char *)data, size);
    if (size == 0)
        return 0;
    /* the same bytes, after the first, in the hole of a template */
    const char *t = templates[data[0] % (sizeof templates / sizeof templates[0])];
    const char *hole = strchr(t, '@');
    size_t head = (size_t)(hole - t), tail = strlen(hole + 1), n = head + size - 1 + tail;
    char *line = malloc(n);
    if (!line)
        abort();
    memcpy(line, t, head);
    memcpy(line + head, data + 1, size - 1);
    memcpy(line + head + size - 1, hole + 1, tail);
    compare(fast, ref, line, n);
    free(line);
    return 0;
}
