/*
 * stop_signal.h — SIGINT/SIGTERM as a request to stop the long-running
 * commands (consume, merge): the handler only records the signal, and the
 * command's loop ends its run when it sees it, with exit status 0.
 *
 * The handlers stay installed until the process exits. A signal that comes
 * after the loop (while the outputs are flushed and closed, the consumer
 * leaves its group, or the sanitizers check for leaks at exit) must not kill
 * a run whose summary is already written and turn its exit 0 into death by
 * signal: a supervisor that sends SIGTERM on seeing the summary races with
 * that tail.
 */
#ifndef GOPE_CLI_STOP_SIGNAL_H
#define GOPE_CLI_STOP_SIGNAL_H

/* Clears the recorded signal and installs the SIGINT and SIGTERM handlers
 * for the rest of the process. */
void gope_stop_signals_install(void);

/* The signal that asked the command to stop, 0 while none has come. */
int gope_stop_signal(void);

#endif
