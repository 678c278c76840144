/*
 * acc.c — accumulators: the per-(pane, policy) state that every estimator of
 * a set adds to, their merge, and the results with diagnostics.
 *
 * An accumulator is one flat block in caller memory: the diagnostics state,
 * then the compensated sums where the set placed them — each shared sum
 * (sum w, sum w r, ...) once, then the estimators' own sums. Adding an
 * observation touches only that block (no allocation, no division outside
 * dr_os's shrinkage), so it stays cheap at millions of calls per second.
 *
 * A shared sum receives the same terms in the same order as each copy of it
 * did when every estimator kept its own, so it is bit-identical to each of
 * them; the saved form still writes every slice in full (the shared sum at
 * each place a slice lists it) and reads it back from any of them.
 *
 * Everything in it merges exactly: counts add, sums merge as compensated sums,
 * max_w takes the larger, and the top-GOPE_TOPK list of w r terms (the
 * heavy-tail diagnostic) keeps the GOPE_TOPK largest of the union, which is
 * what one pass over both halves would have kept.
 */
#include <stdlib.h>
#include <string.h>

#include "estimators_int.h"

struct gope_acc {
    uint64_t n;
    uint64_t n_zero_w;          /* events with w == 0 */
    double max_w;               /* 0 while empty (w >= 0) */
    size_t n_top;               /* entries of top[] in use */
    double top[GOPE_TOPK];      /* the largest w r terms, descending, all > 0 */
    gope_ksum sum_w2;           /* of the rounded w * w (ess) */
    gope_ksum sums[];           /* shared, then own sums (struct gope_estset_s) */
};

size_t gope_acc_size(const gope_estset_t *set)
{
    return sizeof(gope_acc) + set->n_sums * sizeof(gope_ksum);
}

void gope_acc_init(const gope_estset_t *set, gope_acc *acc)
{
    *acc = (gope_acc){0};
    for (size_t i = 0; i < set->n_sums; i++)
        acc->sums[i] = (gope_ksum){0, 0};
}

uint64_t gope_acc_n(const gope_acc *acc) { return acc->n; }

/* Inserts x > 0 into the descending top list if it ranks among the largest. */
static void top_insert(gope_acc *acc, double x)
{
    if (acc->n_top == GOPE_TOPK && x <= acc->top[GOPE_TOPK - 1])
        return;
    size_t i = acc->n_top < GOPE_TOPK ? acc->n_top++ : GOPE_TOPK - 1;
    for (; i > 0 && acc->top[i - 1] < x; i--)
        acc->top[i] = acc->top[i - 1];
    acc->top[i] = x;
}

#define USES(used, id) ((used) >> (id) & 1)

/* Adds o to the shared sums in use, which start at s in gope_sum_id order. */
GOPE_FMA_CLONES static void add_shared(unsigned used, gope_ksum *s, const gope_obs *o, double x)
{
    const double w = o->w, r = o->r, v = o->v;
    gope_ksum_add(s++, w);
    gope_ksum_add(s++, x);
    if (USES(used, GOPE_SUM_R))
        gope_ksum_add(s++, r);
    if (USES(used, GOPE_SUM_V))
        gope_ksum_add(s++, v);
    if (USES(used, GOPE_SUM_WW))
        gope_ksum_add_prod(s++, w, w);
    if (USES(used, GOPE_SUM_WX))
        gope_ksum_add_prod(s++, w, x);
    if (USES(used, GOPE_SUM_XX))
        gope_ksum_add_prod(s++, x, x);
    if (USES(used, GOPE_SUM_RR))
        gope_ksum_add_prod(s++, r, r);
    if (USES(used, GOPE_SUM_VV))
        gope_ksum_add_prod(s, v, v);
}

void gope_acc_add(const gope_estset_t *set, gope_acc *acc, const gope_obs *o)
{
    const double w = o->w, x = w * o->r;
    acc->n++;
    acc->n_zero_w += w == 0;
    acc->max_w = w > acc->max_w ? w : acc->max_w;
    gope_ksum_add(&acc->sum_w2, w * w);
    if (x > 0)
        top_insert(acc, x);
    add_shared(set->shared, acc->sums, o, x);
    for (size_t a = 0; a < set->n_adders; a++) {
        const size_t i = set->adder[a];
        set->conf[i].ops->add(&set->conf[i], acc->sums + set->own[i], o);
    }
}

