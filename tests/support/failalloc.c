/* failalloc.c — see failalloc.h. Test-only global state: each Criterion test
 * runs in its own process, so the countdown cannot leak between tests. A
 * mutex guards it, since truth's seeds allocate from several threads. */
#include "failalloc.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stddef.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long countdown = -1;
static bool persist, triggered;

void fa_fail_after(long n, bool persistent)
{
    pthread_mutex_lock(&mu);
    countdown = n;
    persist = persistent;
    triggered = false;
    pthread_mutex_unlock(&mu);
}

void fa_off(void)
{
    pthread_mutex_lock(&mu);
    countdown = -1;
    pthread_mutex_unlock(&mu);
}

bool fa_triggered(void)
{
    pthread_mutex_lock(&mu);
    const bool t = triggered;
    pthread_mutex_unlock(&mu);
    return t;
}

static bool should_fail(void)
{
    pthread_mutex_lock(&mu);
    bool fail = false;
    if (countdown == 0) {
        triggered = fail = true;
        if (!persist)
            countdown = -1;
    } else if (countdown > 0) {
        countdown--;
    }
    pthread_mutex_unlock(&mu);
    return fail;
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
