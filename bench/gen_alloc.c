/*
 * gen_alloc.c — seeded generator of synthetic alloc.v1 logs (JSON Lines on
 * stdout) for the benchmark (bench/replay_bench.sh) and the bundled sample
 * (schemas/examples/alloc.sample.jsonl.zst). bench/README.md documents it.
 *
 * Determinism: every number comes from seeded xoshiro256** streams
 * (gen_world.h), so (seed, options) name one byte-exact log on every machine.
 * Three independent streams keep the options orthogonal: the world and the
 * events use one, --bad-frac and --shuffle-ms one each, so a log with bad
 * lines or jitter holds exactly the valid events of the clean log (shadow
 * prices are a hash of the 5-minute period, not a draw).
 *
 * An event: a user, K candidates (10% exploration slots from the cold-start
 * pool), each with a load from the streamer's diurnal audience, whales in the
 * room, and a true expected gift mu = gift probability (lower in overfull
 * rooms and, for a whale, in rooms with other whales) x the user's mean tier
 * amount. ev is mu times lognormal noise, sigma its uncertainty; both are
 * float32 model outputs, written as float32 text (gen_numtext.h) and used at
 * the double value a reader parses from that text. The logging policy is a
 * policy of the policy library (gope_policy_probs, the code the estimators
 * call) mixed with --explore uniform, so every propensity is > 0 and the
 * replay recomputes the logged probabilities bit for bit. The reward is 0 or
 * a tier amount, with mean exactly mu. Doubles are written as their shortest
 * round-trip text; optional fields at their default value are left out, as
 * proto3-JSON encoders do.
 */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_numtext.h"
#include "gen_world.h"
#include "gope_policy.h"

/* ---------------------------------------------------------- generator */

typedef enum {
    BAD_NONE = 0,
    BAD_TRUNCATED,   /* invalid_json: cut in the middle */
    BAD_TRAILING,    /* invalid_json: data after the object */
    BAD_NAN,         /* invalid_json: a NaN token */
    BAD_NOT_OBJECT,  /* the event wrapped in an array */
    BAD_SCHEMA,      /* "schema": "alloc.v2" */
    BAD_MISSING,     /* no propensity */
    BAD_TS_TYPE,     /* ts as a string */
    BAD_FLOAT_ACTION, /* action written 3.0 */
    BAD_EVENT_ID,    /* empty event_id */
    BAD_NO_CANDIDATES,
    BAD_EV,          /* a negative ev */
    BAD_ACTION,      /* action = K */
    BAD_PROPENSITY,  /* propensity 0 */
    BAD_REWARD,      /* negative reward */
    BAD_PROBS,       /* probs one entry short */
    BAD_DUPLICATE,   /* the previous valid event_id again */
    BAD_COUNT
} bad_kind;

typedef struct {
    uint64_t events, seed, k, start_ms, shuffle_ms, self_check;
    double rate, explore, probs_frac, bad_frac;
    const char *logging;
    bool stats;
} gen_conf;

typedef struct {
    uint64_t lines, bad, bytes, gifts, whale_events;
    double reward, chosen_ev, min_propensity;
} gen_stats;

/* ev and sigma as written (float32 text), kept from when they were made. */
typedef struct {
    char ev[24], sigma[24];
    size_t ev_len, sigma_len;
} cand_text;

typedef struct {
    gen_conf conf;
    world_t world;
    rng_t rng, rng_bad, rng_jitter;
    gope_policy_set_t *logging;
    gope_event ev;       /* the event being written (candidates: cand) */
    gope_candidate *cand;
    cand_text *text;
    size_t *sid;         /* streamer index per candidate */
    double *gift_p, *pi, *scratch;
    size_t user, action;
    bool has_probs;
    double uncertainty; /* a float32 model output, like ev */
    char uncertainty_text[24];
    size_t uncertainty_len;
    char last_id[GOPE_MAX_EVENT_ID + 1];
    char *buf;
    size_t len, cap, flush_at;
    gen_stats st;
} gen_t;

#define DEFAULT_LOGGING "{\"name\":\"logging\",\"select\":\"softmax\",\"temperature\":0.5}"

static void put(gen_t *g, const char *s, size_t n) { memcpy(g->buf + g->len, s, n), g->len += n; }
#define PUT(g, lit) put(g, "" lit, sizeof(lit) - 1) /* literals only */
static void put_s(gen_t *g, const char *s) { put(g, s, strlen(s)); }

