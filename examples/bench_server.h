/* bench_server.h: what the benchmark programs share: error exit, a monotonic clock, and the bundled
 * test server (node tests/server/server.js with socket.io's default heartbeat) started in a child
 * process, its "listening" line read, its output drained so it never blocks.
 * Define BENCH_NAME (the program's name, for error messages) before including it. */
#ifndef BENCH_SERVER_H
#define BENCH_SERVER_H

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_server.h"
#endif

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline void die(const char *what, const char *detail) {
    fprintf(stderr, BENCH_NAME ": %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------------
 * The server: node tests/server/server.js; read its "listening" line, then discard its output. */
static pid_t server_pid;
static int server_stdin = -1;
static FILE *server_out;
static pthread_t drain_thread;

static inline void *drain_main(void *arg) {
    (void)arg;
    char buf[4096];
    while (fread(buf, 1, sizeof buf, server_out) > 0) {
    }
    return NULL;
}

static inline int server_start(void) {
    int in[2], out[2];
    if (pipe(in) || pipe(out)) die("pipe", strerror(errno));
    const char *node = getenv("NODE") && *getenv("NODE") ? getenv("NODE") : "node";
    server_pid = fork();
    if (server_pid < 0) die("fork", strerror(errno));
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execlp(node, node, "tests/server/server.js", "--ping-interval", "25000", "--ping-timeout", "20000",
               (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    server_out = fdopen(out[0], "r");
    char line[512];
    int port = 0;
    while (!port && fgets(line, sizeof line, server_out)) {
        const char *p = strstr(line, "\"port\":");
        if (strstr(line, "\"listening\"") && p) port = atoi(p + 7);
    }
    if (!port) die("the test server did not start (run from the repo root; npm ci in tests/server)", NULL);
    pthread_create(&drain_thread, NULL, drain_main, NULL);
    return port;
}

static inline void server_command(const char *line) {
    size_t n = strlen(line);
    if (write(server_stdin, line, n) != (ssize_t)n || write(server_stdin, "\n", 1) != 1) die("server command", line);
}

static inline void server_stop(void) {
    close(server_stdin); /* closing stdin stops the server */
    waitpid(server_pid, NULL, 0);
    pthread_join(drain_thread, NULL);
    fclose(server_out);
}

#endif /* BENCH_SERVER_H */
