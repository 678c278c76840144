/*
 * calibrate_sample.c — the outcome statistics of a log or a simulation,
 * computed by one piece of code for both sides of the calibration report
 * (calibrate.h, docs/calibrate.md "The report").
 *
 * Memory is what the statistics need and no more: per user a visit count,
 * a compensated total and a whale flag (payer Gini, Chao1); every gift
 * amount (the percentiles are exact; gifts are a few percent of decisions);
 * and for the EV calibration not one pair per decision but a histogram of
 * the chosen candidate's ev in quarter-octave bins with the count, the ev
 * sum and the reward sum of each, so a log of any length fits. The ev
 * deciles are formed from those bins (each bin goes to the decile its middle
 * falls in), exact up to the bin width of a factor 2^(1/4).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate_int.h"
#include "gope_stats.h"

#define EV_LO_OCTAVE (-40) /* bin 0 holds ev below 2^-40, zero included */
#define EV_PER_OCTAVE 4

struct gope_calib_sample_s {
    double tiers[GOPE_SIM_TIERS];
    uint64_t decisions, gifts, whale_gifts;
    uint64_t tier_counts[GOPE_CALIB_GROUPS][GOPE_SIM_TIERS];
    /* per user, indices 0 .. n_users-1 */
    uint32_t n_users, cap_users;
    uint32_t *visits;
    gope_ksum *total;
    bool *whale;
    /* gift amounts */
    double *amounts, *whale_amounts;
    size_t cap_amounts, cap_whale;
    /* EV calibration */
    uint64_t ev_n[GOPE_CALIB_EV_BINS];
    gope_ksum ev_sum[GOPE_CALIB_EV_BINS], reward_sum[GOPE_CALIB_EV_BINS];
    gope_ksum ev_total, reward_total, amount_total;
};

gope_calib_sample_t *gope_calib_sample_new(const double tiers[GOPE_SIM_TIERS])
{
    gope_calib_sample_t *s = calloc(1, sizeof *s);
    if (s)
        memcpy(s->tiers, tiers, sizeof s->tiers);
    return s;
}

void gope_calib_sample_free(gope_calib_sample_t *s)
{
    if (!s)
        return;
    free(s->visits);
    free(s->total);
    free(s->whale);
    free(s->amounts);
    free(s->whale_amounts);
    free(s);
}

void *gope_calib__grow(void *p, size_t *cap, size_t need, size_t size, bool *ok)
{
    if (!*ok || need <= *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * size);
    if (!q) {
        *ok = false;
        return p;
    }
    *cap = n;
    return q;
}

/* The per-user arrays grown to hold `user`; new entries zeroed. Each array
 * is only ever larger than cap_users, so a failure half-way leaves nothing
 * inconsistent. */
static bool reserve_user(gope_calib_sample_t *s, uint32_t user)
{
    if (user < s->cap_users)
        return true;
    size_t n = s->cap_users ? s->cap_users : 256;
    while (n <= user)
        n *= 2;
    size_t a = s->cap_users, b = s->cap_users, c = s->cap_users;
    bool ok = true;
    s->visits = gope_calib__grow(s->visits, &a, n, sizeof *s->visits, &ok);
    s->total = gope_calib__grow(s->total, &b, n, sizeof *s->total, &ok);
    s->whale = gope_calib__grow(s->whale, &c, n, sizeof *s->whale, &ok);
    if (!ok)
        return false;
    const size_t old = s->cap_users;
    memset(s->visits + old, 0, (n - old) * sizeof *s->visits);
    memset(s->total + old, 0, (n - old) * sizeof *s->total);
    memset(s->whale + old, 0, (n - old) * sizeof *s->whale);
    s->cap_users = (uint32_t)n;
    return true;
}

static size_t ev_bin(double ev)
{
    if (!(ev >= ldexp(1.0, EV_LO_OCTAVE)))
        return 0;
    const double b = floor((log2(ev) - EV_LO_OCTAVE) * EV_PER_OCTAVE);
    return b >= GOPE_CALIB_EV_BINS - 2 ? GOPE_CALIB_EV_BINS - 1 : 1 + (size_t)b;
}

size_t gope_calib_nearest_tier(const double tiers[GOPE_SIM_TIERS], double amount)
{
    for (size_t k = 0; k + 1 < GOPE_SIM_TIERS; k++)
        if (amount < sqrt(tiers[k] * tiers[k + 1]))
            return k;
    return GOPE_SIM_TIERS - 1;
}

gope_status gope_calib_sample_add(gope_calib_sample_t *s, uint32_t user, bool whale, double ev,
                                  double reward)
{
    const bool gift = reward > 0;
    bool ok = reserve_user(s, user);
    if (gift)
        s->amounts = gope_calib__grow(s->amounts, &s->cap_amounts, s->gifts + 1,
                                      sizeof *s->amounts, &ok);
    if (gift && whale)
        s->whale_amounts = gope_calib__grow(s->whale_amounts, &s->cap_whale, s->whale_gifts + 1,
                                            sizeof *s->whale_amounts, &ok);
    if (!ok)
        return GOPE_ERR_NOMEM;
    s->decisions++;
    if (user >= s->n_users)
        s->n_users = user + 1;
    s->visits[user]++;
    s->whale[user] |= whale;
    const size_t b = ev_bin(ev);
    s->ev_n[b]++;
    gope_ksum_add(&s->ev_sum[b], ev);
    gope_ksum_add(&s->reward_sum[b], reward);
    gope_ksum_add(&s->ev_total, ev);
    gope_ksum_add(&s->reward_total, reward);
    if (!gift)
        return GOPE_OK;
    gope_ksum_add(&s->total[user], reward);
    gope_ksum_add(&s->amount_total, reward);
    s->amounts[s->gifts++] = reward;
    const size_t k = gope_calib_nearest_tier(s->tiers, reward);
    s->tier_counts[GOPE_CALIB_ALL][k]++;
    s->tier_counts[whale ? GOPE_CALIB_WHALE : GOPE_CALIB_OTHER][k]++;
    if (whale)
        s->whale_amounts[s->whale_gifts++] = reward;
    return GOPE_OK;
}