/* v in decimal, zero-padded to `width` digits. */
static void put_u64(gen_t *g, uint64_t v, size_t width)
{
    char tmp[24];
    size_t n = u64_digits(v, tmp + 24);
    for (; n < width; n++)
        tmp[23 - n] = '0';
    put(g, tmp + 24 - n, n);
}

static void put_num(gen_t *g, double x) { g->len += fmt_double(x, g->buf + g->len); }

/* A JSON string (policy names are user text; escape what JSON requires). */
static void put_str(gen_t *g, const char *s)
{
    g->buf[g->len++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            g->buf[g->len++] = '\\', g->buf[g->len++] = (char)c;
        else if (c < 0x20)
            g->len += (size_t)sprintf(g->buf + g->len, "\\u%04x", c);
        else
            g->buf[g->len++] = (char)c;
    }
    g->buf[g->len++] = '"';
}

/* Shadow prices of the 5-minute period holding `ts`: a hash, so they do not
 * consume the event stream and stay equal within a period. */
static void shadow_prices(const gen_t *g, int64_t ts, double *lambda)
{
    static const double base[GOPE_C_COUNT] = {0.4, 0.2, 0.1, 1.0};
    uint64_t x = g->conf.seed * 0x9e3779b97f4a7c15u ^ (uint64_t)(ts / 300000);
    for (int c = 0; c < GOPE_C_COUNT; c++)
        lambda[c] = base[c] * (0.5 + (double)(splitmix64(&x) >> 11) * 0x1p-53);
}

/* One candidate of the event at time t (diurnal factor `day`); returns its
 * true gift probability for the event's user. */
static double make_candidate(gen_t *g, size_t j, double day)
{
    rng_t *r = &g->rng;
    const world_t *w = &g->world;
    size_t s = 0;
    for (int tries = 0, dup = 1; dup && tries < 8; tries++) {
        s = pick_streamer(r);
        dup = 0;
        for (size_t i = 0; i < j; i++)
            dup |= g->sid[i] == s;
    }
    const streamer_t *st = &w->streamers[s];
    const user_t *u = &w->users[g->user];
    gope_candidate *c = &g->cand[j];
    g->sid[j] = s;
    c->load = (int64_t)llround(st->audience * day * rng_lognormal1(r, 0.3));
    c->capacity = st->capacity;
    c->whales = rng_poisson(r, 0.002 * (double)c->load);
    c->cold_start = st->cold;
    c->head = st->head;
    double over = c->capacity ? (double)c->load / (double)c->capacity - 0.9 : 0.0;
    double p = st->rate / (1.0 + 3.0 * (over > 0 ? over : 0.0)) * (u->whale ? 1.5 : 1.0);
    if (u->whale && c->whales > 0)
        p *= 0.6; /* competing whales in the room */
    p = fmin(p, 0.5);
    double mu = p * w->tier_mean[u->tau];
    cand_text *tx = &g->text[j];
    c->ev = float_text(mu * rng_lognormal1(r, st->noise_sd), tx->ev, &tx->ev_len);
    c->sigma = float_text(c->ev * st->noise_sd, tx->sigma, &tx->sigma_len);
    return p;
}

/* The logging distribution, the sampled action and the reward. */
static void log_decision(gen_t *g)
{
    rng_t *r = &g->rng;
    size_t k = g->conf.k;
    double mix = g->conf.explore;
    gope_policy_probs(g->logging, 0, &g->ev, g->pi, g->scratch);
    for (size_t j = 0; j < k; j++)
        g->pi[j] = (1.0 - mix) * g->pi[j] + mix / (double)k;
    double u = rng_unit(r), cdf = 0;
    size_t a = k;
    for (size_t j = 0; j < k && a == k; j++)
        if (u < (cdf += g->pi[j]))
            a = j;
    while (a == k || g->pi[a] <= 0.0) /* u beyond a rounded-down total */
        a--;
    g->action = a;
    g->ev.action = (int64_t)a;
    g->ev.propensity = g->pi[a];
    g->ev.reward = 0;
    if (rng_unit(r) < g->gift_p[a]) {
        const double *cdf_t = g->world.tier_cdf[g->world.users[g->user].tau];
        double v = rng_unit(r);
        size_t t = 0;
        while (v >= cdf_t[t] && t + 1 < N_TIERS)
            t++;
        g->ev.reward = tiers[t];
    }
}

