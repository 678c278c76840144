/* fuzz_policies.c — the policies.v1 parser must never crash or leak, and a
 * set it accepts must yield a valid distribution on a small event. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gope_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gope_policy_set_t *set = NULL;
    gope_err err;
    if (gope_policies_parse((const char *)data, size, "fuzz", &set, &err) != GOPE_OK)
        return 0;
    gope_candidate c[3] = {
        {.ev = 1.0, .sigma = 0.5, .load = 9, .capacity = 8, .whales = 2, .cold_start = true},
        {.ev = 2.0, .head = true},
        {.ev = 0.0, .load = 1, .capacity = 1},
    };
    gope_event ev = {.event_id = "e", .event_id_len = 1, .n_candidates = 3, .candidates = c,
                     .propensity = 1, .is_whale = true, .has_lambda_values = true,
                     .lambda_values = {1, 2, 3, 4}};
    double pi[3], scratch[3];
    for (size_t i = 0; i < gope_policies_count(set); i++) {
        gope_policy_probs(set, i, &ev, pi, scratch);
        double sum = 0;
        for (int j = 0; j < 3; j++) {
            if (!(pi[j] >= 0 && pi[j] <= 1))
                abort();
            sum += pi[j];
        }
        if (fabs(sum - 1) > 1e-9)
            abort();
    }
    gope_policies_free(set);
    return 0;
}
