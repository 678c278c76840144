/*
 * decode.c — the fast alloc.v1 / reward.v1 decoder: one pass over the line, no DOM, no
 * allocation.
 *
 * The line is walked once. Members of the top-level object, of each
 * candidate and of lambda_values are recognised by a matcher per object
 * kind: a switch on the key's first byte, then one memcmp of the expected
 * name AND its closing quote, straight on the input — so a known key costs
 * neither a scan for its end nor a copy. Only a key that does not match
 * (unknown, or written with escapes) is scanned; an escaped one is decoded
 * into a small buffer and matched again, so keys are compared after
 * unescaping. Only the values the schema needs are converted: numbers by
 * decode_num.c, event_id and schema decoded into fixed buffers. Everything
 * else — unknown keys, duplicates after the first occurrence, values of the
 * wrong kind — is only syntax-checked by decode_scan.c.
 *
 * The result is a gope_dec_raw that validate.c (shared with the cJSON
 * reference) turns into a verdict, so the two decoders agree on every rule
 * by construction. A leading UTF-8 byte order mark is skipped, as cJSON
 * does. The hot loops keep the read position in a local and store it in
 * the cursor only around calls, so it can live in a register.
 */
#include "decode_int.h"

#define KEY_BUF 32 /* longer than every key we know */
#define HOT static inline __attribute__((always_inline)) /* the per-member path */

static inline uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t load4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* memcmp(a, b, n) == 0 for the constant n (1..24) of a key name: with n
 * known, this folds into two or three word compares (overlapping at the
 * end), where gcc -O2 would call the library memcmp. */
HOT bool same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 16)
        return load8(a) == load8(b) && load8(a + 8) == load8(b + 8) &&
               load8(a + n - 8) == load8(b + n - 8);
    if (n >= 8)
        return load8(a) == load8(b) && load8(a + n - 8) == load8(b + n - 8);
    if (n >= 4)
        return load4(a) == load4(b) && load4(a + n - 4) == load4(b + n - 4);
    return a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1];
}

/* Key matchers: the field whose name, followed by '"', starts at k (just
 * after the opening quote), with *after past that quote; or -1. */
typedef int (*match_fn)(const char *k, const char *end, const char **after);

#define FIELD(lit, id)                                                                   \
    if ((size_t)(end - k) >= sizeof lit && same_bytes(k, lit "\"", sizeof lit)) {       \
        *after = k + sizeof lit;                                                         \
        return id;                                                                       \
    }

HOT int top_match(const char *k, const char *end, const char **after)
{
    switch (*k) {
    case 'a': FIELD("action", GOPE_F_ACTION); break;
    case 'c':
        FIELD("candidates", GOPE_F_CANDIDATES);
        FIELD("constraint_violations", GOPE_F_CONSTRAINT_VIOLATIONS);
        break;
    case 'e': FIELD("event_id", GOPE_F_EVENT_ID); break;
    case 'i': FIELD("is_whale", GOPE_F_IS_WHALE); break;
    case 'l':
        FIELD("lambda_values", GOPE_F_LAMBDA_VALUES);
        FIELD("logging_policy", GOPE_F_LOGGING_POLICY);
        break;
    case 'p':
        FIELD("propensity", GOPE_F_PROPENSITY);
        FIELD("probs", GOPE_F_PROBS);
        break;
    case 'r': FIELD("reward", GOPE_F_REWARD); break;
    case 's': FIELD("schema", GOPE_F_SCHEMA); break;
    case 't': FIELD("ts", GOPE_F_TS); break;
    case 'u':
        FIELD("user_id", GOPE_F_USER_ID);
        FIELD("uncertainty_score", GOPE_F_UNCERTAINTY_SCORE);
        break;
    default: break;
    }
    return -1;
}

HOT int cand_match(const char *k, const char *end, const char **after)
{
    switch (*k) {
    case 'c':
        FIELD("capacity", GOPE_CF_CAPACITY);
        FIELD("cold_start", GOPE_CF_COLD_START);
        break;
    case 'e': FIELD("ev", GOPE_CF_EV); break;
    case 'h': FIELD("head", GOPE_CF_HEAD); break;
    case 'l': FIELD("load", GOPE_CF_LOAD); break;
    case 's':
        FIELD("streamer_id", GOPE_CF_STREAMER_ID);
        FIELD("sigma", GOPE_CF_SIGMA);
        break;
    case 'w': FIELD("whales", GOPE_CF_WHALES); break;
    default: break;
    }
    return -1;
}