static void make_event(gen_t *g, uint64_t n)
{
    rng_t *r = &g->rng;
    int64_t t = (int64_t)g->conf.start_ms + (int64_t)floor((double)n * 1000.0 / g->conf.rate);
    double day = 0.65 + 0.35 * sin(6.283185307179586 * fmod((double)t, DAY_MS) / DAY_MS);
    g->user = rng_below(r, N_USERS);
    g->ev.is_whale = g->world.users[g->user].whale;
    double sd = 0;
    for (size_t j = 0; j < g->conf.k; j++) {
        g->gift_p[j] = make_candidate(g, j, day);
        sd += g->world.streamers[g->sid[j]].noise_sd;
    }
    g->ev.has_lambda_values = rng_unit(r) < 0.5;
    if (g->ev.has_lambda_values)
        shadow_prices(g, t, g->ev.lambda_values);
    else
        memset(g->ev.lambda_values, 0, sizeof g->ev.lambda_values);
    log_decision(g);
    g->has_probs = rng_unit(r) < g->conf.probs_frac;
    g->uncertainty = float_text(sd / (double)g->conf.k * rng_lognormal1(r, 0.1),
                                g->uncertainty_text, &g->uncertainty_len);
    g->ev.ts = t;
    if (g->conf.shuffle_ms > 0)
        g->ev.ts += (int64_t)rng_below(&g->rng_jitter, g->conf.shuffle_ms + 1);
    g->ev.event_id_len = (size_t)snprintf(g->ev.event_id, sizeof g->ev.event_id, "ev-%llu-%llu",
                                          (unsigned long long)g->conf.seed, (unsigned long long)n);
}

static void write_candidates(gen_t *g, bad_kind bad)
{
    PUT(g, "\"candidates\":[");
    for (size_t j = 0; bad != BAD_NO_CANDIDATES && j < g->conf.k; j++) {
        const gope_candidate *c = &g->cand[j];
        PUT(g, "{\"streamer_id\":\"s");
        put_u64(g, g->sid[j], 5);
        PUT(g, "\",\"ev\":");
        if (bad == BAD_EV && j == 0)
            PUT(g, "-");
        put(g, g->text[j].ev, g->text[j].ev_len);
        PUT(g, ",\"sigma\":");
        put(g, g->text[j].sigma, g->text[j].sigma_len);
        PUT(g, ",\"load\":");
        put_u64(g, (uint64_t)c->load, 0);
        /* proto3-JSON style: fields at their default value are left out */
        if (c->capacity)
            PUT(g, ",\"capacity\":"), put_u64(g, (uint64_t)c->capacity, 0);
        if (c->whales)
            PUT(g, ",\"whales\":"), put_u64(g, (uint64_t)c->whales, 0);
        if (c->cold_start)
            PUT(g, ",\"cold_start\":true");
        if (c->head)
            PUT(g, ",\"head\":true");
        put_s(g, j + 1 < g->conf.k ? "}," : "}");
    }
    PUT(g, "],");
}

static void write_decision(gen_t *g, bad_kind bad)
{
    size_t k = g->conf.k, a = g->action;
    PUT(g, "\"action\":");
    put_u64(g, bad == BAD_ACTION ? k : a, 0);
    if (bad == BAD_FLOAT_ACTION)
        PUT(g, ".0");
    if (bad != BAD_MISSING) {
        PUT(g, ",\"propensity\":");
        put_num(g, bad == BAD_PROPENSITY ? 0.0 : g->ev.propensity);
    }
    if (g->has_probs || bad == BAD_PROBS) {
        PUT(g, ",\"probs\":[");
        for (size_t j = 0; j < (bad == BAD_PROBS ? k - 1 : k); j++) {
            put_num(g, g->pi[j]);
            PUT(g, ",");
        }
        g->buf[g->len - 1] = ']';
    }
    PUT(g, ",\"reward\":");
    if (bad == BAD_NAN)
        PUT(g, "NaN");
    else
        put_num(g, bad == BAD_REWARD ? -1.0 - g->ev.reward : g->ev.reward);
}

