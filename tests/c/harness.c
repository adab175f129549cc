/* harness.c: see harness.h. C11 + POSIX (+ Linux prctl). */
#define _GNU_SOURCE
#define RT_HARNESS_IMPLEMENTATION
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* =================================================================================================
 * Small utilities */

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "harness: out of memory\n");
        _exit(3);
    }
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s);
    char *p = xcalloc(1, n + 1);
    memcpy(p, s, n);
    return p;
}

static void copy_str(char *dst, size_t len, const char *src) {
    if (!dst || len == 0) return;
    if (!src) src = "";
    size_t n = strlen(src);
    if (n >= len) n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int64_t rt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rt_sleep_ms(int ms) {
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* absolute CLOCK_MONOTONIC deadline for pthread_cond_timedwait on a monotonic condvar */
static struct timespec deadline_after(int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms < 0) timeout_ms = 0;
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void cond_init_monotonic(pthread_cond_t *c) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* =================================================================================================
 * Server registry (so that a failing test never leaves a node process behind) */

struct rt_server {
    /* process */
    pid_t pid;          /* 0 when not running */
    int in_fd;          /* write end of the child's stdin, -1 when closed */
    int out_fd;         /* read end of the child's stdout, owned by the reader thread */
    pthread_t reader;
    bool reader_running;
    bool frozen;
    char **argv;        /* NULL-terminated: node, script, args..., (--port N appended on restart) */
    int argc;
    int port;
    /* queue of output lines */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **lines;
    size_t nlines, cap;
    bool eof;           /* the current process's stdout reached EOF */
    int stale_done;     /* answers still due to commands that timed out (skipped when they come) */
    unsigned generation;
};

#define MAX_SERVERS 16
static pthread_mutex_t g_servers_mu = PTHREAD_MUTEX_INITIALIZER;
static rt_server *g_servers[MAX_SERVERS];
static bool g_atexit_installed;

static void kill_all_servers(void) {
    /* best effort, also called from the failure path; no locking beyond a trylock */
    bool locked = pthread_mutex_trylock(&g_servers_mu) == 0;
    for (int i = 0; i < MAX_SERVERS; i++) {
        rt_server *s = g_servers[i];
        if (s && s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = 0;
        }
    }
    if (locked) pthread_mutex_unlock(&g_servers_mu);
}

static void register_server(rt_server *s) {
    pthread_mutex_lock(&g_servers_mu);
    if (!g_atexit_installed) {
        atexit(kill_all_servers);
        g_atexit_installed = true;
    }
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (!g_servers[i]) {
            g_servers[i] = s;
            pthread_mutex_unlock(&g_servers_mu);
            return;
        }
    }
    pthread_mutex_unlock(&g_servers_mu);
    fprintf(stderr, "harness: too many servers\n");
    _exit(3);
}

static void unregister_server(rt_server *s) {
    pthread_mutex_lock(&g_servers_mu);
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_servers[i] == s) g_servers[i] = NULL;
    pthread_mutex_unlock(&g_servers_mu);
}

/* =================================================================================================
 * Assertions and framing */

static const char *g_test_name = "test";
static atomic_int g_failing;

void rt_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
    if (atomic_exchange(&g_failing, 1)) {
        /* another thread is already failing: let it finish */
        for (;;) pause();
    }
    fflush(stdout);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stdout, "FAIL %s:%d: %s: %s\n", file, line, expr, msg);
    fprintf(stdout, "FAIL %s\n", g_test_name);
    fflush(stdout);
    kill_all_servers();
    /* _exit: do not run atexit handlers / destructors while library threads may still be running */
    _exit(1);
}

void rt_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  - ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

static int g_watchdog_s;
static void *watchdog_main(void *arg) {
    (void)arg;
    rt_sleep_ms(g_watchdog_s * 1000);
    rt_fail(__FILE__, __LINE__, "watchdog", "test did not finish within %d s", g_watchdog_s);
}

