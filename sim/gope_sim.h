/*
 * gope_sim.h — Simulator V2: a world of users and streamers that produces the
 * same allocation log a production system would, and the ground truth OPE is
 * judged against.
 *
 * Introduction
 *   A world configuration (gope_world_conf: a preset, or a world.v1 JSON file,
 *   schemas/world.v1.schema.json) and a seed make a world (gope_sim_world_t):
 *   users with heavy-tailed wealth and preference vectors, streamers with
 *   popularity, content vectors, capacity tiers, cold-start and head flags.
 *   A run (gope_sim_run) sends arriving users through an allocator — any
 *   policy of the policy library (sampling from exactly the pi the estimators
 *   use), or a stateful allocator — draws gifts from the world's gift model,
 *   and reports every decision: the alloc.v1 event as it would be logged, the
 *   true expected value of every candidate, and an outcome record for the
 *   section-4 metrics (sim_metrics.h).
 *
 *   docs/simulator.md has every formula and default. In short:
 *     p(gift)  = sigmoid(th0 + th1 log1p(wealth) + th2 match + th3 pop + th4 N_s)
 *     amount   = tier_k * 1/(1 + gamma N_s) * cap(n),  k ~ softmax_k(log b_k + a k),
 *     a        = wslope clip((log1p(wealth) - wcenter)/wscale, lo, hi) + mslope match
 *     cap(n)   = 1 / (1 + alpha (n - C)/C) when capacity externality is on and n > C
 *     true_ev  = p * E[tier] * 1/(1 + gamma N_s) * cap(load + 1)
 *     ev       = true_ev * exp(sd_s z_us - sd_s^2/2)   (the platform's noisy model)
 *   with N_s the streamer's count of big gifts so far in the run.
 *
 *   Determinism and common random numbers: every random number is a pure
 *   function of (seed, purpose, index, draw) (gope_rng_*). The world depends on
 *   the seed only; which users arrive, when, and the uniforms that sample the
 *   action, the gift and the tier depend on (seed, decision) only. Two policies
 *   run on the same seed therefore see the same users at the same times and
 *   the same uniforms; only the chosen streamers differ, which makes paired
 *   differences between policies far less noisy than independent runs.
 *
 *   Nothing here keeps global state; a world is immutable once built and can
 *   be shared by several runs (one per policy) on one thread each.
 */
#ifndef GOPE_SIM_H
#define GOPE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gope_common.h"
#include "gope_ingest.h"
#include "gope_policy.h"
#include "jsonbuf.h"
#include "sim_outcome.h"

/* ------------------------------------------------------------------ rng */

/* Purposes of random streams; each is an independent stream per seed. */
typedef enum {
    GOPE_RNG_USER_WEALTH = 1, /* world: wealth of user i */
    GOPE_RNG_USER_PREF,       /* world: preference vector of user i */
    GOPE_RNG_STREAMER_POP,    /* world: popularity of streamer s */
    GOPE_RNG_STREAMER_CONTENT,/* world: content vector of streamer s */
    GOPE_RNG_STREAMER_NEW,    /* world: cold-start label of streamer s */
    GOPE_RNG_EV_NOISE,        /* world: model error of pair (u, s) */
    GOPE_RNG_ARRIVAL,         /* run: which users arrive in round r */
    GOPE_RNG_TIME,            /* run: inter-arrival time of decision d */
    GOPE_RNG_ACTION,          /* run: the uniform that samples the action of d */
    GOPE_RNG_GIFT,            /* run: the uniform of the gift Bernoulli of d */
    GOPE_RNG_AMOUNT,          /* run: the uniform of the tier draw of d */
    GOPE_RNG_DWELL,           /* run: how long the viewer of d stays */
    GOPE_RNG_RECALL,          /* run: random fill of the candidate set of d */
    GOPE_RNG_ALLOCATOR,       /* run: free for stateful allocators */
} gope_rng_purpose;

/*! gope_rng_bits() : 64 random bits, a pure function of its arguments
 * (counter-based: a strong 64-bit mix of seed, purpose, index and draw). */
uint64_t gope_rng_bits(uint64_t seed, gope_rng_purpose purpose, uint64_t index, uint32_t draw);

