/*
 * bigalloc.c — the pair tables' memory. A decision reads one user's row of
 * each table (6 KB in 60 MB for giftlive-v2), a new row every decision: with
 * 4 KB pages nearly every row is a TLB miss, and a prefetch that misses the
 * TLB waits for the page walk. Tables on 2 MB pages (transparent huge pages,
 * asked for by madvise where the kernel leaves it to the program) fit the
 * TLB whole. The request is a hint: without it the tables work the same.
 */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <sys/mman.h>

#include "sim_int.h"

enum { HUGE_PAGE = 2u << 20 };

void *gope_sim__big_alloc(size_t bytes)
{
    if (bytes < HUGE_PAGE)
        return malloc(bytes);
    const size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p)
        (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}