void rt_test_begin(const char *name, int timeout_s) {
    g_test_name = name;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    g_watchdog_s = timeout_s > 0 ? timeout_s : 120;
    pthread_t t;
    if (pthread_create(&t, NULL, watchdog_main, NULL) == 0) pthread_detach(t);
    printf("== %s\n", name);
    fflush(stdout);
}

void rt_test_pass(void) {
    printf("PASS %s\n", g_test_name);
    fflush(stdout);
}

/* =================================================================================================
 * JSON helpers: a minimal scanner over valid JSON text */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* p at '"'; returns the char after the closing quote, or NULL */
static const char *skip_string(const char *p) {
    if (*p != '"') return NULL;
    p++;
    while (*p && *p != '"') {
        if (*p == '\\') {
            p++;
            if (!*p) return NULL;
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

/* p at the start of a value; returns the char after it, or NULL */
static const char *skip_value(const char *p) {
    p = skip_ws(p);
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                p = skip_string(p);
                if (!p) return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') {
                depth--;
                if (depth == 0) return p + 1;
            }
            p++;
        }
        return NULL;
    }
    /* number, true, false, null */
    const char *start = p;
    while (*p && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p)) p++;
    return p == start ? NULL : p;
}

/* decode the JSON string at p (at '"') into out */
static void decode_string(const char *p, char *out, size_t len) {
    size_t o = 0;
    p++;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            char e = *p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4 && isxdigit((unsigned char)*p); i++, p++)
                    v = v * 16 + (unsigned)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
                c = v < 0x80 ? (char)v : '?'; /* enough for tests */
                break;
            }
            default: c = e; break;
            }
        }
        if (out && o + 1 < len) out[o++] = c;
    }
    if (out && len) out[o] = '\0';
}

/* find top-level key in object; returns pointer to its value, or NULL */
static const char *find_key(const char *json, const char *key) {
    if (!json) return NULL;
    const char *p = skip_ws(json);
    if (*p != '{') return NULL;
    p = skip_ws(p + 1);
    if (*p == '}') return NULL;
    size_t klen = strlen(key);
    while (*p == '"') {
        const char *kstart = p + 1;
        const char *kend = skip_string(p);
        if (!kend) return NULL;
        bool match = (size_t)(kend - 1 - kstart) == klen && memcmp(kstart, key, klen) == 0;
        p = skip_ws(kend);
        if (*p != ':') return NULL;
        p = skip_ws(p + 1);
        if (match) return p;
        p = skip_value(p);
        if (!p) return NULL;
        p = skip_ws(p);
        if (*p != ',') return NULL;
        p = skip_ws(p + 1);
    }
    return NULL;
}

int rt_json_get_string(const char *json, const char *key, char *out, size_t len) {
    const char *v = find_key(json, key);
    if (!v || *v != '"') return 0;
    decode_string(v, out, len);
    return 1;
}

int rt_json_get_number(const char *json, const char *key, double *out) {
    const char *v = find_key(json, key);
    if (!v || !(*v == '-' || isdigit((unsigned char)*v))) return 0;
    char *end;
    double d = strtod(v, &end);
    if (end == v) return 0;
    if (out) *out = d;
    return 1;
}

int rt_json_get_raw(const char *json, const char *key, char *out, size_t len) {
    const char *v = find_key(json, key);
    if (!v) return 0;
    const char *e = skip_value(v);
    if (!e) return 0;
    size_t n = (size_t)(e - v);
    if (out && len) {
        if (n >= len) n = len - 1;
        memcpy(out, v, n);
        out[n] = '\0';
    }
    return 1;
}

int rt_json_member_count(const char *json) {
    if (!json) return -1;
    const char *p = skip_ws(json);
    if (*p != '{') return -1;
    p = skip_ws(p + 1);
    if (*p == '}') return 0;
    int n = 0;
    while (*p == '"') {
        p = skip_string(p);
        if (!p) return -1;
        p = skip_ws(p);
        if (*p != ':') return -1;
        p = skip_value(p + 1);
        if (!p) return -1;
        n++;
        p = skip_ws(p);
        if (*p == '}') return n;
        if (*p != ',') return -1;
        p = skip_ws(p + 1);
    }
    return -1;
}

/* =================================================================================================
 * Server process control */

