/*
 * realtime: a command-line client for any Socket.IO v5 server, built on librealtime's C API.
 *
 *   realtime connect URL [options] [action...]
 *
 * Actions run in the order given, after the namespace is connected:
 *   emit EVENT [ARGS_JSON]          emit (ARGS_JSON is a JSON array, default [])
 *   emit --ack EVENT [ARGS_JSON]    emit and wait for the server's answer (printed)
 *   join CHANNEL                    join an Agnost channel
 *   send CHANNEL EVENT MESSAGE_JSON send a channel message (Agnost)
 *   listen [EVENT...]               print server events (all, or only these names) until --count
 *                                   events arrived or --timeout passed; must be the last action
 * With no action: connect, print the socket id, disconnect.
 *
 * Exit codes: 0 done; 1 usage or bad input; 2 could not connect (connect_error, refusal, attempts
 * used up); 3 timed out; 4 the connection was lost; 5 an ack failed (timeout, disconnected).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "realtime.h"

enum {
    EXIT_DONE = 0,
    EXIT_USAGE = 1,
    EXIT_CONNECT = 2,
    EXIT_TIMEOUT = 3,
    EXIT_LOST = 4,
    EXIT_ACK = 5,
};

static const char USAGE[] =
    "usage: realtime connect URL [options] [action...]\n"
    "\n"
    "Connects to a Socket.IO v5 server (socket.io 4.x) and runs the actions in order.\n"
    "\n"
    "Actions:\n"
    "  emit EVENT [ARGS_JSON]           emit an event (ARGS_JSON: a JSON array, default [])\n"
    "  emit --ack EVENT [ARGS_JSON]     emit and print the server's ack answer\n"
    "  join CHANNEL                     join an Agnost channel\n"
    "  send CHANNEL EVENT MESSAGE_JSON  send a message to an Agnost channel\n"
    "  listen [EVENT...]                print server events (all, or these names); last action\n"
    "\n"
    "Options:\n"
    "  --auth JSON          the CONNECT auth object, e.g. '{\"token\":\"abc\"}'\n"
    "  --path PATH          the server's path (default /socket.io/)\n"
    "  --transport NAME     websocket (the transport this build supports)\n"
    "  --options JSON       any further realtime_new() options, merged (e.g. '{\"caFile\":\"ca.pem\"}')\n"
    "  --count N            listen: stop after N events (default: until --timeout)\n"
    "  --timeout MS         give up after MS milliseconds in total (default 10000; 0: never)\n"
    "  --ack-timeout MS     emit --ack: fail the ack after MS (default: --timeout)\n"
    "  --json               machine output: one JSON object per line\n"
    "  -q, --quiet          print only events and ack answers\n"
    "  -h, --help           this text\n"
    "\n"
    "Output (people): 'connected <id>', '<event> <args_json>', 'ack <args_json>'.\n"
    "Output (--json): {\"type\":\"connected\",\"id\":..} {\"type\":\"event\",\"event\":..,\"args\":[..]}\n"
    "                 {\"type\":\"ack\",\"args\":[..]} {\"type\":\"error\",\"message\":..,\"data\":..}\n"
    "                 {\"type\":\"disconnect\",\"reason\":..}\n"
    "\n"
    "Exit codes: 0 done, 1 usage/bad input, 2 could not connect, 3 timed out,\n"
    "            4 connection lost, 5 ack failed.\n"
    "\n"
    "Example:\n"
    "  realtime connect http://localhost:3000 emit --ack echo '[\"hi\"]' listen --count 1\n";

/* ------------------------------------------------------------------------------------------------ */
/* State shared with the callbacks */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static bool connected;
static bool connect_failed;
static bool lost;
static bool ack_done;
static bool ack_failed;
static long events_seen;
static bool json_output;
static bool quiet;
static bool listening;
static char **listen_names;
static int listen_count;

