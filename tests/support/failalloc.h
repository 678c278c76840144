/*
 * failalloc.h — SQLite-style allocation failure injection for the tests.
 * The test binary is linked with -Wl,--wrap=malloc,calloc,realloc, so every
 * allocation made by giftope's own code goes through a countdown: after
 * fa_fail_after(n), the (n+1)-th allocation fails and (persistent mode) so do
 * all later ones until fa_off(). Libraries linked as shared objects (cJSON,
 * zstd, Criterion) are not affected.
 */
#ifndef GOPE_FAILALLOC_H
#define GOPE_FAILALLOC_H

#include <stdbool.h>

void fa_fail_after(long n, bool persistent);
void fa_off(void);
/* Did an injected failure happen since the last fa_fail_after()? */
bool fa_triggered(void);

#endif
