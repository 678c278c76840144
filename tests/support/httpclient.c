/* httpclient.c — the tests' HTTP/1.0 client (see httpclient.h). */
#include "httpclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int th_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

int th_send(int fd, const char *req, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = send(fd, req + done, len - done, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

char *th_read_all(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (!buf || poll(&p, 1, TH_WAIT_MS) != 1)
            break;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0)
            break;
        if (n == 0) {
            close(fd);
            buf[len] = '\0';
            return buf;
        }
        len += (size_t)n;
    }
    close(fd);
    free(buf);
    return NULL;
}

char *th_raw(int port, const char *req, size_t len, int *status)
{
    *status = -1;
    int fd = th_connect(port);
    if (fd < 0)
        return NULL;
    if (th_send(fd, req, len) != 0) {
        /* the server may answer (431) and close before taking everything */
        shutdown(fd, SHUT_WR);
    }
    char *resp = th_read_all(fd);
    int code;
    if (resp && sscanf(resp, "HTTP/1.%*d %d", &code) == 1)
        *status = code;
    return resp;
}

char *th_get(int port, const char *path, int *status)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    char *resp = th_raw(port, req, (size_t)n, status);
    const char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
    if (!body) {
        free(resp);
        return NULL;
    }
    memmove(resp, body + 4, strlen(body + 4) + 1);
    return resp;
}

int th_peer_closes(int fd)
{
    char c;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int closed = poll(&p, 1, TH_WAIT_MS) == 1 && recv(fd, &c, 1, 0) == 0;
    close(fd);
    return closed;
}