static void print_json_string(FILE *out, const char *text) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20) fprintf(out, "\\u%04x", *p);
            else fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* Serialises output lines: callbacks run on library threads. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void status_line(const char *fmt, ...) {
    if (quiet || json_output) return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

static void on_connect(void *user_data) {
    realtime_client *client = user_data;
    char id[128] = "";
    realtime_socket_id(client, id, sizeof id);
    pthread_mutex_lock(&out_lock);
    if (json_output) {
        fputs("{\"type\":\"connected\",\"id\":", stdout);
        print_json_string(stdout, id);
        fputs("}\n", stdout);
        fflush(stdout);
    } else if (!quiet) {
        fprintf(stderr, "connected %s\n", id);
    }
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_lock(&lock);
    connected = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void report_error(const char *message, const char *data_json) {
    pthread_mutex_lock(&out_lock);
    if (json_output) {
        fputs("{\"type\":\"error\",\"message\":", stdout);
        print_json_string(stdout, message);
        fprintf(stdout, ",\"data\":%s}\n", data_json ? data_json : "null");
        fflush(stdout);
    } else {
        fprintf(stderr, "error: %s%s%s\n", message, data_json && strcmp(data_json, "null") ? " " : "",
                data_json && strcmp(data_json, "null") ? data_json : "");
    }
    pthread_mutex_unlock(&out_lock);
}

static void on_error(void *user_data, const char *message, const char *data_json) {
    (void)user_data;
    report_error(message, data_json);
    pthread_mutex_lock(&lock);
    /* Before the first connect every error means the connection could not be made; the library keeps
     * retrying network failures, but a CLI reports the first one and stops. */
    if (!connected) connect_failed = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_reconnect_failed(void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&lock);
    connect_failed = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_disconnect(void *user_data, const char *reason) {
    (void)user_data;
    pthread_mutex_lock(&out_lock);
    if (json_output) {
        fputs("{\"type\":\"disconnect\",\"reason\":", stdout);
        print_json_string(stdout, reason);
        fputs("}\n", stdout);
        fflush(stdout);
    } else if (!quiet) {
        fprintf(stderr, "disconnected: %s\n", reason);
    }
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_lock(&lock);
    if (strcmp(reason, "io client disconnect") != 0) lost = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static bool wanted(const char *event) {
    if (listen_count == 0) return true;
    for (int i = 0; i < listen_count; i++)
        if (strcmp(listen_names[i], event) == 0) return true;
    return false;
}

static void on_any(void *user_data, const char *event, const char *args_json, const realtime_buffer *buffers,
                   size_t buffer_count, uint64_t ack_id) {
    (void)user_data;
    (void)buffers;
    (void)ack_id;
    pthread_mutex_lock(&lock);
    bool take = listening && wanted(event);
    pthread_mutex_unlock(&lock);
    if (!take) return;
    pthread_mutex_lock(&out_lock);
    if (json_output) {
        fputs("{\"type\":\"event\",\"event\":", stdout);
        print_json_string(stdout, event);
        fprintf(stdout, ",\"args\":%s", args_json);
        if (buffer_count) fprintf(stdout, ",\"buffers\":%zu", buffer_count);
        fputs("}\n", stdout);
    } else {
        fprintf(stdout, "%s %s", event, args_json);
        if (buffer_count) fprintf(stdout, " (+%zu binary)", buffer_count);
        fputc('\n', stdout);
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_lock(&lock);
    events_seen++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_ack(void *user_data, const char *error, const char *args_json, const realtime_buffer *buffers,
                   size_t buffer_count) {
    (void)user_data;
    (void)buffers;
    (void)buffer_count;
    pthread_mutex_lock(&out_lock);
    if (error) {
        if (json_output) {
            fputs("{\"type\":\"ack_error\",\"error\":", stdout);
            print_json_string(stdout, error);
            fputs("}\n", stdout);
        } else {
            fprintf(stderr, "ack failed: %s\n", error);
        }
    } else if (json_output) {
        fprintf(stdout, "{\"type\":\"ack\",\"args\":%s}\n", args_json);
    } else {
        fprintf(stdout, "ack %s\n", args_json);
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_lock(&lock);
    ack_done = true;
    ack_failed = error != NULL;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------------------------------------------ */
/* Waiting */

static struct timespec deadline;
static bool has_deadline;

static void set_deadline(long timeout_ms) {
    has_deadline = timeout_ms > 0;
    if (!has_deadline) return;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
}

/* Waits (lock held) for a change; false once the deadline passed. */
static bool wait_change(void) {
    if (!has_deadline) {
        pthread_cond_wait(&changed, &lock);
        return true;
    }
    return pthread_cond_timedwait(&changed, &lock, &deadline) != ETIMEDOUT;
}

static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("realtime: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(realtime --help for usage)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Appends `"key":value` to a JSON object text held in buf (which starts as "{}"). */
static int add_option(char *buf, size_t cap, const char *key, const char *value_json) {
    size_t len = strlen(buf);
    const char *sep = len > 2 ? "," : "";
    buf[len - 1] = '\0'; /* drop '}' */
    int n = snprintf(buf + len - 1, cap - (len - 1), "%s\"%s\":%s}", sep, key, value_json);
    return n > 0 && (size_t)n < cap - (len - 1) ? 0 : -1;
}

/* Merges the members of a JSON object text (from --options) into buf. */
static int merge_options(char *buf, size_t cap, const char *object_json) {
    const char *open = strchr(object_json, '{');
    const char *close = strrchr(object_json, '}');
    if (!open || !close || close < open) return -1;
    size_t inner = (size_t)(close - open - 1);
    bool empty = true;
    for (const char *p = open + 1; p < close; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t') empty = false;
    if (empty) return 0;
    size_t len = strlen(buf);
    if (len + inner + 3 > cap) return -1;
    const char *sep = len > 2 ? "," : "";
    buf[len - 1] = '\0';
    snprintf(buf + len - 1, cap - (len - 1), "%s%.*s}", sep, (int)inner, open + 1);
    return 0;
}

static char *json_quote(const char *text) {
    size_t cap = strlen(text) * 6 + 3;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(USAGE, stdout);
        return EXIT_DONE;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("realtime %s\n", realtime_version());
        return EXIT_DONE;
    }
    if (argc < 3 || strcmp(argv[1], "connect") != 0)
        return usage_error(argc < 2 ? "missing command" : argc < 3 && strcmp(argv[1], "connect") == 0
                                                             ? "connect needs a URL"
                                                             : "unknown command '%s'",
                           argc >= 2 ? argv[1] : "");
    const char *url = argv[2];

    static char options[16384] = "{}";
    long timeout_ms = 10000;
    long count = -1;
    long ack_timeout_ms = -1;
    int first_action = argc;
    for (int i = 3; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "--json") == 0) {
            json_output = true;
        } else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(USAGE, stdout);
            return EXIT_DONE;
        } else if (strcmp(arg, "--auth") == 0 || strcmp(arg, "--options") == 0 || strcmp(arg, "--path") == 0 ||
                   strcmp(arg, "--transport") == 0 || strcmp(arg, "--count") == 0 ||
                   strcmp(arg, "--timeout") == 0 || strcmp(arg, "--ack-timeout") == 0) {
            if (!has_value) return usage_error("%s needs a value", arg);
            const char *value = argv[++i];
            int rc = 0;
            if (strcmp(arg, "--auth") == 0) {
                rc = add_option(options, sizeof options, "auth", value);
            } else if (strcmp(arg, "--options") == 0) {
                rc = merge_options(options, sizeof options, value);
                if (rc) return usage_error("--options must be a JSON object");
            } else if (strcmp(arg, "--path") == 0) {
                char *quoted = json_quote(value);
                rc = quoted ? add_option(options, sizeof options, "path", quoted) : -1;
                free(quoted);
            } else if (strcmp(arg, "--transport") == 0) {
                if (strcmp(value, "websocket") != 0)
                    return usage_error("transport '%s' is not available in this build (websocket is)", value);
            } else {
                char *end = NULL;
                long n = strtol(value, &end, 10);
                if (!end || *end || n < 0) return usage_error("%s needs a non-negative number, got '%s'", arg, value);
                if (strcmp(arg, "--count") == 0) count = n;
                else if (strcmp(arg, "--ack-timeout") == 0) ack_timeout_ms = n;
                else timeout_ms = n;
            }
            if (rc) return usage_error("options too long");
        } else if (arg[0] == '-' && arg[1] == '-') {
            return usage_error("unknown option '%s'", arg);
        } else {
            first_action = i;
            /* Options may also follow the actions' arguments only as part of them: stop here. */
            break;
        }
    }
    /* Options after the actions (e.g. "listen --count 1"): accept the global ones there too. */
    int action_end = argc;
    for (int i = first_action; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 || strcmp(argv[i], "--timeout") == 0) {
            if (i + 1 >= argc) return usage_error("%s needs a value", argv[i]);
            char *end = NULL;
            long n = strtol(argv[i + 1], &end, 10);
            if (!end || *end || n < 0) return usage_error("%s needs a non-negative number", argv[i]);
            if (strcmp(argv[i], "--count") == 0) count = n;
            else timeout_ms = n;
            if (action_end == argc) action_end = i;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_output = true;
            if (action_end == argc) action_end = i;
        } else if (action_end != argc && strcmp(argv[i], "--ack") != 0) {
            return usage_error("'%s' after the options that end the command line", argv[i]);
        }
    }

    /* Check the actions before connecting. */
    for (int i = first_action; i < action_end;) {
        const char *action = argv[i];
        if (strcmp(action, "emit") == 0) {
            int j = i + 1;
            if (j < action_end && strcmp(argv[j], "--ack") == 0) j++;
            if (j >= action_end) return usage_error("emit needs an EVENT");
            j++;
            if (j < action_end && argv[j][0] == '[') j++;
            i = j;
        } else if (strcmp(action, "join") == 0) {
            if (i + 1 >= action_end) return usage_error("join needs a CHANNEL");
            i += 2;
        } else if (strcmp(action, "send") == 0) {
            if (i + 3 >= action_end) return usage_error("send needs CHANNEL EVENT MESSAGE_JSON");
            i += 4;
        } else if (strcmp(action, "listen") == 0) {
            listen_names = &argv[i + 1];
            listen_count = action_end - i - 1;
            /* From the connect on, so that answers to the emits before it are not missed. */
            listening = true;
            if (count < 0 && timeout_ms == 0) return usage_error("listen needs --count or --timeout");
            break;
        } else {
            return usage_error("unknown action '%s'", action);
        }
    }

    set_deadline(timeout_ms);
    realtime_client *client = realtime_new(url, options);
    if (!client) {
        fprintf(stderr, "realtime: %s\n", realtime_last_error());
        return EXIT_USAGE;
    }
    realtime_on_connect(client, on_connect, client);
    realtime_on_error(client, on_error, NULL);
    realtime_on_disconnect(client, on_disconnect, NULL);
    realtime_on_reconnect_failed(client, on_reconnect_failed, NULL);
    realtime_on_any(client, on_any, NULL);

    int result = EXIT_DONE;
    pthread_mutex_lock(&lock);
    while (!connected && !connect_failed) {
        if (!wait_change()) break;
    }
    if (!connected) {
        result = connect_failed ? EXIT_CONNECT : EXIT_TIMEOUT;
        if (result == EXIT_TIMEOUT) status_line("timed out connecting to %s", url);
    }
    pthread_mutex_unlock(&lock);

    for (int i = first_action; result == EXIT_DONE && i < action_end;) {
        const char *action = argv[i];
        realtime_status status = REALTIME_STATUS_OK;
        if (strcmp(action, "emit") == 0) {
            bool ack = strcmp(argv[i + 1], "--ack") == 0;
            int j = i + 1 + (ack ? 1 : 0);
            const char *event = argv[j++];
            const char *args = j < action_end && argv[j][0] == '[' ? argv[j++] : NULL;
            i = j;
            if (ack) {
                pthread_mutex_lock(&lock);
                ack_done = false;
                pthread_mutex_unlock(&lock);
                long wait_ms = ack_timeout_ms >= 0 ? ack_timeout_ms : timeout_ms;
                uint32_t ack_timeout = wait_ms > 0 ? (uint32_t)wait_ms : 0;
                status = realtime_emit_with_ack(client, event, args, ack_timeout, on_ack, NULL);
                if (status == REALTIME_STATUS_OK) {
                    pthread_mutex_lock(&lock);
                    while (!ack_done && !lost) {
                        if (!wait_change()) break;
                    }
                    if (lost) result = EXIT_LOST;
                    else if (!ack_done) result = EXIT_TIMEOUT;
                    else if (ack_failed) result = EXIT_ACK;
                    pthread_mutex_unlock(&lock);
                }
            } else {
                status = realtime_emit(client, event, args);
                if (status == REALTIME_STATUS_OK) status_line("emitted %s", event);
            }
        } else if (strcmp(action, "join") == 0) {
            status = realtime_join(client, argv[i + 1]);
            if (status == REALTIME_STATUS_OK) status_line("joined %s", argv[i + 1]);
            i += 2;
        } else if (strcmp(action, "send") == 0) {
            status = realtime_send(client, argv[i + 1], argv[i + 2], argv[i + 3]);
            if (status == REALTIME_STATUS_OK) status_line("sent %s to %s", argv[i + 2], argv[i + 1]);
            i += 4;
        } else { /* listen */
            pthread_mutex_lock(&lock);
            while (!lost && (count < 0 || events_seen < count)) {
                if (!wait_change()) break;
            }
            if (lost) result = EXIT_LOST;
            else if (count >= 0 && events_seen < count) result = EXIT_TIMEOUT;
            listening = false;
            pthread_mutex_unlock(&lock);
            break;
        }
        if (status != REALTIME_STATUS_OK) {
            fprintf(stderr, "realtime: %s: %s\n", action, realtime_last_error());
            result = EXIT_USAGE;
        }
    }
    pthread_mutex_lock(&lock);
    if (result == EXIT_DONE && lost) result = EXIT_LOST;
    pthread_mutex_unlock(&lock);

    realtime_close(client);
    realtime_free(client);
    return result;
}
