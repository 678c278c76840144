/*
 * calibrate_time.c — the arrival process of a log: the world's daily rate
 * rate(t) = arrivals_per_s * shape(t) / mean(shape),
 * shape(t) = 1 + A exp(-d(t, peak)^2 / (2 w^2)), fitted to the decisions per
 * 10-minute bin of the day (docs/calibrate.md, "Time").
 *
 * The fit maximises the Poisson likelihood of the bin counts n_b given the
 * seconds E_b the logs cover of each bin: with the scale profiled out
 * (c = N / sum_b E_b s_b), the objective is
 *     sum_b n_b log s_b - N log sum_b E_b s_b
 * over (peak, A, w). It starts where a person reading the hourly rates
 * would: the busiest hour refined by a parabola through it and its
 * neighbours, A = max/min - 1, w from the width at half height
 * (FWHM / 2.3548); then golden-section searches on one parameter at a time,
 * a few sweeps. The shape is the world's own (gope_sim__rate_shape), so the
 * fitted numbers mean in the simulator exactly what they meant here.
 *
 * The shape is only identified when the logs cover every hour of the day
 * (30 minutes of each at least); otherwise the rate is flat and
 * arrivals_per_s is the log's mean rate.
 */
#include <math.h>
#include <string.h>

#include "calibrate.h"
#include "sim_int.h"

#define MIN_HOUR_EXPOSURE_S 1800.0
#define SWEEPS 4
#define GOLDEN_STEPS 40
#define W_MIN 0.25
#define W_MAX 12.0

typedef struct {
    const gope_calib_log *log;
    gope_world_conf c; /* start_ms 0: t is the time of day */
    uint64_t n;        /* decisions in bins with exposure */
} time_fit;

static double shape(const time_fit *f, double hour) { return gope_sim__rate_shape(&f->c, hour * 3600.0); }

/* The profiled Poisson log-likelihood of the current peak parameters. */
static double loglik(const time_fit *f)
{
    double ll = 0, mass = 0;
    for (int b = 0; b < GOPE_CALIB_TIME_BINS; b++) {
        const double e = f->log->bin_exposure_s[b];
        if (e <= 0)
            continue;
        const double s = shape(f, (b + 0.5) / GOPE_CALIB_BINS_PER_HOUR);
        ll += (double)f->log->bin_count[b] * log(s);
        mass += e * s;
    }
    return ll - (double)f->n * log(mass);
}

/* Golden-section search of *x in [lo, hi] for the largest likelihood. */
static void golden(time_fit *f, double *x, double lo, double hi)
{
    const double g = 0.6180339887498949;
    double a = lo, b = hi, x1 = b - g * (b - a), x2 = a + g * (b - a), f1, f2;
    *x = x1;
    f1 = loglik(f);
    *x = x2;
    f2 = loglik(f);
    for (int i = 0; i < GOLDEN_STEPS; i++) {
        if (f1 >= f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            *x = x1 = b - g * (b - a);
            f1 = loglik(f);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            *x = x2 = a + g * (b - a);
            f2 = loglik(f);
        }
    }
    *x = f1 >= f2 ? x1 : x2;
}

/* The reader's first guess from the hourly rates. */
static void initial_guess(time_fit *f, const double *rate)
{
    int top = 0;
    double lo = rate[0], hi = rate[0];
    for (int h = 1; h < 24; h++) {
        if (rate[h] > hi) {
            hi = rate[h];
            top = h;
        }
        lo = fmin(lo, rate[h]);
    }
    const double l = rate[(top + 23) % 24], r = rate[(top + 1) % 24];
    const double den = l - 2 * hi + r;
    const double shift = den < 0 ? fmax(-0.5, fmin(0.5, 0.5 * (l - r) / den)) : 0;
    f->c.peak_hour = fmod(top + 0.5 + shift + 24.0, 24.0);
    f->c.peak_amplitude = lo > 0 ? fmin(hi / lo - 1, 50.0) : 50.0;
    int above = 0;
    for (int h = 0; h < 24; h++)
        above += rate[h] >= 0.5 * (lo + hi);
    f->c.peak_width_h = fmax(W_MIN, fmin(W_MAX, above / 2.3548));
}

void gope_calib_fit_time(gope_calib_log *log)
{
    gope_calib_time *t = &log->time;
    time_fit f = {.log = log};
    memset(t, 0, sizeof *t);
    bool all_hours = true;
    for (int h = 0; h < 24; h++) {
        double e = 0, n = 0;
        for (int k = 0; k < GOPE_CALIB_BINS_PER_HOUR; k++) {
            const int b = h * GOPE_CALIB_BINS_PER_HOUR + k;
            e += log->bin_exposure_s[b];
            n += log->bin_exposure_s[b] > 0 ? (double)log->bin_count[b] : 0;
        }
        f.n += (uint64_t)n;
        t->hour_ok[h] = e > 0;
        t->rate_by_hour[h] = e > 0 ? n / e : 0;
        all_hours &= e >= MIN_HOUR_EXPOSURE_S;
    }
    t->rate_ok = log->exposure_s > 0;
    if (!all_hours || f.n == 0) {
        t->arrivals_per_s = t->rate_ok ? (double)log->accepted / log->exposure_s : 0;
        return;
    }
    initial_guess(&f, t->rate_by_hour);
    for (int s = 0; s < SWEEPS; s++) {
        const double p = f.c.peak_hour, a = f.c.peak_amplitude;
        golden(&f, &f.c.peak_hour, p - 3, p + 3);
        f.c.peak_hour = fmod(f.c.peak_hour + 48.0, 24.0);
        golden(&f, &f.c.peak_amplitude, 0, 3 * a + 1);
        golden(&f, &f.c.peak_width_h, W_MIN, W_MAX);
    }
    /* arrivals_per_s = c * mean(shape), c the profiled scale; the mean by
     * the midpoint rule on minutes */
    double mass = 0, mean = 0;
    for (int b = 0; b < GOPE_CALIB_TIME_BINS; b++)
        mass += log->bin_exposure_s[b] * shape(&f, (b + 0.5) / GOPE_CALIB_BINS_PER_HOUR);
    for (int m = 0; m < 1440; m++)
        mean += shape(&f, (m + 0.5) / 60.0) / 1440.0;
    t->shape_ok = true;
    t->arrivals_per_s = (double)f.n / mass * mean;
    t->peak_hour = f.c.peak_hour >= 24.0 ? 0 : f.c.peak_hour;
    t->peak_amplitude = f.c.peak_amplitude;
    t->peak_width_h = f.c.peak_width_h;
}
