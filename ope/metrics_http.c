/*
 * metrics_http.c — the /metrics endpoint: a minimal HTTP/1.1 server on its
 * own thread (gope_ope.h, "metrics").
 *
 * It must never slow the consumer down, whatever the clients do, so it is
 * built around one poll() loop over non-blocking sockets and never blocks
 * anywhere else: a client that connects and says nothing, sends a request
 * byte by byte, or never reads its answer only holds its own connection,
 * and only until that connection's deadline. Each connection reads its
 * request head into a buffer of max_request bytes (431 when it fills first),
 * gets one response and is closed ("Connection: close"; no keep-alive, no
 * pipelining, so there is no per-connection parser state to keep). After the
 * response the write side is shut down and what the client still sends is
 * read and dropped until it closes, so that the kernel does not reset the
 * connection over unread bytes before the client has read the answer.
 *
 * The text served is a snapshot the consumer publishes: it copies the text
 * into the spare buffer (only its own thread touches that one) and swaps the
 * spare with the current one under the mutex. The server holds the mutex
 * only to copy the current text into a response, so publishing waits at most
 * for one memcpy. Stopping writes a byte to a pipe the loop also polls.
 */
#include "gope_ope.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_MAX_REQUEST 8192
#define DEFAULT_MAX_CONNS 64
#define DRAIN_MAX (64 * 1024) /* bytes read and dropped after a response */
#define ACCEPT_BACKOFF_MS 100 /* after accept() failed for want of descriptors */

typedef enum { C_FREE, C_READ, C_WRITE, C_DRAIN } conn_state;

typedef struct {
    int fd;
    conn_state state;
    double deadline; /* monotonic ms */
    char *in;        /* max_request bytes, allocated with the server */
    size_t in_len;
    char *out;       /* the response */
    size_t out_len, out_pos, drained;
} conn;

struct gope_prom_http_s {
    int listen_fd, wake[2], port;
    int timeout_ms;
    size_t max_request, max_conns;
    conn *conns;
    struct pollfd *pfd;
    size_t *pfd_conn; /* pfd[i + 2] watches conns[pfd_conn[i]] */
    double accept_after; /* monotonic ms: the listening socket is not polled before */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* guards text, text_len, have_text */
    char *text;
    size_t text_len, text_cap;
    bool have_text;
    char *spare; /* the publisher's buffer, swapped with text */
    size_t spare_cap;
};

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static bool set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

/* ------------------------------------------------------------ responses */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
    }
}

/* The response into c->out: status line, headers and `body`, whose text is
 * the published snapshot when `snapshot` (copied under the mutex). */
static bool respond(gope_prom_http_t *h, conn *c, int status, const char *body, bool snapshot)
{
    const char *type = snapshot ? "text/plain; version=0.0.4; charset=utf-8"
                                : "text/plain; charset=utf-8";
    char head[256];
    if (snapshot)
        pthread_mutex_lock(&h->mu);
    size_t body_len = snapshot ? h->text_len : strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, reason_phrase(status), type, body_len,
                     status == 405 ? "Allow: GET\r\n" : "");
    c->out = malloc((size_t)n + body_len);
    if (c->out) {
        memcpy(c->out, head, (size_t)n);
        if (body_len) /* an empty snapshot may have no buffer at all */
            memcpy(c->out + n, snapshot ? h->text : body, body_len);
        c->out_len = (size_t)n + body_len;
        c->out_pos = 0;
        c->state = C_WRITE;
    }
    if (snapshot)
        pthread_mutex_unlock(&h->mu);
    return c->out != NULL;
}

/* A request head "METHOD SP TARGET SP HTTP/1.x" (then headers, ignored):
 * the response it gets. */
static bool answer(gope_prom_http_t *h, conn *c)
{
    char *eol = memchr(c->in, '\n', c->in_len);
    size_t line_len = (size_t)(eol - c->in);
    if (line_len && c->in[line_len - 1] == '\r')
        line_len--;
    char line[512];
    if (line_len >= sizeof line)
        return respond(h, c, 400, "bad request\n", false);
    memcpy(line, c->in, line_len);
    line[line_len] = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp1[1] != '/' || strchr(sp2 + 1, ' ') ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return respond(h, c, 400, "bad request\n", false);
    *sp1 = *sp2 = '\0';
    char *target = sp1 + 1;
    target[strcspn(target, "?")] = '\0'; /* a query string changes nothing */
    bool metrics = strcmp(target, "/metrics") == 0, health = strcmp(target, "/healthz") == 0;
    if (!metrics && !health)
        return respond(h, c, 404, "not found: only /metrics and /healthz\n", false);
    if (strcmp(line, "GET") != 0)
        return respond(h, c, 405, "method not allowed: GET only\n", false);
    if (health)
        return respond(h, c, 200, "ok\n", false);
    pthread_mutex_lock(&h->mu);
    bool have = h->have_text;
    pthread_mutex_unlock(&h->mu);
    if (!have)
        return respond(h, c, 503, "no metrics published yet\n", false);
    return respond(h, c, 200, NULL, true);
}

/* ---------------------------------------------------------- connections */