/*! gope_rng_u01() : uniform in the open interval (0, 1), 53-bit resolution:
 * gope_rng_to_u01() of gope_rng_bits(). */
double gope_rng_u01(uint64_t seed, gope_rng_purpose purpose, uint64_t index, uint32_t draw);

/*! gope_rng_to_u01() : the uniform in (0, 1) of 64 random bits. */
double gope_rng_to_u01(uint64_t bits);

/*! gope_rng_normal() : standard normal, the quantile of gope_rng_u01() of the
 * same key (rational approximation, relative error < 1.2e-9). */
double gope_rng_normal(uint64_t seed, gope_rng_purpose purpose, uint64_t index, uint32_t draw);

/* ---------------------------------------------------------- configuration */

#define GOPE_SIM_TIERS 10   /* the discrete amount tiers of Simulator V2 */
#define GOPE_SIM_MAX_DIM 64 /* preference / content vector dimension */
#define GOPE_SIM_MAX_USERS 10000000u
#define GOPE_SIM_MAX_STREAMERS 100000u

typedef enum {
    GOPE_SESSION_ROUND = 0, /* a viewer stays until the round ends (Simulator V2) */
    GOPE_SESSION_DWELL,     /* a viewer stays an exponential dwell time */
} gope_session_mode;

/* A world: every field is reachable from world.v1 JSON under the same name
 * (grouped as in the schema: users, streamers, gift, amount, ev_model, time,
 * candidates). */
typedef struct {
    char name[64]; /* preset name or the file's "name" */

    /* users */
    uint32_t n_users;
    double wealth_mu, wealth_sigma;     /* lognormal body */
    double pareto_share;                /* share of users in the Pareto tail */
    double pareto_alpha, pareto_xm;     /* wealth = xm * U^(-1/alpha) */
    double whale_frac;                  /* whales = top fraction by wealth */
    uint32_t dim;                       /* preference / content dimension */

    /* streamers */
    uint32_t n_streamers;
    double popularity_alpha;            /* pop = (pareto(a) + 1) / max */
    double new_frac;                    /* cold-start streamers, a random share */
    double head_frac;                   /* head = top fraction by popularity */
    double tier_top_frac, tier_middle_frac; /* capacity tiers by popularity rank */
    int64_t capacity_top, capacity_middle, capacity_tail; /* 0 = unlimited */

    /* gift probability: sigmoid(theta . (1, log1p w, match, pop, N_s)) */
    double theta[5];
    double big_gift;                    /* amount above which a gift counts in N_s */

    /* amount | gift */
    double tiers[GOPE_SIM_TIERS];       /* amounts, increasing */
    double tier_base[GOPE_SIM_TIERS];   /* base probabilities, sum 1 */
    double wealth_slope, wealth_center, wealth_scale, wealth_lo, wealth_hi;
    double match_slope;
    double gamma;                       /* crowding: 1/(1 + gamma N_s) */
    bool capacity_externality;          /* the cap(n) penalty on/off */
    double capacity_alpha;

    /* the platform's EV model */
    double ev_noise_sd;                 /* multiplicative lognormal error */
    double ev_noise_cold_mult;          /* ... times this for cold-start streamers */

    /* time and sessions */
    int64_t start_ms;                   /* ts of the first possible arrival */
    double arrivals_per_s;              /* mean rate over a day */
    double peak_hour, peak_amplitude, peak_width_h; /* daily pattern */
    uint32_t round_users;               /* users per round, distinct within a round */
    gope_session_mode session;
    double dwell_mean_s;                /* GOPE_SESSION_DWELL */

    /* candidates per decision: 0 = every streamer, else the recall stage's k */
    uint32_t candidates;
    double recall_random_frac;          /* share of the k filled at random */
} gope_world_conf;

/*! gope_world_preset() : fill `c` with a built-in world: "giftlive-v2"
 * (the research Simulator V2 with V2+ amounts) or "kuailive" (calibrated to the
 * KuaiLive dataset). @return GOPE_OK; GOPE_ERR_USAGE naming the unknown preset
 * and the known ones. */
gope_status gope_world_preset(const char *name, gope_world_conf *c, gope_err *err);

/*! gope_world_preset_names() : NULL-terminated list of preset names. */
const char *const *gope_world_preset_names(void);

