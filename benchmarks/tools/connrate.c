/*
 * connrate: a tiny connection-rate load tool for the pyrama benchmark harness.
 *
 *   connrate sink PORT
 *       epoll echo server on 127.0.0.1:PORT (PORT 0 picks one); prints
 *       "listening 127.0.0.1:<port>" once bound, echoes every byte, closes on EOF.
 *
 *   connrate client PORT CONNECTIONS CONCURRENCY MSGSIZE
 *       CONCURRENCY threads open CONNECTIONS short connections in total to 127.0.0.1:PORT;
 *       each connects, sends MSGSIZE bytes, reads them back, closes. Prints one JSON object:
 *       {"connections": n, "errors": e, "seconds": s, "rate": n_ok/s}.
 *
 * Built by benchmarks/_tools.py with `cc -O2 -pthread`. Loopback only, on purpose.
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* ---------------------------------------------------------------- sink */

static int write_all(int fd, const char *p, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, (size_t)n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { usleep(50); continue; }
            return -1;
        }
        p += w;
        n -= w;
    }
    return 0;
}

static int run_sink(int port) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &alen);
    printf("listening 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    static char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                if (write_all(fd, buf, r) == 0) continue;
            } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            close(fd);
        }
    }
}

/* -------------------------------------------------------------- client */

struct client_cfg {
    int port;
    long total;
    int msgsize;
    atomic_long next;
    atomic_long ok;
    atomic_long errors;
};

static int one_connection(struct client_cfg *cfg, char *out, char *in) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = loopback(cfg->port);
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write_all(fd, out, cfg->msgsize) == 0) {
        int got = 0;
        while (got < cfg->msgsize) {
            ssize_t r = read(fd, in + got, (size_t)(cfg->msgsize - got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (int)r;
        }
        if (got == cfg->msgsize && memcmp(in, out, (size_t)got) == 0) rc = 0;
    }
    close(fd);
    return rc;
}

static void *client_thread(void *arg) {
    struct client_cfg *cfg = arg;
    char *out = malloc((size_t)cfg->msgsize);
    char *in = malloc((size_t)cfg->msgsize);
    for (int i = 0; i < cfg->msgsize; i++) out[i] = (char)('a' + i % 26);
    while (atomic_fetch_add(&cfg->next, 1) < cfg->total) {
        if (one_connection(cfg, out, in) == 0)
            atomic_fetch_add(&cfg->ok, 1);
        else
            atomic_fetch_add(&cfg->errors, 1);
    }
    free(out);
    free(in);
    return NULL;
}

static int run_client(int port, long total, int conc, int msgsize) {
    struct client_cfg cfg = {.port = port, .total = total, .msgsize = msgsize};
    atomic_init(&cfg.next, 0);
    atomic_init(&cfg.ok, 0);
    atomic_init(&cfg.errors, 0);
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < conc; i++) pthread_create(&th[i], NULL, client_thread, &cfg);
    for (int i = 0; i < conc; i++) pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    long ok = atomic_load(&cfg.ok);
    printf("{\"connections\": %ld, \"errors\": %ld, \"seconds\": %.6f, \"rate\": %.1f}\n", ok,
           atomic_load(&cfg.errors), secs, secs > 0 ? (double)ok / secs : 0.0);
    free(th);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "sink") == 0) return run_sink(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "client") == 0)
        return run_client(atoi(argv[2]), atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr,
            "usage: connrate sink PORT\n"
            "       connrate client PORT CONNECTIONS CONCURRENCY MSGSIZE\n");
    return 2;
}