static void conn_close(conn *c)
{
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->fd = -1;
    c->in_len = c->out_len = c->out_pos = c->drained = 0;
    c->state = C_FREE;
}

/* The request head is complete when it holds an empty line. */
static bool head_complete(const conn *c)
{
    for (size_t i = 1; i < c->in_len; i++)
        if (c->in[i] == '\n' && (c->in[i - 1] == '\n' ||
                                 (i >= 2 && c->in[i - 1] == '\r' && c->in[i - 2] == '\n')))
            return true;
    return false;
}

static void on_readable(gope_prom_http_t *h, conn *c)
{
    if (c->state == C_DRAIN) {
        char sink[4096];
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n > 0 && (c->drained += (size_t)n) <= DRAIN_MAX)
            return;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        conn_close(c); /* the client closed, or keeps sending: done either way */
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, h->max_request - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* gone before its request was complete */
        conn_close(c);
        return;
    }
    c->in_len += (size_t)n;
    bool ok = true;
    if (head_complete(c))
        ok = answer(h, c);
    else if (c->in_len == h->max_request)
        ok = respond(h, c, 431, "request head too large\n", false);
    if (!ok) /* out of memory for the response: the client sees the close */
        conn_close(c);
}

static void on_writable(conn *c)
{
    ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->out_pos += (size_t)n;
    if (c->out_pos < c->out_len)
        return;
    free(c->out);
    c->out = NULL;
    shutdown(c->fd, SHUT_WR);
    c->state = C_DRAIN;
}

/* A slot for a new connection: a free one, else the oldest still reading
 * its request (closed to make room), else none. */
static conn *slot_for_new(gope_prom_http_t *h)
{
    conn *oldest = NULL;
    for (size_t i = 0; i < h->max_conns; i++) {
        conn *c = &h->conns[i];
        if (c->state == C_FREE)
            return c;
        if (c->state == C_READ && (!oldest || c->deadline < oldest->deadline))
            oldest = c;
    }
    if (oldest)
        conn_close(oldest);
    return oldest;
}

static void accept_all(gope_prom_http_t *h, double now)
{
    for (;;) {
        int fd = accept(h->listen_fd, NULL, NULL);
        if (fd < 0) {
            /* out of descriptors, the connection stays queued and the socket
             * readable: pause rather than spin on it */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                h->accept_after = now + ACCEPT_BACKOFF_MS;
            return; /* EAGAIN: no more; others concern that connection only */
        }
        conn *c = set_flags(fd) ? slot_for_new(h) : NULL;
        if (!c) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
            (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL); /* best effort */
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = C_READ;
        c->deadline = now + h->timeout_ms;
    }
}

/* ---------------------------------------------------------------- loop */

static void *serve(void *arg)
{
    gope_prom_http_t *h = arg;
    for (;;) {
        double now = mono_ms(), next = -1;
        bool accepting = now >= h->accept_after;
        if (!accepting)
            next = h->accept_after;
        h->pfd[0] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
        h->pfd[1] = (struct pollfd){.fd = accepting ? h->listen_fd : -1, .events = POLLIN};
        size_t n = 2;
        for (size_t i = 0; i < h->max_conns; i++) {
            conn *c = &h->conns[i];
            if (c->state == C_FREE)
                continue;
            if (now >= c->deadline) { /* too slow: its time is up */
                conn_close(c);
                continue;
            }
            if (next < 0 || c->deadline < next)
                next = c->deadline;
            h->pfd[n] = (struct pollfd){.fd = c->fd,
                                        .events = c->state == C_WRITE ? POLLOUT : POLLIN};
            h->pfd_conn[n - 2] = i;
            n++;
        }
        int timeout = next < 0 ? -1 : (int)(next - now) + 1;
        if (poll(h->pfd, (nfds_t)n, timeout) < 0)
            continue; /* EINTR; nothing else can fail with valid arguments */
        if (h->pfd[0].revents)
            return NULL; /* gope_prom_http_stop() */
        for (size_t k = 2; k < n; k++) {
            conn *c = &h->conns[h->pfd_conn[k - 2]];
            short ev = h->pfd[k].revents;
            if (!ev || c->state == C_FREE)
                continue;
            if (c->state == C_WRITE)
                on_writable(c);
            else
                on_readable(h, c);
        }
        if (h->pfd[1].revents)
            accept_all(h, mono_ms());
    }
}

/* ------------------------------------------------------------ listening */

/* "HOST:PORT", "[V6]:PORT", ":PORT", "PORT" into host (NULL: 127.0.0.1) and
 * port text. */
static bool split_addr(const char *addr, char *host, size_t host_size, const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon) {
        snprintf(host, host_size, "127.0.0.1");
        *port = addr;
    } else if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close + 1 != colon || (size_t)(close - addr - 1) >= host_size)
            return false;
        snprintf(host, host_size, "%.*s", (int)(close - addr - 1), addr + 1);
        *port = colon + 1;
    } else {
        if ((size_t)(colon - addr) >= host_size || memchr(addr, ':', (size_t)(colon - addr)))
            return false; /* a bare IPv6 address needs brackets */
        snprintf(host, host_size, "%.*s", (int)(colon - addr), addr);
        if (!*host)
            snprintf(host, host_size, "127.0.0.1");
        *port = colon + 1;
    }
    size_t digits = strspn(*port, "0123456789");
    return digits > 0 && digits <= 5 && !(*port)[digits] && atoi(*port) <= 65535;
}