/*! gope_world_parse() : parse a world.v1 JSON object (`len` bytes of `text`;
 * `source` names it in messages). Fields not given keep the values of the
 * preset named by "base" (default "giftlive-v2"), so a file can change one
 * number. @return GOPE_OK; GOPE_ERR_USAGE naming the field and the rule it
 * breaks (unknown field, wrong type, out of range); GOPE_ERR_NOMEM. */
gope_status gope_world_parse(const char *text, size_t len, const char *source,
                             gope_world_conf *c, gope_err *err);

/*! gope_world_load() : `spec` is a preset name or a path to a world.v1 file.
 * @return as gope_world_parse(); GOPE_ERR_IO when the file cannot be read. */
gope_status gope_world_load(const char *spec, gope_world_conf *c, gope_err *err);

/*! gope_world_validate() : the range rules world.v1 states, on a filled
 * struct (presets and parsed files both pass through it).
 * @return GOPE_OK or GOPE_ERR_USAGE naming the field. */
gope_status gope_world_validate(const gope_world_conf *c, gope_err *err);

/*! gope_world_json() : the configuration as a world.v1 JSON object, so a
 * run records exactly what it simulated. */
void gope_world_json(const gope_world_conf *c, gope_jbuf *b);

/* ------------------------------------------------------------------ world */

typedef struct gope_sim_world_s gope_sim_world_t;

/*! gope_sim_world_new() : build the users and streamers of `conf` for `seed`
 * (validates conf first). @return GOPE_OK and *out; GOPE_ERR_USAGE;
 * GOPE_ERR_NOMEM. */
gope_status gope_sim_world_new(const gope_world_conf *conf, uint64_t seed,
                               gope_sim_world_t **out, gope_err *err);

/*! gope_sim_world_free() : NULL does nothing. */
void gope_sim_world_free(gope_sim_world_t *w);

/*! gope_sim_world_conf() : the configuration the world was built from. */
const gope_world_conf *gope_sim_world_conf(const gope_sim_world_t *w);

/*! gope_sim_world_seed() : the seed it was built with. */
uint64_t gope_sim_world_seed(const gope_sim_world_t *w);

/* Read-only views for metrics and tests (arrays of n_users / n_streamers). */
typedef struct {
    uint32_t n_users, n_streamers;
    const double *wealth;       /* n_users */
    const bool *whale;          /* n_users: top whale_frac by wealth */
    const bool *top01, *top1;   /* n_users: top 0.1% / 1% by wealth */
    const double *popularity;   /* n_streamers, in (0, 1] */
    const int64_t *capacity;    /* n_streamers, 0 = unlimited */
    const bool *cold_start;     /* n_streamers */
    const bool *head;           /* n_streamers */
} gope_sim_world_view;

/*! gope_sim_world_get() : the view above (owned by the world). */
void gope_sim_world_get(const gope_sim_world_t *w, gope_sim_world_view *v);

/*! gope_sim_match() : p_u . q_s, in [-1, 1]. */
double gope_sim_match(const gope_sim_world_t *w, uint32_t user, uint32_t streamer);

/* The state-dependent part of the gift model. */
typedef struct {
    int64_t big_gifts; /* N_s: gifts above big_gift to the streamer so far */
    int64_t load;      /* viewers in the room, this one included */
} gope_sim_room;

/*! gope_sim_gift_prob() : p(gift) of `user` in `streamer`'s room. */
double gope_sim_gift_prob(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                          const gope_sim_room *room);

/*! gope_sim_tier_probs() : the 10 tier probabilities given a gift (sum 1). */
void gope_sim_tier_probs(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                         double probs[GOPE_SIM_TIERS]);

/*! gope_sim_externality() : the amount multiplier 1/(1+gamma N_s) * cap(load). */
double gope_sim_externality(const gope_sim_world_t *w, uint32_t streamer,
                            const gope_sim_room *room);

/*! gope_sim_true_ev() : the true expected gift of `user` in the room:
 * p * E[tier] * externality — the amount model the world samples from. */
double gope_sim_true_ev(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                        const gope_sim_room *room);

/*! gope_sim_model_ev() : the platform's noisy estimate of true_ev and its
 * stated uncertainty sigma (docs/simulator.md, "EV model"). */