static bool verbose(void) {
    const char *v = getenv("RT_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

static void queue_push(rt_server *s, char *line) {
    /* caller holds s->mu */
    if (s->nlines == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **n = realloc(s->lines, cap * sizeof *n);
        if (!n) {
            fprintf(stderr, "harness: out of memory\n");
            _exit(3);
        }
        s->lines = n;
        s->cap = cap;
    }
    s->lines[s->nlines++] = line;
}

static void queue_remove(rt_server *s, size_t i) {
    free(s->lines[i]);
    memmove(&s->lines[i], &s->lines[i + 1], (s->nlines - i - 1) * sizeof *s->lines);
    s->nlines--;
}

static void *reader_main(void *arg) {
    rt_server *s = arg;
    char buf[4096];
    char *acc = NULL;
    size_t acc_len = 0;
    for (;;) {
        ssize_t n = read(s->out_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        char *grown = realloc(acc, acc_len + (size_t)n + 1);
        if (!grown) _exit(3);
        acc = grown;
        memcpy(acc + acc_len, buf, (size_t)n);
        acc_len += (size_t)n;
        acc[acc_len] = '\0';
        char *start = acc;
        char *nl;
        while ((nl = memchr(start, '\n', acc_len - (size_t)(start - acc))) != NULL) {
            *nl = '\0';
            if (verbose()) fprintf(stderr, "[server %d] %s\n", (int)s->pid, start);
            if (*start == '{') {
                pthread_mutex_lock(&s->mu);
                queue_push(s, xstrdup(start));
                pthread_cond_broadcast(&s->cv);
                pthread_mutex_unlock(&s->mu);
            } else if (*start) {
                fprintf(stderr, "[server] %s\n", start);
            }
            start = nl + 1;
        }
        size_t rest = acc_len - (size_t)(start - acc);
        memmove(acc, start, rest);
        acc_len = rest;
        acc[acc_len] = '\0';
    }
    free(acc);
    pthread_mutex_lock(&s->mu);
    s->eof = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static const char *node_path(void) {
    const char *n = getenv("NODE");
    return n && *n ? n : "node";
}

static const char *server_script(void) {
    const char *p = getenv("REALTIME_TEST_SERVER");
    return p && *p ? p : "tests/server/server.js";
}

/* spawn the process for s->argv; does not wait for "listening" */
static int spawn_process(rt_server *s) {
    int in_pipe[2], out_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0) return -1;
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        return -1;
    }
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -1;
    }
    if (pid == 0) {
        /* child: async-signal-safe calls only */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in_pipe[0], 0) < 0 || dup2(out_pipe[1], 1) < 0) _exit(127);
        execvp(s->argv[0], s->argv);
        static const char msg[] = "harness: cannot exec node (set NODE=/path/to/node)\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    s->pid = pid;
    s->stale_done = 0;
    s->in_fd = in_pipe[1];
    s->out_fd = out_pipe[0];
    s->frozen = false;
    pthread_mutex_lock(&s->mu);
    s->eof = false;
    s->generation++;
    pthread_mutex_unlock(&s->mu);
    if (pthread_create(&s->reader, NULL, reader_main, s) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s->pid = 0;
        return -1;
    }
    s->reader_running = true;
    return 0;
}

/* stop the reader thread and close the pipes (after the process died) */
static void stop_reader(rt_server *s) {
    if (s->in_fd >= 0) {
        close(s->in_fd);
        s->in_fd = -1;
    }
    if (s->reader_running) {
        pthread_join(s->reader, NULL);
        s->reader_running = false;
    }
    if (s->out_fd >= 0) {
        close(s->out_fd);
        s->out_fd = -1;
    }
}

