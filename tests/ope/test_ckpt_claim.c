/*
 * test_ckpt_claim.c — owner epochs of per-partition checkpoint files
 * (ope/ckpt_claim.c) without a broker: two claimants, a stale writer that
 * is fenced and whose late file is never the newest, the file from before
 * epochs, names of other partitions and topics, superseded files and
 * unfinished writes removed,
 * and claims made at once by many processes all distinct.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt_claim.h"
#include "testutil.h"

/* Creates DIR/NAME holding `text`. */
static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* The state file of `epoch` of base "alloc.3", written as its owner does. */
static void put_state(const char *dir, uint64_t epoch, const char *text)
{
    char name[64];
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_state_name("alloc.3", epoch, false, name, sizeof name, &err),
                 GOPE_OK);
    put(dir, name, text);
}

static gope_claim_view scan(const char *dir)
{
    gope_claim_view v;
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_scan(dir, "alloc.3", &v, &err), GOPE_OK, "%s", err.msg);
    return v;
}

static uint64_t take(const char *dir, const char *who)
{
    uint64_t e = 0;
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_take(dir, "alloc.3", who, &e, &err), GOPE_OK, "%s", err.msg);
    return e;
}

static bool held(const char *dir, uint64_t epoch)
{
    bool h = false;
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_held(dir, "alloc.3", epoch, &h, NULL, &err), GOPE_OK, "%s",
                 err.msg);
    return h;
}

Test(ckpt_claim, an_empty_or_missing_dir_holds_nothing)
{
    char *dir = tu_tmpdir();
    gope_claim_view v = scan(dir);
    cr_expect(!v.any && !v.has_state && v.claim == 0);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/not-yet", dir);
    v = scan(missing);
    cr_expect(!v.any);
    cr_expect_eq(take(missing, "a-1"), 1, "the directory is made by the first claim");
    tu_rmtree(dir);
}

Test(ckpt_claim, two_claimants_a_stale_writer_is_fenced)
{
    char *dir = tu_tmpdir();
    const uint64_t a = take(dir, "host-a-1");
    put_state(dir, a, "A1");
    const uint64_t b = take(dir, "host-b-2"); /* A stalled; the group gave B the partition */
    cr_expect_eq(a, 1);
    cr_expect_eq(b, 2);
    cr_expect(!held(dir, a), "A's claim is no longer the highest: fenced");
    cr_expect(held(dir, b));
    char who[64];
    gope_claim_who(dir, "alloc.3", b, who, sizeof who);
    cr_expect_str_eq(who, "host-b-2", "the fenced member can name the new owner");
    gope_claim_who(dir, "alloc.3", 9, who, sizeof who);
    cr_expect_str_eq(who, "?");

    /* B loads the newest state, A1; A's write that passed its check before B's
     * claim lands in A's own file after B loaded: never read once B wrote */
    gope_claim_view v = scan(dir);
    cr_expect(v.has_state && v.state == a);
    put_state(dir, a, "A2 (late)");
    put_state(dir, b, "B1");
    v = scan(dir);
    cr_expect_eq(v.state, b, "B's state is the newest, A's late one is not");
    cr_expect_eq(v.claim, b);
    cr_expect_eq(v.lowest, a);

    gope_err err = {{0}};
    cr_assert_eq(gope_claim_prune(dir, "alloc.3", b, &err), GOPE_OK, "%s", err.msg);
    cr_expect(!exists(dir, "alloc.3.e1.claim") && !exists(dir, "alloc.3.e1.ckpt"));
    cr_expect(exists(dir, "alloc.3.e2.claim") && exists(dir, "alloc.3.e2.ckpt"));
    cr_expect(!held(dir, a), "still fenced without its claim file: B's is higher");

    /* a zombie's write after the prune comes back, is not the newest, goes next time */
    put_state(dir, a, "A3 (later)");
    v = scan(dir);
    cr_expect_eq(v.state, b);
    cr_expect_eq(v.lowest, a, "the saver sees something to prune");
    cr_assert_eq(gope_claim_prune(dir, "alloc.3", b, &err), GOPE_OK, "%s", err.msg);
    cr_expect(!exists(dir, "alloc.3.e1.ckpt"));
    v = scan(dir);
    cr_expect_eq(v.lowest, b);
    tu_rmtree(dir);
}

