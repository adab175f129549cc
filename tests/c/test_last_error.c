/* test_last_error: when realtime_last_error() / realtime_last_error_status() are set (issue 8 item 8).
 * Every function but the four diagnostics sets them on the calling thread: the failure on failure, OK / ""
 * on success, so they never go stale after a 0 or NULL that is not a failure.
 *  - realtime_new with an unknown option: NULL, UNKNOWN_OPTION and a message naming it; the next successful
 *    realtime_new: OK and "";
 *  - realtime_socket_id on a client not connected: 0 with OK (right after a failing call, which would
 *    otherwise leave INVALID_ARGUMENT behind); on a freed handle: 0 with INVALID_HANDLE;
 *  - realtime_is_connected(NULL): false with INVALID_ARGUMENT; on a live client: OK;
 *  - a pointer from realtime_last_error() stays readable after a successful call (now ""), ASan-checked;
 *  - the diagnostics themselves change nothing, and another thread's failure is not seen here. */
#include "harness.h"

#include <pthread.h>
#include <string.h>

static void *fail_on_another_thread(void *arg) {
    (void)arg;
    realtime_client *c = realtime_new("not a url", NULL);
    CHECK(c == NULL && realtime_last_error_status() == REALTIME_STATUS_INVALID_URL, "bad URL on the other thread");
    return NULL;
}

int main(void) {
    rt_test_begin("test_last_error", 30);
    const char *url = "http://127.0.0.1:9/";

    NOTE("a failure sets status and message; the next success clears both");
    CHECK(realtime_new(url, "{\"bogus\":1}") == NULL, "unknown option accepted");
    CHECK(realtime_last_error_status() == REALTIME_STATUS_UNKNOWN_OPTION, "status %d", (int)realtime_last_error_status());
    const char *message = realtime_last_error();
    CHECK(strstr(message, "bogus") != NULL, "message '%s'", message);
    NOTE("the diagnostics leave it alone");
    (void)realtime_status_str(REALTIME_STATUS_OK);
    (void)realtime_version();
    CHECK(realtime_last_error_status() == REALTIME_STATUS_UNKNOWN_OPTION, "a diagnostic cleared the status");
    realtime_client *c = realtime_new(url, "{\"autoConnect\":false}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    CHECK(realtime_last_error_status() == REALTIME_STATUS_OK, "status %d after a successful realtime_new",
          (int)realtime_last_error_status());
    CHECK(strcmp(realtime_last_error(), "") == 0, "message '%s' after success", realtime_last_error());
    CHECK(strcmp(message, "") == 0, "the earlier pointer reads '%s', not \"\"", message);

    NOTE("0 from realtime_socket_id on a client not connected is not a failure");
    CHECK(realtime_open(NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "open(NULL)");
    CHECK(realtime_last_error_status() == REALTIME_STATUS_INVALID_ARGUMENT, "status after open(NULL)");
    char id[64];
    CHECK(realtime_socket_id(c, id, sizeof id) == 0, "socket id of a client never opened");
    CHECK(realtime_last_error_status() == REALTIME_STATUS_OK, "status %d after a 0 that is not a failure (stale)",
          (int)realtime_last_error_status());
    CHECK(!realtime_is_connected(NULL), "is_connected(NULL)");
    CHECK(realtime_last_error_status() == REALTIME_STATUS_INVALID_ARGUMENT, "is_connected(NULL) status %d",
          (int)realtime_last_error_status());
    CHECK(!realtime_is_connected(c), "is_connected");
    CHECK(realtime_last_error_status() == REALTIME_STATUS_OK, "is_connected on a live client: status %d",
          (int)realtime_last_error_status());

    NOTE("another thread's failure is its own");
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_on_another_thread, NULL) == 0, "pthread_create");
    pthread_join(thread, NULL);
    CHECK(realtime_last_error_status() == REALTIME_STATUS_OK, "saw another thread's failure");

    NOTE("a freed handle: 0 with INVALID_HANDLE");
    realtime_free(c);
    CHECK(realtime_socket_id(c, id, sizeof id) == 0, "socket id of a freed client");
    CHECK(realtime_last_error_status() == REALTIME_STATUS_INVALID_HANDLE, "freed handle status %d",
          (int)realtime_last_error_status());
    CHECK(realtime_last_error()[0] != '\0', "no message for a freed handle");

    rt_test_pass();
    return 0;
}
