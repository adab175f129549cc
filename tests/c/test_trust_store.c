/* test_trust_store: server certificates are verified against the platform's trust store by default
 * ("trustStore": "system"), which on Linux honours SSL_CERT_FILE as OpenSSL does; "bundled" uses only the
 * bundled Mozilla roots. The test CA is added through SSL_CERT_FILE only (the machine's store is never
 * modified). The server's certificate is signed by the test CA (tests/c/gen_certs.sh).
 *  - SSL_CERT_FILE = the test CA: https://localhost connects with no caFile;
 *  - same, with "trustStore": "bundled": refused (UnknownIssuer), never connects;
 *  - SSL_CERT_FILE = an unrelated CA: the server's certificate is untrusted and refused;
 *    caFile on top of the system store still adds the test CA (connects); pinning works on top of the
 *    system store (the CA's pin connects, an unrelated pin is refused);
 *  - "trustStore": "none" fails realtime_new and names the key. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static realtime_client *open_client(const char *url, const char *tls, rt_log *log) {
    char opts[4096];
    snprintf(opts, sizeof opts, "{\"autoConnect\":false,%s%s\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}", tls,
             tls[0] ? "," : "");
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new(%s): %s", opts, realtime_last_error());
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    return c;
}

static void expect_connects(rt_server *srv, const char *url, const char *tls) {
    NOTE("SSL_CERT_FILE=%s, {%s}: connects", getenv("SSL_CERT_FILE"), tls);
    rt_log *log = rt_log_new();
    realtime_client *c = open_client(url, tls, log);
    int ok = rt_log_wait(log, "connect", 5000, NULL);
    if (!ok) rt_log_dump(log, url);
    CHECK(ok, "no on_connect");
    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "the server saw no connection");
    realtime_free(c);
    rt_log_free(log);
}

static void expect_refused(rt_server *srv, const char *url, const char *tls, const char *mention) {
    NOTE("SSL_CERT_FILE=%s, {%s}: refused", getenv("SSL_CERT_FILE"), tls);
    rt_log *log = rt_log_new();
    realtime_client *c = open_client(url, tls, log);
    rt_record e;
    CHECK(rt_log_wait(log, "error", 5000, &e), "no on_error for an untrusted certificate");
    NOTE("on_error(\"%s\")", e.text);
    CHECK(strstr(e.text, mention) != NULL, "the error does not mention %s: %s", mention, e.text);
    rt_sleep_ms(300); /* asserting that it never connects */
    CHECK(rt_log_count(log, "connect") == 0, "connected with an untrusted certificate");
    CHECK(rt_server_queued(srv, "connection") == 0, "the server saw a connection");
    realtime_free(c);
    rt_log_free(log);
}

static void read_line(const char *path, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    CHECK(fgets(out, (int)len, f) != NULL, "empty %s", path);
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

int main(void) {
    rt_test_begin("test_trust_store", 90);
    const char *dir = rt_tls_dir();
    char ca[1100], other[1100], args[2400], path[1100], ca_pin[200], other_pin[200], tls[2400];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(other, sizeof other, "%s/other-ca.pem", dir);
    snprintf(path, sizeof path, "%s/ca.pin", dir);
    read_line(path, ca_pin, sizeof ca_pin);
    snprintf(path, sizeof path, "%s/other-ca.pin", dir);
    read_line(path, other_pin, sizeof other_pin);
    snprintf(args, sizeof args, "--tls-cert %s/server.pem --tls-key %s/server.key", dir, dir);
    rt_server *srv = rt_server_start(args);
    char url[128];
    snprintf(url, sizeof url, "https://localhost:%d/", rt_server_port(srv));
    unsetenv("SSL_CERT_DIR");

    /* Set before the clients are made: the library reads the store in realtime_new, on this thread. */
    CHECK(setenv("SSL_CERT_FILE", ca, 1) == 0, "setenv");
    expect_connects(srv, url, "");
    expect_connects(srv, url, "\"trustStore\":\"system\"");
    expect_refused(srv, url, "\"trustStore\":\"bundled\"", "UnknownIssuer");
    snprintf(tls, sizeof tls, "\"pinnedPublicKeys\":[\"%s\"]", ca_pin);
    expect_connects(srv, url, tls);
    snprintf(tls, sizeof tls, "\"pinnedPublicKeys\":[\"%s\"]", other_pin);
    expect_refused(srv, url, tls, "pinning");

    CHECK(setenv("SSL_CERT_FILE", other, 1) == 0, "setenv");
    expect_refused(srv, url, "", "UnknownIssuer");
    snprintf(tls, sizeof tls, "\"caFile\":\"%s\"", ca);
    expect_connects(srv, url, tls);
    snprintf(tls, sizeof tls, "\"trustStore\":\"bundled\",\"caFile\":\"%s\"", ca);
    expect_connects(srv, url, tls);

    NOTE("a bad trustStore fails realtime_new and names the key");
    CHECK(realtime_new(url, "{\"trustStore\":\"none\"}") == NULL && strstr(realtime_last_error(), "trustStore"),
          "bad trustStore: %s", realtime_last_error());

    rt_server_drain(srv, NULL);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
