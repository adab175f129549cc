/* peer.c: see peer.h. Included by the test programs that use it (#include "peer.c"). */
#include "peer.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *peer_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "peer: out of memory\n");
        _exit(3);
    }
    return p;
}

/* =================================================================================================
 * JS peer */

static rt_peer *peer_start_with(const char *args) {
    rt_peer *p = peer_xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->proc = rt_server_start(args); /* returns once the peer is connected ("listening") */
    char line[512];
    CHECK(rt_server_wait_event(p->proc, "ready", 5000, line, sizeof line), "JS peer sent no ready line");
    CHECK(rt_json_get_string(line, "id", p->id, sizeof p->id), "JS peer ready line without id: %s", line);
    /* its first "connect" line is still queued: drop it */
    CHECK(rt_server_wait_event(p->proc, "connect", 5000, NULL, 0), "JS peer: no connect line");
    return p;
}

rt_peer *rt_peer_start(int port, const char *nsp, const char *auth_json) {
    char args[2048];
    int n = snprintf(args, sizeof args, "--peer --url http://127.0.0.1:%d%s", port, nsp ? nsp : "/");
    if (auth_json) snprintf(args + n, sizeof args - (size_t)n, " --auth %s", auth_json);
    return peer_start_with(args);
}

rt_peer *rt_agnost_peer_start(int port, const char *auth_json) {
    char args[2048];
    snprintf(args, sizeof args, "--peer --agnost --path /realtime/ --url http://127.0.0.1:%d --auth %s", port,
             auth_json);
    return peer_start_with(args);
}

int rt_peer_recv_about(rt_peer *p, const char *name, const char *needle, int timeout_ms, char *out, size_t len) {
    int64_t end = rt_now_ms() + timeout_ms;
    char line[8192];
    for (;;) {
        int left = (int)(end - rt_now_ms());
        if (!rt_server_wait_event_where(p->proc, "recv", "name", name, left > 0 ? left : 0, line, sizeof line)) return 0;
        if (strstr(line, needle)) return out ? rt_json_get_raw(line, "args", out, len) : 1;
    }
}

int rt_peer_cmd(rt_peer *p, const char *fmt, ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return rt_server_command(p->proc, line, 5000);
}

void rt_peer_free(rt_peer *p) {
    if (!p) return;
    rt_server_free(p->proc);
    free(p);
}

/* =================================================================================================
 * JSON: canonical text */

typedef struct jbuf {
    char *s;
    size_t n, cap;
} jbuf;

static void jb_putn(jbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *g = realloc(b->s, cap);
        if (!g) _exit(3);
        b->s = g;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void jb_put(jbuf *b, const char *s) { jb_putn(b, s, strlen(s)); }

static const char *jws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static void jb_utf8(jbuf *b, unsigned cp) {
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        jb_putn(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        jb_putn(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        jb_putn(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        jb_putn(b, u, 4);
    }
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)p[i])) return 0;
        *v = *v * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0' : tolower((unsigned char)p[i]) - 'a' + 10);
    }
    return 1;
}

/* p at '"': writes the canonical string (re-escaped) into b; returns the char after the string */
static const char *jcanon_string(const char *p, jbuf *b) {
    jbuf raw = {0};
    p++;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20) goto bad;
        if (*p == '\\') {
            p++;
            switch (*p) {
            case '"': jb_putn(&raw, "\"", 1); break;
            case '\\': jb_putn(&raw, "\\", 1); break;
            case '/': jb_putn(&raw, "/", 1); break;
            case 'b': jb_putn(&raw, "\b", 1); break;
            case 'f': jb_putn(&raw, "\f", 1); break;
            case 'n': jb_putn(&raw, "\n", 1); break;
            case 'r': jb_putn(&raw, "\r", 1); break;
            case 't': jb_putn(&raw, "\t", 1); break;
            case 'u': {
                unsigned v;
                if (!hex4(p + 1, &v)) goto bad;
                p += 4;
                if (v >= 0xD800 && v < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                    unsigned lo;
                    if (hex4(p + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                        p += 6;
                    }
                }
                jb_utf8(&raw, v);
                break;
            }
            default: goto bad;
            }
            p++;
        } else {
            jb_putn(&raw, p, 1);
            p++;
        }
    }
    if (*p != '"') goto bad;
    jb_put(b, "\"");
    for (size_t i = 0; i < raw.n; i++) {
        unsigned char c = (unsigned char)raw.s[i];
        if (c == '"') jb_put(b, "\\\"");
        else if (c == '\\') jb_put(b, "\\\\");
        else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            jb_put(b, e);
        } else jb_putn(b, (const char *)&c, 1);
    }
    jb_put(b, "\"");
    free(raw.s);
    return p + 1;
bad:
    free(raw.s);
    return NULL;
}

typedef struct jmember {
    char *key; /* canonical key text (quoted) */
    char *val;
} jmember;

