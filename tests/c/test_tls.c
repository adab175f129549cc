/* test_tls: wss against a local TLS socket.io server whose certificate is signed by a test CA
 * (tests/c/gen_certs.sh -> build/tls/).
 *  - {"caFile":"<ca.pem>"}: https://localhost:PORT/ and https://127.0.0.1:PORT/ (IP subjectAltName)
 *    connect; the socket id matches the server's;
 *  - without caFile, and with an unrelated CA: refused, on_error mentions the certificate, never
 *    connects (the server sees no connection). */
#include "harness.h"

#include <ctype.h>
#include <string.h>

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static void expect_connects(rt_server *srv, const char *url, const char *ca) {
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"autoConnect\":false,\"caFile\":\"%s\",\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}", ca);
    NOTE("%s with caFile %s connects", url, ca);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    char id[128];
    int ok = rt_log_wait_nth(log, "connect", 1, 5000, NULL);
    if (!ok) rt_log_dump(log, url);
    CHECK(ok, "no on_connect over TLS");
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "server saw no connection");
    char cid[128];
    CHECK(realtime_socket_id(c, cid, sizeof cid) > 0 && strcmp(cid, id) == 0, "socket id '%s' != server's %s", cid,
          id);
    CHECK(rt_log_count(log, "error") == 0, "on_error during a good TLS connection");
    realtime_free(c);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id, 3000, NULL, 0), "no disconnect after free");
    rt_log_free(log);
}

static void expect_refused(rt_server *srv, const char *url, const char *ca) {
    char opts[1024];
    if (ca)
        snprintf(opts, sizeof opts,
                 "{\"autoConnect\":false,\"caFile\":\"%s\",\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}", ca);
    else
        snprintf(opts, sizeof opts, "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    NOTE("%s with %s%s is refused", url, ca ? "caFile " : "no caFile", ca ? ca : "");
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    rt_record e;
    CHECK(rt_log_wait_nth(log, "error", 1, 5000, &e), "no on_error for an untrusted certificate");
    NOTE("on_error(\"%s\", %s)", e.text, e.data[0] ? e.data : "NULL");
    CHECK(contains_ci(e.text, "certificate") || contains_ci(e.data, "certificate"),
          "the error does not mention the certificate: %s / %s", e.text, e.data);
    rt_sleep_ms(1000); /* asserting that it never connects */
    CHECK(rt_log_count(log, "connect") == 0, "connected with an untrusted certificate");
    CHECK(!realtime_is_connected(c), "is_connected true with an untrusted certificate");
    CHECK(rt_server_queued(srv, "connection") == 0, "the server saw a connection");
    realtime_free(c);
    rt_log_free(log);
}

int main(void) {
    rt_test_begin("test_tls", 60);
    const char *dir = rt_tls_dir();
    char ca[1100], other[1100], cert[1100], key[1100], args[2400];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(other, sizeof other, "%s/other-ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", cert, key);
    rt_server *srv = rt_server_start(args);
    int port = rt_server_port(srv);
    char url_host[128], url_ip[128], url_wss[128];
    snprintf(url_host, sizeof url_host, "https://localhost:%d/", port);
    snprintf(url_ip, sizeof url_ip, "https://127.0.0.1:%d/", port);
    snprintf(url_wss, sizeof url_wss, "wss://localhost:%d", port);

    expect_connects(srv, url_host, ca);
    expect_connects(srv, url_ip, ca);
    expect_connects(srv, url_wss, ca);
    expect_refused(srv, url_host, NULL);
    expect_refused(srv, url_host, other);

    rt_server_drain(srv, NULL);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