double gope_sim_model_ev(const gope_sim_world_t *w, uint32_t user, uint32_t streamer,
                         double true_ev, double *sigma);

/*! gope_sim_ev_recall() : the share of the true top `frac` of (user,
 * streamer) pairs that the model's top `frac` contains (empty rooms, N_s = 0),
 * over the first `sample_users` users (users are i.i.d., so that is a random
 * sample; all users when 0 or more than there are).
 * @return the recall in [0, 1]; -1 with err set when out of memory. */
double gope_sim_ev_recall(const gope_sim_world_t *w, double frac, uint32_t sample_users,
                          gope_err *err);

/* --------------------------------------------------------------- allocators */

/* What an allocator sees of one decision. `event` is the alloc.v1 event the
 * log will carry (candidates with ev, sigma, load, capacity, whales, flags;
 * ts, user; event_id only in a run with an on_step callback, the one
 * reader of it); an allocator may set its lambda_values (shadow prices
 * in force, logged) and nothing else: the candidates may be the run's own
 * per-streamer records. `streamers[j]` is candidate j's
 * streamer index; `u_action` the decision's CRN uniform for sampling. */
typedef struct {
    const gope_sim_world_t *world;
    uint64_t seed, decision;
    uint32_t round, user;
    gope_event *event;
    const uint32_t *streamers;
    double u_action;
} gope_sim_decision;

/* An allocator: a policy of the policy library, or a stateful one (shadow
 * prices, whale matching, frequency caps) that only the simulator can run.
 * decide() must write the exact distribution it sampled from to pi
 * (n_candidates entries, sum 1) and return the chosen index; it may set
 * *certain (false on entry) when pi is 1 there and exactly 0 everywhere
 * else, which lets the engine skip the zeros. */
typedef struct gope_sim_allocator_ops {
    const char *kind;
    void (*begin_round)(void *state, const gope_sim_world_t *w, uint32_t round,
                        const uint32_t *users, uint32_t n_users);
    size_t (*decide)(void *state, const gope_sim_decision *d, double *pi, bool *certain);
    void (*observe)(void *state, const gope_sim_decision *d, const gope_sim_outcome *o);
    void (*free)(void *state);
} gope_sim_allocator_ops;

typedef struct {
    const gope_sim_allocator_ops *ops;
    void *state;
    const char *name; /* logged as logging_policy */
} gope_sim_allocator;

/*! gope_sim_policy_allocator() : policy `index` of `set` as an allocator:
 * pi = gope_policy_probs(set, index, event), action by inverse CDF at
 * u_action. `set` must outlive the allocator. @return GOPE_OK;
 * GOPE_ERR_NOMEM. */
gope_status gope_sim_policy_allocator(const gope_policy_set_t *set, size_t index,
                                      gope_sim_allocator *out, gope_err *err);

/*! gope_sim_allocator_free() : frees the state (NULL ops do nothing). */
void gope_sim_allocator_free(gope_sim_allocator *a);

/*! gope_sim_allocator_new() : the allocator `spec` names: a stateful
 * allocator ("shadow_price_online", "whale_matching", "frequency_cap",
 * optionally followed by ":key=value,key=value", e.g. "whale_matching:k=3";
 * docs/allocators.md lists every key and default), else a policy of `set`
 * (gope_sim_policy_allocator). The allocator names are looked up first.
 * Its name (logged as logging_policy) is the spec's name part. `set` and
 * `w` must outlive it; it may serve several runs one after another in
 * worlds of w's configuration (round 0 resets its state). Free it with
 * gope_sim_allocator_free().
 * @return GOPE_OK and *out; GOPE_ERR_USAGE for an unknown name (listing
 *         the set's policies and the allocators), options on a policy, an
 *         unknown or repeated key, or a bad value (naming the key);
 *         GOPE_ERR_NOMEM. */
gope_status gope_sim_allocator_new(const char *spec, const gope_policy_set_t *set,
                                   const gope_sim_world_t *w, gope_sim_allocator *out,
                                   gope_err *err);

/*! gope_sim_allocator_kinds() : NULL-terminated names of the stateful
 * allocators, in the order above. */
const char *const *gope_sim_allocator_kinds(void);

