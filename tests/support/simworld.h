/*
 * simworld.h — worlds for the simulator tests (tests/sim): a preset by name,
 * the "small world" most tests run on (giftlive-v2 shrunk so a run of a few
 * thousand decisions takes milliseconds), and a world built from a
 * configuration. Failures are Criterion assertions in the calling test.
 */
#ifndef GOPE_SIMWORLD_H
#define GOPE_SIMWORLD_H

#include <stdint.h>

#include "gope_sim.h"

/* The preset `name` (cr_assert that it exists). */
gope_world_conf tu_world_preset(const char *name);

/* giftlive-v2 with 400 users, 40 streamers and rounds of 25 users. */
gope_world_conf tu_small_world(void);

/* gope_sim_world_new(c, seed) (cr_assert); gope_sim_world_free() it. */
gope_sim_world_t *tu_make_world(const gope_world_conf *c, uint64_t seed);

#endif
