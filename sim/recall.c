/*
 * recall.c — which streamers a decision chooses among.
 *
 * With candidates.k = 0 every streamer is a candidate (Simulator V2: 500).
 * Otherwise a two-stage system as in production: the recall stage keeps the
 * (1 - random_frac) k streamers the model rates highest for this user and
 * fills the rest with streamers drawn at random (exploration inventory, and
 * what keeps cold-start streamers visible), so the log's candidate sets look
 * like a real recommender's. Ties in model EV go to the lower index.
 */
#include <math.h>

#include "sim_int.h"

/* min-heap on (model EV, -index) of the best `m` so far */
static bool worse(const gope_candidate *c, uint32_t a, uint32_t b)
{
    return c[a].ev < c[b].ev || (c[a].ev == c[b].ev && a > b);
}

static void sift_down(const gope_candidate *c, uint32_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t m = i, a = 2 * i + 1, b = a + 1;
        if (a < n && worse(c, h[a], h[m]))
            m = a;
        if (b < n && worse(c, h[b], h[m]))
            m = b;
        if (m == i)
            return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* the m best by model EV, best first */
static void top_by_ev(const gope_candidate *c, uint32_t n, size_t m, uint32_t *out)
{
    for (uint32_t s = 0; s < m; s++)
        out[s] = s;
    for (size_t i = m / 2; i-- > 0;)
        sift_down(c, out, m, i);
    for (uint32_t s = (uint32_t)m; s < n; s++)
        if (m > 0 && worse(c, out[0], s)) {
            out[0] = s;
            sift_down(c, out, m, 0);
        }
    for (size_t end = m; end > 1; end--) { /* heap sort: worst moves to the back */
        uint32_t t = out[0];
        out[0] = out[end - 1];
        out[end - 1] = t;
        sift_down(c, out, end - 1, 0);
    }
}

size_t gope_sim__recall(const gope_sim_world_t *w, uint64_t decision, const gope_candidate *all,
                        uint32_t *out, uint32_t *scratch)
{
    const uint32_t n = w->n_streamers, k = w->conf.candidates;
    if (k == 0 || k >= n)
        return n; /* `out` already holds 0 .. n-1 */
    const size_t random = (size_t)llround(w->conf.recall_random_frac * k), m = k - random;
    top_by_ev(all, n, m, out);
    /* scratch: a partial Fisher-Yates over the streamers not yet chosen */
    for (uint32_t s = 0; s < n; s++)
        scratch[s] = s;
    for (size_t i = 0; i < m; i++)
        scratch[out[i]] = UINT32_MAX;
    uint32_t left = 0;
    for (uint32_t s = 0; s < n; s++)
        if (scratch[s] != UINT32_MAX)
            scratch[left++] = s;
    for (size_t i = 0; i < random; i++) {
        const double u = gope_rng_u01(w->seed, GOPE_RNG_RECALL, decision, (uint32_t)i);
        uint32_t j = (uint32_t)i + (uint32_t)(u * (left - i));
        if (j >= left)
            j = left - 1;
        const uint32_t t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        out[m + i] = scratch[i];
    }
    return k;
}
