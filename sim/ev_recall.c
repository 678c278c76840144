/*
 * ev_recall.c — how good is the platform's EV model? The research team
 * reported that its model's top 1% of (user, streamer) pairs held 54.5% of the
 * true top 1%; this is the same figure for a simulated world, so the EV noise
 * can be set to match it (docs/simulator.md, "EV model").
 */
#include <math.h>
#include <stdlib.h>

#include "sim_int.h"

typedef struct {
    double v;
    size_t i;
} scored;

static int by_v_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? 1 : -1;
    return x->i < y->i ? -1 : 1;
}

double gope_sim_ev_recall(const gope_sim_world_t *w, double frac, uint32_t sample_users,
                          gope_err *err)
{
    const uint32_t nu = sample_users && sample_users < w->n_users ? sample_users : w->n_users;
    const size_t m = (size_t)nu * w->n_streamers;
    size_t top = (size_t)llround(frac * (double)m);
    top = top < 1 ? 1 : top > m ? m : top;
    scored *truth = malloc(m * sizeof *truth), *model = malloc(m * sizeof *model);
    bool *in_truth = calloc(m, sizeof *in_truth);
    if (!truth || !model || !in_truth) {
        free(truth);
        free(model);
        free(in_truth);
        gope_err_set(err, GOPE_ERR_NOMEM, "ev recall: out of memory (%zu pairs)", m);
        return -1;
    }
    const gope_sim_room empty = {.big_gifts = 0, .load = 1};
    for (uint32_t u = 0; u < nu; u++)
        for (uint32_t s = 0; s < w->n_streamers; s++) {
            const size_t i = (size_t)u * w->n_streamers + s;
            double sigma;
            truth[i] = (scored){gope_sim_true_ev(w, u, s, &empty), i};
            model[i] = (scored){gope_sim_model_ev(w, u, s, truth[i].v, &sigma), i};
        }
    qsort(truth, m, sizeof *truth, by_v_desc);
    qsort(model, m, sizeof *model, by_v_desc);
    for (size_t r = 0; r < top; r++)
        in_truth[truth[r].i] = true;
    size_t hit = 0;
    for (size_t r = 0; r < top; r++)
        hit += in_truth[model[r].i];
    free(truth);
    free(model);
    free(in_truth);
    return (double)hit / (double)top;
}
