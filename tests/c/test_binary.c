/* test_binary: binary arguments, byte-exact, in events and acks, with the server and the JS peer.
 *  - realtime_emit_binary("echo") with placeholders at several positions and depths (3 buffers: all 256
 *    byte values, an empty buffer, 64 KiB of pseudo-random bytes): the server receives the buffers at
 *    those positions (its "bin" field), and its echo comes back byte-exact through realtime_event_fn's
 *    buffers (placeholders in args_json point at them);
 *  - the ack of a binary emit carries binary (the echo handler answers with the same args);
 *  - 10 buffers are fine, 11 are refused locally; a placeholder without its buffer is refused;
 *  - server -> C binary event; server asks C for an ack and C answers with realtime_ack_binary;
 *  - C -> JS peer and JS peer -> C with binary (relay): byte-exact. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

/* Canonical args with each placeholder replaced by {"$bin":"<hex of its buffer>"} (the server's and the
 * peer's notation). Buffers come from rt_ev call nth. Returns malloc'd text. */
static char *resolve(const char *args_json, rt_ev *ev, int nth) {
    char *c = rt_jcanon(args_json);
    CHECK(c != NULL, "args do not parse: %s", args_json);
    size_t cap = strlen(c) + 1;
    size_t nb = rt_ev_buf_count(ev, nth);
    for (size_t i = 0; i < nb; i++) {
        size_t len;
        rt_ev_buf(ev, nth, i, &len);
        cap += 2 * len + 32;
    }
    char *out = malloc(cap);
    size_t o = 0;
    const char *p = c;
    const char *pat = "{\"_placeholder\":true,\"num\":";
    while (*p) {
        if (strncmp(p, pat, strlen(pat)) == 0) {
            char *end;
            long num = strtol(p + strlen(pat), &end, 10);
            CHECK(*end == '}', "odd placeholder in %s", c);
            CHECK(num >= 0 && (size_t)num < nb, "placeholder num %ld but %zu buffers (%s)", num, nb, c);
            size_t len;
            const uint8_t *d = rt_ev_buf(ev, nth, (size_t)num, &len);
            o += (size_t)sprintf(out + o, "{\"$bin\":\"");
            rt_hex(d, len, out + o);
            o += 2 * len;
            o += (size_t)sprintf(out + o, "\"}");
            p = end + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    free(c);
    return out;
}

static char *hexdup(const uint8_t *d, size_t n) {
    char *h = malloc(2 * n + 1);
    rt_hex(d, n, h);
    return h;
}

int main(void) {
    rt_test_begin("test_binary", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    rt_ev *echo = rt_ev_new(log, "echo");
    rt_ev *bin = rt_ev_new(log, "bin");
    rt_ev *ask = rt_ev_new(log, "ask");
    rt_ev *acks = rt_ev_new(log, "ack");
    CHECK(realtime_on(c, "echo", rt_ev_event, echo) > 0, "on echo");
    CHECK(realtime_on(c, "bin", rt_ev_event, bin) > 0, "on bin");
    CHECK(realtime_on(c, "ask", rt_ev_event, ask) > 0, "on ask");
    char cid[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    /* buffers */
    static uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    size_t big_n = 64 * 1024;
    uint8_t *big = malloc(big_n);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < big_n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        big[i] = (uint8_t)x;
    }
    realtime_buffer bufs[3] = {{all, 256}, {(const uint8_t *)"", 0}, {big, big_n}};
    char *h_all = hexdup(all, 256), *h_big = hexdup(big, big_n);
    const char *args = "[\"photo\",{\"name\":\"a.png\",\"bytes\":{\"_placeholder\":true,\"num\":0}},"
                       "[{\"_placeholder\":true,\"num\":2},{\"deep\":{\"x\":{\"_placeholder\":true,\"num\":1}}}],7]";
    size_t exp_len = strlen(h_all) + strlen(h_big) + 512;
    char *expected = malloc(exp_len);
    snprintf(expected, exp_len,
             "[\"photo\",{\"name\":\"a.png\",\"bytes\":{\"$bin\":\"%s\"}},[{\"$bin\":\"%s\"},{\"deep\":{\"x\":{\"$bin\":\"\"}}}],7]",
             h_all, h_big);

    /* ---- C -> server -> C */
    NOTE("emit_binary(\"echo\") with 3 buffers (256 B, 0 B, 64 KiB) at depths 1-3, with ack");
    CHECK(realtime_emit_binary(c, "echo", args, bufs, 3, 5000, rt_ev_ack, acks) == REALTIME_STATUS_OK,
          "emit_binary: %s", realtime_last_error());
    /* the caller's buffers are copied: scribbling on them now must not matter */
    uint8_t *scribble = malloc(big_n);
    memcpy(scribble, big, big_n);
    memset(big, 0xAA, big_n);
    size_t line_cap = 16 * big_n + 8192;
    char *line = malloc(line_cap), *raw = malloc(line_cap);
    CHECK(rt_server_wait_event_where(srv, "message", "name", "echo", 5000, line, line_cap), "server: no echo");
    CHECK(rt_json_get_raw(line, "bin", raw, line_cap), "server line has no binary: %.300s", line);
    CHECK(rt_jeq(raw, expected), "server received %.300s...", raw);
    NOTE("server received the buffers at their positions, byte-exact");
    memcpy(big, scribble, big_n);
    free(scribble);

    rt_record r;
    CHECK(rt_log_wait_nth(log, "echo", 1, 5000, &r), "no echo back");
    NOTE("echo args %.200s, %zu buffers", r.data, rt_ev_buf_count(echo, 1));
    CHECK(rt_ev_buf_count(echo, 1) == 3, "echo came with %zu buffers", rt_ev_buf_count(echo, 1));
    char *got = resolve(r.data, echo, 1);
    CHECK(rt_jeq(got, expected), "echo differs: %.300s", got);
    free(got);
    CHECK(rt_log_wait_nth(log, "ack", 1, 5000, &r), "no binary ack");
    CHECK(r.text[0] == '\0', "ack error %s", r.text);
    CHECK(r.n == 3, "ack with %lld buffers", (long long)r.n);
    got = resolve(r.data, acks, 1);
    CHECK(rt_jeq(got, expected), "ack differs: %.300s", got);
    free(got);
    NOTE("echo event and binary ack byte-exact");

    /* ---- limits */
    NOTE("10 buffers are accepted, 11 refused; a placeholder without its buffer refused");
    uint8_t ten[11];
    realtime_buffer tb[11];
    char targs[1024];
    size_t o = (size_t)sprintf(targs, "[");
    for (int i = 0; i < 11; i++) {
        ten[i] = (uint8_t)(i * 17);
        tb[i].data = &ten[i];
        tb[i].len = 1;
    }
    for (int i = 0; i < 10; i++) o += (size_t)sprintf(targs + o, "%s{\"_placeholder\":true,\"num\":%d}", i ? "," : "", i);
    sprintf(targs + o, "]");
    CHECK(realtime_emit_binary(c, "echo", targs, tb, 10, 0, NULL, NULL) == REALTIME_STATUS_OK, "10 buffers: %s",
          realtime_last_error());
    CHECK(rt_log_wait_nth(log, "echo", 2, 5000, &r), "no echo of 10 buffers");
    CHECK(rt_ev_buf_count(echo, 2) == 10, "echo of 10 came with %zu buffers", rt_ev_buf_count(echo, 2));
    for (size_t i = 0; i < 10; i++) {
        size_t len;
        const uint8_t *d = rt_ev_buf(echo, 2, i, &len);
        char ph[64];
        CHECK(rt_jarr_item(r.data, (int)i, ph, sizeof ph), "arg %zu missing", i);
        double num = -1;
        CHECK(rt_json_get_number(ph, "num", &num), "arg %zu not a placeholder: %s", i, ph);
        d = rt_ev_buf(echo, 2, (size_t)num, &len);
        CHECK(len == 1 && d[0] == ten[i], "arg %zu: buffer of %zu bytes, byte %d", i, len, len ? d[0] : -1);
    }
    o = (size_t)sprintf(targs, "[");
    for (int i = 0; i < 11; i++) o += (size_t)sprintf(targs + o, "%s{\"_placeholder\":true,\"num\":%d}", i ? "," : "", i);
    sprintf(targs + o, "]");
    realtime_status st = realtime_emit_binary(c, "echo", targs, tb, 11, 0, NULL, NULL);
    NOTE("11 buffers -> status %d \"%s\"", (int)st, realtime_last_error());
    CHECK(st != REALTIME_STATUS_OK, "11 buffers accepted");
    CHECK(strlen(realtime_last_error()) > 0, "no message for 11 buffers");
    st = realtime_emit_binary(c, "echo", "[{\"_placeholder\":true,\"num\":1}]", tb, 1, 0, NULL, NULL);
    NOTE("placeholder num 1 with 1 buffer -> status %d \"%s\"", (int)st, realtime_last_error());
    CHECK(st == REALTIME_STATUS_INVALID_ARGUMENT, "a placeholder without its buffer: status %d", (int)st);
    CHECK(realtime_is_connected(c), "refused emits dropped the connection");

    /* ---- server -> C */
    NOTE("server emits binary to C: [{$bin 00ff10}, {a:[{$bin ''}, {$bin 'deadbeef'}]}]");
    const char *sargs = "[{\"$bin\":\"00ff10\"},{\"a\":[{\"$bin\":\"\"},{\"$bin\":\"deadbeef\"}],\"s\":\"str\"}]";
    CHECK(rt_server_commandf(srv, 5000, "emit-bin %s bin %s", cid, sargs), "emit-bin");
    CHECK(rt_log_wait_nth(log, "bin", 1, 5000, &r), "C got no binary event");
    NOTE("C received %s with %zu buffers", r.data, rt_ev_buf_count(bin, 1));
    got = resolve(r.data, bin, 1);
    CHECK(rt_jeq(got, sargs), "C received %s, server sent %s", got, sargs);
    free(got);

    /* ---- server asks C, binary answer */
    NOTE("server asks C (emit-ack); C answers with realtime_ack_binary");
    CHECK(rt_server_commandf(srv, 5000, "emit-ack b1 %s 3000 ask [{\"$bin\":\"0102\"}]", cid), "emit-ack");
    CHECK(rt_log_wait_nth(log, "ask", 1, 5000, &r), "no ask event");
    CHECK(r.n != 0, "ack_id 0");
    got = resolve(r.data, ask, 1);
    CHECK(rt_jeq(got, "[{\"$bin\":\"0102\"}]"), "ask args %s", got);
    free(got);
    realtime_buffer ab[2] = {{all + 250, 6}, {all, 3}};
    CHECK(realtime_ack_binary(c, (uint64_t)r.n, "[\"ok\",{\"b\":{\"_placeholder\":true,\"num\":1}},{\"_placeholder\":true,\"num\":0}]",
                              ab, 2) == REALTIME_STATUS_OK,
          "ack_binary: %s", realtime_last_error());
    CHECK(realtime_ack_binary(c, (uint64_t)r.n, "[]", NULL, 0) == REALTIME_STATUS_UNKNOWN_ACK, "second binary answer");
    CHECK(rt_server_wait_event_where(srv, "ack_answer", "tag", "b1", 5000, line, line_cap), "server: no answer");
    CHECK(rt_json_get_raw(line, "args", raw, line_cap), "line %s", line);
    NOTE("server got %s", raw);
    CHECK(rt_jeq(raw, "[\"ok\",{\"b\":{\"$bin\":\"000102\"}},{\"$bin\":\"fafbfcfdfeff\"}]"), "server got %s", raw);

    /* ---- with the JS peer */
    NOTE("C -> JS peer (relay): 64 KiB + 256 B byte-exact");
    rt_peer *peer = rt_peer_start(rt_server_port(srv), "/", NULL);
    rt_ev *pbin = rt_ev_new(log, "pbin");
    CHECK(realtime_on(c, "pbin", rt_ev_event, pbin) > 0, "on pbin");
    char rargs[512];
    snprintf(rargs, sizeof rargs, "[\"%s\",\"pbin\",{\"_placeholder\":true,\"num\":1},{\"k\":{\"_placeholder\":true,\"num\":0}}]",
             peer->id);
    realtime_buffer pb[2] = {{all, 256}, {big, big_n}};
    CHECK(realtime_emit_binary(c, "relay", rargs, pb, 2, 0, NULL, NULL) == REALTIME_STATUS_OK, "relay: %s",
          realtime_last_error());
    CHECK(rt_server_wait_event_where(peer->proc, "recv", "name", "pbin", 5000, line, line_cap), "peer got nothing");
    CHECK(rt_json_get_raw(line, "args", raw, line_cap), "peer line %.200s", line);
    snprintf(expected, exp_len, "[{\"$bin\":\"%s\"},{\"k\":{\"$bin\":\"%s\"}}]", h_big, h_all);
    CHECK(rt_jeq(raw, expected), "JS peer received %.300s", raw);

    NOTE("JS peer -> C (relay): byte-exact");
    CHECK(rt_peer_cmd(peer, "emit relay [\"%s\",\"pbin\",{\"$bin\":\"%s\"},\"x\",[{\"$bin\":\"00\"}]]", cid, h_all),
          "peer emit");
    CHECK(rt_log_wait_nth(log, "pbin", 1, 5000, &r), "C got nothing from the peer");
    got = resolve(r.data, pbin, 1);
    snprintf(expected, exp_len, "[{\"$bin\":\"%s\"},\"x\",[{\"$bin\":\"00\"}]]", h_all);
    CHECK(rt_jeq(got, expected), "C received %.300s", got);
    free(got);

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    CHECK(rt_log_count(log, "disconnect") == 0, "disconnected during the test");
    realtime_free(c);
    rt_peer_free(peer);
    rt_ev_free(echo);
    rt_ev_free(bin);
    rt_ev_free(ask);
    rt_ev_free(acks);
    rt_ev_free(pbin);
    rt_log_free(log);
    rt_server_free(srv);
    free(line);
    free(raw);
    free(expected);
    free(h_all);
    free(h_big);
    free(big);
    rt_test_pass();
    return 0;
}
