/*
 * preset.c — the built-in worlds (docs/world.md lists every value).
 *
 * giftlive-v2 is the research team's Simulator V2 in its "V2+" form: the
 * calibrated parameter set C with the discrete amount tiers
 * (../shared/notes/giftlive.md §2). kuailive is giftlive-v2 with the changes
 * that move it toward the KuaiLive dataset's statistics, written as those
 * changes only so the two cannot drift apart by accident.
 *
 * The presets are C initialisers rather than embedded JSON: filling one
 * cannot fail, needs no allocation, and a world file's "base" costs nothing.
 * The base is a static object, so its padding is zero and a preset copied out
 * with memcpy compares equal (memcmp) to a world parsed from its own JSON.
 */
#include <stdio.h>
#include <string.h>

#include "gope_sim.h"

static const gope_world_conf giftlive_v2 = {
    .name = "giftlive-v2",

    .n_users = 10000,
    .wealth_mu = 2.5,
    .wealth_sigma = 1.2,
    .pareto_share = 0.05,
    .pareto_alpha = 1.3,
    .pareto_xm = 80,
    .whale_frac = 0.01,
    .dim = 16,

    .n_streamers = 500,
    .popularity_alpha = 1.2,
    .new_frac = 0.2,
    .head_frac = 0.1,
    .tier_top_frac = 0.1,
    .tier_middle_frac = 0.5,
    .capacity_top = 100,
    .capacity_middle = 50,
    .capacity_tail = 20,

    .theta = {-6.5, 0.4, 0.8, 0.2, -0.05},
    .big_gift = 100,

    .tiers = {1, 2, 10, 52, 100, 520, 1000, 1314, 5200, 13140},
    .tier_base = {0.38, 0.32, 0.15, 0.08, 0.035, 0.022, 0.008, 0.003, 0.0015, 0.0005},
    .wealth_slope = 0.10,
    .wealth_center = 3,
    .wealth_scale = 3,
    .wealth_lo = -1,
    .wealth_hi = 2,
    .match_slope = 0.05,
    .gamma = 0.02,
    .capacity_externality = false,
    .capacity_alpha = 0.5,

    /* tuned so the top-1% recall of the model is near the research team's
     * 54.5% (docs/simulator.md, "The EV model") */
    .ev_noise_sd = 0.39,
    .ev_noise_cold_mult = 2,

    .start_ms = 1735689600000, /* 2025-01-01T00:00:00Z */
    .arrivals_per_s = 10,
    .peak_hour = 21,
    .peak_amplitude = 1.0,
    .peak_width_h = 2,
    .round_users = 200,
    .session = GOPE_SESSION_ROUND,
    .dwell_mean_s = 600,

    .candidates = 0,
    .recall_random_frac = 0.2,
};

/* Calibrated to the KuaiLive dataset's figures under Greedy (docs/simulator.md,
 * "Calibration"; bench/calibration.sh measures them). 2,000 users so that a
 * run of 200 decisions per user (KuaiLive: ~206 clicks per user) costs seconds:
 * the per-user concentration figures depend on decisions per user, not on the
 * population. 3,000 streamers, more than users as in KuaiLive (452,000 for
 * 23,772), so that a streamer's gifts come from few viewers and most streamers
 * get none: with 1,000 the earners' Gini was 0.82 against the dataset's 0.93.
 * tier_base and wealth_slope come from `bench/tier_fit --prior 0.003` on 100
 * seeds. Whales dominate through the wealth coefficient theta1 and the
 * tier tilt; popularity (theta3 and its heavier tail) concentrates streamers;
 * theta4 and gamma are small so that big-gift counts, which never decay, do
 * not flatten the streamers over a long run. */
static void kuailive(gope_world_conf *c)
{
    static const double tier_base[GOPE_SIM_TIERS] = {
        0.3770787, 0.3277, 0.1712, 0.06902, 0.0406, 0.00872, 0.002071, 0.002284, 0.001193, 0.0001333};
    memcpy(c, &giftlive_v2, sizeof *c);
    strncpy(c->name, "kuailive", sizeof c->name); /* NUL-padded, as a parsed name */
    c->n_users = 2000;
    c->n_streamers = 3000;
    c->popularity_alpha = 0.7;
    c->theta[0] = -10.26;
    c->theta[1] = 1.49;
    c->theta[3] = 2.0;
    c->theta[4] = -0.005;
    memcpy(c->tier_base, tier_base, sizeof tier_base);
    c->wealth_slope = 0.2735;
    c->gamma = 0.005;
    c->capacity_externality = true;
    c->session = GOPE_SESSION_DWELL;
    c->dwell_mean_s = 900;
    c->candidates = 50;
}

static void giftlive(gope_world_conf *c) { memcpy(c, &giftlive_v2, sizeof *c); }

static const char *const preset_names[] = {"giftlive-v2", "kuailive", NULL};
static void (*const preset_fill[])(gope_world_conf *c) = {giftlive, kuailive};

const char *const *gope_world_preset_names(void) { return preset_names; }

gope_status gope_world_preset(const char *name, gope_world_conf *c, gope_err *err)
{
    for (size_t i = 0; preset_names[i]; i++) {
        if (strcmp(name, preset_names[i]) == 0) {
            preset_fill[i](c);
            return GOPE_OK;
        }
    }
    char known[128] = "";
    for (size_t i = 0; preset_names[i]; i++) {
        const size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", preset_names[i]);
    }
    return gope_err_set(err, GOPE_ERR_USAGE, "unknown world preset \"%.64s\" (known: %s)",
                        name, known);
}