static void write_event(gen_t *g, bad_kind bad)
{
    size_t start = g->len;
    if (bad == BAD_NOT_OBJECT)
        PUT(g, "[");
    PUT(g, "{\"schema\":");
    put_s(g, bad == BAD_SCHEMA ? "\"alloc.v2\"" : "\"alloc.v1\"");
    PUT(g, ",\"event_id\":");
    put_str(g, bad == BAD_EVENT_ID ? "" : bad == BAD_DUPLICATE && g->last_id[0] ? g->last_id
                                                                               : g->ev.event_id);
    put_s(g, bad == BAD_TS_TYPE ? ",\"ts\":\"" : ",\"ts\":");
    put_u64(g, (uint64_t)g->ev.ts, 0);
    put_s(g, bad == BAD_TS_TYPE ? "\",\"user_id\":\"u" : ",\"user_id\":\"u");
    put_u64(g, g->user, 6);
    put_s(g, g->ev.is_whale ? "\",\"is_whale\":true," : "\",");
    write_candidates(g, bad);
    write_decision(g, bad);
    PUT(g, ",\"logging_policy\":");
    put_str(g, gope_policy_name(g->logging, 0));
    if (g->ev.has_lambda_values) {
        PUT(g, ",\"lambda_values\":{");
        for (int c = 0; c < GOPE_C_COUNT; c++) {
            put_str(g, gope_constraint_name((gope_constraint)c));
            PUT(g, ":");
            put_num(g, g->ev.lambda_values[c]);
            put_s(g, c + 1 < GOPE_C_COUNT ? "," : "}");
        }
    }
    PUT(g, ",\"uncertainty_score\":");
    put(g, g->uncertainty_text, g->uncertainty_len);
    put_s(g, bad == BAD_NOT_OBJECT ? "}]" : "}");
    if (bad == BAD_TRAILING)
        PUT(g, " {}");
    if (bad == BAD_TRUNCATED)
        g->len = start + (g->len - start) / 2;
    PUT(g, "\n");
}

/* ---------------------------------------------------------------- run */

static int gen_open(gen_t *g, const gen_conf *conf)
{
    memset(g, 0, sizeof *g);
    g->conf = *conf;
    rng_seed(&g->rng, conf->seed, 0);
    rng_seed(&g->rng_bad, conf->seed, 1);
    rng_seed(&g->rng_jitter, conf->seed, 2);
    size_t k = conf->k, spec_len = strlen(conf->logging);
    char *spec = malloc(spec_len + 3);
    gope_err err = {{0}};
    int rc = -1;
    if (!spec)
        goto cleanup;
    snprintf(spec, spec_len + 3, "[%s]", conf->logging);
    if (gope_policies_parse(spec, spec_len + 2, "--logging", &g->logging, &err) != GOPE_OK) {
        fprintf(stderr, "gen_alloc: %s\n", err.msg);
        goto cleanup;
    }
    g->cap = (1u << 20) + 1024 + k * 320;
    g->flush_at = 1u << 20;
    g->buf = malloc(g->cap);
    g->cand = calloc(k, sizeof *g->cand);
    g->sid = calloc(k, sizeof *g->sid);
    g->text = calloc(k, sizeof *g->text);
    g->gift_p = calloc(3 * k, sizeof *g->gift_p);
    if (!g->buf || !g->cand || !g->sid || !g->text || !g->gift_p || world_new(&g->world, &g->rng) < 0) {
        fprintf(stderr, "gen_alloc: out of memory\n");
        goto cleanup;
    }
    g->pi = g->gift_p + k, g->scratch = g->gift_p + 2 * k;
    g->ev.candidates = g->cand;
    g->ev.n_candidates = k;
    g->st.min_propensity = 1.0;
    rc = 0;
cleanup:
    free(spec);
    return rc;
}

static void gen_close(gen_t *g)
{
    gope_policies_free(g->logging);
    world_free(&g->world);
    free(g->buf), free(g->cand), free(g->sid), free(g->text), free(g->gift_p);
}

static int flush(gen_t *g)
{
    size_t n = fwrite(g->buf, 1, g->len, stdout);
    g->st.bytes += n;
    if (n != g->len) {
        fprintf(stderr, "gen_alloc: write error on stdout\n");
        return -1;
    }
    g->len = 0;
    return 0;
}

static void count(gen_t *g, bad_kind bad)
{
    gen_stats *s = &g->st;
    s->lines++;
    if (bad != BAD_NONE) {
        s->bad++;
        return;
    }
    memcpy(g->last_id, g->ev.event_id, g->ev.event_id_len + 1);
    s->gifts += g->ev.reward > 0;
    s->whale_events += g->ev.is_whale;
    s->reward += g->ev.reward;
    s->chosen_ev += g->cand[g->action].ev;
    s->min_propensity = fmin(s->min_propensity, g->ev.propensity);
}

