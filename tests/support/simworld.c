/* simworld.c — see simworld.h. */
#include "simworld.h"

#include <criterion/criterion.h>

gope_world_conf tu_world_preset(const char *name)
{
    gope_world_conf c;
    gope_err err;
    cr_assert_eq(gope_world_preset(name, &c, &err), GOPE_OK, "%s", err.msg);
    return c;
}

gope_world_conf tu_small_world(void)
{
    gope_world_conf c = tu_world_preset("giftlive-v2");
    c.n_users = 400;
    c.n_streamers = 40;
    c.round_users = 25;
    return c;
}

gope_sim_world_t *tu_make_world(const gope_world_conf *c, uint64_t seed)
{
    gope_sim_world_t *w = NULL;
    gope_err err;
    cr_assert_eq(gope_sim_world_new(c, seed, &w, &err), GOPE_OK, "%s", err.msg);
    return w;
}
