/*
 * httpclient.h — a tiny HTTP/1.0 client for the tests that talk to the
 * /metrics server and to Prometheus' HTTP API on 127.0.0.1: raw requests
 * (for malformed and oversized ones), connections held open on purpose, and
 * "GET this path, give me the status and body". Every wait is bounded
 * (TH_WAIT_MS); a timeout is a failure of the call, never a timing check.
 */
#ifndef GOPE_HTTPCLIENT_H
#define GOPE_HTTPCLIENT_H

#include <stddef.h>

#define TH_WAIT_MS 20000

/* A TCP connection to 127.0.0.1:port. @return the socket, or -1. */
int th_connect(int port);

/* Sends `len` bytes of `req` on `fd` (all of them, or fails). @return 0 or -1. */
int th_send(int fd, const char *req, size_t len);

/* Reads `fd` to its end (the peer's close) and closes it. @return the bytes
 * read, NUL-terminated (free() it), or NULL on an error or after TH_WAIT_MS
 * without the end. */
char *th_read_all(int fd);

/* Connects, sends `req` raw and reads the whole response. *status: the
 * status code of the response, -1 when there is none. @return as
 * th_read_all (NULL when the connection failed). */
char *th_raw(int port, const char *req, size_t len, int *status);

/* "GET path HTTP/1.0" (a query string included in `path`). *status as
 * th_raw. @return the body (after the blank line; free() it), or NULL. */
char *th_get(int port, const char *path, int *status);

/* Did the peer close `fd` (read returns 0) within TH_WAIT_MS, without
 * sending anything? Closes `fd`. */
int th_peer_closes(int fd);

#endif
