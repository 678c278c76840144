/*
 * failalloc.h — SQLite-style allocation failure injection for the tests.
 * The test binary is linked with -Wl,--wrap=malloc,calloc,realloc,aligned_alloc
 * (the simulator's tables on huge pages), so every
 * allocation made by giftope's own code goes through a countdown: after
 * fa_fail_after(n), the (n+1)-th allocation fails and (persistent mode) so do
 * all later ones until fa_off(). Libraries linked as shared objects (cJSON,
 * zstd, Criterion) are not affected.
 */
#ifndef GOPE_FAILALLOC_H
#define GOPE_FAILALLOC_H

#include <stdbool.h>

#include "gope_common.h"

void fa_fail_after(long n, bool persistent);
void fa_off(void);
/* Did an injected failure happen since the last fa_fail_after()? */
bool fa_triggered(void);

/* An operation under test: returns GOPE_OK, or GOPE_ERR_NOMEM after an
 * injected failure (anything else fails the test). */
typedef gope_status (*fa_op)(void);

/* Fails the n-th allocation of op for n = 0, 1, 2, ... until op runs without
 * hitting an injected failure, once transient and once persistent; asserts
 * (Criterion) that every run ends in OK or NOMEM and that op allocates. */
void fa_exhaust(fa_op op, const char *name);

#endif
