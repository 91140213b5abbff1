/*
 * tunnelbench: load tool for the pyrama proxy benchmark (CONNECT and SOCKS5 tunnels).
 *
 *   tunnelbench source PORT
 *       bulk origin on 127.0.0.1:PORT (0 picks one); prints "listening 127.0.0.1:<port>".
 *       Each connection sends a decimal byte count and '\n'; the origin answers with that
 *       many bytes, then closes.
 *
 *   tunnelbench bulk PROXYPORT MODE TARGETPORT BYTES
 *       opens one tunnel through the proxy on 127.0.0.1:PROXYPORT to 127.0.0.1:TARGETPORT
 *       (MODE: http = HTTP CONNECT, socks5 = SOCKS5 no-auth CONNECT, direct = no proxy),
 *       asks the origin for BYTES and reads them all. Prints
 *       {"bytes": n, "seconds": s, "gbps": g}.
 *
 *   tunnelbench rate PROXYPORT MODE TARGETPORT CONNECTIONS CONCURRENCY MSGSIZE
 *       CONCURRENCY threads open CONNECTIONS tunnels in total to an echo origin; each
 *       tunnel is set up, carries MSGSIZE bytes there and back, and is closed. Prints
 *       {"connections": n, "errors": e, "seconds": s, "rate": n_ok/s}.
 *
 * Built by benchmarks/proxy.py with `cc -O2 -pthread`. Loopback only, on purpose.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_DIRECT, MODE_HTTP, MODE_SOCKS5 };

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_exact(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void set_timeout(int fd, int seconds) {
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* ---------------------------------------------------------------- source */

static char *chunk;
#define CHUNK (1 << 20)

static void *serve_one(void *arg) {
    int fd = (int)(long)arg;
    char req[32];
    size_t got = 0;
    set_timeout(fd, 60);
    while (got < sizeof req - 1) {
        ssize_t r = recv(fd, req + got, 1, 0);
        if (r <= 0) goto out;
        if (req[got] == '\n') break;
        got++;
    }
    req[got] = 0;
    long long left = atoll(req);
    while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        if (write_all(fd, chunk, n) < 0) goto out;
        left -= (long long)n;
    }
    shutdown(fd, SHUT_WR);
    while (recv(fd, req, sizeof req, 0) > 0) {
    }
out:
    close(fd);
    return NULL;
}

static int run_source(int port) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t len = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &len);
    chunk = malloc(CHUNK);
    for (int i = 0; i < CHUNK; i++) chunk[i] = (char)('a' + i % 26);
    printf("listening 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve_one, (void *)(long)fd) != 0) close(fd);
        pthread_attr_destroy(&attr);
    }
}

/* ---------------------------------------------------------------- client */

/* Open a tunnel to 127.0.0.1:target; returns the fd or -1. Bytes the proxy sent after its
 * reply would be lost, so the reply head is consumed exactly. */