Test(ckpt_claim, the_file_from_before_epochs_is_epoch_0)
{
    char *dir = tu_tmpdir();
    put(dir, "alloc.3.ckpt", "old");
    gope_claim_view v = scan(dir);
    cr_expect(v.has_state && v.state == 0 && v.claim == 0 && v.any && v.lowest == 0);
    char name[64];
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_state_name("alloc.3", 0, true, name, sizeof name, &err), GOPE_OK);
    cr_expect_str_eq(name, "alloc.3.ckpt");
    const uint64_t e = take(dir, "a-1");
    cr_expect_eq(e, 1);
    v = scan(dir);
    cr_expect(v.has_state && v.state == 0, "still the state to load");
    put_state(dir, e, "new");
    cr_assert_eq(gope_claim_prune(dir, "alloc.3", e, &err), GOPE_OK, "%s", err.msg);
    cr_expect(!exists(dir, "alloc.3.ckpt"), "superseded once epoch 1 wrote");
    cr_expect(exists(dir, "alloc.3.e1.ckpt"));
    tu_rmtree(dir);
}

/* A write cut short by a crash is neither a state nor a claim, and goes
 * with the epochs below the saver's. */
Test(ckpt_claim, unfinished_writes_are_not_states_and_are_pruned)
{
    char *dir = tu_tmpdir();
    put(dir, "alloc.3.e1.ckpt.tmp", "torn");
    put(dir, "alloc.3.ckpt.tmp", "torn");
    put(dir, "alloc.3.e2.ckpt.tmp", "in progress");
    put(dir, "alloc.3.e1.claim", "a-1\n");
    gope_claim_view v = scan(dir);
    cr_expect(!v.has_state && v.claim == 1 && v.lowest == 1);
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_prune(dir, "alloc.3", 2, &err), GOPE_OK, "%s", err.msg);
    cr_expect(!exists(dir, "alloc.3.e1.ckpt.tmp") && !exists(dir, "alloc.3.ckpt.tmp"));
    cr_expect(exists(dir, "alloc.3.e2.ckpt.tmp"), "the saver's own epoch is left alone");
    tu_rmtree(dir);
}

Test(ckpt_claim, names_of_other_partitions_topics_and_temporaries_are_not_ours)
{
    char *dir = tu_tmpdir();
    const char *others[] = {"alloc.31.e9.ckpt", "alloc.31.e9.claim", "alloc.3.e0.ckpt",
                            "alloc.3.e7.tmp", "alloc.3.ex.ckpt", "alloc.3.e.claim",
                            "alloc.3.3.e9.ckpt", "xalloc.3.e9.ckpt", "alloc.31.ckpt.tmp",
                            "alloc.3.e99999999999999999999.ckpt", "alloc.3.e4.claimx",
                            "alloc.outputs-0123456789abcdef.ckpt"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        put(dir, others[i], "x");
    gope_claim_view v = scan(dir);
    cr_expect(!v.any, "none is of alloc.3");
    gope_err err = {{0}};
    cr_assert_eq(gope_claim_prune(dir, "alloc.3", 100, &err), GOPE_OK, "%s", err.msg);
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        cr_expect(exists(dir, others[i]), "%s removed", others[i]);
    char name[8];
    cr_expect_eq(gope_claim_state_name("alloc.3", 12, false, name, sizeof name, &err),
                 GOPE_ERR_USAGE);
    tu_rmtree(dir);
}

#define N_PROCS 6
#define N_EACH 25

/* Processes claiming at once never share an epoch, and none is skipped. */
Test(ckpt_claim, claims_made_at_once_are_all_distinct, .timeout = 60)
{
    char *dir = tu_tmpdir();
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    for (int p = 0; p < N_PROCS; p++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fd[0]);
            for (int i = 0; i < N_EACH; i++) {
                uint64_t e = 0;
                gope_err err = {{0}};
                if (gope_claim_take(dir, "alloc.3", "racer", &e, &err) != GOPE_OK)
                    _exit(1);
                if (write(fd[1], &e, sizeof e) != (ssize_t)sizeof e)
                    _exit(1);
            }
            _exit(0);
        }
    }
    close(fd[1]);
    bool seen[N_PROCS * N_EACH + 1] = {false};
    uint64_t e;
    int n = 0;
    while (read(fd[0], &e, sizeof e) == (ssize_t)sizeof e) {
        cr_assert(e >= 1 && e <= N_PROCS * N_EACH, "epoch %" PRIu64 " out of range", e);
        cr_expect(!seen[e], "epoch %" PRIu64 " claimed twice", e);
        seen[e] = true;
        n++;
    }
    close(fd[0]);
    for (int p = 0; p < N_PROCS; p++) {
        int status;
        cr_assert_gt(wait(&status), 0);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    cr_expect_eq(n, N_PROCS * N_EACH);
    cr_expect_eq(scan(dir).claim, N_PROCS * N_EACH);
    tu_rmtree(dir);
}
