/*
 * ckpt_claim.c — owner epochs of per-partition checkpoint files (see
 * ckpt_claim.h). Everything is a directory listing, an exclusive create or
 * an unlink, which a shared filesystem with close-to-open consistency
 * (NFSv3+) gives atomically.
 */
#include "ckpt_claim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEGACY_SUFFIX ".ckpt"
#define STATE_SUFFIX ".ckpt"
#define TMP_SUFFIX ".ckpt.tmp" /* a write that never finished (checkpoint.c) */
#define CLAIM_SUFFIX ".claim"
#define MAX_TRIES 1000 /* claims lost to others in a row before giving up */
#define PATH_LEN 4096 /* as GOPE_CKPT_PATH_MAX */

typedef enum { NOT_OURS, LEGACY, STATE, CLAIM, TMP } file_kind;

/* What `name` is of `base`, and its epoch. */
static file_kind kind_of(const char *name, const char *base, uint64_t *epoch)
{
    size_t b = strlen(base);
    if (strncmp(name, base, b) != 0)
        return NOT_OURS;
    const char *p = name + b;
    if (strcmp(p, LEGACY_SUFFIX) == 0 || strcmp(p, TMP_SUFFIX) == 0) {
        *epoch = 0;
        return p[strlen(LEGACY_SUFFIX)] ? TMP : LEGACY;
    }
    if (strncmp(p, ".e", 2) != 0 || p[2] < '0' || p[2] > '9')
        return NOT_OURS;
    errno = 0;
    char *end;
    unsigned long long e = strtoull(p + 2, &end, 10);
    if (errno == ERANGE || e == 0) /* epochs start at 1 */
        return NOT_OURS;
    *epoch = e;
    if (strcmp(end, STATE_SUFFIX) == 0)
        return STATE;
    if (strcmp(end, TMP_SUFFIX) == 0)
        return TMP;
    return strcmp(end, CLAIM_SUFFIX) == 0 ? CLAIM : NOT_OURS;
}

static void see(gope_claim_view *v, file_kind k, uint64_t epoch)
{
    if (k == CLAIM && epoch > v->claim)
        v->claim = epoch;
    if (k != CLAIM && (!v->has_state || epoch > v->state)) {
        v->state = epoch;
        v->has_state = true;
    }
    if (!v->any || epoch < v->lowest)
        v->lowest = epoch;
    v->any = true;
}

gope_status gope_claim_scan(const char *dir, const char *base, gope_claim_view *out,
                            gope_err *err)
{
    *out = (gope_claim_view){0};
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? GOPE_OK
                               : gope_err_set(err, GOPE_ERR_IO, "%s: cannot list: %s", dir,
                                              strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        uint64_t epoch;
        file_kind k = kind_of(e->d_name, base, &epoch);
        if (k != NOT_OURS && k != TMP)
            see(out, k, epoch);
    }
    closedir(d);
    return GOPE_OK;
}

/* DIR/BASE.eEPOCH.SUFFIX into buf. */
static gope_status epoch_path(const char *dir, const char *base, uint64_t epoch,
                              const char *suffix, char *buf, size_t size, gope_err *err)
{
    if ((size_t)snprintf(buf, size, "%s/%s.e%" PRIu64 "%s", dir, base, epoch, suffix) >= size)
        return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint name too long: %s/%s", dir, base);
    return GOPE_OK;
}

static gope_status sync_dir(const char *dir, gope_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    gope_status st = GOPE_OK;
    if (fd < 0 || fsync(fd) != 0)
        st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot sync the directory: %s", dir,
                          strerror(errno));
    if (fd >= 0)
        close(fd);
    return st;
}

/* Create `path` exclusively with `who` in it, fsync'd. *taken: false when
 * it existed (another member's). */
static gope_status create_claim(const char *path, const char *who, bool *taken, gope_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    *taken = fd >= 0;
    if (fd < 0)
        return errno == EEXIST ? GOPE_OK
                               : gope_err_set(err, GOPE_ERR_IO, "%s: cannot create: %s", path,
                                              strerror(errno));
    size_t n = strlen(who);
    bool ok = write(fd, who, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok)
        return GOPE_OK;
    unlink(path); /* nobody trusts a claim that is not durable */
    return gope_err_set(err, GOPE_ERR_IO, "%s: write failed: %s", path, strerror(saved));
}

gope_status gope_claim_take(const char *dir, const char *base, const char *who,
                            uint64_t *epoch, gope_err *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot create the directory: %s", dir,
                            strerror(errno));
    for (int tries = 0; tries < MAX_TRIES; tries++) {
        gope_claim_view v;
        char path[PATH_LEN];
        bool taken;
        gope_status st = gope_claim_scan(dir, base, &v, err);
        if (st == GOPE_OK)
            st = epoch_path(dir, base, v.claim + 1, CLAIM_SUFFIX, path, sizeof path, err);
        if (st == GOPE_OK)
            st = create_claim(path, who, &taken, err);
        if (st != GOPE_OK)
            return st;
        if (taken) {
            *epoch = v.claim + 1;
            return sync_dir(dir, err);
        }
    }
    return gope_err_set(err, GOPE_ERR_IO, "%s/%s: lost %d claims in a row to other members", dir,
                        base, MAX_TRIES);
}

gope_status gope_claim_held(const char *dir, const char *base, uint64_t epoch, bool *held,
                            gope_claim_view *view, gope_err *err)
{
    gope_claim_view v;
    gope_status st = gope_claim_scan(dir, base, &v, err);
    *held = st == GOPE_OK && v.claim <= epoch;
    if (view)
        *view = v;
    return st;
}

gope_status gope_claim_state_name(const char *base, uint64_t epoch, bool legacy, char *buf,
                                  size_t size, gope_err *err)
{
    int n = legacy ? snprintf(buf, size, "%s" LEGACY_SUFFIX, base)
                   : snprintf(buf, size, "%s.e%" PRIu64 STATE_SUFFIX, base, epoch);
    if (n < 0 || (size_t)n >= size)
        return gope_err_set(err, GOPE_ERR_USAGE, "checkpoint name too long: %s", base);
    return GOPE_OK;
}

gope_status gope_claim_prune(const char *dir, const char *base, uint64_t epoch, gope_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return gope_err_set(err, GOPE_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    gope_status st = GOPE_OK;
    for (struct dirent *e; st == GOPE_OK && (e = readdir(d));) {
        uint64_t at;
        file_kind k = kind_of(e->d_name, base, &at);
        if (k == NOT_OURS || at >= epoch) /* BASE.ckpt is epoch 0 */
            continue;
        char path[PATH_LEN];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            st = gope_err_set(err, GOPE_ERR_USAGE, "checkpoint name too long: %s/%s", dir,
                              e->d_name);
        else if (unlink(path) != 0 && errno != ENOENT)
            st = gope_err_set(err, GOPE_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    }
    closedir(d);
    return st;
}

void gope_claim_who(const char *dir, const char *base, uint64_t epoch, char *buf, size_t size)
{
    char path[PATH_LEN];
    FILE *f = NULL;
    if (epoch_path(dir, base, epoch, CLAIM_SUFFIX, path, sizeof path, NULL) == GOPE_OK)
        f = fopen(path, "r");
    if (!f || !fgets(buf, (int)size, f) || !buf[0] || buf[0] == '\n')
        snprintf(buf, size, "?");
    buf[strcspn(buf, "\n")] = '\0';
    if (f)
        fclose(f);
}