/* wait for "listening" (returns port) or "error"/EOF (returns -1; *in_use set on EADDRINUSE) */
static int wait_listening(rt_server *s, int timeout_ms, bool *in_use) {
    struct timespec dl = deadline_after(timeout_ms);
    *in_use = false;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (size_t i = 0; i < s->nlines; i++) {
            char ev[64];
            if (!rt_json_get_string(s->lines[i], "event", ev, sizeof ev)) continue;
            if (strcmp(ev, "listening") == 0) {
                double port = 0;
                rt_json_get_number(s->lines[i], "port", &port);
                queue_remove(s, i);
                pthread_mutex_unlock(&s->mu);
                return (int)port;
            }
            if (strcmp(ev, "error") == 0) {
                char code[64] = "";
                rt_json_get_string(s->lines[i], "code", code, sizeof code);
                *in_use = strcmp(code, "EADDRINUSE") == 0;
                queue_remove(s, i);
                pthread_mutex_unlock(&s->mu);
                return -1;
            }
        }
        if (s->eof) break;
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&s->mu);
    return -1;
}

static void reap(rt_server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    stop_reader(s);
}

rt_server *rt_server_start(const char *extra_args) {
    signal(SIGPIPE, SIG_IGN);
    const char *script = server_script();
    struct stat st;
    if (stat(script, &st) != 0)
        FAIL("test server script %s not found (run from the repo root or set REALTIME_TEST_SERVER)", script);

    rt_server *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    cond_init_monotonic(&s->cv);
    s->in_fd = s->out_fd = -1;

    /* argv: node script extra... [--ping-interval I --ping-timeout T] [--port N] NULL */
    char *args = xstrdup(extra_args ? extra_args : "");
    size_t max = 9 + strlen(args);
    s->argv = xcalloc(max + 3, sizeof *s->argv);
    s->argv[s->argc++] = xstrdup(node_path());
    /* A deeper JS stack than V8's ~1 MB default (well inside the 8 MB thread stack), so that the server
     * can JSON.stringify the 10,000-deep arguments of the fidelity tests. */
    s->argv[s->argc++] = xstrdup("--stack-size=4000");
    s->argv[s->argc++] = xstrdup(script);
    for (char *save = NULL, *tok = strtok_r(args, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
        s->argv[s->argc++] = xstrdup(tok);
    free(args);
    /* RT_SERVER_HEARTBEAT=INTERVAL:TIMEOUT (the valgrind runs): a slower heartbeat than server.js's 300 + 200 ms
     * for a server whose test does not choose its own, so that a client slowed down 20-fold by valgrind is
     * not dropped with "ping timeout" in the middle of a test that is not about the heartbeat. */
    const char *heartbeat = getenv("RT_SERVER_HEARTBEAT");
    unsigned interval, timeout;
    bool other_mode = extra_args && (strncmp(extra_args, "--peer", 6) == 0 || strncmp(extra_args, "--agnost", 8) == 0 ||
                                     strncmp(extra_args, "--redis", 7) == 0);
    if (heartbeat && !other_mode && sscanf(heartbeat, "%u:%u", &interval, &timeout) == 2 &&
        !(extra_args && (strstr(extra_args, "--ping-interval") || strstr(extra_args, "--ping-timeout")))) {
        char value[16];
        s->argv[s->argc++] = xstrdup("--ping-interval");
        snprintf(value, sizeof value, "%u", interval);
        s->argv[s->argc++] = xstrdup(value);
        s->argv[s->argc++] = xstrdup("--ping-timeout");
        snprintf(value, sizeof value, "%u", timeout);
        s->argv[s->argc++] = xstrdup(value);
    }

    register_server(s);
    if (spawn_process(s) != 0) FAIL("cannot start the test server: %s", strerror(errno));
    bool in_use;
    int port = wait_listening(s, 15000, &in_use);
    if (port <= 0) {
        reap(s);
        FAIL("test server did not start (%s %s %s)", node_path(), script, extra_args ? extra_args : "");
    }
    s->port = port;
    return s;
}

int rt_server_port(const rt_server *s) { return s->port; }

void rt_server_kill(rt_server *s) {
    if (!s) return;
    if (s->pid > 0) kill(s->pid, SIGKILL);
    reap(s);
}

int rt_server_restart(rt_server *s) {
    rt_server_kill(s);
    /* same arguments, with --port <port> (replacing a --port given at start) */
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", s->port);
    bool replaced = false;
    for (int i = 2; i + 1 < s->argc; i++) {
        if (strcmp(s->argv[i], "--port") == 0) {
            free(s->argv[i + 1]);
            s->argv[i + 1] = xstrdup(portbuf);
            replaced = true;
        }
    }
    if (!replaced) {
        s->argv[s->argc++] = xstrdup("--port");
        s->argv[s->argc++] = xstrdup(portbuf);
        s->argv[s->argc] = NULL;
    }
    int64_t deadline = rt_now_ms() + 10000;
    for (;;) {
        if (spawn_process(s) != 0) return 0;
        bool in_use = false;
        int port = wait_listening(s, 15000, &in_use);
        if (port == s->port) return 1;
        reap(s);
        if (!in_use || rt_now_ms() > deadline) {
            fprintf(stdout, "harness: restart on port %d failed%s\n", s->port, in_use ? " (port in use)" : "");
            return 0;
        }
        rt_sleep_ms(100);
    }
}

void rt_server_freeze(rt_server *s) {
    if (s && s->pid > 0) {
        kill(s->pid, SIGSTOP);
        s->frozen = true;
    }
}

void rt_server_thaw(rt_server *s) {
    if (s && s->pid > 0) {
        kill(s->pid, SIGCONT);
        s->frozen = false;
    }
}

static int matches(const char *line, const char *event, const char *key, const char *value) {
    char buf[256];
    if (event) {
        if (!rt_json_get_string(line, "event", buf, sizeof buf) || strcmp(buf, event) != 0) return 0;
    }
    if (key) {
        if (!rt_json_get_string(line, key, buf, sizeof buf) || strcmp(buf, value) != 0) return 0;
    }
    return 1;
}

int rt_server_wait_event_where(rt_server *s, const char *event, const char *key, const char *value,
                               int timeout_ms, char *json_out, size_t len) {
    struct timespec dl = deadline_after(timeout_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (size_t i = 0; i < s->nlines; i++) {
            if (matches(s->lines[i], event, key, value)) {
                copy_str(json_out, len, s->lines[i]);
                queue_remove(s, i);
                pthread_mutex_unlock(&s->mu);
                return 1;
            }
        }
        /* keep waiting after EOF too: the test may restart the server */
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            /* last scan */
            for (size_t i = 0; i < s->nlines; i++) {
                if (matches(s->lines[i], event, key, value)) {
                    copy_str(json_out, len, s->lines[i]);
                    queue_remove(s, i);
                    pthread_mutex_unlock(&s->mu);
                    return 1;
                }
            }
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
    }
}

int rt_server_wait_event(rt_server *s, const char *event, int timeout_ms, char *json_out, size_t len) {
    return rt_server_wait_event_where(s, event, NULL, NULL, timeout_ms, json_out, len);
}

int rt_server_drain(rt_server *s, const char *event) {
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nlines;) {
        if (!event || matches(s->lines[i], event, NULL, NULL)) {
            queue_remove(s, i);
            n++;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

int rt_server_queued(rt_server *s, const char *event) {
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nlines; i++)
        if (!event || matches(s->lines[i], event, NULL, NULL)) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int rt_server_wait_connection(rt_server *s, const char *nsp, int timeout_ms, char *id_out, size_t id_len) {
    char line[8192];
    if (!rt_server_wait_event_where(s, "connection", "nsp", nsp ? nsp : "/", timeout_ms, line, sizeof line))
        return 0;
    if (!rt_json_get_string(line, "id", id_out, id_len)) return 0;
    return 1;
}

int rt_server_command_out(rt_server *s, const char *line, int timeout_ms, char *json_out, size_t len) {
    if (s->pid <= 0 || s->in_fd < 0) {
        printf("harness: command '%s': server not running\n", line);
        return 0;
    }
    size_t n = strlen(line);
    char *buf = xcalloc(1, n + 2);
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t off = 0;
    while (off < n + 1) {
        ssize_t w = write(s->in_fd, buf + off, n + 1 - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            free(buf);
            printf("harness: command '%s': write failed: %s\n", line, strerror(errno));
            return 0;
        }
        off += (size_t)w;
    }
    free(buf);
    /* the server answers commands in order: the oldest "done" line is ours, unless answers to earlier
     * commands that timed out (e.g. sent to a frozen server) are still due: skip those */
    int64_t deadline = rt_now_ms() + timeout_ms;
    char done[8192];
    for (;;) {
        int64_t left = deadline - rt_now_ms();
        if (!rt_server_wait_event(s, "done", left > 0 ? (int)left : 0, done, sizeof done)) {
            s->stale_done++;
            printf("harness: command '%s': no answer within %d ms\n", line, timeout_ms);
            return 0;
        }
        if (s->stale_done > 0) {
            s->stale_done--;
            continue;
        }
        break;
    }
    copy_str(json_out, len, done);
    if (!strstr(done, "\"ok\":true")) {
        printf("harness: command '%s' failed: %s\n", line, done);
        return 0;
    }
    return 1;
}

int rt_server_command(rt_server *s, const char *line, int timeout_ms) {
    return rt_server_command_out(s, line, timeout_ms, NULL, 0);
}

int rt_server_commandf(rt_server *s, int timeout_ms, const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return rt_server_command(s, line, timeout_ms);
}

void rt_server_free(rt_server *s) {
    if (!s) return;
    if (s->pid > 0) {
        if (s->in_fd >= 0) {
            close(s->in_fd); /* the server exits when stdin closes */
            s->in_fd = -1;
        }
        kill(s->pid, SIGTERM);
        kill(s->pid, SIGCONT);
        int64_t deadline = rt_now_ms() + 3000;
        for (;;) {
            pid_t r = waitpid(s->pid, NULL, WNOHANG);
            if (r == s->pid || (r < 0 && errno != EINTR)) {
                s->pid = 0;
                break;
            }
            if (rt_now_ms() > deadline) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, NULL, 0);
                s->pid = 0;
                break;
            }
            rt_sleep_ms(10);
        }
    }
    stop_reader(s);
    unregister_server(s);
    for (size_t i = 0; i < s->nlines; i++) free(s->lines[i]);
    free(s->lines);
    for (int i = 0; i < s->argc; i++) free(s->argv[i]);
    free(s->argv);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

const char *rt_tls_dir(void) {
    static char dir[1024];
    const char *d = getenv("REALTIME_TLS_DIR");
    copy_str(dir, sizeof dir, d && *d ? d : "build/tls");
    char path[1200];
    snprintf(path, sizeof path, "%s/server.key", dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        char cmd[1300];
        snprintf(cmd, sizeof cmd, "sh tests/c/gen_certs.sh '%s'", dir);
        if (system(cmd) != 0) FAIL("could not generate test certificates with: %s", cmd);
    }
    return dir;
}

/* =================================================================================================
 * Event log */

#define MAX_CURSORS 32
struct rt_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_record *recs;
    size_t n, cap;
    struct {
        char kind[32];
        int seen;
    } cursors[MAX_CURSORS];
    atomic_int inside;
    atomic_int overlap;
    realtime_client *_Atomic client;
};

rt_log *rt_log_new(void) {
    rt_log *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    cond_init_monotonic(&l->cv);
    return l;
}

void rt_log_free(rt_log *log) {
    if (!log) return;
    free(log->recs);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->cv);
    free(log);
}

void rt_log_set_client(rt_log *log, realtime_client *client) { atomic_store(&log->client, client); }

void rt_log_add(rt_log *log, const char *kind, const char *text, const char *data, int64_t n) {
    pthread_mutex_lock(&log->mu);
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 64;
        rt_record *r = realloc(log->recs, cap * sizeof *r);
        if (!r) _exit(3);
        log->recs = r;
        log->cap = cap;
    }
    rt_record *r = &log->recs[log->n];
    memset(r, 0, sizeof *r);
    copy_str(r->kind, sizeof r->kind, kind);
    copy_str(r->text, sizeof r->text, text);
    copy_str(r->data, sizeof r->data, data);
    r->n = n;
    r->t_ms = rt_now_ms();
    r->seq = log->n;
    log->n++;
    pthread_cond_broadcast(&log->cv);
    pthread_mutex_unlock(&log->mu);
}