/* into->top = the GOPE_TOPK largest of both lists (a merge of two sorted runs). */
static void top_merge(gope_acc *into, const gope_acc *from)
{
    double out[GOPE_TOPK];
    size_t i = 0, j = 0, k = 0;
    for (; k < GOPE_TOPK && (i < into->n_top || j < from->n_top); k++) {
        bool take_into = j == from->n_top || (i < into->n_top && into->top[i] >= from->top[j]);
        out[k] = take_into ? into->top[i++] : from->top[j++];
    }
    for (size_t m = 0; m < k; m++)
        into->top[m] = out[m];
    into->n_top = k;
}

void gope_acc_merge(const gope_estset_t *set, gope_acc *into, const gope_acc *from)
{
    into->n += from->n;
    into->n_zero_w += from->n_zero_w;
    into->max_w = from->max_w > into->max_w ? from->max_w : into->max_w;
    gope_ksum_merge(&into->sum_w2, &from->sum_w2);
    top_merge(into, from);
    for (size_t i = 0; i < set->n_sums; i++)
        gope_ksum_merge(&into->sums[i], &from->sums[i]);
}

/* Saved form: n, n_zero_w, max_w, n_top, top[], one 64-bit word each
 * (doubles as their IEEE-754 bits, so a round trip is bit-exact), then the
 * sums w, rounded w * w and x, then every sum of every slice, each sum as
 * (s, c). The fixed part is ACC_FIXED_WORDS long. */
#define ACC_FIXED_WORDS (4 + GOPE_TOPK + 6)

size_t gope_acc_words(const gope_estset_t *set)
{
    return ACC_FIXED_WORDS + 2 * set->n_saved;
}

static uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void ksum_save(const gope_ksum *k, uint64_t *w)
{
    w[0] = bits_of(k->s);
    w[1] = bits_of(k->c);
}

static void ksum_load(gope_ksum *k, const uint64_t *w)
{
    k->s = double_of(w[0]);
    k->c = double_of(w[1]);
}

void gope_acc_save(const gope_estset_t *set, const gope_acc *acc, uint64_t *words)
{
    uint64_t *w = words;
    *w++ = acc->n;
    *w++ = acc->n_zero_w;
    *w++ = bits_of(acc->max_w);
    *w++ = acc->n_top;
    for (size_t i = 0; i < GOPE_TOPK; i++)
        *w++ = i < acc->n_top ? bits_of(acc->top[i]) : 0;
    const gope_ksum *fixed[] = {&acc->sums[GOPE_SUM_W], &acc->sum_w2, &acc->sums[GOPE_SUM_X]};
    for (size_t i = 0; i < 3; i++, w += 2)
        ksum_save(fixed[i], w);
    for (size_t i = 0; i < set->count; i++)
        for (size_t k = 0; k < set->conf[i].ops->n_sums; k++, w += 2)
            ksum_save(&acc->sums[set->at[i][k]], w);
}

/* What gope_acc_add and gope_acc_merge can produce: counts that fit, a top
 * list of at most GOPE_TOPK positive terms in descending order. */
static bool acc_valid(const gope_acc *acc)
{
    if (acc->n_zero_w > acc->n || acc->n_top > GOPE_TOPK || acc->n_top > acc->n ||
        !(acc->max_w >= 0))
        return false;
    for (size_t i = 0; i < acc->n_top; i++)
        if (!(acc->top[i] > 0) || (i > 0 && acc->top[i] > acc->top[i - 1]))
            return false;
    return true;
}

/* Reads every slice at w into the accumulator's sums. A shared sum appears
 * in several places (w and x in the fixed part too); gope_acc_save wrote the
 * same bits at each, so a difference means the words did not come from it. */
static bool load_slices(const gope_estset_t *set, gope_acc *acc, const uint64_t *w)
{
    bool seen[GOPE_EST_TYPES * GOPE_EST_MAX_SUMS] = {false};
    seen[GOPE_SUM_W] = seen[GOPE_SUM_X] = true;
    for (size_t i = 0; i < set->count; i++)
        for (size_t k = 0; k < set->conf[i].ops->n_sums; k++, w += 2) {
            gope_ksum *sum = &acc->sums[set->at[i][k]];
            if (seen[set->at[i][k]] && (bits_of(sum->s) != w[0] || bits_of(sum->c) != w[1]))
                return false;
            ksum_load(sum, w);
            seen[set->at[i][k]] = true;
        }
    return true;
}

bool gope_acc_load(const gope_estset_t *set, gope_acc *acc, const uint64_t *words)
{
    const uint64_t *w = words;
    gope_acc_init(set, acc);
    acc->n = *w++;
    acc->n_zero_w = *w++;
    acc->max_w = double_of(*w++);
    uint64_t n_top = *w++;
    acc->n_top = n_top > GOPE_TOPK ? GOPE_TOPK + 1 : (size_t)n_top;
    for (size_t i = 0; i < GOPE_TOPK; i++, w++)
        if (i < acc->n_top)
            acc->top[i] = double_of(*w);
    gope_ksum *fixed[] = {&acc->sums[GOPE_SUM_W], &acc->sum_w2, &acc->sums[GOPE_SUM_X]};
    for (size_t i = 0; i < 3; i++, w += 2)
        ksum_load(fixed[i], w);
    return load_slices(set, acc, w) && acc_valid(acc);
}