/*! gope_sim_sample() : the index j with cdf(j-1) <= u < cdf(j) over pi (the
 * last index with pi_j > 0 when rounding leaves u above the total). */
size_t gope_sim_sample(const double *pi, size_t n, double u);

/* -------------------------------------------------------------------- runs */

/* Everything one decision produced, handed to the run's callback. */
typedef struct {
    const gope_event *event;     /* as logged: action, propensity, reward, probs */
    const uint32_t *streamers;   /* candidate j -> streamer index */
    const double *true_ev;       /* true expected value of each candidate; NULL in
                                  * runs with outcome_only */
    const double *pi;            /* the allocator's distribution (= event->probs) */
    uint32_t user;
    const char *allocator;       /* the allocator's name (logging_policy) */
    const gope_sim_outcome *outcome;
} gope_sim_step;

/* Called once per decision, in order; a non-OK return stops the run with
 * that status (the callback fills err). */
typedef gope_status (*gope_sim_step_fn)(void *ctx, const gope_sim_step *step, gope_err *err);

typedef struct {
    uint64_t decisions;     /* how many to simulate */
    gope_sim_step_fn on_step; /* may be NULL */
    void *ctx;
    /* on_step reads the step's outcome, event and pi but not the candidates'
     * true EVs (step->true_ev is then NULL): the run computes the chosen
     * one's alone where it can, which saves a store per candidate */
    bool outcome_only;
} gope_sim_run_conf;

typedef struct {
    uint64_t decisions, gifts, rounds;
    double revenue;   /* sum of rewards (compensated) */
    double v_static;  /* mean over decisions of sum_j pi_j true_ev_j */
    int64_t first_ts, last_ts;
} gope_sim_summary;

/*! gope_sim_run() : simulate `conf->decisions` decisions of `alloc` in world
 * `w` (its seed decides everything random). @return GOPE_OK and *sum;
 * GOPE_ERR_NOMEM; or the callback's status. */
gope_status gope_sim_run(const gope_sim_world_t *w, gope_sim_allocator *alloc,
                         const gope_sim_run_conf *conf, gope_sim_summary *sum,
                         gope_err *err);

/* --------------------------------------------------------------- log output */

typedef struct gope_sim_log_s gope_sim_log_t;

/*! gope_sim_log_open() : an alloc.v1 writer on `path` ("-" = stdout), zstd
 * (level 3, streaming) when the path ends in ".zst". @return GOPE_OK;
 * GOPE_ERR_IO naming the path; GOPE_ERR_NOMEM. */
gope_status gope_sim_log_open(const char *path, gope_sim_log_t **out, gope_err *err);

/* Where gope_sim_log_open_lines() hands each line: `key` the event_id,
 * `line` without its '\n'. The same shape as a gope_sink's write, so a sink
 * (e.g. a Kafka topic, ope/gope_ope.h) plugs in directly. */
typedef gope_status (*gope_sim_line_fn)(void *ctx, const char *key, const char *line,
                                        size_t len, gope_err *err);

/*! gope_sim_log_open_lines() : an alloc.v1 writer that hands every line to
 * `fn` (with `ctx`) instead of a file; `name` names it in messages. Closing
 * the log does not close what `fn` writes to.
 * @return GOPE_OK; GOPE_ERR_NOMEM. */
gope_status gope_sim_log_open_lines(const char *name, gope_sim_line_fn fn, void *ctx,
                                    gope_sim_log_t **out, gope_err *err);

/*! gope_sim_log_write() : one alloc.v1 line for `step`: schema, event_id,
 * ts, user_id, candidates (streamer_id, ev, sigma, load, capacity when
 * finite, whales, cold_start/head when true, and "true_ev", which replay
 * ignores and `truth --log` reads), action, propensity, reward, probs,
 * is_whale, logging_policy. Numbers round-trip exactly ("%.17g").
 * A gope_sim_step_fn with the log as ctx. */
gope_status gope_sim_log_write(void *log, const gope_sim_step *step, gope_err *err);

/*! gope_sim_log_close() : flush, finish the zstd frame, close.
 * @return GOPE_OK or GOPE_ERR_IO (a failed write or close); NULL is OK. */
gope_status gope_sim_log_close(gope_sim_log_t *log, gope_err *err);

#endif /* GOPE_SIM_H */