static int gen_run(gen_t *g)
{
    for (uint64_t n = 0; n < g->conf.events; n++) {
        bad_kind bad = BAD_NONE;
        if (g->conf.bad_frac > 0 && rng_unit(&g->rng_bad) < g->conf.bad_frac)
            bad = (bad_kind)(1 + rng_below(&g->rng_bad, BAD_COUNT - 1));
        if (bad == BAD_PROBS && g->conf.k < 2)
            bad = BAD_ACTION;
        make_event(g, n);
        write_event(g, bad);
        count(g, bad);
        if (g->len >= g->flush_at && flush(g) < 0)
            return -1;
    }
    return flush(g) < 0 || fflush(stdout) != 0 ? -1 : 0;
}

static void print_stats(const gen_t *g, double seconds)
{
    const gen_stats *s = &g->st;
    double ok = (double)(s->lines - s->bad);
    fprintf(stderr,
            "lines %llu (bad %llu), bytes %llu (%.0f bytes/event), %.0f events/s\n"
            "gift rate %.4f, mean reward %.4f, mean ev of the chosen candidate %.4f, "
            "whale events %.4f, min propensity %.3g\n",
            (unsigned long long)s->lines, (unsigned long long)s->bad,
            (unsigned long long)s->bytes, (double)s->bytes / (double)(s->lines ? s->lines : 1),
            (double)s->lines / seconds, (double)s->gifts / ok, s->reward / ok, s->chosen_ev / ok,
            (double)s->whale_events / ok, s->min_propensity);
}

/* --self-check N: the fast paths against their definitions on random numbers. */
static int self_check(uint64_t n, uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed, 99);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        double x;
        switch (i % 5) {
        case 0: x = ldexp(rng_unit(&r) + 0.5, (int)rng_below(&r, 160) - 100); break;
        case 1: x = (double)rng_below(&r, 100000000) / pow(10.0, (double)rng_below(&r, 12)); break;
        case 2: x = ldexp(1.0, (int)rng_below(&r, 200) - 100); break;
        case 3: /* powers of ten and their neighbours */
            x = pow(10.0, (double)rng_below(&r, 50) - 25);
            x = rng_unit(&r) < 0.3 ? x : nextafter(x, rng_unit(&r) < 0.5 ? 0.0 : INFINITY);
            break;
        default: memcpy(&x, &(uint64_t){rng_next(&r) >> 1}, sizeof x); break;
        }
        char a[40], b[40], fa[40], fb[40];
        size_t la = fmt_double(x, a), lb = fmt_slow(x, b), lfa = 0, lfb = 0;
        bool fok = !isfinite((float)x) ||
                   (float_text(x, fa, &lfa) == float_text_slow(x, fb, &lfb) && lfa == lfb &&
                    memcmp(fa, fb, lfa) == 0);
        if (la != lb || memcmp(a, b, la) != 0 || !fok) {
            if (bad++ < 10)
                fprintf(stderr, "mismatch: %.*s vs %.*s; float %.*s vs %.*s\n", (int)la, a,
                        (int)lb, b, (int)lfa, fa, (int)lfb, fb);
        }
    }
    fprintf(stderr, "self-check: %llu numbers, %llu mismatches\n", (unsigned long long)n,
            (unsigned long long)bad);
    return bad ? 1 : 0;
}

/* ------------------------------------------------------------ options */

typedef enum { OPT_FLAG, OPT_TEXT, OPT_COUNT, OPT_REAL } opt_kind;

/* One row per option drives both parsing and --help. */
typedef struct {
    const char *name, *value;
    opt_kind kind;
    double lo, hi;   /* accepted range of OPT_COUNT / OPT_REAL */
    size_t offset;   /* bool, const char *, uint64_t or double in gen_conf */
    const char *help;
} opt_spec;

