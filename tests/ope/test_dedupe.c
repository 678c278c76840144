/* test_dedupe.c — duplicate detection within the event-time horizon, expiry
 * after it, growth past the initial table size, and bounded memory. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gope_ope.h"

static void insert(gope_dedupe_t *d, const char *id, int64_t ts)
{
    gope_err err;
    cr_assert_eq(gope_dedupe_insert(d, id, strlen(id), ts, &err), GOPE_OK);
}

Test(dedupe, seen_within_horizon_forgotten_after)
{
    gope_dedupe_t *d = gope_dedupe_new(600000);
    cr_assert(d);
    insert(d, "a", 1000);
    cr_expect(gope_dedupe_seen(d, "a", 1));
    cr_expect_not(gope_dedupe_seen(d, "b", 1));
    insert(d, "b", 601000); /* a is exactly at the horizon: kept */
    cr_expect(gope_dedupe_seen(d, "a", 1));
    insert(d, "c", 601001); /* now a is older than the horizon */
    cr_expect_not(gope_dedupe_seen(d, "a", 1));
    cr_expect(gope_dedupe_seen(d, "b", 1));
    gope_dedupe_free(d);
}

Test(dedupe, ids_differ_by_length_and_bytes)
{
    gope_dedupe_t *d = gope_dedupe_new(1000);
    insert(d, "event-000000001", 0);
    cr_expect_not(gope_dedupe_seen(d, "event-00000000", 14));
    cr_expect_not(gope_dedupe_seen(d, "event-000000002", 15));
    cr_expect(gope_dedupe_seen(d, "event-000000001", 15));
    const char nul[] = {'x', '\0', 'y'};
    cr_expect_not(gope_dedupe_seen(d, nul, 3));
    gope_dedupe_free(d);
}

Test(dedupe, grows_and_stays_bounded)
{
    gope_dedupe_t *d = gope_dedupe_new(10000);
    char id[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        insert(d, id, i); /* one id per ms: 10,001 live at a time */
        if (i % 50000 == 49999)
            cr_expect_leq(gope_dedupe_size(d), 10001, "size %zu", gope_dedupe_size(d));
    }
    for (int i = 200000 - 10001; i < 200000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        cr_expect(gope_dedupe_seen(d, id, strlen(id)), "%s kept", id);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        cr_expect_not(gope_dedupe_seen(d, id, strlen(id)), "%s expired", id);
    }
    gope_dedupe_free(d);
}

Test(dedupe, free_null_is_noop) { gope_dedupe_free(NULL); }