/* The share of sum(w r) held by the top terms; false (and a warning) when
 * sum(w r) is 0 or not finite. */
static bool top_share(const gope_acc *acc, double *share, unsigned *warn)
{
    const double swr = gope_ksum_value(&acc->sums[GOPE_SUM_X]);
    if (!isfinite(swr)) {
        *warn |= GOPE_W_NONFINITE;
        return false;
    }
    if (swr == 0) {
        *warn |= GOPE_W_SUM_WR_ZERO;
        return false;
    }
    gope_ksum top = {0, 0};
    for (size_t i = 0; i < acc->n_top; i++)
        gope_ksum_add(&top, acc->top[i]);
    *share = gope_ksum_value(&top) / swr;
    return true;
}

/* (sum w)^2 / sum w^2, ordered so that it cannot overflow when both sums are
 * finite; false (and a warning) when sum w^2 is 0 or a sum is not finite. */
static bool ess(double sw, double sw2, double *out, unsigned *warn)
{
    if (!isfinite(sw) || !isfinite(sw2)) {
        *warn |= GOPE_W_NONFINITE;
        return false;
    }
    if (sw2 == 0) {
        *warn |= GOPE_W_SUM_W2_ZERO;
        return false;
    }
    *out = sw / sw2 * sw;
    return true;
}

/* The per-accumulator diagnostics. A sum_w that overflowed stays inf (there
 * is no flag for it; writers print non-finite numbers as null) and is warned
 * about; everything derived from it is marked undefined. */
static void diagnostics(const gope_acc *acc, gope_diagnostics *d, unsigned *warn)
{
    const double n = (double)acc->n, sw = gope_ksum_value(&acc->sums[GOPE_SUM_W]);
    *d = (gope_diagnostics){.n = acc->n, .sum_w = sw, .max_w = acc->max_w};
    if (!isfinite(sw))
        *warn |= GOPE_W_NONFINITE;
    if (acc->n > 0) {
        d->mean_w_ok = isfinite(sw);
        d->mean_w = d->mean_w_ok ? sw / n : 0;
        d->zero_w_frac = (double)acc->n_zero_w / n;
    }
    d->ess_ok = ess(sw, gope_ksum_value(&acc->sum_w2), &d->ess, warn);
    d->top10_ok = top_share(acc, &d->top10_share, warn);
}

gope_result *gope_result_new(const gope_estset_t *set)
{
    /* One block: the struct, then its estimates (gope_result's size is a
     * multiple of its alignment, which covers gope_estimate's doubles). */
    gope_result *res = calloc(1, sizeof *res + set->count * sizeof(gope_estimate));
    if (!res)
        return NULL;
    res->count = set->count;
    res->estimates = (gope_estimate *)(res + 1);
    return res;
}

void gope_result_free(gope_result *res) { free(res); }

void gope_acc_result(const gope_estset_t *set, const gope_acc *acc, gope_result *res)
{
    unsigned warn = 0;
    diagnostics(acc, &res->diag, &warn);
    res->count = set->count;
    for (size_t i = 0; i < set->count; i++) {
        gope_ksum slice[GOPE_EST_MAX_SUMS];
        for (size_t k = 0; k < set->conf[i].ops->n_sums; k++)
            slice[k] = acc->sums[set->at[i][k]];
        set->conf[i].ops->result(&set->conf[i], slice, acc->n, &res->estimates[i], &warn);
    }
    res->warn_bits = warn;
}

const char *gope_warning_text(unsigned bit)
{
    switch (bit) {
    case GOPE_W_SUM_W_ZERO:
        return "sum of weights is 0 (the policy gives probability 0 to every logged "
               "action): snips, sndr and snips_lift are undefined";
    case GOPE_W_N_LT_2:
        return "fewer than 2 events: standard errors and intervals are undefined "
               "(with none, every value too)";
    case GOPE_W_SUM_W2_ZERO:
        return "sum of squared weights is 0: ess is undefined";
    case GOPE_W_SUM_WR_ZERO:
        return "sum of w*r is 0 (no weighted reward): top10_share is undefined";
    case GOPE_W_NONFINITE:
        return "a sum overflowed the double range (extreme weights or rewards): "
               "the affected quantities are undefined";
    default:
        return "unknown warning";
    }
}
