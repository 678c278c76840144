/*
 * test_metrics_http.c — the /metrics server (ope/metrics_http.c) over real
 * sockets on 127.0.0.1: what each request gets (200, 404, 405, 400, 431,
 * 503 before the first snapshot), the request-size boundary, and that
 * clients which connect and say nothing, stop halfway or never read their
 * answer hold neither other clients nor the publisher. Waits are bounded
 * by the client (tests/support/httpclient.h); nothing asserts a duration.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failalloc.h"
#include "gope_ope.h"
#include "httpclient.h"

static gope_prom_http_t *start(const gope_prom_http_conf *conf)
{
    gope_err err = {{0}};
    gope_prom_http_t *h = NULL;
    cr_assert_eq(gope_prom_http_start(conf, &h, &err), GOPE_OK, "%s", err.msg);
    cr_assert_gt(gope_prom_http_port(h), 0);
    return h;
}

static void publish(gope_prom_http_t *h, const char *text)
{
    gope_err err = {{0}};
    cr_assert_eq(gope_prom_http_publish(h, text, strlen(text), &err), GOPE_OK, "%s", err.msg);
}

/* GET `path`: expects `status` and, when not NULL, exactly `body`. */
static void expect_get(int port, const char *path, int status, const char *body)
{
    int got;
    char *b = th_get(port, path, &got);
    cr_assert(b, "GET %s: no response", path);
    cr_expect_eq(got, status, "GET %s: status %d, want %d", path, got, status);
    if (body)
        cr_expect_str_eq(b, body, "GET %s", path);
    free(b);
}

/* Sends `req` raw: expects `status`; returns the whole response. */
static char *expect_raw(int port, const char *req, size_t len, int status)
{
    int got;
    char *r = th_raw(port, req, len, &got);
    cr_assert(r, "no response to %.40s", req);
    cr_expect_eq(got, status, "status %d, want %d for %.40s", got, status, req);
    return r;
}

Test(metrics_http, serves_metrics_and_healthz)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0"});
    int port = gope_prom_http_port(h);
    expect_get(port, "/healthz", 200, "ok\n");
    expect_get(port, "/metrics", 503, NULL); /* nothing published yet */
    publish(h, "giftope_up 1\n");
    expect_get(port, "/metrics", 200, "giftope_up 1\n");
    expect_get(port, "/metrics?x=1", 200, "giftope_up 1\n");
    publish(h, ""); /* empty, yet published */
    expect_get(port, "/metrics", 200, "");
    publish(h, "giftope_up 2\n"); /* the new snapshot replaces the old */
    expect_get(port, "/metrics", 200, "giftope_up 2\n");
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    char *r = expect_raw(port, req, sizeof req - 1, 200);
    cr_expect(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "%s", r);
    cr_expect(strstr(r, "Content-Length: 13\r\n"), "%s", r);
    cr_expect(strstr(r, "Connection: close\r\n"), "%s", r);
    free(r);
    gope_prom_http_stop(h);
}

Test(metrics_http, other_paths_methods_and_garbage_are_refused)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = "0"}); /* 127.0.0.1, any port */
    int port = gope_prom_http_port(h);
    publish(h, "x 1\n");
    expect_get(port, "/", 404, NULL);
    expect_get(port, "/metricsx", 404, NULL);
    expect_get(port, "/api/v1/query", 404, NULL);
    const char *method[] = {"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                            "HEAD /metrics HTTP/1.1\r\n\r\n", "DELETE /healthz HTTP/1.0\r\n\r\n"};
    for (size_t i = 0; i < sizeof method / sizeof method[0]; i++) {
        char *r = expect_raw(port, method[i], strlen(method[i]), 405);
        cr_expect(strstr(r, "Allow: GET\r\n"), "%s", r);
        free(r);
    }
    const char *bad[] = {"hello\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
                         "GET /metrics HTTP/1.1 extra\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                         "GET  /metrics HTTP/1.1\r\n\r\n", "\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        free(expect_raw(port, bad[i], strlen(bad[i]), 400));
    /* the server is still fine after all that */
    expect_get(port, "/metrics", 200, "x 1\n");
    gope_prom_http_stop(h);
}

/* A request head of exactly `len` bytes: the request line, one padding
 * header and the blank line. */
static char *request_of(size_t len)
{
    const char *line = "GET /healthz HTTP/1.1\r\nX-Pad: ";
    char *r = malloc(len + 1);
    cr_assert(r);
    memset(r, 'a', len);
    memcpy(r, line, strlen(line));
    memcpy(r + len - 4, "\r\n\r\n", 4);
    r[len] = '\0';
    return r;
}

Test(metrics_http, request_head_size_is_bounded)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = ":0", .max_request = 256});
    int port = gope_prom_http_port(h);
    char *fits = request_of(256), *over = request_of(257);
    free(expect_raw(port, fits, 256, 200));
    free(expect_raw(port, over, 257, 431));
    free(fits);
    free(over);
    /* far over, and never ending: answered 431 and closed all the same */
    size_t big = 1 << 20;
    char *flood = malloc(big);
    cr_assert(flood);
    memset(flood, 'A', big);
    free(expect_raw(port, flood, big, 431));
    free(flood);
    gope_prom_http_stop(h);

    h = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0"}); /* the default: 8 KiB */
    port = gope_prom_http_port(h);
    char *def = request_of(8192), *def_over = request_of(8193);
    free(expect_raw(port, def, 8192, 200));
    free(expect_raw(port, def_over, 8193, 431));
    free(def);
    free(def_over);
    gope_prom_http_stop(h);
}

