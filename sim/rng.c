/*
 * rng.c — counter-based random numbers for the simulator.
 *
 * Every draw is a pure function of (seed, purpose, index, draw): no generator
 * state to carry, share or reseed. That is what gives common random numbers
 * for free — the uniform that samples decision d's action is the same whichever
 * policy runs and whatever happened before d — and it makes a run reproducible
 * piece by piece (a test can recompute any single draw).
 *
 * The mix is SplitMix64's finaliser, a bijection on 64 bits with full
 * avalanche, applied once per input word so that nearby counters give
 * unrelated outputs.
 */
#include <math.h>

#include "sim_int.h"

uint64_t gope_rng_bits(uint64_t seed, gope_rng_purpose purpose, uint64_t index, uint32_t draw)
{
    uint64_t h = gope_sim__mix64(seed ^ 0x9e3779b97f4a7c15ULL);
    h = gope_sim__mix64(h ^ (((uint64_t)purpose << 32) | draw));
    return gope_sim__mix64(h ^ index);
}

/* The 53 high bits, centred in their cell: never 0. The top one's centre,
 * (2^53 - 1) + 0.5, is not a double and rounds up to 2^53, which would make
 * it 1 (and the normal quantile of 1 NaN); it becomes the largest double
 * below 1 instead. Every other value is unchanged. */
double gope_rng_to_u01(uint64_t bits)
{
    const double u = ((double)(bits >> 11) + 0.5) * 0x1p-53;
    return u < 1.0 ? u : 0x1.fffffffffffffp-1;
}

double gope_rng_u01(uint64_t seed, gope_rng_purpose purpose, uint64_t index, uint32_t draw)
{
    return gope_rng_to_u01(gope_rng_bits(seed, purpose, index, draw));
}

/* Acklam's rational approximation of the normal quantile (relative error
 * below 1.15e-9): one uniform and, in the central 95%, no transcendental
 * call, several times cheaper than Box-Muller. The EV model draws one
 * normal per candidate per decision, so this is on the hot path. */
static const double qa[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
static const double qb[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                            6.680131188771972e+01, -1.328068155288572e+01};
static const double qc[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
static const double qd[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                            3.754408661907416e+00};

static double tail(double p) /* the lower tail, p < 0.02425 */
{
    const double q = sqrt(-2 * log(p));
    return (((((qc[0] * q + qc[1]) * q + qc[2]) * q + qc[3]) * q + qc[4]) * q + qc[5]) /
           ((((qd[0] * q + qd[1]) * q + qd[2]) * q + qd[3]) * q + 1);
}

double gope_rng_normal(uint64_t seed, gope_rng_purpose purpose, uint64_t index, uint32_t draw)
{
    const double p = gope_rng_u01(seed, purpose, index, draw);
    if (p < 0.02425)
        return tail(p);
    if (p > 1 - 0.02425)
        return -tail(1 - p);
    const double q = p - 0.5, r = q * q;
    return (((((qa[0] * r + qa[1]) * r + qa[2]) * r + qa[3]) * r + qa[4]) * r + qa[5]) * q /
           (((((qb[0] * r + qb[1]) * r + qb[2]) * r + qb[3]) * r + qb[4]) * r + 1);
}
