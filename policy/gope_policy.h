/*
 * gope_policy.h — the policy library: pi = policy(event).
 *
 * Introduction
 *   A policy turns one allocation event (its candidates) into a probability
 *   distribution pi over the candidates: a score per candidate, then a
 *   selection rule (greedy, softmax, epsilon_greedy, uniform). The estimators
 *   evaluate pi against the logging policy's propensities; the simulator
 *   samples from exactly the same pi. Keeping one library for both is what
 *   makes simulator ground truth and OPE comparable.
 *
 *   Score (docs/policies.md has the full definition):
 *     score_j = (ev_j + beta sigma_j) g_j + coldstart_bonus [cold_start_j]
 *               - sum_c lambda_c d_cj
 *
 *   Policies come from a policies.v1 JSON file (schemas/policies.v1.schema.json)
 *   or the built-in default set.
 */
#ifndef GOPE_POLICY_H
#define GOPE_POLICY_H

#include <stddef.h>

#include "gope_common.h"
#include "gope_ingest.h"

typedef struct gope_policy_set_s gope_policy_set_t;

/*! gope_policies_parse() : parse a policies.v1 JSON array from `text`
 * (`len` bytes). `source` names the input in error messages.
 * @return GOPE_OK and *out; GOPE_ERR_USAGE with `err` naming the policy (its
 *         name or index) and the field: unknown "select", a missing or bad
 *         parameter (temperature <= 0, epsilon outside [0,1], non-finite
 *         numbers, unknown constraint in "lambda", duplicate or empty names),
 *         invalid JSON; GOPE_ERR_NOMEM. */
gope_status gope_policies_parse(const char *text, size_t len, const char *source,
                                gope_policy_set_t **out, gope_err *err);

/*! gope_policies_load() : read `path` and parse it as above; GOPE_ERR_IO when
 * the file cannot be read. */
gope_status gope_policies_load(const char *path, gope_policy_set_t **out,
                               gope_err *err);

/*! gope_policies_default() : the built-in set (documented in README.md and
 * docs/policies.md; its JSON text is gope_policies_default_json()). */
gope_status gope_policies_default(gope_policy_set_t **out, gope_err *err);
const char *gope_policies_default_json(void);

/*! gope_policies_free() : NULL does nothing. */
void gope_policies_free(gope_policy_set_t *set);

/*! gope_policies_count() : number of policies, >= 1. */
size_t gope_policies_count(const gope_policy_set_t *set);

/*! gope_policy_name() : the i-th policy's name (owned by the set). */
const char *gope_policy_name(const gope_policy_set_t *set, size_t i);

/* gope_policy_probs()'s answer when pi is not one-hot. */
#define GOPE_PI_SPREAD SIZE_MAX

/*! gope_policy_probs() : pi for policy `i` on `ev`: writes ev->n_candidates
 * probabilities (each in [0,1], summing to 1) to `pi`. `scratch` must hold
 * ev->n_candidates doubles, apart from `pi` (it is left holding the scores).
 * Pure function of (policy, event).
 * @return the index j with pi_j = 1 when every other pi is exactly 0 (a
 *         greedy policy with one top score, a single candidate): callers may
 *         then skip the zeros. GOPE_PI_SPREAD otherwise (this includes
 *         cases the function does not single out, e.g. a softmax whose
 *         other terms underflow to 0). */
size_t gope_policy_probs(const gope_policy_set_t *set, size_t i, const gope_event *ev,
                         double *pi, double *scratch);

/*! gope_policy_scores() : the scores alone (before selection), for tests and
 * the simulator's reports. Writes ev->n_candidates values to `score`. */
void gope_policy_scores(const gope_policy_set_t *set, size_t i,
                        const gope_event *ev, double *score);

#endif /* GOPE_POLICY_H */