static int jmember_cmp(const void *a, const void *b) {
    return strcmp(((const jmember *)a)->key, ((const jmember *)b)->key);
}

static const char *jcanon_value(const char *p, jbuf *b, int depth);

static const char *jcanon_value(const char *p, jbuf *b, int depth) {
    if (depth > 100) return NULL;
    p = jws(p);
    if (*p == '"') return jcanon_string(p, b);
    if (*p == '[') {
        jb_put(b, "[");
        p = jws(p + 1);
        if (*p == ']') {
            jb_put(b, "]");
            return p + 1;
        }
        for (int first = 1;; first = 0) {
            if (!first) jb_put(b, ",");
            p = jcanon_value(p, b, depth + 1);
            if (!p) return NULL;
            p = jws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == ']') {
                jb_put(b, "]");
                return p + 1;
            }
            return NULL;
        }
    }
    if (*p == '{') {
        jmember *m = NULL;
        size_t nm = 0;
        p = jws(p + 1);
        if (*p != '}') {
            for (;;) {
                p = jws(p);
                if (*p != '"') goto objbad;
                jbuf k = {0}, v = {0};
                p = jcanon_string(p, &k);
                if (!p) {
                    free(k.s);
                    goto objbad;
                }
                p = jws(p);
                if (*p != ':') {
                    free(k.s);
                    goto objbad;
                }
                p = jcanon_value(p + 1, &v, depth + 1);
                if (!p) {
                    free(k.s);
                    free(v.s);
                    goto objbad;
                }
                jmember *g = realloc(m, (nm + 1) * sizeof *m);
                if (!g) _exit(3);
                m = g;
                m[nm].key = k.s;
                m[nm].val = v.s;
                nm++;
                p = jws(p);
                if (*p == ',') {
                    p++;
                    continue;
                }
                if (*p == '}') break;
                goto objbad;
            }
        }
        if (nm > 1) qsort(m, nm, sizeof *m, jmember_cmp);
        jb_put(b, "{");
        for (size_t i = 0; i < nm; i++) {
            if (i) jb_put(b, ",");
            jb_put(b, m[i].key);
            jb_put(b, ":");
            jb_put(b, m[i].val);
        }
        jb_put(b, "}");
        for (size_t i = 0; i < nm; i++) {
            free(m[i].key);
            free(m[i].val);
        }
        free(m);
        return p + 1;
    objbad:
        for (size_t i = 0; i < nm; i++) {
            free(m[i].key);
            free(m[i].val);
        }
        free(m);
        return NULL;
    }
    if (strncmp(p, "true", 4) == 0) {
        jb_put(b, "true");
        return p + 4;
    }
    if (strncmp(p, "false", 5) == 0) {
        jb_put(b, "false");
        return p + 5;
    }
    if (strncmp(p, "null", 4) == 0) {
        jb_put(b, "null");
        return p + 4;
    }
    if (*p == '-' || isdigit((unsigned char)*p)) {
        char *end;
        double d = strtod(p, &end);
        if (end == p) return NULL;
        char num[64];
        if (d == (double)(long long)d && d > -1e15 && d < 1e15)
            snprintf(num, sizeof num, "%lld", (long long)d);
        else
            snprintf(num, sizeof num, "%.17g", d);
        jb_put(b, num);
        return end;
    }
    return NULL;
}

