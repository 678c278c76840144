/*
 * arrivals.c — who arrives and when.
 *
 * Users come in rounds of round_users distinct users (Simulator V2's batches);
 * the round's users are a function of (seed, round) alone. Times follow a
 * Poisson process whose rate has a daily shape (an evening peak), sampled by
 * thinning with draws keyed by the decision, so every policy on a seed sees
 * the same users at the same times.
 */
#include <math.h>

#include "sim_int.h"

void gope_sim__round_users(const gope_sim_world_t *w, uint32_t round, uint32_t *users,
                           uint32_t *stamp)
{
    const uint32_t mark = round + 1, n = w->conf.round_users;
    uint32_t draw = 0;
    for (uint32_t i = 0; i < n;) {
        const double u = gope_rng_u01(w->seed, GOPE_RNG_ARRIVAL, round, draw++);
        uint32_t user = (uint32_t)(u * w->n_users);
        if (user >= w->n_users)
            user = w->n_users - 1;
        if (stamp[user] == mark) /* already in this round: draw again */
            continue;
        stamp[user] = mark;
        users[i++] = user;
    }
}

/* Candidate gaps at the peak rate, each kept with probability rate/peak; the
 * draw cap only guards against a pathological configuration. */
double gope_sim__next_arrival(const gope_sim_world_t *w, uint64_t decision, double t)
{
    const gope_world_conf *c = &w->conf;
    const double scale = c->arrivals_per_s / w->mean_shape;
    const double peak = scale * (1.0 + c->peak_amplitude);
    for (uint32_t draw = 0; draw < 4096; draw += 2) {
        t -= log(gope_rng_u01(w->seed, GOPE_RNG_TIME, decision, draw)) / peak;
        if (gope_rng_u01(w->seed, GOPE_RNG_TIME, decision, draw + 1) * peak <=
            scale * gope_sim__rate_shape(c, t))
            break;
    }
    return t;
}