static int open_tunnel(int proxy_port, enum mode mode, int target) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeout(fd, 30);
    struct sockaddr_in a = loopback(mode == MODE_DIRECT ? target : proxy_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) goto fail;
    if (mode == MODE_HTTP) {
        char req[128];
        int n = snprintf(req, sizeof req,
                         "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", target,
                         target);
        if (write_all(fd, req, (size_t)n) < 0) goto fail;
        /* peek, then consume exactly the reply head: never read past it, two calls
         * per reply in the usual case instead of one per byte */
        char buf[1024];
        size_t got = 0;
        for (;;) {
            ssize_t r = recv(fd, buf + got, sizeof buf - got, MSG_PEEK);
            if (r <= 0) goto fail;
            size_t end = 0;
            for (size_t i = got >= 3 ? got - 3 : 0; i + 4 <= got + (size_t)r; i++) {
                if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
                    end = i + 4;
                    break;
                }
            }
            size_t take = end ? end - got : (size_t)r;
            if (read_exact(fd, buf + got, take) < 0) goto fail;
            got += take;
            if (end) break;
            if (got == sizeof buf) goto fail;
        }
        if (got < 12 || memcmp(buf + 8, " 200", 4) != 0) goto fail;
    } else if (mode == MODE_SOCKS5) {
        unsigned char hello[3] = {5, 1, 0};
        unsigned char req[10] = {5, 1, 0, 1, 127, 0, 0, 1, (unsigned char)(target >> 8),
                                 (unsigned char)(target & 0xff)};
        unsigned char rep[10];
        /* greeting, then request: one round trip each, as most clients do */
        if (write_all(fd, (char *)hello, 3) < 0) goto fail;
        if (read_exact(fd, (char *)rep, 2) < 0 || rep[0] != 5 || rep[1] != 0) goto fail;
        if (write_all(fd, (char *)req, 10) < 0) goto fail;
        if (read_exact(fd, (char *)rep, 4) < 0 || rep[1] != 0) goto fail;
        size_t rest = rep[3] == 1 ? 6 : rep[3] == 4 ? 18 : 0;
        if (rest == 0) {
            unsigned char l;
            if (read_exact(fd, (char *)&l, 1) < 0) goto fail;
            rest = (size_t)l + 2;
        }
        char skip[300];
        if (read_exact(fd, skip, rest) < 0) goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int run_bulk(int proxy_port, enum mode mode, int target, long long total) {
    double t0 = now();
    int fd = open_tunnel(proxy_port, mode, target);
    if (fd < 0) {
        fprintf(stderr, "tunnel setup failed\n");
        return 1;
    }
    char req[32];
    int n = snprintf(req, sizeof req, "%lld\n", total);
    if (write_all(fd, req, (size_t)n) < 0) return 1;
    size_t cap = 4 << 20;
    char *buf = malloc(cap);
    long long got = 0;
    while (got < total) {
        ssize_t r = recv(fd, buf, cap, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += r;
    }
    double secs = now() - t0;
    close(fd);
    if (got != total) {
        fprintf(stderr, "short read: %lld of %lld bytes\n", got, total);
        return 1;
    }
    printf("{\"bytes\": %lld, \"seconds\": %.6f, \"gbps\": %.4f}\n", got, secs,
           (double)got * 8 / secs / 1e9);
    return 0;
}

static int r_proxy, r_target, r_msgsize;
static enum mode r_mode;
static atomic_int r_next, r_total, r_ok, r_errors;

static void *rate_worker(void *arg) {
    (void)arg;
    char *msg = malloc((size_t)r_msgsize), *back = malloc((size_t)r_msgsize);
    memset(msg, 'x', (size_t)r_msgsize);
    while (atomic_fetch_add(&r_next, 1) < r_total) {
        int fd = open_tunnel(r_proxy, r_mode, r_target);
        if (fd < 0) {
            atomic_fetch_add(&r_errors, 1);
            continue;
        }
        if (write_all(fd, msg, (size_t)r_msgsize) < 0 ||
            read_exact(fd, back, (size_t)r_msgsize) < 0 || memcmp(msg, back, (size_t)r_msgsize)) {
            atomic_fetch_add(&r_errors, 1);
        } else {
            atomic_fetch_add(&r_ok, 1);
        }
        close(fd);
    }
    free(msg);
    free(back);
    return NULL;
}

static int run_rate(int proxy_port, enum mode mode, int target, int total, int conc, int msgsize) {
    r_proxy = proxy_port;
    r_mode = mode;
    r_target = target;
    r_msgsize = msgsize;
    atomic_store(&r_total, total);
    pthread_t *ts = calloc((size_t)conc, sizeof *ts);
    double t0 = now();
    for (int i = 0; i < conc; i++) pthread_create(&ts[i], NULL, rate_worker, NULL);
    for (int i = 0; i < conc; i++) pthread_join(ts[i], NULL);
    double secs = now() - t0;
    int ok = atomic_load(&r_ok);
    printf("{\"connections\": %d, \"errors\": %d, \"seconds\": %.6f, \"rate\": %.2f}\n", ok,
           atomic_load(&r_errors), secs, secs > 0 ? ok / secs : 0.0);
    return 0;
}

static int parse_mode(const char *s, enum mode *out) {
    if (strcmp(s, "http") == 0) *out = MODE_HTTP;
    else if (strcmp(s, "socks5") == 0) *out = MODE_SOCKS5;
    else if (strcmp(s, "direct") == 0) *out = MODE_DIRECT;
    else return -1;
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    enum mode mode;
    if (argc == 3 && strcmp(argv[1], "source") == 0) return run_source(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "bulk") == 0 && parse_mode(argv[3], &mode) == 0)
        return run_bulk(atoi(argv[2]), mode, atoi(argv[4]), atoll(argv[5]));
    if (argc == 8 && strcmp(argv[1], "rate") == 0 && parse_mode(argv[3], &mode) == 0)
        return run_rate(atoi(argv[2]), mode, atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                        atoi(argv[7]));
    fprintf(stderr, "usage: see the comment at the top of tunnelbench.c\n");
    return 2;
}