/* lambda_values: the constraint names of gope_constraint_name(). */
HOT int lambda_match(const char *k, const char *end, const char **after)
{
    switch (*k) {
    case 'c':
        FIELD("capacity", GOPE_C_CAPACITY);
        FIELD("coldstart", GOPE_C_COLDSTART);
        break;
    case 'h': FIELD("head", GOPE_C_HEAD); break;
    case 'w': FIELD("whale", GOPE_C_WHALE); break;
    default: break;
    }
    return -1;
}

/* constraint_violations: no name matters. */
HOT int no_match(const char *k, const char *end, const char **after)
{
    (void)k;
    (void)end;
    (void)after;
    return -1;
}

/* The key whose opening quote is at p: *field from `match` (-1: unknown).
 * @return the byte after its closing quote, or NULL on a syntax error. */
HOT const char *read_key(gope_dec_cur *c, const char *p, match_fn match, int *field)
{
    const char *k = p + 1, *after;
    if (k < c->end && (*field = match(k, c->end, &after)) >= 0)
        return after;
    const char *q = gope_dec_plain_end(k, c->end);
    if (q < c->end && *q == '"')
        return q + 1; /* an unknown key without escapes */
    char buf[KEY_BUF + 1];
    size_t len;
    c->p = p;
    if (!gope_dec_string(c, buf, KEY_BUF, &len))
        return NULL;
    if (len < KEY_BUF) { /* match the decoded key, whole */
        buf[len] = '"';
        after = NULL;
        int f = match(buf, buf + len + 1, &after);
        *field = after == buf + len + 1 ? f : -1;
    }
    return c->p;
}

/* The container opening at c->p: past it and any whitespace, or NULL when
 * that would nest too deep. */
HOT const char *open_container(gope_dec_cur *c)
{
    if (c->depth >= GOPE_DEC_NESTING_LIMIT)
        return NULL;
    c->depth++;
    return gope_dec_skip_ws(c->p + 1, c->end);
}

/* After an element at p: past the ',' and whitespace (*more), or past the
 * closing bracket (!*more: the container is left), or NULL. */
HOT const char *next_or_close(gope_dec_cur *c, const char *p, char close, bool *more)
{
    if (p == c->end || (*p != ',' && *p != close))
        p = gope_dec_skip_ws(p, c->end);
    if (p == c->end || (*p != ',' && *p != close))
        return NULL;
    *more = *p == ',';
    if (!*more) {
        c->depth--;
        return p + 1;
    }
    return gope_dec_skip_ws(p + 1, c->end);
}

/* Past optional whitespace and the byte `ch` at p, or NULL. The compact
 * logs have no whitespace, so the first test usually settles it. */
HOT const char *expect_byte(const char *p, const char *end, char ch)
{
    if (p < end && *p == ch)
        return p + 1;
    p = gope_dec_skip_ws(p, end);
    return p < end && *p == ch ? p + 1 : NULL;
}

/* Past an empty container's closing `close` at p, if it is there. */
HOT bool closes_empty(gope_dec_cur *c, const char *p, char close)
{
    if (p == c->end || *p != close)
        return false;
    c->depth--;
    c->p = p + 1;
    return true;
}

/* The object at c->p: fn(c, ctx, field) for each member, with c->p at its
 * value. Always inlined, so matcher and callback become direct calls. */
typedef bool (*member_fn)(gope_dec_cur *c, void *ctx, int field);

/* The members of an open object from the key at p on, and its closing '}'. */
HOT bool members_from(gope_dec_cur *c, const char *p, match_fn match, member_fn fn, void *ctx)
{
    const char *end = c->end;
    for (bool more = true; more;) {
        int field = -1;
        if (p == end || *p != '"' || !(p = read_key(c, p, match, &field)))
            return false;
        if (!(p = expect_byte(p, end, ':')))
            return false;
        c->p = gope_dec_skip_ws(p, end);
        if (c->p == end || !fn(c, ctx, field) || !(p = next_or_close(c, c->p, '}', &more)))
            return false;
    }
    c->p = p;
    return true;
}

HOT bool each_member(gope_dec_cur *c, match_fn match, member_fn fn, void *ctx)
{
    const char *p = open_container(c);
    if (!p || closes_empty(c, p, '}'))
        return p != NULL;
    return members_from(c, p, match, fn, ctx);
}

/* After a member's value (c->p just past it): the object's other members
 * and its closing '}', as each_member reads them. */
