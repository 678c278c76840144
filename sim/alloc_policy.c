/*
 * alloc_policy.c — any policy of the policy library as a simulator allocator.
 *
 * The simulator samples from exactly the pi that the estimators evaluate:
 * the same gope_policy_probs() call on the same event, so on-policy truth and
 * off-policy estimates refer to one and the same policy.
 */
#include <stdlib.h>

#include "sim_int.h"

typedef struct {
    const gope_policy_set_t *set;
    size_t index;
    double scratch[GOPE_MAX_CANDIDATES];
} policy_alloc;

size_t gope_sim_sample(const double *pi, size_t n, double u)
{
    double cum = 0;
    size_t last = 0;
    for (size_t j = 0; j < n; j++) {
        if (pi[j] <= 0)
            continue;
        cum += pi[j];
        last = j;
        if (u < cum)
            return j;
    }
    return last; /* rounding left u above the total: the last possible action */
}

/* The action of a one-hot pi is the one gope_sim_sample() would find. */
size_t gope_sim__sample_probs(const double *pi, size_t n, size_t top, double u, bool *certain)
{
    if (top == GOPE_PI_SPREAD)
        return gope_sim_sample(pi, n, u);
    *certain = true;
    return top;
}

static size_t policy_decide(void *state, const gope_sim_decision *d, double *pi, bool *certain)
{
    policy_alloc *a = state;
    const size_t top = gope_policy_probs(a->set, a->index, d->event, pi, a->scratch);
    return gope_sim__sample_probs(pi, d->event->n_candidates, top, d->u_action, certain);
}

static const gope_sim_allocator_ops policy_ops = {
    .kind = "policy",
    .decide = policy_decide,
    .free = free,
};

gope_status gope_sim_policy_allocator(const gope_policy_set_t *set, size_t index,
                                      gope_sim_allocator *out, gope_err *err)
{
    policy_alloc *a = malloc(sizeof *a);
    if (!a)
        return gope_err_set(err, GOPE_ERR_NOMEM, "policy %s: out of memory",
                            gope_policy_name(set, index));
    a->set = set;
    a->index = index;
    *out = (gope_sim_allocator){&policy_ops, a, gope_policy_name(set, index)};
    return GOPE_OK;
}

void gope_sim_allocator_free(gope_sim_allocator *a)
{
    if (a && a->ops && a->ops->free)
        a->ops->free(a->state);
    if (a)
        *a = (gope_sim_allocator){0};
}