char *rt_jcanon(const char *json) {
    if (!json) return NULL;
    jbuf b = {0};
    const char *e = jcanon_value(json, &b, 0);
    if (!e || *jws(e) != '\0') {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int rt_jeq(const char *a, const char *b) {
    char *ca = rt_jcanon(a), *cb = rt_jcanon(b);
    int eq = ca && cb && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return eq;
}

/* skip one value (p at its start); returns the char after it or NULL */
static const char *jskip(const char *p) {
    jbuf b = {0};
    const char *e = jcanon_value(p, &b, 0);
    free(b.s);
    return e;
}

int rt_jarr_item(const char *arr, int i, char *out, size_t len) {
    if (!arr) return 0;
    const char *p = jws(arr);
    if (*p != '[') return 0;
    p = jws(p + 1);
    if (*p == ']') return 0;
    for (int k = 0;; k++) {
        p = jws(p);
        const char *e = jskip(p);
        if (!e) return 0;
        if (k == i) {
            size_t n = (size_t)(e - p);
            if (out && len) {
                if (n >= len) n = len - 1;
                memcpy(out, p, n);
                out[n] = '\0';
            }
            return 1;
        }
        p = jws(e);
        if (*p != ',') return 0;
        p++;
    }
}

int rt_jarr_len(const char *arr) {
    if (!arr) return -1;
    const char *p = jws(arr);
    if (*p != '[') return -1;
    p = jws(p + 1);
    if (*p == ']') return 0;
    for (int k = 1;; k++) {
        const char *e = jskip(p);
        if (!e) return -1;
        p = jws(e);
        if (*p == ']') return k;
        if (*p != ',') return -1;
        p = jws(p + 1);
    }
}

void rt_hex(const uint8_t *data, size_t len, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = d[data[i] >> 4];
        out[2 * i + 1] = d[data[i] & 15];
    }
    out[2 * len] = '\0';
}

/* =================================================================================================
 * Recording callbacks */

rt_ev *rt_ev_new(rt_log *log, const char *kind) {
    rt_ev *ev = peer_xmalloc(sizeof *ev);
    memset(ev, 0, sizeof *ev);
    ev->log = log;
    snprintf(ev->kind, sizeof ev->kind, "%s", kind);
    pthread_mutex_init(&ev->mu, NULL);
    return ev;
}

void rt_ev_free(rt_ev *ev) {
    if (!ev) return;
    for (int i = 0; i < RT_EV_MAX; i++) {
        if (!ev->bufs[i]) continue;
        for (size_t k = 0; k < ev->bufs[i]->count; k++) free(ev->bufs[i]->data[k]);
        free(ev->bufs[i]);
    }
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

static void ev_store(rt_ev *ev, const realtime_buffer *buffers, size_t count) {
    pthread_mutex_lock(&ev->mu);
    int call = ++ev->calls;
    if (count > 0 && call < RT_EV_MAX) {
        rt_ev_bufs *b = peer_xmalloc(sizeof *b);
        memset(b, 0, sizeof *b);
        b->count = count > 10 ? 10 : count;
        for (size_t i = 0; i < b->count; i++) {
            b->len[i] = buffers[i].len;
            b->data[i] = peer_xmalloc(buffers[i].len);
            if (buffers[i].len) memcpy(b->data[i], buffers[i].data, buffers[i].len);
        }
        ev->bufs[call] = b;
    }
    pthread_mutex_unlock(&ev->mu);
}

void rt_ev_event(void *user, const char *event, const char *args_json, const realtime_buffer *buffers,
                 size_t buffer_count, uint64_t ack_id) {
    rt_ev *ev = user;
    ev_store(ev, buffers, buffer_count);
    rt_log_add(ev->log, ev->kind, event ? event : "(null)", args_json ? args_json : "(null)", (int64_t)ack_id);
    if (ev->auto_ack && ack_id != 0) {
        realtime_status st = realtime_ack(ev->client, ack_id, ev->auto_ack);
        if (st != REALTIME_STATUS_OK) rt_log_add(ev->log, "auto_ack_failed", realtime_last_error(), NULL, st);
    }
}

void rt_ev_ack(void *user, const char *error, const char *args_json, const realtime_buffer *buffers,
               size_t buffer_count) {
    rt_ev *ev = user;
    ev_store(ev, buffers, buffer_count);
    rt_log_add(ev->log, ev->kind, error ? error : "", args_json ? args_json : "", (int64_t)buffer_count);
}

void rt_ev_channel(void *user, const char *channel, const char *member_id, const char *data_json) {
    rt_ev *ev = user;
    ev_store(ev, NULL, 0);
    jbuf b = {0};
    jb_put(&b, "{\"channel\":");
    if (channel) {
        jb_put(&b, "\"");
        jb_put(&b, channel); /* test channel names need no escaping */
        jb_put(&b, "\"");
    } else {
        jb_put(&b, "null");
    }
    jb_put(&b, ",\"data\":");
    jb_put(&b, data_json ? data_json : "\"(NULL data_json)\"");
    jb_put(&b, "}");
    char *c = rt_jcanon(b.s);
    rt_log_add(ev->log, ev->kind, member_id ? member_id : "(null)", c ? c : b.s, 0);
    free(c);
    free(b.s);
}

void rt_ev_members(void *user, const char *error, const char *members_json) {
    rt_ev *ev = user;
    ev_store(ev, NULL, 0);
    rt_log_add(ev->log, ev->kind, error ? error : "", members_json ? members_json : "", 0);
}

size_t rt_ev_buf_count(rt_ev *ev, int nth) {
    pthread_mutex_lock(&ev->mu);
    size_t n = (nth > 0 && nth < RT_EV_MAX && ev->bufs[nth]) ? ev->bufs[nth]->count : 0;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

const uint8_t *rt_ev_buf(rt_ev *ev, int nth, size_t i, size_t *len) {
    pthread_mutex_lock(&ev->mu);
    const uint8_t *d = NULL;
    *len = 0;
    if (nth > 0 && nth < RT_EV_MAX && ev->bufs[nth] && i < ev->bufs[nth]->count) {
        d = ev->bufs[nth]->data[i];
        *len = ev->bufs[nth]->len[i];
    }
    pthread_mutex_unlock(&ev->mu);
    return d;
}