static gope_mval mv(double v, bool ok) { return (gope_mval){ok ? v : 0, ok}; }

/* Slope of the mean reward on the mean ev over the ev deciles (the bins
 * grouped by where their middle falls); undefined with fewer than two
 * deciles of different mean ev. */
static gope_mval ev_slope(const gope_calib_sample_t *s)
{
    double n[10] = {0}, x[10] = {0}, y[10] = {0};
    uint64_t before = 0;
    for (size_t b = 0; b < GOPE_CALIB_EV_BINS; b++) {
        if (!s->ev_n[b])
            continue;
        size_t g = (size_t)(10.0 * ((double)before + 0.5 * (double)s->ev_n[b]) / (double)s->decisions);
        g = g > 9 ? 9 : g;
        n[g] += (double)s->ev_n[b];
        x[g] += gope_ksum_value(&s->ev_sum[b]);
        y[g] += gope_ksum_value(&s->reward_sum[b]);
        before += s->ev_n[b];
    }
    double mx = 0, my = 0, groups = 0, sxy = 0, sxx = 0;
    for (int g = 0; g < 10; g++)
        if (n[g] > 0) {
            x[g] /= n[g];
            y[g] /= n[g];
            mx += x[g];
            my += y[g];
            groups++;
        }
    if (groups < 2)
        return mv(0, false);
    mx /= groups;
    my /= groups;
    for (int g = 0; g < 10; g++)
        if (n[g] > 0) {
            sxy += (x[g] - mx) * (y[g] - my);
            sxx += (x[g] - mx) * (x[g] - mx);
        }
    return mv(sxx > 0 ? sxy / sxx : 0, sxx > 0);
}

static gope_mval sorted_quantile(double *x, size_t n, double q)
{
    return mv(n ? gope_quantile_sorted(x, n, q) : 0, n > 0);
}

gope_status gope_calib_sample_stats(const gope_calib_sample_t *s, gope_calib_stats *out,
                                    gope_err *err)
{
    const size_t nu = s->n_users;
    size_t need = 2 * nu > s->gifts ? 2 * nu : s->gifts;
    double *scratch = malloc((need ? need : 1) * sizeof *scratch);
    if (!scratch)
        return gope_err_set(err, GOPE_ERR_NOMEM, "calibration statistics: out of memory");
    gope_calib_stats st = {.decisions = s->decisions, .gifts = s->gifts,
                           .whale_gifts = s->whale_gifts};
    memcpy(st.tier_counts, s->tier_counts, sizeof st.tier_counts);
    for (size_t u = 0; u < nu; u++) {
        const double t = gope_ksum_value(&s->total[u]);
        st.users += s->visits[u] > 0;
        st.whale_users += s->whale[u];
        st.payers += t > 0;
        st.users_once += s->visits[u] == 1;
        st.users_twice += s->visits[u] == 2;
        scratch[u] = t;
    }
    double g;
    const bool gini_ok = gope_gini(scratch, nu, true, scratch + nu, &g);
    st.payer_gini = mv(g, gini_ok);
    const double n = (double)s->decisions;
    st.gift_rate = mv((double)s->gifts / n, s->decisions > 0);
    if (s->gifts)
        memcpy(scratch, s->amounts, s->gifts * sizeof *scratch);
    gope_sort_doubles(scratch, s->gifts);
    st.amount_p50 = sorted_quantile(scratch, s->gifts, 0.5);
    st.amount_p90 = sorted_quantile(scratch, s->gifts, 0.9);
    st.amount_p99 = sorted_quantile(scratch, s->gifts, 0.99);
    st.amount_mean = mv(gope_ksum_value(&s->amount_total) / (double)s->gifts, s->gifts > 0);
    if (s->whale_gifts)
        memcpy(scratch, s->whale_amounts, s->whale_gifts * sizeof *scratch);
    gope_sort_doubles(scratch, s->whale_gifts);
    st.whale_p90 = sorted_quantile(scratch, s->whale_gifts, 0.9);
    const double ev_total = gope_ksum_value(&s->ev_total);
    st.ev_ratio = mv(gope_ksum_value(&s->reward_total) / ev_total, ev_total > 0);
    st.ev_slope = s->decisions ? ev_slope(s) : mv(0, false);
    free(scratch);
    *out = st;
    return GOPE_OK;
}

double gope_calib_mean_index(const double h[GOPE_SIM_TIERS])
{
    double m = 0, t = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++) {
        m += k * h[k];
        t += h[k];
    }
    return t > 0 ? m / t : 0;
}

/* The mean index of h tilted by e^(d k) increases with d (its derivative is
 * the tilted variance), so bisection finds the d that hits the target. */
double gope_calib_tilt(const double h[GOPE_SIM_TIERS], double mean_index)
{
    double lo = -10, hi = 10, t[GOPE_SIM_TIERS], total = 0;
    for (int k = 0; k < GOPE_SIM_TIERS; k++)
        total += h[k];
    if (!(total > 0))
        return 0;
    for (int it = 0; it < 60; it++) {
        const double d = 0.5 * (lo + hi);
        for (int k = 0; k < GOPE_SIM_TIERS; k++)
            t[k] = h[k] * exp(d * k);
        if (gope_calib_mean_index(t) < mean_index)
            lo = d;
        else
            hi = d;
    }
    return 0.5 * (lo + hi);
}
