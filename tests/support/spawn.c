/* spawn.c — background programs for the tests (see spawn.h). */
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

void ts_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void redirect(const char *path, int fd, int flags)
{
    int f = open(path ? path : "/dev/null", flags, 0644);
    if (f < 0 || dup2(f, fd) < 0)
        _exit(126);
    close(f);
}

pid_t ts_spawn(const char *const *argv, const char *out, const char *err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    redirect(NULL, 0, O_RDONLY);
    redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
    redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

char *ts_wait_for(const char *path, const char *needle, int wait_ms)
{
    for (int waited = 0; waited <= wait_ms; waited += 100) {
        char *text = tu_read_file(path, NULL);
        if (text && strstr(text, needle))
            return text;
        free(text);
        ts_sleep_ms(100);
    }
    return NULL;
}

int ts_stop(pid_t pid, int wait_ms)
{
    int status = 0;
    kill(pid, SIGTERM);
    for (int waited = 0; waited <= wait_ms; waited += 100) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        ts_sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}
