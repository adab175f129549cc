/* test_proxy: the WebSocket transport through real proxies from Debian, each started here on a free loopback
 * port (tinyproxy for HTTP CONNECT, dante-server's danted for SOCKS5; `make` installs them when missing).
 *  - "proxy": "http://127.0.0.1:P": connects to the socket.io server through the tunnel (the proxy logs the
 *    CONNECT to the server's port); https through the tunnel, TLS to the origin (test CA), connects;
 *  - a proxy requiring Basic credentials: with "http://user:secret@…" connects; without, refused: on_error
 *    names the proxy's status line and `data` carries {"proxy", "status": 407, "statusLine"};
 *  - "socks5://127.0.0.1:D" (the client resolves) and "socks5h://…" (the proxy resolves `localhost`) connect,
 *    and danted logs the connection; https through SOCKS5 connects;
 *  - a proxy that is down: on_error says the proxy cannot be reached; a bad proxy URL fails realtime_new. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char log[600];
} proxy_proc;

static char g_dir[512];

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind");
    socklen_t len = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0, "getsockname");
    close(fd);
    return ntohs(addr.sin_port);
}

static int accepts_connections(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Starts `argv` (its own process group, output to `name`.log) with `config` written to `name`.conf, where
 * every "%d" of `config_fmt` is the port; waits until the port accepts connections. */
static proxy_proc start_proxy(const char *name, const char *config_fmt, const char *program, const char *flag) {
    for (int attempt = 0; attempt < 5; attempt++) {
        proxy_proc p = {.port = free_port()};
        char config[2048], conf_path[600];
        snprintf(config, sizeof config, config_fmt, p.port);
        snprintf(conf_path, sizeof conf_path, "%s/%s.conf", g_dir, name);
        snprintf(p.log, sizeof p.log, "%s/%s.log", g_dir, name);
        write_file(conf_path, config);
        p.pid = fork();
        CHECK(p.pid >= 0, "fork");
        if (p.pid == 0) {
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failing test exits with _exit: the proxy goes with it */
            int out = open(p.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            }
            if (strcmp(flag, "-d") == 0) execl(program, program, "-d", "-c", conf_path, (char *)NULL);
            else execl(program, program, "-f", conf_path, (char *)NULL);
            _exit(127);
        }
        setpgid(p.pid, p.pid);
        int64_t deadline = rt_now_ms() + 5000;
        int status;
        while (rt_now_ms() < deadline) {
            if (accepts_connections(p.port)) {
                NOTE("%s listening on 127.0.0.1:%d", name, p.port);
                return p;
            }
            if (waitpid(p.pid, &status, WNOHANG) == p.pid) break; /* exited: port taken? try another */
            rt_sleep_ms(20);
        }
        kill(-p.pid, SIGKILL);
        waitpid(p.pid, &status, 0);
    }
    FAIL("%s did not start (is it installed? see %s/%s.log)", program, g_dir, name);
    return (proxy_proc){0};
}

