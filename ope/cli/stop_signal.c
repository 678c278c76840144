/* stop_signal.c — SIGINT/SIGTERM ask the command to stop (see stop_signal.h). */
#include "stop_signal.h"

#include <signal.h>
#include <stddef.h>

/* The one piece of mutable global state: a signal handler can only tell the
 * loop to stop through a volatile sig_atomic_t of static storage (C11
 * 7.14.1.1); there is no context pointer to pass it. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

void gope_stop_signals_install(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int gope_stop_signal(void)
{
    return stop_signal;
}