static int count_locked(rt_log *log, const char *kind) {
    int c = 0;
    for (size_t i = 0; i < log->n; i++)
        if (!kind || strcmp(log->recs[i].kind, kind) == 0) c++;
    return c;
}

int rt_log_count(rt_log *log, const char *kind) {
    pthread_mutex_lock(&log->mu);
    int c = count_locked(log, kind);
    pthread_mutex_unlock(&log->mu);
    return c;
}

static int find_nth_locked(rt_log *log, const char *kind, int nth, rt_record *out) {
    int c = 0;
    for (size_t i = 0; i < log->n; i++) {
        if (!kind || strcmp(log->recs[i].kind, kind) == 0) {
            if (++c == nth) {
                if (out) *out = log->recs[i];
                return 1;
            }
        }
    }
    return 0;
}

int rt_log_wait_nth(rt_log *log, const char *kind, int nth, int timeout_ms, rt_record *out) {
    struct timespec dl = deadline_after(timeout_ms);
    pthread_mutex_lock(&log->mu);
    for (;;) {
        if (find_nth_locked(log, kind, nth, out)) {
            pthread_mutex_unlock(&log->mu);
            return 1;
        }
        if (pthread_cond_timedwait(&log->cv, &log->mu, &dl) == ETIMEDOUT) {
            int r = find_nth_locked(log, kind, nth, out);
            pthread_mutex_unlock(&log->mu);
            return r;
        }
    }
}