static gope_status listen_on(gope_prom_http_t *h, const char *addr, gope_err *err)
{
    char host[256];
    const char *port;
    if (!split_addr(addr, host, sizeof host, &port))
        return gope_err_set(err, GOPE_ERR_USAGE,
                            "metrics address '%s': expected HOST:PORT, [V6]:PORT or PORT", addr);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc)
        return gope_err_set(err, GOPE_ERR_USAGE, "metrics address '%s': %s", addr,
                            gai_strerror(rc));
    int why = 0;
    for (struct addrinfo *a = res; a && h->listen_fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol), one = 1;
        if (fd >= 0 && set_flags(fd) &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            h->listen_fd = fd;
            break;
        }
        why = errno;
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(res);
    if (h->listen_fd < 0)
        return gope_err_set(err, GOPE_ERR_USAGE, "metrics address '%s': cannot listen: %s",
                            addr, strerror(why));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(h->listen_fd, (struct sockaddr *)&ss, &sl);
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    return GOPE_OK;
}

/* ------------------------------------------------------------------ API */

static gope_status alloc_conns(gope_prom_http_t *h, gope_err *err)
{
    h->conns = calloc(h->max_conns, sizeof *h->conns);
    h->pfd = calloc(h->max_conns + 2, sizeof *h->pfd);
    h->pfd_conn = calloc(h->max_conns, sizeof *h->pfd_conn);
    if (!h->conns || !h->pfd || !h->pfd_conn)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics server: out of memory");
    for (size_t i = 0; i < h->max_conns; i++) {
        h->conns[i].fd = -1;
        if (!(h->conns[i].in = malloc(h->max_request)))
            return gope_err_set(err, GOPE_ERR_NOMEM, "metrics server: out of memory");
    }
    return GOPE_OK;
}

gope_status gope_prom_http_start(const gope_prom_http_conf *conf,
                                    gope_prom_http_t **out, gope_err *err)
{
    gope_prom_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return gope_err_set(err, GOPE_ERR_NOMEM, "metrics server: out of memory");
    h->listen_fd = h->wake[0] = h->wake[1] = -1;
    h->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->max_request = conf->max_request ? conf->max_request : DEFAULT_MAX_REQUEST;
    h->max_conns = conf->max_conns ? conf->max_conns : DEFAULT_MAX_CONNS;
    pthread_mutex_init(&h->mu, NULL);
    gope_status st = alloc_conns(h, err);
    if (st == GOPE_OK)
        st = listen_on(h, conf->addr, err);
    if (st == GOPE_OK && (pipe(h->wake) != 0 || !set_flags(h->wake[0]) || !set_flags(h->wake[1])))
        st = gope_err_set(err, GOPE_ERR_IO, "metrics server: pipe: %s", strerror(errno));
    if (st == GOPE_OK && pthread_create(&h->thread, NULL, serve, h) != 0)
        st = gope_err_set(err, GOPE_ERR_IO, "metrics server: cannot start its thread");
    if (st != GOPE_OK) {
        gope_prom_http_stop(h);
        return st;
    }
    h->thread_started = true;
    *out = h;
    return GOPE_OK;
}

int gope_prom_http_port(const gope_prom_http_t *h)
{
    return h->port;
}

gope_status gope_prom_http_publish(gope_prom_http_t *h, const char *text, size_t len,
                                      gope_err *err)
{
    if (len > h->spare_cap) {
        char *s = realloc(h->spare, len);
        if (!s)
            return gope_err_set(err, GOPE_ERR_NOMEM, "metrics server: out of memory");
        h->spare = s;
        h->spare_cap = len;
    }
    if (len)
        memcpy(h->spare, text, len);
    pthread_mutex_lock(&h->mu);
    char *old = h->text;
    size_t old_cap = h->text_cap;
    h->text = h->spare;
    h->text_cap = h->spare_cap;
    h->text_len = len;
    h->have_text = true;
    pthread_mutex_unlock(&h->mu);
    h->spare = old;
    h->spare_cap = old_cap;
    return GOPE_OK;
}

void gope_prom_http_stop(gope_prom_http_t *h)
{
    if (!h)
        return;
    if (h->thread_started) {
        (void)!write(h->wake[1], "x", 1); /* the pipe is empty: this cannot block or fail */
        pthread_join(h->thread, NULL);
    }
    for (size_t i = 0; h->conns && i < h->max_conns; i++) {
        if (h->conns[i].state != C_FREE)
            conn_close(&h->conns[i]);
        free(h->conns[i].in);
    }
    for (int i = 0; i < 2; i++)
        if (h->wake[i] >= 0)
            close(h->wake[i]);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    pthread_mutex_destroy(&h->mu);
    free(h->conns);
    free(h->pfd);
    free(h->pfd_conn);
    free(h->text);
    free(h->spare);
    free(h);
}
