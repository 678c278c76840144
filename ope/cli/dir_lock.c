/*
 * dir_lock.c — the lock of a consume checkpoint directory (dir_lock.h).
 * fcntl record locks rather than flock: POSIX, and served by NFS's lock
 * manager when DIR is a network mount.
 */
#include "dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The pid the holder wrote into the lock file, or 0. */
static long holder_of(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = 0;
    if (n > 0)
        sscanf(buf, "%ld", &pid);
    return pid;
}

int gope_dir_lock(const char *dir, const char *cmd, int *fd)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/state.lock", dir) >= sizeof path) {
        fprintf(stderr, "%s: --checkpoint %s: path too long\n", cmd, dir);
        return 1;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: --checkpoint %s: cannot create: %s\n", cmd, dir, strerror(errno));
        return 1;
    }
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(*fd, F_SETLK, &fl) != 0) {
        const int e = errno;
        const long pid = holder_of(*fd);
        close(*fd);
        *fd = -1;
        if (e == EACCES || e == EAGAIN) {
            fprintf(stderr, "%s: --checkpoint %s is in use by another instance (pid %ld): "
                            "without --partials each instance needs its own directory "
                            "(docs/consume.md)\n", cmd, dir, pid);
            return 2;
        }
        fprintf(stderr, "%s: %s: cannot lock: %s\n", cmd, path, strerror(e));
        return 1;
    }
    char pid[32];
    const int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n)
        fprintf(stderr, "%s: %s: cannot record the pid (the lock holds): %s\n", cmd, path,
                strerror(errno));
    return 0;
}