int rt_log_wait(rt_log *log, const char *kind, int timeout_ms, rt_record *out) {
    const char *k = kind ? kind : "";
    int slot = -1;
    pthread_mutex_lock(&log->mu);
    for (int i = 0; i < MAX_CURSORS; i++) {
        if (log->cursors[i].kind[0] && strcmp(log->cursors[i].kind, k) == 0) {
            slot = i;
            break;
        }
        if (!log->cursors[i].kind[0] && slot < 0) slot = i;
    }
    if (slot < 0) {
        pthread_mutex_unlock(&log->mu);
        FAIL("rt_log_wait: too many kinds");
    }
    if (!log->cursors[slot].kind[0]) copy_str(log->cursors[slot].kind, sizeof log->cursors[slot].kind, k[0] ? k : "*");
    int want = log->cursors[slot].seen + 1;
    pthread_mutex_unlock(&log->mu);
    int r = rt_log_wait_nth(log, kind, want, timeout_ms, out);
    if (r) {
        pthread_mutex_lock(&log->mu);
        log->cursors[slot].seen = want;
        pthread_mutex_unlock(&log->mu);
    }
    return r;
}

int rt_log_get(rt_log *log, size_t seq, rt_record *out) {
    pthread_mutex_lock(&log->mu);
    int r = 0;
    if (seq < log->n) {
        if (out) *out = log->recs[seq];
        r = 1;
    }
    pthread_mutex_unlock(&log->mu);
    return r;
}

