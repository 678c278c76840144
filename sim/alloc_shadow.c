/*
 * alloc_shadow.c — shadow_price_online: greedy on ev minus shadow prices
 * that a primal-dual loop moves once per round (docs/allocators.md).
 *
 * Each constraint c is a bound on the mean of the policy library's d_cj
 * over the round's chosen candidates: capacity (share placed where
 * load + 1 > capacity) <= capacity_threshold, head share <=
 * head_threshold, the share of whale decisions placed in rooms already
 * holding >= whale_k whales <= whale_threshold, and cold-start coverage
 * >= coldstart_target (d_coldstart = -1 for a cold start, so it is
 * -share <= -target). After each round the price follows the dual
 * (sub)gradient, the measured violation minus its bound:
 *
 *   lambda_c <- clip(lambda_c + eta (v_c - tau_c), 0, lambda_max)
 *   v = share over capacity, share sent to head, share of whale decisions
 *       into rooms with whales, and coldstart_target - cold-start share
 *       (tau_coldstart = 0: the target is inside v)
 *
 * Within a round the prices are constant and each decision is exactly the
 * policy library's {"select": "greedy", "lambda": "log"} on the event whose
 * lambda_values are the prices in force: the allocator writes them there
 * (they are logged) and calls gope_policy_probs on a policy parsed from
 * that JSON. So the default set's `shadow_log` replays this allocator's
 * decisions bit for bit; what OPE cannot see is how the prices would have
 * moved under another policy. The violations are counted from the logged
 * chosen candidate with the library's own d_cj definitions, so what the
 * price reacts to is what the score penalises.
 *
 * The research ShadowPriceAllocator differed: its penalties were not the
 * score's terms (cold start -(10 - alloc)/10, whale count/2, head by
 * revenue share), it priced every violation (no thresholds, so only
 * rising prices), and it also had a frequency price (frequency_cap here).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_int.h"
#include "sim_int.h"

typedef struct {
    double eta, lambda_max;
    double init[GOPE_C_COUNT]; /* prices of round 0 */
    double tau[GOPE_C_COUNT];  /* bounds: thresholds; coldstart_target for coldstart */
    double beta, crowding_alpha, crowding_threshold; /* the greedy score's own terms */
    int64_t whale_k;
} shadow_conf;

_Static_assert(sizeof(shadow_conf) <= GOPE_SIM__CONF_MAX, "conf buffer");

static const shadow_conf shadow_defaults = {
    .eta = 0.05,
    .lambda_max = 10,
    .init = {[GOPE_C_CAPACITY] = 0.1, [GOPE_C_COLDSTART] = 0.5, [GOPE_C_HEAD] = 0.1,
             [GOPE_C_WHALE] = 0.2},
    .tau = {[GOPE_C_CAPACITY] = 0.0, [GOPE_C_COLDSTART] = 0.2, [GOPE_C_HEAD] = 0.3,
            [GOPE_C_WHALE] = 0.0},
    .beta = 0,
    .crowding_alpha = 0,
    .crowding_threshold = 1,
    .whale_k = 1,
};

#define OPT_NUM(key, field, lo, hi) {key, GOPE_SIM__OPT_NUM, offsetof(shadow_conf, field), lo, hi}

static const gope_sim__opt shadow_opts[] = {
    OPT_NUM("eta", eta, 0, 1e6),
    OPT_NUM("lambda_max", lambda_max, 0, 1e6),
    OPT_NUM("capacity_init", init[GOPE_C_CAPACITY], 0, 1e6),
    OPT_NUM("coldstart_init", init[GOPE_C_COLDSTART], 0, 1e6),
    OPT_NUM("head_init", init[GOPE_C_HEAD], 0, 1e6),
    OPT_NUM("whale_init", init[GOPE_C_WHALE], 0, 1e6),
    OPT_NUM("capacity_threshold", tau[GOPE_C_CAPACITY], 0, 1),
    OPT_NUM("coldstart_target", tau[GOPE_C_COLDSTART], 0, 1),
    OPT_NUM("head_threshold", tau[GOPE_C_HEAD], 0, 1),
    OPT_NUM("whale_threshold", tau[GOPE_C_WHALE], 0, 1),
    OPT_NUM("beta", beta, -1e6, 1e6),
    OPT_NUM("crowding_alpha", crowding_alpha, 0, 1e6),
    OPT_NUM("crowding_threshold", crowding_threshold, -1e6, 1e6),
    {"whale_k", GOPE_SIM__OPT_INT, offsetof(shadow_conf, whale_k), 0, 1e6},
};

typedef struct {
    shadow_conf c;
    gope_policy_set_t *policy; /* the one greedy, lambda "log" policy */
    double lambda[GOPE_C_COUNT];
    /* this round so far: decisions, whale decisions, chosen candidates with
     * d_c != 0 (for coldstart: cold starts) */
    uint64_t n, n_whale, hits[GOPE_C_COUNT];
    double *scratch;
} shadow_alloc;

static double clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* lambda_c <- clip(lambda_c + eta v, 0, lambda_max) */
static void step_price(shadow_alloc *a, gope_constraint c, double v)
{
    a->lambda[c] = clip(a->lambda[c] + a->c.eta * v, 0, a->c.lambda_max);
}

/* The dual step from the round that just ended (a->n > 0). The whale price
 * moves only when a whale arrived: without whale decisions there is no
 * share to measure. */