HOT bool rest_of_members(gope_dec_cur *c, match_fn match, member_fn fn, void *ctx)
{
    bool more;
    const char *p = next_or_close(c, c->p, '}', &more);
    if (!p || !more) {
        c->p = p ? p : c->p;
        return p != NULL;
    }
    return members_from(c, p, match, fn, ctx);
}

/* The array at c->p: fn(c, ctx, i) for each element; *n = their count. */
typedef bool (*element_fn)(gope_dec_cur *c, void *ctx, size_t idx);

HOT bool each_element(gope_dec_cur *c, element_fn fn, void *ctx, size_t *n)
{
    const char *p = open_container(c);
    *n = 0;
    if (!p || closes_empty(c, p, ']'))
        return p != NULL;
    for (bool more = true; more; (*n)++) {
        c->p = p;
        if (p == c->end || !fn(c, ctx, *n) || !(p = next_or_close(c, c->p, ']', &more)))
            return false;
    }
    c->p = p;
    return true;
}

/* A value, with the common kinds (numbers, plain strings, booleans) read
 * inline and anything else handed to the generic reader. */
HOT bool value(gope_dec_cur *c, gope_dec_val *v)
{
    const char *p = c->p, *end = c->end;
    if (*p == '-' || (unsigned char)(*p - '0') < 10) {
        const char *after = gope_dec_number_fast(p, end, c->scratch, v);
        c->p = after ? after : p;
        return after != NULL;
    }
    if (*p == '"') {
        const char *q = gope_dec_plain_end(p + 1, end);
        if (q < end && *q == '"') {
            *v = (gope_dec_val){.kind = GOPE_DK_STRING};
            c->p = q + 1;
            return true;
        }
    }
    if (end - p >= 5 && same_bytes(p, "false", 5)) {
        *v = (gope_dec_val){.kind = GOPE_DK_FALSE};
        c->p = p + 5;
        return true;
    }
    if (end - p >= 4 && same_bytes(p, "true", 4)) {
        *v = (gope_dec_val){.kind = GOPE_DK_TRUE};
        c->p = p + 4;
        return true;
    }
    return gope_dec_value(c, v);
}

/* ------------------------------------------------------------- candidates */

typedef struct {
    gope_decoder_t *dec;
    size_t slot;
    uint8_t kinds[GOPE_CF_COUNT];
} cand_ctx;

/* The first occurrence of field f, its value at c->p. */
HOT bool cand_value(gope_dec_cur *c, cand_ctx *cc, gope_dec_cfield f)
{
    gope_dec_val v;
    if (!value(c, &v))
        return false;
    cc->kinds[f] = v.kind;
    gope_dec_cand_store(cc->dec, cc->slot, f, &v);
    return true;
}

static bool cand_member(gope_dec_cur *c, void *ctx, int f)
{
    cand_ctx *cc = ctx;
    if (f < 0 || cc->kinds[f] != GOPE_DK_ABSENT)
        return gope_dec_skip(c);
    return cand_value(c, cc, (gope_dec_cfield)f);
}

/* Past the n bytes of `lit` (a member's separator, key and ':') at c->p and
 * the whitespace after them, when they are there and a value follows. */
HOT bool usual_key(gope_dec_cur *c, const char *lit, size_t n)
{
    if ((size_t)(c->end - c->p) <= n || !same_bytes(c->p, lit, n))
        return false;
    const char *p = gope_dec_skip_ws(c->p + n, c->end);
    if (p == c->end)
        return false; /* the reader reports it */
    c->p = p;
    return true;
}

#define USUAL_KEY(c, lit) usual_key(c, lit, sizeof lit - 1)

/* Field f if its key is next (`lit`: separator, key, ':'); false only on a
 * bad value. */
#define USUAL_MEMBER(c, cc, lit, f) (!USUAL_KEY(c, lit) || cand_value(c, cc, f))

/* The members of the candidate at c->p (a '{', below the nesting limit) as
 * the logs write them: streamer_id, then whichever of ev, sigma, load,
 * capacity, whales, cold_start and head come next in this order, with no
 * whitespace before a ':' and no escapes in keys. Each key is one compare of the bytes at hand and
 * each field is known where its value is read, so neither the key matcher
 * nor the store dispatch on it. Members are still read one after the other,
 * each as cand_member reads it, so the reader can take over at any member
 * that does not fit (rest_of_members): it never reads a byte twice, and a
 * fault is met in the same state as there. @return false on a bad value;
 * true with c->p after the last value read, or at the '{' when it read none
 * (*any false). */
