/* A program an application would write against an installed librealtime: connect, emit with ack to
 * the bundled server's "echo" handler, print the answer. Built by tests/pkg/test_install.sh with
 * pkg-config and with CMake from a temporary prefix. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <realtime.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done;
static char answer[256];

static void on_ack(void *user_data, const char *error, const char *args_json, const realtime_buffer *buffers,
                   size_t buffer_count) {
    (void)user_data;
    (void)buffers;
    (void)buffer_count;
    pthread_mutex_lock(&lock);
    snprintf(answer, sizeof answer, "%s", error ? error : args_json);
    done = 1;
    pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer URL\n");
        return 2;
    }
    realtime_client *client = realtime_new(argv[1], NULL);
    if (!client) {
        fprintf(stderr, "realtime_new: %s\n", realtime_last_error());
        return 1;
    }
    /* Buffered until the connection is up, then sent. */
    if (realtime_emit_with_ack(client, "echo", "[\"installed\"]", 10000, on_ack, NULL) != REALTIME_STATUS_OK) {
        fprintf(stderr, "emit: %s\n", realtime_last_error());
        return 1;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 15;
    pthread_mutex_lock(&lock);
    while (!done && pthread_cond_timedwait(&done_cond, &lock, &until) == 0) {
    }
    int ok = done && strcmp(answer, "[\"installed\"]") == 0;
    pthread_mutex_unlock(&lock);
    realtime_free(client);
    printf("realtime %s: %s\n", realtime_version(), ok ? "ok" : answer[0] ? answer : "no answer");
    return ok ? 0 : 1;
}