Test(metrics_http, silent_and_slow_clients_block_no_one)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0"});
    int port = gope_prom_http_port(h);
    /* a snapshot large enough that a client that does not read it stalls */
    size_t big = 8u << 20;
    char *text = malloc(big + 1);
    cr_assert(text);
    memset(text, '#', big);
    text[big] = '\0';
    publish(h, text);
    int silent = th_connect(port);
    int halfway = th_connect(port);
    int no_reader = th_connect(port);
    cr_assert(silent >= 0 && halfway >= 0 && no_reader >= 0);
    cr_assert_eq(th_send(halfway, "GET /met", 8), 0);
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    cr_assert_eq(th_send(no_reader, req, sizeof req - 1), 0);
    /* meanwhile: others are served and the publisher goes on */
    expect_get(port, "/healthz", 200, "ok\n");
    publish(h, "small 1\n");
    expect_get(port, "/metrics", 200, "small 1\n");
    publish(h, text);
    int status;
    char *body = th_get(port, "/metrics", &status);
    cr_assert(body);
    cr_expect_eq(status, 200);
    cr_expect_eq(strlen(body), big);
    free(body);
    close(silent);
    close(halfway);
    close(no_reader);
    free(text);
    gope_prom_http_stop(h); /* with connections still open on its side */
}

Test(metrics_http, a_connection_past_its_deadline_is_closed)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0", .timeout_ms = 50});
    int port = gope_prom_http_port(h);
    int fd = th_connect(port);
    cr_assert_geq(fd, 0);
    cr_expect(th_peer_closes(fd), "the server never closed a silent connection");
    fd = th_connect(port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(th_send(fd, "GET /healthz HTTP/1.1\r\n", 23), 0); /* never finished */
    cr_expect(th_peer_closes(fd), "the server never closed an unfinished request");
    gope_prom_http_stop(h);
}

Test(metrics_http, many_connections)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0"});
    int port = gope_prom_http_port(h);
    publish(h, "many 1\n");
    enum { N = 60 }; /* all open at once, under the default limit of 64 */
    int fd[N];
    for (int i = 0; i < N; i++) {
        fd[i] = th_connect(port);
        cr_assert_geq(fd[i], 0);
    }
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    for (int i = 0; i < N; i++)
        cr_assert_eq(th_send(fd[i], req, sizeof req - 1), 0);
    for (int i = 0; i < N; i++) {
        char *r = th_read_all(fd[i]);
        cr_assert(r, "connection %d: no response", i);
        cr_expect(strncmp(r, "HTTP/1.1 200 ", 13) == 0, "connection %d: %.30s", i, r);
        cr_expect(strstr(r, "\r\n\r\nmany 1\n"), "connection %d", i);
        free(r);
    }
    gope_prom_http_stop(h);
}

Test(metrics_http, idle_connections_make_room_for_new_ones)
{
    gope_prom_http_t *h = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0", .max_conns = 4});
    int port = gope_prom_http_port(h);
    publish(h, "room 1\n");
    enum { IDLE = 12 }; /* three times the limit, all silent */
    int fd[IDLE];
    for (int i = 0; i < IDLE; i++) {
        fd[i] = th_connect(port);
        cr_assert_geq(fd[i], 0);
    }
    expect_get(port, "/metrics", 200, "room 1\n");
    /* the oldest silent ones were closed to make room */
    cr_expect(th_peer_closes(fd[0]));
    for (int i = 1; i < IDLE; i++)
        close(fd[i]);
    gope_prom_http_stop(h);
}

Test(metrics_http, bad_addresses_are_usage_errors_naming_them)
{
    const char *bad[] = {"localhost:http", "127.0.0.1:65536", "127.0.0.1:", "::1:9100",
                         "[::1:9100", "192.0.2.1:9100", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gope_err err = {{0}};
        gope_prom_http_t *h = NULL;
        gope_status st = gope_prom_http_start(&(gope_prom_http_conf){.addr = bad[i]}, &h, &err);
        cr_expect_eq(st, GOPE_ERR_USAGE, "%s: %d", bad[i], st);
        cr_expect(h == NULL);
        char want[64];
        snprintf(want, sizeof want, "'%s'", bad[i]);
        cr_expect(strstr(err.msg, want), "%s: %s", bad[i], err.msg);
    }
    /* a port in use */
    gope_prom_http_t *a = start(&(gope_prom_http_conf){.addr = "127.0.0.1:0"});
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", gope_prom_http_port(a));
    gope_err err = {{0}};
    gope_prom_http_t *b = NULL;
    cr_expect_eq(gope_prom_http_start(&(gope_prom_http_conf){.addr = addr}, &b, &err),
                 GOPE_ERR_USAGE);
    cr_expect(strstr(err.msg, addr) && strstr(err.msg, "cannot listen"), "%s", err.msg);
    gope_prom_http_stop(a);
    gope_prom_http_stop(NULL);
}

static gope_status op_server(void)
{
    gope_err err = {{0}};
    gope_prom_http_t *h = NULL;
    gope_status st = gope_prom_http_start(&(gope_prom_http_conf){.addr = "127.0.0.1:0"}, &h, &err);
    if (st != GOPE_OK)
        return st;
    st = gope_prom_http_publish(h, "a 1\n", 4, &err);
    gope_prom_http_stop(h);
    return st;
}

Test(metrics_http, allocation_failures) { fa_exhaust(op_server, "metrics server"); }