void rt_log_dump(rt_log *log, const char *title) {
    pthread_mutex_lock(&log->mu);
    printf("  log%s%s (%zu records):\n", title ? " " : "", title ? title : "", log->n);
    int64_t t0 = log->n ? log->recs[0].t_ms : 0;
    for (size_t i = 0; i < log->n; i++) {
        rt_record *r = &log->recs[i];
        printf("    #%zu +%lldms %s n=%lld text=\"%s\" data=%s\n", i, (long long)(r->t_ms - t0), r->kind,
               (long long)r->n, r->text, r->data[0] ? r->data : "-");
    }
    pthread_mutex_unlock(&log->mu);
    fflush(stdout);
}

int rt_log_overlap(rt_log *log) { return atomic_load(&log->overlap); }

static void enter(rt_log *log) {
    if (atomic_fetch_add(&log->inside, 1) != 0) atomic_store(&log->overlap, 1);
}
static void leave(rt_log *log) { atomic_fetch_sub(&log->inside, 1); }

void rt_cb_connect(void *user_data) {
    rt_log *log = user_data;
    enter(log);
    char id[256] = "";
    int64_t connected = -1;
    realtime_client *c = atomic_load(&log->client);
    if (c) {
        size_t n = realtime_socket_id(c, id, sizeof id);
        if (n >= sizeof id) id[sizeof id - 1] = '\0';
        connected = realtime_is_connected(c) ? 1 : 0;
    }
    rt_log_add(log, "connect", id, NULL, connected);
    leave(log);
}

