/* test_dedupe.c — duplicate detection within the event-time horizon, expiry
 * after it, growth past the initial table size, and bounded memory. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_int.h" /* gope_dedupe_save */
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

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Checkpoints store the two hashes of each id, so a restored table only
 * finds the ids again if the hash function never changes: these values
 * were written by the first version (ids with a tail only, a word and a
 * tail, whole words, and the empty id). */
Test(dedupe, saved_hashes_never_change)
{
    static const struct {
        const char *id;
        uint64_t h1, h2;
    } pinned[] = {
        {"ev-42-0", 0xfde879f3ac96bdd4ULL, 0x72d7dd8dd9dcbe4eULL},
        {"event-000000001", 0x618df46fee5a4c6aULL, 0x4d2f850dab14a6d8ULL},
        {"0123456789abcdef", 0x8b84dbf0d7cc6709ULL, 0x3ef57de52d651953ULL},
        {"", 0x7acdbb98b1344213ULL, 0x72dee428a469f6fdULL},
    };
    size_t n = sizeof pinned / sizeof pinned[0];
    gope_dedupe_t *d = gope_dedupe_new(1000);
    cr_assert(d);
    for (size_t i = 0; i < n; i++)
        insert(d, pinned[i].id, (int64_t)i);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    gope_err err;
    cr_assert_eq(gope_dedupe_save(d, f, &err), GOPE_OK);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(len, 24 + 24 * n); /* horizon, max ts, count; then h1 h2 ts each */
    const unsigned char *e = (const unsigned char *)buf + 24;
    for (size_t i = 0; i < n; i++, e += 24) {
        cr_expect_eq(le64(e), pinned[i].h1, "h1 of \"%s\"", pinned[i].id);
        cr_expect_eq(le64(e + 8), pinned[i].h2, "h2 of \"%s\"", pinned[i].id);
    }
    free(buf);
    gope_dedupe_free(d);
}

Test(dedupe, free_null_is_noop) { gope_dedupe_free(NULL); }
