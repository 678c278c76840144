/* failalloc.c — see failalloc.h. Test-only global state: each Criterion test
 * runs in its own process, so the countdown cannot leak between tests. */
#include "failalloc.h"

#include <criterion/criterion.h>
#include <stddef.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

static long countdown = -1;
static bool persist, triggered;

void fa_fail_after(long n, bool persistent)
{
    countdown = n;
    persist = persistent;
    triggered = false;
}

void fa_off(void) { countdown = -1; }

bool fa_triggered(void) { return triggered; }

static bool should_fail(void)
{
    if (countdown < 0)
        return false;
    if (countdown == 0) {
        triggered = true;
        if (!persist)
            countdown = -1;
        return true;
    }
    countdown--;
    return false;
}

void *__wrap_malloc(size_t size) { return should_fail() ? NULL : __real_malloc(size); }

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return should_fail() ? NULL : __real_realloc(p, size);
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    return should_fail() ? NULL : __real_aligned_alloc(align, size);
}

void fa_exhaust(fa_op op, const char *name)
{
    for (int mode = 0; mode < 2; mode++) {
        long n = 0;
        for (;; n++) {
            cr_assert_lt(n, 100000, "%s: no end", name);
            fa_fail_after(n, mode == 1);
            gope_status st = op();
            bool hit = fa_triggered();
            fa_off();
            cr_assert(st == GOPE_OK || st == GOPE_ERR_NOMEM,
                      "%s: failing allocation %ld gave status %d", name, n, (int)st);
            if (!hit) {
                cr_assert_eq(st, GOPE_OK, "%s without failures", name);
                break;
            }
        }
        cr_expect_gt(n, 0, "%s allocates", name);
    }
}
