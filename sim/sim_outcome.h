/*
 * sim_outcome.h — what one simulated decision produced.
 *
 * The engine (engine.c) fills one gope_sim_outcome per decision and hands it
 * to the metrics accumulator (metrics.c); this struct is the whole contract
 * between the two, so the section-4 metrics never reach into engine state.
 */
#ifndef GOPE_SIM_OUTCOME_H
#define GOPE_SIM_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t decision;  /* 0-based index within the run */
    uint32_t round;     /* 0-based round index */
    int64_t ts;         /* event time, epoch ms */
    uint32_t user;      /* user index in the world, 0..n_users-1 */
    uint32_t streamer;  /* chosen streamer index, 0..n_streamers-1 */
    bool user_is_whale; /* user in the world's whale set (top fraction by wealth) */
    bool cold_start;    /* chosen streamer is a cold-start (new) streamer */
    bool head;          /* chosen streamer is a head streamer */
    int64_t load;       /* viewers in the chosen room before this one joined */
    int64_t capacity;   /* of the chosen room; 0 = unlimited */
    double match;       /* user-streamer match p_u . q_s, in [-1, 1] */
    double externality; /* amount multiplier from crowding and capacity, in (0, 1] */
    double reward;      /* realised gift amount, 0 when no gift */
    double true_ev;     /* true expected reward of the chosen streamer at decision time */
    double v_static;    /* sum_j pi_j * true_ev_j over the candidates: the exact expectation */
} gope_sim_outcome;

#endif