static void stop_proxy(proxy_proc *p) {
    if (p->pid <= 0) return;
    kill(-p->pid, SIGTERM);
    int status;
    int64_t deadline = rt_now_ms() + 3000;
    while (waitpid(p->pid, &status, WNOHANG) == 0) {
        if (rt_now_ms() > deadline) {
            kill(-p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            break;
        }
        rt_sleep_ms(10);
    }
    p->pid = 0;
}

/* Whether the proxy's log holds `needle` (the proxy writes it once the tunnel is made). */
static int log_contains(const proxy_proc *p, const char *needle) {
    FILE *f = fopen(p->log, "r");
    if (!f) return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void expect_connects(rt_server *srv, const char *url, const char *extra, const char *proxy) {
    char opts[4096];
    snprintf(opts, sizeof opts, "{\"proxy\":\"%s\"%s%s}", proxy, extra[0] ? "," : "", extra);
    NOTE("%s through %s connects", url, proxy);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new(%s): %s", opts, realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    int ok = rt_log_wait(log, "connect", 8000, NULL);
    if (!ok) rt_log_dump(log, url);
    CHECK(ok, "no on_connect through %s", proxy);
    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "the server saw no connection");
    CHECK(rt_log_count(log, "error") == 0, "on_error through the proxy");
    realtime_free(c);
    rt_log_free(log);
}

static void expect_error(rt_server *srv, const char *url, const char *proxy, const char *mention, rt_record *out) {
    char opts[4096];
    snprintf(opts, sizeof opts, "{\"proxy\":\"%s\",\"reconnectionDelay\":200,\"reconnectionDelayMax\":400}", proxy);
    NOTE("%s through %s fails", url, proxy);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(rt_log_wait(log, "error", 8000, out), "no on_error");
    NOTE("on_error(\"%s\", %s)", out->text, out->data[0] ? out->data : "NULL");
    CHECK(strstr(out->text, mention) != NULL, "the error does not mention '%s': %s", mention, out->text);
    CHECK(rt_log_count(log, "connect") == 0, "connected");
    CHECK(rt_server_queued(srv, "connection") == 0, "the server saw a connection");
    realtime_free(c);
    rt_log_free(log);
}

int main(void) {
    rt_test_begin("test_proxy", 120);
    snprintf(g_dir, sizeof g_dir, "%s/rt-proxy.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(g_dir) != NULL, "mkdtemp");
    chmod(g_dir, 0755); /* danted's unprivileged user reads nothing there, but may need to enter it */
    const char *tls_dir = rt_tls_dir();
    char args[2400], with_ca[1200];
    snprintf(args, sizeof args, "--tls-cert %s/server.pem --tls-key %s/server.key", tls_dir, tls_dir);
    snprintf(with_ca, sizeof with_ca, "\"caFile\":\"%s/ca.pem\"", tls_dir);
    rt_server *srv = rt_server_start(NULL);
    rt_server *tls_srv = rt_server_start(args);
    char url[128], tls_url[128], port_text[32], proxy[256];
    snprintf(url, sizeof url, "http://localhost:%d/", rt_server_port(srv));
    snprintf(tls_url, sizeof tls_url, "https://localhost:%d/", rt_server_port(tls_srv));

    NOTE("HTTP CONNECT (tinyproxy)");
    proxy_proc http = start_proxy("tinyproxy", "Port %d\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\n"
                                               "Allow 127.0.0.1\nLogLevel Connect\n", "/usr/bin/tinyproxy", "-d");
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", http.port);
    expect_connects(srv, url, "", proxy);
    /* Over polling (make c-tests-polling) plain http goes through the proxy as absolute-form requests
     * ("GET http://localhost:N/…"), not a CONNECT tunnel. */
    snprintf(port_text, sizeof port_text, getenv("RT_TRANSPORTS") ? "http://localhost:%d/" : "CONNECT localhost:%d",
             rt_server_port(srv));
    CHECK(log_contains(&http, port_text), "tinyproxy's log has no '%s': the connection did not go through it",
          port_text);
    expect_connects(tls_srv, tls_url, with_ca, proxy);
    snprintf(port_text, sizeof port_text, "CONNECT localhost:%d", rt_server_port(tls_srv));
    CHECK(log_contains(&http, port_text), "tinyproxy's log has no '%s'", port_text);
    stop_proxy(&http);
    rt_record e;
    expect_error(srv, url, proxy, "proxy", &e);

    NOTE("HTTP CONNECT with Basic credentials");
    proxy_proc auth = start_proxy("tinyproxy-auth", "Port %d\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\n"
                                                    "Allow 127.0.0.1\nLogLevel Connect\nBasicAuth user secret\n",
                                  "/usr/bin/tinyproxy", "-d");
    snprintf(proxy, sizeof proxy, "http://user:secret@127.0.0.1:%d", auth.port);
    expect_connects(srv, url, "", proxy);
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", auth.port);
    expect_error(srv, url, proxy, "407", &e);
    double status = 0;
    char status_line[256], reported[256];
    CHECK(rt_json_get_number(e.data, "status", &status) && status == 407, "data.status in %s", e.data);
    CHECK(rt_json_get_string(e.data, "statusLine", status_line, sizeof status_line) &&
              strstr(status_line, "407 Proxy Authentication Required"),
          "data.statusLine in %s", e.data);
    CHECK(rt_json_get_string(e.data, "proxy", reported, sizeof reported) && strcmp(reported, proxy) == 0,
          "data.proxy in %s", e.data);
    snprintf(proxy, sizeof proxy, "http://user:wrong@127.0.0.1:%d", auth.port);
    /* tinyproxy answers 401 to a wrong password; over polling (absolute-form requests, no tunnel) a 401 cannot
     * be told from the server's own, so it is reported as the HTTP status it is. */
    expect_error(srv, url, proxy, getenv("RT_TRANSPORTS") ? "HTTP 401" : "refused: HTTP/1.0 40", &e);
    CHECK(strstr(e.text, "wrong") == NULL && strstr(e.data, "wrong") == NULL, "the password leaked into the error");
    stop_proxy(&auth);

    NOTE("SOCKS5 (dante-server)");
    proxy_proc socks = start_proxy("danted", "logoutput: stderr\ninternal: 127.0.0.1 port = %d\nexternal: 127.0.0.1\n"
                                             "clientmethod: none\nsocksmethod: none\nuser.privileged: root\n"
                                             "user.unprivileged: nobody\n"
                                             "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect }\n"
                                             "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect }\n",
                                   "/usr/sbin/danted", "-f");
    snprintf(proxy, sizeof proxy, "socks5://127.0.0.1:%d", socks.port);
    expect_connects(srv, url, "", proxy);
    snprintf(port_text, sizeof port_text, "127.0.0.1.%d", rt_server_port(srv));
    CHECK(log_contains(&socks, port_text), "danted's log has no '%s': the connection did not go through it",
          port_text);
    snprintf(proxy, sizeof proxy, "socks5h://127.0.0.1:%d", socks.port);
    expect_connects(srv, url, "", proxy);
    expect_connects(tls_srv, tls_url, with_ca, proxy);
    stop_proxy(&socks);
    expect_error(srv, url, proxy, "proxy", &e);

    NOTE("a bad proxy URL fails realtime_new");
    CHECK(realtime_new(url, "{\"proxy\":\"ftp://127.0.0.1:1\"}") == NULL && strstr(realtime_last_error(), "proxy"),
          "bad proxy: %s", realtime_last_error());

    rt_server_drain(srv, NULL);
    rt_server_drain(tls_srv, NULL);
    rt_server_free(srv);
    rt_server_free(tls_srv);
    const char *names[] = {"tinyproxy", "tinyproxy-auth", "danted"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s.conf", g_dir, names[i]);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s.log", g_dir, names[i]);
        unlink(path);
    }
    rmdir(g_dir);
    rt_test_pass();
    return 0;
}
