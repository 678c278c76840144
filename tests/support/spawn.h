/*
 * spawn.h — programs the tests run in the background (a consumer that runs
 * until stopped, a Prometheus server): start with stdout and stderr to
 * files, wait for a line in a file, stop with SIGTERM. Every wait is
 * bounded; reaching a bound is a failed call, never a timing check.
 */
#ifndef GOPE_SPAWN_H
#define GOPE_SPAWN_H

#include <sys/types.h>

/* Runs argv[0] (looked up in PATH when it has no '/') with `argv`, stdin
 * from /dev/null, stdout to `out` and stderr to `err` (NULL: /dev/null).
 * @return its pid, or -1. */
pid_t ts_spawn(const char *const *argv, const char *out, const char *err);

/* Waits up to `wait_ms` for `needle` to appear in the file `path`.
 * @return the file's text (free() it), or NULL when it never appeared. */
char *ts_wait_for(const char *path, const char *needle, int wait_ms);

/* SIGTERM, then waits up to `wait_ms` for the exit (SIGKILL after that).
 * @return the exit status, or -1 when it had to be killed or was not a
 *         normal exit. */
int ts_stop(pid_t pid, int wait_ms);

/* Sleeps `ms` milliseconds (between polls). */
void ts_sleep_ms(long ms);

#endif