#define O(n, v, k, lo, hi, f, h) {n, v, k, lo, hi, offsetof(gen_conf, f), h}
static const opt_spec opt_specs[] = {
    O("--events", "N", OPT_COUNT, 0, 0x1p53, events, "events (lines) to write (default 1000)"),
    O("--seed", "S", OPT_COUNT, 0, 0x1p53, seed, "random seed (default 1); event ids are ev-<seed>-<n>"),
    O("--k", "K", OPT_COUNT, 1, GOPE_MAX_CANDIDATES, k, "candidates per event (default 10)"),
    O("--rate", "R", OPT_REAL, 1e-6, 1e9, rate, "events per second of event time (default 12)"),
    O("--start-ms", "T", OPT_COUNT, 0, 1e15, start_ms,
      "event time of the first event, epoch ms (default 1735689600000)"),
    O("--logging", "SPEC", OPT_TEXT, 0, 0, logging,
      "logging policy, one policies.v1 object; default:\n"
      "                    " DEFAULT_LOGGING),
    O("--explore", "U", OPT_REAL, 0, 1, explore,
      "mix the logging policy with U uniform (default 0.05): propensities > 0"),
    O("--probs-frac", "F", OPT_REAL, 0, 1, probs_frac,
      "fraction of events carrying the full probs array (default 0.3)"),
    O("--bad-frac", "F", OPT_REAL, 0, 1, bad_frac,
      "fraction of deliberately invalid lines, of 16 kinds (default 0)"),
    O("--shuffle-ms", "M", OPT_COUNT, 0, 1e12, shuffle_ms,
      "add 0..M ms to each event time: slightly out of order (default 0)"),
    O("--stats", NULL, OPT_FLAG, 0, 0, stats,
      "print counts, bytes/event, events/s and reward statistics on stderr"),
    O("--self-check", "N", OPT_COUNT, 1, 0x1p53, self_check,
      "compare the fast number printers with printf/strtod on N numbers"),
};
#define N_OPTS (sizeof opt_specs / sizeof opt_specs[0])

static void print_usage(FILE *fp)
{
    fputs("usage: gen_alloc [options] > log.jsonl\n"
          "A deterministic synthetic alloc.v1 log (JSON lines) on stdout.\n", fp);
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_spec *o = &opt_specs[i];
        char lhs[32];
        snprintf(lhs, sizeof lhs, "%s %s", o->name, o->value ? o->value : "");
        fprintf(fp, "  %-17s %s\n", lhs, o->help);
    }
}

/* Stores the value `v` of option `o` into `c`. @return 0, or -1 (reported). */
static int set_option(const opt_spec *o, const char *v, gen_conf *c)
{
    char *at = (char *)c + o->offset, *end;
    if (o->kind == OPT_TEXT) {
        memcpy(at, &v, sizeof v);
        return 0;
    }
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= o->lo && x <= o->hi) ||
        (o->kind == OPT_COUNT && x != floor(x))) {
        fprintf(stderr, "gen_alloc: %s: expected %s in [%g, %g], got '%s'\n", o->name,
                o->kind == OPT_COUNT ? "an integer" : "a number", o->lo, o->hi, v);
        return -1;
    }
    if (o->kind == OPT_COUNT)
        *(uint64_t *)(void *)at = (uint64_t)x;
    else
        *(double *)(void *)at = x;
    return 0;
}

/* @return 0, 1 after --help, -1 on a usage error (reported). */
static int parse_args(int argc, char **argv, gen_conf *c)
{
    *c = (gen_conf){.events = 1000, .seed = 1, .k = 10, .rate = 12, .explore = 0.05,
                    .probs_frac = 0.3, .start_ms = 1735689600000, .logging = DEFAULT_LOGGING};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            print_usage(stdout);
            return 1;
        }
        const opt_spec *o = NULL;
        for (size_t j = 0; j < N_OPTS && !o; j++)
            o = strcmp(argv[i], opt_specs[j].name) == 0 ? &opt_specs[j] : NULL;
        if (!o) {
            fprintf(stderr, "gen_alloc: unknown option '%s'\n", argv[i]);
            print_usage(stderr);
            return -1;
        }
        if (o->kind == OPT_FLAG) {
            *(bool *)(void *)((char *)c + o->offset) = true;
            continue;
        }
        if (i + 1 == argc) {
            fprintf(stderr, "gen_alloc: %s needs a value\n", o->name);
            return -1;
        }
        if (set_option(o, argv[++i], c) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    gen_conf conf;
    int rc = parse_args(argc, argv, &conf);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (conf.self_check)
        return self_check(conf.self_check, conf.seed);
    gen_t g;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = gen_open(&g, &conf) == 0 && gen_run(&g) == 0 ? 0 : 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == 0 && conf.stats)
        print_stats(&g, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    gen_close(&g);
    return rc;
}
