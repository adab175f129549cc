/* test_tls: wss against a local TLS socket.io server whose certificate is signed by a test CA
 * (tests/c/gen_certs.sh -> build/tls/), pinning (pinnedPublicKeys) and mutual TLS (clientCertFile/clientKeyFile).
 *  - {"caFile":"<ca.pem>"}: https://localhost:PORT/ and https://127.0.0.1:PORT/ (IP subjectAltName)
 *    connect; the socket id matches the server's;
 *  - without caFile, and with an unrelated CA: refused, on_error mentions the certificate, never
 *    connects (the server sees no connection);
 *  - pins are matched against the verified chain, trust anchor included (OkHttp CVE-2016-2402): a server
 *    presenting leaf + intermediate + an appended unrelated certificate whose key is pinned is refused;
 *    pinning the root CA (never presented) or the intermediate connects. */
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

/* `tls` is the TLS part of the options JSON, e.g. "\"caFile\":\"ca.pem\"" (may be empty). */
static void expect_connects(rt_server *srv, const char *url, const char *tls) {
    char opts[4096];
    snprintf(opts, sizeof opts, "{\"autoConnect\":false,%s%s\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}", tls,
             tls[0] ? "," : "");
    NOTE("%s with {%s} connects", url, tls);
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

/* Refused, with an on_error that mentions `must_mention` (case-insensitive). */
static void expect_refused(rt_server *srv, const char *url, const char *tls, const char *must_mention) {
    char opts[4096];
    snprintf(opts, sizeof opts, "{\"autoConnect\":false,%s%s\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}", tls,
             tls[0] ? "," : "");
    NOTE("%s with {%s} is refused", url, tls);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    rt_record e;
    CHECK(rt_log_wait_nth(log, "error", 1, 5000, &e), "no on_error for an untrusted certificate");
    NOTE("on_error(\"%s\", %s)", e.text, e.data[0] ? e.data : "NULL");
    CHECK(contains_ci(e.text, must_mention) || contains_ci(e.data, must_mention), "the error does not mention %s: %s / %s",
          must_mention, e.text, e.data);
    rt_sleep_ms(1000); /* asserting that it never connects */
    CHECK(rt_log_count(log, "connect") == 0, "connected with an untrusted certificate");
    CHECK(!realtime_is_connected(c), "is_connected true with an untrusted certificate");
    CHECK(rt_server_queued(srv, "connection") == 0, "the server saw a connection");
    realtime_free(c);
    rt_log_free(log);
}

/* The first line of a small file (a pin). */
static void read_line(const char *path, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    CHECK(fgets(out, (int)len, f) != NULL, "empty %s", path);
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

int main(void) {
    rt_test_begin("test_tls", 90);
    const char *dir = rt_tls_dir();
    char ca[1100], other[1100], cert[1100], key[1100], client_cert[1100], client_key[1100], args[4000];
    char server_pin[200], other_pin[200], path[1100], tls[4000];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(other, sizeof other, "%s/other-ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(client_cert, sizeof client_cert, "%s/client.pem", dir);
    snprintf(client_key, sizeof client_key, "%s/client.key", dir);
    snprintf(path, sizeof path, "%s/server.pin", dir);
    read_line(path, server_pin, sizeof server_pin);
    snprintf(path, sizeof path, "%s/other-ca.pin", dir);
    read_line(path, other_pin, sizeof other_pin);
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", cert, key);
    rt_server *srv = rt_server_start(args);
    int port = rt_server_port(srv);
    char url_host[128], url_ip[128], url_wss[128];
    snprintf(url_host, sizeof url_host, "https://localhost:%d/", port);
    snprintf(url_ip, sizeof url_ip, "https://127.0.0.1:%d/", port);
    snprintf(url_wss, sizeof url_wss, "wss://localhost:%d", port);

    char with_ca[1200];
    snprintf(with_ca, sizeof with_ca, "\"caFile\":\"%s\"", ca);
    expect_connects(srv, url_host, with_ca);
    expect_connects(srv, url_ip, with_ca);
    expect_connects(srv, url_wss, with_ca);
    expect_refused(srv, url_host, "", "certificate");
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\"", other);
    expect_refused(srv, url_host, tls, "certificate");

    NOTE("pinning: the server's public key pinned -> connects; only another key pinned -> refused");
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\",\"%s\"]", ca, other_pin, server_pin);
    expect_connects(srv, url_host, tls);
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\"]", ca, other_pin);
    expect_refused(srv, url_host, tls, "pinning");
    rt_server_drain(srv, NULL);
    rt_server_free(srv);

    NOTE("pins against the verified chain: a server presenting leaf + intermediate (+ an unrelated certificate)");
    char chain_cert[1100], chain_key[1100], evil_cert[1100], ca_pin[200], inter_pin[200];
    snprintf(chain_cert, sizeof chain_cert, "%s/chain-server.pem", dir);
    snprintf(chain_key, sizeof chain_key, "%s/chain-server.key", dir);
    snprintf(evil_cert, sizeof evil_cert, "%s/chain-evil.pem", dir);
    snprintf(path, sizeof path, "%s/ca.pin", dir);
    read_line(path, ca_pin, sizeof ca_pin);
    snprintf(path, sizeof path, "%s/inter.pin", dir);
    read_line(path, inter_pin, sizeof inter_pin);
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", evil_cert, chain_key);
    srv = rt_server_start(args);
    port = rt_server_port(srv);
    snprintf(url_host, sizeof url_host, "https://localhost:%d/", port);
    NOTE("the appended certificate's key pinned: refused (it is presented but not in the verified chain)");
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\"]", ca, other_pin);
    expect_refused(srv, url_host, tls, "pinning");
    NOTE("the root CA pinned (never presented, the verified chain's trust anchor): connects");
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\"]", ca, ca_pin);
    expect_connects(srv, url_host, tls);
    rt_server_drain(srv, NULL);
    rt_server_free(srv);
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", chain_cert, chain_key);
    srv = rt_server_start(args);
    port = rt_server_port(srv);
    snprintf(url_host, sizeof url_host, "https://localhost:%d/", port);
    NOTE("the intermediate pinned: connects; only the unrelated key pinned: refused");
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\"]", ca, inter_pin);
    expect_connects(srv, url_host, tls);
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\"]", ca, ca_pin);
    expect_connects(srv, url_host, tls);
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"pinnedPublicKeys\":[\"%s\"]", ca, other_pin);
    expect_refused(srv, url_host, tls, "pinning");
    rt_server_drain(srv, NULL);
    rt_server_free(srv);

    NOTE("mutual TLS: a server that requires a client certificate");
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s --tls-client-ca %s", cert, key, ca);
    srv = rt_server_start(args);
    port = rt_server_port(srv);
    snprintf(url_host, sizeof url_host, "https://localhost:%d/", port);
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\",\"clientCertFile\":\"%s\",\"clientKeyFile\":\"%s\"", ca, client_cert,
             client_key);
    expect_connects(srv, url_host, tls);
    expect_refused(srv, url_host, with_ca, "certificate");
    rt_server_drain(srv, NULL);
    rt_server_free(srv);

    NOTE("bad TLS options fail realtime_new and name the problem");
    snprintf(tls, sizeof tls, "{\"pinnedPublicKeys\":[\"md5/abc\"]}");
    CHECK(realtime_new(url_host, tls) == NULL && strstr(realtime_last_error(), "md5/abc"), "bad pin: %s",
          realtime_last_error());
    snprintf(tls, sizeof tls, "{\"clientCertFile\":\"%s\"}", client_cert);
    CHECK(realtime_new(url_host, tls) == NULL && strstr(realtime_last_error(), "clientKeyFile"), "cert without key: %s",
          realtime_last_error());

    rt_test_pass();
    return 0;
}