HOT bool usual_members(gope_dec_cur *c, cand_ctx *cc, bool *any)
{
    *any = USUAL_KEY(c, "{\"streamer_id\":");
    if (!*any)
        return true;
    c->depth++; /* the object is open, as open_container leaves it */
    return cand_value(c, cc, GOPE_CF_STREAMER_ID) &&
           USUAL_MEMBER(c, cc, ",\"ev\":", GOPE_CF_EV) &&
           USUAL_MEMBER(c, cc, ",\"sigma\":", GOPE_CF_SIGMA) &&
           USUAL_MEMBER(c, cc, ",\"load\":", GOPE_CF_LOAD) &&
           USUAL_MEMBER(c, cc, ",\"capacity\":", GOPE_CF_CAPACITY) &&
           USUAL_MEMBER(c, cc, ",\"whales\":", GOPE_CF_WHALES) &&
           USUAL_MEMBER(c, cc, ",\"cold_start\":", GOPE_CF_COLD_START) &&
           USUAL_MEMBER(c, cc, ",\"head\":", GOPE_CF_HEAD);
}

static bool candidate(gope_dec_cur *c, void *ctx, size_t idx)
{
    gope_decoder_t *dec = ctx;
    if (*c->p != '{') {
        gope_dec_cand_done(dec, idx, NULL);
        return gope_dec_skip(c);
    }
    cand_ctx cc = {.dec = dec, .slot = gope_dec_cand_slot(dec, idx)};
    bool usual = false;
    if (c->depth < GOPE_DEC_NESTING_LIMIT && !usual_members(c, &cc, &usual))
        return false;
    if (!(usual ? rest_of_members(c, cand_match, cand_member, &cc)
                : each_member(c, cand_match, cand_member, &cc)))
        return false;
    gope_dec_cand_done(dec, idx, cc.kinds);
    return true;
}

/* ------------------------------------------------- containers of numbers */

static bool prob(gope_dec_cur *c, void *ctx, size_t idx)
{
    gope_decoder_t *dec = ctx;
    gope_dec_val v;
    if (!value(c, &v))
        return false;
    if (idx < GOPE_MAX_CANDIDATES)
        dec->probs[idx] = v.d;
    gope_dec_nums_add(&dec->raw.probs, &v);
    return true;
}

static bool lambda_member(gope_dec_cur *c, void *ctx, int constraint)
{
    gope_dec_val v;
    if (!value(c, &v))
        return false;
    gope_dec_lambda_member(ctx, constraint, &v);
    return true;
}

static bool cv_member(gope_dec_cur *c, void *ctx, int field)
{
    (void)field;
    gope_dec_val v;
    if (!value(c, &v))
        return false;
    gope_dec_nums_add(ctx, &v);
    return true;
}

/* -------------------------------------------------------------- top level */

/* A field whose value has the kind the schema wants gets parsed for real;
 * any other value is read generically and only its kind is recorded. */
static bool top_member(gope_dec_cur *c, void *ctx, int f)
{
    gope_decoder_t *dec = ctx;
    gope_dec_raw *raw = &dec->raw;
    if (f < 0 || raw->f[f].kind != GOPE_DK_ABSENT)
        return gope_dec_skip(c);
    gope_dec_val *v = &raw->f[f];
    char ch = *c->p;
    if (f == GOPE_F_CANDIDATES && ch == '[') {
        v->kind = GOPE_DK_ARRAY;
        return each_element(c, candidate, dec, &raw->n_cand);
    }
    if (f == GOPE_F_PROBS && ch == '[') {
        v->kind = GOPE_DK_ARRAY;
        size_t n;
        return each_element(c, prob, dec, &n);
    }
    if (f == GOPE_F_LAMBDA_VALUES && ch == '{') {
        v->kind = GOPE_DK_OBJECT;
        return each_member(c, lambda_match, lambda_member, raw);
    }
    if (f == GOPE_F_CONSTRAINT_VIOLATIONS && ch == '{') {
        v->kind = GOPE_DK_OBJECT;
        return each_member(c, no_match, cv_member, &raw->cv);
    }
    if (f == GOPE_F_EVENT_ID && ch == '"') {
        v->kind = GOPE_DK_STRING;
        return gope_dec_string(c, raw->event_id, GOPE_MAX_EVENT_ID, &raw->event_id_len);
    }
    if (f == GOPE_F_SCHEMA && ch == '"') {
        char s[9];
        size_t n;
        v->kind = GOPE_DK_STRING;
        if (!gope_dec_string(c, s, sizeof s, &n))
            return false;
        raw->schema_is = n == 8 && memcmp(s, "alloc.v1", 8) == 0    ? GOPE_EV_DECISION
                       : n == 9 && memcmp(s, "reward.v1", 9) == 0 ? GOPE_EV_REWARD
                                                                   : -1;
        return true;
    }
    return value(c, v);
}

