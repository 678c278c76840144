/*
 * policy_int.h — internals of the policy library, shared by its .c files.
 *
 * A parsed policy is a flat struct of doubles and flags: everything the hot
 * path (gope_policy_probs, ~8 policies x 400k events/s) needs is decided at
 * parse time — which score terms are active, whether the shadow prices come
 * from the event — so scoring an event does no string work and no allocation.
 * The set stores its policies inline after the header (one allocation).
 */
#ifndef GOPE_POLICY_INT_H
#define GOPE_POLICY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "gope_policy.h"

#define GOPE_POLICY_NAME_MAX 64   /* bytes, without the NUL */
#define GOPE_POLICIES_MAX 256     /* policies per file */

typedef enum {
    GOPE_SEL_GREEDY = 0,
    GOPE_SEL_SOFTMAX,
    GOPE_SEL_EPSILON_GREEDY,
    GOPE_SEL_UNIFORM,
    GOPE_SEL_COUNT
} gope_select;

/* Where the shadow prices of the score's constraint terms come from. */
typedef enum {
    GOPE_LAMBDA_NONE = 0, /* absent, or an object whose prices are all 0 */
    GOPE_LAMBDA_FIXED,    /* the policy's own prices (lambda[]) */
    GOPE_LAMBDA_LOG,      /* the event's lambda_values ("lambda": "log") */
} gope_lambda_mode;

typedef struct {
    char name[GOPE_POLICY_NAME_MAX + 1];
    gope_select select;
    double beta;               /* default 0 */
    double crowding_alpha;     /* default 0, >= 0 */
    double crowding_threshold; /* default 1 */
    double coldstart_bonus;    /* default 0 */
    double temperature;        /* softmax only, > 0 */
    double epsilon;            /* epsilon_greedy only, in [0,1] */
    int64_t whale_k;           /* default 1, >= 0 */
    gope_lambda_mode lambda_mode;
    double lambda[GOPE_C_COUNT]; /* GOPE_LAMBDA_FIXED: price per constraint */
} gope_policy;

struct gope_policy_set_s {
    size_t n;
    gope_policy policies[]; /* n entries */
};

#endif /* GOPE_POLICY_INT_H */