void rt_cb_disconnect(void *user_data, const char *reason) {
    rt_log *log = user_data;
    enter(log);
    rt_log_add(log, "disconnect", reason ? reason : "(null)", NULL, 0);
    leave(log);
}

void rt_cb_error(void *user_data, const char *message, const char *data_json) {
    rt_log *log = user_data;
    enter(log);
    rt_log_add(log, "error", message ? message : "(null)", data_json ? data_json : "", 0);
    leave(log);
}

void rt_cb_reconnect_attempt(void *user_data, uint32_t attempt) {
    rt_log *log = user_data;
    enter(log);
    rt_log_add(log, "reconnect_attempt", NULL, NULL, attempt);
    leave(log);
}

void rt_cb_reconnect(void *user_data, uint32_t attempts) {
    rt_log *log = user_data;
    enter(log);
    rt_log_add(log, "reconnect", NULL, NULL, attempts);
    leave(log);
}

void rt_cb_reconnect_failed(void *user_data) {
    rt_log *log = user_data;
    enter(log);
    rt_log_add(log, "reconnect_failed", NULL, NULL, 0);
    leave(log);
}

void rt_log_attach(rt_log *log, realtime_client *client) {
    CHECK(client != NULL, "rt_log_attach: NULL client");
    rt_log_set_client(log, client);
    CHECK(realtime_on_connect(client, rt_cb_connect, log) > 0, "realtime_on_connect: %s", realtime_last_error());
    CHECK(realtime_on_disconnect(client, rt_cb_disconnect, log) > 0, "realtime_on_disconnect: %s", realtime_last_error());
    CHECK(realtime_on_error(client, rt_cb_error, log) > 0, "realtime_on_error: %s", realtime_last_error());
    CHECK(realtime_on_reconnect_attempt(client, rt_cb_reconnect_attempt, log) > 0, "realtime_on_reconnect_attempt: %s",
          realtime_last_error());
    CHECK(realtime_on_reconnect(client, rt_cb_reconnect, log) > 0, "realtime_on_reconnect: %s", realtime_last_error());
    CHECK(realtime_on_reconnect_failed(client, rt_cb_reconnect_failed, log) > 0, "realtime_on_reconnect_failed: %s",
          realtime_last_error());
}

/* ---------------------------------------------------------------------------------------------------
 * RT_TRANSPORTS: the suite over another transport */

/* options_json with "transports":[RT_TRANSPORTS] added, in `buf`; or options_json itself (unset, named
 * already, or not an object: bad-input tests keep their input). */
static const char *with_transports(const char *options_json, char *buf, size_t len) {
    const char *transport = getenv("RT_TRANSPORTS");
    if (!transport || !*transport) return options_json;
    if (!options_json || !*options_json) {
        snprintf(buf, len, "{\"transports\":[\"%s\"]}", transport);
        return buf;
    }
    if (strstr(options_json, "\"transports\"")) return options_json;
    const char *p = options_json;
    while (isspace((unsigned char)*p)) p++;
    if (*p != '{') return options_json;
    const char *q = p + 1;
    while (isspace((unsigned char)*q)) q++;
    int n = snprintf(buf, len, "{\"transports\":[\"%s\"]%s%s", transport, *q == '}' ? "" : ",", p + 1);
    return n > 0 && (size_t)n < len ? buf : options_json;
}

realtime_client *rt_realtime_new(const char *url, const char *options_json) {
    char buf[16384];
    return realtime_new(url, with_transports(options_json, buf, sizeof buf));
}

realtime_client *rt_realtime_new_polled(realtime_poller *poller, const char *url, const char *options_json) {
    char buf[16384];
    return realtime_new_polled(poller, url, with_transports(options_json, buf, sizeof buf));
}