static void update_prices(shadow_alloc *a)
{
    const double n = (double)a->n, *tau = a->c.tau;
    const uint64_t *hits = a->hits;
    step_price(a, GOPE_C_CAPACITY, (double)hits[GOPE_C_CAPACITY] / n - tau[GOPE_C_CAPACITY]);
    step_price(a, GOPE_C_COLDSTART, tau[GOPE_C_COLDSTART] - (double)hits[GOPE_C_COLDSTART] / n);
    step_price(a, GOPE_C_HEAD, (double)hits[GOPE_C_HEAD] / n - tau[GOPE_C_HEAD]);
    if (a->n_whale > 0)
        step_price(a, GOPE_C_WHALE,
                   (double)hits[GOPE_C_WHALE] / (double)a->n_whale - tau[GOPE_C_WHALE]);
}

static void shadow_begin_round(void *state, const gope_sim_world_t *w, uint32_t round,
                               const uint32_t *users, uint32_t n_users)
{
    (void)w, (void)users, (void)n_users;
    shadow_alloc *a = state;
    if (round == 0) /* a new run */
        memcpy(a->lambda, a->c.init, sizeof a->lambda);
    else if (a->n > 0)
        update_prices(a);
    a->n = a->n_whale = 0;
    memset(a->hits, 0, sizeof a->hits);
}

static size_t shadow_decide(void *state, const gope_sim_decision *d, double *pi, bool *certain)
{
    shadow_alloc *a = state;
    gope_event *ev = d->event;
    ev->has_lambda_values = true;
    memcpy(ev->lambda_values, a->lambda, sizeof ev->lambda_values);
    const size_t top = gope_policy_probs(a->policy, 0, ev, pi, a->scratch);
    return gope_sim__sample_probs(pi, ev->n_candidates, top, d->u_action, certain);
}

/* d_cj of the chosen candidate, as the policy library defines them. */
static void shadow_observe(void *state, const gope_sim_decision *d, const gope_sim_outcome *o)
{
    (void)o;
    shadow_alloc *a = state;
    const gope_event *ev = d->event;
    const gope_candidate *c = &ev->candidates[ev->action];
    a->n++;
    a->hits[GOPE_C_CAPACITY] += c->capacity > 0 && c->load >= c->capacity;
    a->hits[GOPE_C_COLDSTART] += c->cold_start;
    a->hits[GOPE_C_HEAD] += c->head;
    if (ev->is_whale) {
        a->n_whale++;
        a->hits[GOPE_C_WHALE] += c->whales >= a->c.whale_k;
    }
}

static void shadow_free(void *state)
{
    shadow_alloc *a = state;
    if (!a)
        return;
    gope_policies_free(a->policy);
    free(a->scratch);
    free(a);
}

static const gope_sim_allocator_ops shadow_ops = {
    .kind = "shadow_price_online",
    .begin_round = shadow_begin_round,
    .decide = shadow_decide,
    .observe = shadow_observe,
    .free = shadow_free,
};

static const char *const init_keys[GOPE_C_COUNT] = {"capacity_init", "coldstart_init",
                                                    "head_init", "whale_init"};

static gope_status shadow_create(const void *conf, const gope_policy_set_t *set,
                                 const gope_sim_world_t *w, gope_sim_allocator *out,
                                 gope_err *err)
{
    (void)set;
    const shadow_conf *c = conf;
    for (int k = 0; k < GOPE_C_COUNT; k++)
        if (c->init[k] > c->lambda_max)
            return gope_err_set(err, GOPE_ERR_USAGE,
                                "allocator shadow_price_online: %s: %g is above lambda_max %g",
                                init_keys[k], c->init[k], c->lambda_max);
    char json[512];
    snprintf(json, sizeof json,
             "[{\"name\": \"shadow_price_online\", \"select\": \"greedy\", \"lambda\": \"log\", "
             "\"beta\": %.17g, \"crowding_alpha\": %.17g, \"crowding_threshold\": %.17g, "
             "\"whale_k\": %lld}]",
             c->beta, c->crowding_alpha, c->crowding_threshold, (long long)c->whale_k);
    shadow_alloc *a = calloc(1, sizeof *a);
    if (!a)
        goto nomem;
    a->c = *c;
    memcpy(a->lambda, c->init, sizeof a->lambda);
    a->scratch = malloc(gope_sim__max_candidates(w) * sizeof *a->scratch);
    if (!a->scratch)
        goto nomem;
    gope_status st = gope_policies_parse(json, strlen(json), "shadow_price_online", &a->policy, err);
    if (st != GOPE_OK) { /* the JSON is ours and valid: only NOMEM is possible */
        shadow_free(a);
        return st;
    }
    *out = (gope_sim_allocator){&shadow_ops, a, shadow_ops.kind};
    return GOPE_OK;
nomem:
    shadow_free(a);
    return gope_err_set(err, GOPE_ERR_NOMEM, "allocator shadow_price_online: out of memory");
}

const gope_sim__alloc_kind gope_sim__shadow_kind = {
    .name = "shadow_price_online",
    .opts = shadow_opts,
    .n_opts = sizeof shadow_opts / sizeof shadow_opts[0],
    .defaults = &shadow_defaults,
    .conf_size = sizeof(shadow_conf),
    .create = shadow_create,
};