/* Top-level field f if its key is next (`lit`: separator, key, ':'); false
 * only on a bad value. */
#define USUAL_TOP_MEMBER(c, dec, lit, f) (!USUAL_KEY(c, lit) || top_member(c, dec, f))

/* The members of the event object at c->p (a '{') as the logs write them:
 * schema, then whichever of the other fields come next in the order below,
 * read as usual_members reads a candidate's (see there: the reader takes
 * over at the first member that does not fit). */
static bool usual_top_members(gope_dec_cur *c, gope_decoder_t *dec, bool *any)
{
    *any = USUAL_KEY(c, "{\"schema\":");
    if (!*any)
        return true;
    c->depth++; /* the object is open (at depth 0, below the limit) */
    return top_member(c, dec, GOPE_F_SCHEMA) &&
           USUAL_TOP_MEMBER(c, dec, ",\"event_id\":", GOPE_F_EVENT_ID) &&
           USUAL_TOP_MEMBER(c, dec, ",\"ts\":", GOPE_F_TS) &&
           USUAL_TOP_MEMBER(c, dec, ",\"user_id\":", GOPE_F_USER_ID) &&
           USUAL_TOP_MEMBER(c, dec, ",\"is_whale\":", GOPE_F_IS_WHALE) &&
           USUAL_TOP_MEMBER(c, dec, ",\"candidates\":", GOPE_F_CANDIDATES) &&
           USUAL_TOP_MEMBER(c, dec, ",\"action\":", GOPE_F_ACTION) &&
           USUAL_TOP_MEMBER(c, dec, ",\"propensity\":", GOPE_F_PROPENSITY) &&
           USUAL_TOP_MEMBER(c, dec, ",\"probs\":", GOPE_F_PROBS) &&
           USUAL_TOP_MEMBER(c, dec, ",\"reward\":", GOPE_F_REWARD) &&
           USUAL_TOP_MEMBER(c, dec, ",\"logging_policy\":", GOPE_F_LOGGING_POLICY) &&
           USUAL_TOP_MEMBER(c, dec, ",\"lambda_values\":", GOPE_F_LAMBDA_VALUES) &&
           USUAL_TOP_MEMBER(c, dec, ",\"uncertainty_score\":", GOPE_F_UNCERTAINTY_SCORE);
}

/* The event object at c->p. */
static bool event_object(gope_dec_cur *c, gope_decoder_t *dec)
{
    bool usual = false;
    if (!usual_top_members(c, dec, &usual))
        return false;
    return usual ? rest_of_members(c, top_match, top_member, dec)
                 : each_member(c, top_match, top_member, dec);
}

gope_reason gope_decode_line(gope_decoder_t *dec, const char *line, size_t len,
                             bool require_reward, gope_event *out,
                             char *detail, size_t detail_size)
{
    if (len > GOPE_MAX_LINE)
        return gope_dec_fail(GOPE_R_LINE_TOO_LONG, detail, detail_size, "%zu bytes, limit %u",
                             len, GOPE_MAX_LINE);
    gope_dec_reset(dec);
    gope_dec_cur c = {.p = line, .end = line + len, .depth = 0, .scratch = dec->scratch};
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;
    gope_dec_ws(&c);
    bool object = c.p < c.end && *c.p == '{';
    bool ok = c.p < c.end &&
              (object ? event_object(&c, dec) : gope_dec_skip(&c));
    if (ok) {
        gope_dec_ws(&c);
        ok = c.p == c.end;
    }
    if (!ok)
        return gope_dec_fail(GOPE_R_INVALID_JSON, detail, detail_size,
                             "not one JSON value (byte %zu)", (size_t)(c.p - line));
    if (!object)
        return gope_dec_fail(GOPE_R_NOT_OBJECT, detail, detail_size, "top level is not an object");
    return gope_dec_validate(dec, require_reward, out, detail, detail_size);
}
