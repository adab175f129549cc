/*
 * realtime_jni.c: the JNI bridge between dev.realtime.Native (Kotlin) and librealtime (include/realtime.h).
 *
 * Design
 *  - Client handles are passed to Kotlin as jlong. librealtime handles are table keys that are never
 *    reused, and a call with a freed handle fails with REALTIME_STATUS_INVALID_HANDLE, so a call racing
 *    with realtime_free() on another thread is safe without extra locking here.
 *  - Listener objects (dev.realtime.NativeCallback) are held by JNI global references in a token table.
 *    The library gets the token (an integer, not a pointer) as user_data. A callback looks the token up
 *    under a mutex and takes a local reference before calling Java, so deleting a listener's global
 *    reference (off / close) can never leave a callback with a dangling pointer, whatever thread it runs
 *    on and whether or not realtime_off()/realtime_free() waited for it.
 *  - One-shot callbacks (acks, members) remove their token when they run; a tracked emit's callback
 *    removes it at its final status (ACKED, EXPIRED, FAILED), after which the library never calls it
 *    again. A token the library never gives back (realtime_free ends acks and tracked emits without a
 *    call) is deleted by Kotlin's ClientState at close, as every token it recorded.
 *  - The auth provider is one token per client for its whole life (Kotlin's AuthSlot, which calls the
 *    provider set last): the library may still call a replaced provider's cb for a request it asked
 *    before the replacement took effect (realtime_set_auth_provider is applied asynchronously), so a
 *    token deleted at replacement would leave that request unanswered. It is deleted at close.
 *  - Library callback threads are attached to the JVM once, as daemon threads, and stay attached (a
 *    pthread key detaches a thread if it ever exits). Each callback runs in its own local frame, so no
 *    local reference accumulates on these never-returning threads.
 *  - The log handler (process-wide) is one JNI global reference, passed to the library as user_data
 *    itself. Setting it is serialized by g_log_lock; the previous reference is deleted only after
 *    realtime_set_log_handler() returned, when (by its contract) no call of the previous handler runs or
 *    will start. A set from inside the log handler is refused (it could deadlock with a set on another
 *    thread that holds the lock and waits for this very call).
 *  - Strings cross as UTF-8 byte arrays (not NewStringUTF, whose "modified UTF-8" differs for
 *    characters outside the BMP); Kotlin encodes and decodes them.
 */
#include <jni.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "realtime.h"

#define JNI_VERSION JNI_VERSION_1_8

static JavaVM *g_vm;
static jclass g_callback_class; /* dev/realtime/NativeCallback */
static jclass g_bytes_class;    /* [B */
static jmethodID m_on_void, m_on_text, m_on_text2, m_on_count, m_on_event, m_on_ack, m_on_members,
    m_on_channel, m_on_status, m_on_auth, m_on_user_event;
static jclass g_log_class; /* dev/realtime/NativeLogHandler */
static jmethodID m_on_log;
static pthread_key_t g_detach_key;

/* ------------------------------------------------------------------------------------------------ */
/* Token table: token -> global reference of a NativeCallback. */

typedef struct entry {
    uint64_t token;
    jobject ref;
    struct entry *next;
} entry;

#define NBUCKETS 4096u
static entry *g_buckets[NBUCKETS];
static pthread_mutex_t g_table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_next_token = 1;
static int64_t g_live_tokens;
static int64_t g_live_clients; /* realtime_new/new_namespace successes minus nFree calls (test hook) */

static unsigned bucket_of(uint64_t token) { return (unsigned)(token % NBUCKETS); }

/* Adds a global reference of obj; returns its token (> 0), or 0 on failure (exception pending). */
static uint64_t table_add(JNIEnv *env, jobject obj) {
    jobject ref = (*env)->NewGlobalRef(env, obj);
    if (!ref) return 0;
    entry *e = malloc(sizeof *e);
    if (!e) {
        (*env)->DeleteGlobalRef(env, ref);
        return 0;
    }
    pthread_mutex_lock(&g_table_lock);
    uint64_t token = g_next_token++;
    e->token = token;
    e->ref = ref;
    e->next = g_buckets[bucket_of(token)];
    g_buckets[bucket_of(token)] = e;
    g_live_tokens++;
    pthread_mutex_unlock(&g_table_lock);
    return token;
}

/* Unlinks the entry of token (caller holds the lock); NULL when absent. */
static entry *table_unlink_locked(uint64_t token) {
    entry **p = &g_buckets[bucket_of(token)];
    for (; *p; p = &(*p)->next) {
        if ((*p)->token == token) {
            entry *e = *p;
            *p = e->next;
            g_live_tokens--;
            return e;
        }
    }
    return NULL;
}

static void table_remove(JNIEnv *env, uint64_t token) {
    pthread_mutex_lock(&g_table_lock);
    entry *e = table_unlink_locked(token);
    pthread_mutex_unlock(&g_table_lock);
    if (e) {
        (*env)->DeleteGlobalRef(env, e->ref);
        free(e);
    }
}

/* A local reference to the listener of token (removing it when take), or NULL. */
static jobject table_get(JNIEnv *env, uint64_t token, int take) {
    jobject local = NULL;
    entry *taken = NULL;
    pthread_mutex_lock(&g_table_lock);
    if (take) {
        taken = table_unlink_locked(token);
        if (taken) local = (*env)->NewLocalRef(env, taken->ref);
    } else {
        for (entry *e = g_buckets[bucket_of(token)]; e; e = e->next) {
            if (e->token == token) {
                local = (*env)->NewLocalRef(env, e->ref);
                break;
            }
        }
    }
    pthread_mutex_unlock(&g_table_lock);
    if (taken) {
        (*env)->DeleteGlobalRef(env, taken->ref);
        free(taken);
    }
    return local;
}

/* ------------------------------------------------------------------------------------------------ */
/* Callback threads */

static void detach_thread(void *unused) {
    (void)unused;
    if (g_vm) (*g_vm)->DetachCurrentThread(g_vm);
}

/* The JNIEnv of this thread, attaching it (as a daemon, once) when needed. */
static JNIEnv *callback_env(void) {
    JNIEnv *env = NULL;
    jint rc = (*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION);
    if (rc == JNI_OK) return env;
    if (rc != JNI_EDETACHED) return NULL;
    JavaVMAttachArgs args = {JNI_VERSION, "realtime-callback", NULL};
    if ((*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &args) != JNI_OK) return NULL;
    pthread_setspecific(g_detach_key, (void *)1);
    return env;
}

/* Enters a callback: a local frame and the listener of user_data; NULL when there is none (removed). */
static jobject enter(JNIEnv **out_env, void *user_data, int take) {
    JNIEnv *env = callback_env();
    if (!env) return NULL;
    if ((*env)->PushLocalFrame(env, 32) != 0) {
        (*env)->ExceptionClear(env);
        return NULL;
    }
    jobject target = table_get(env, (uint64_t)(uintptr_t)user_data, take);
    if (!target) {
        (*env)->PopLocalFrame(env, NULL);
        return NULL;
    }
    *out_env = env;
    return target;
}

static void leave(JNIEnv *env) {
    if ((*env)->ExceptionCheck(env)) {
        /* NativeCallback implementations catch everything; this is only OOM or a bug. */
        (*env)->ExceptionDescribe(env);
        (*env)->ExceptionClear(env);
    }
    (*env)->PopLocalFrame(env, NULL);
}

/* A byte[] with the bytes of s (NULL for NULL); on failure NULL with an exception pending. */
static jbyteArray bytes_of(JNIEnv *env, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n > INT32_MAX) n = INT32_MAX;
    jbyteArray a = (*env)->NewByteArray(env, (jsize)n);
    if (a) (*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)s);
    return a;
}

/* byte[][] with copies of the buffers; on failure NULL with an exception pending. */
static jobjectArray buffers_of(JNIEnv *env, const realtime_buffer *buffers, size_t count) {
    if (count > INT32_MAX) count = 0;
    jobjectArray arr = (*env)->NewObjectArray(env, (jsize)count, g_bytes_class, NULL);
    if (!arr) return NULL;
    for (size_t i = 0; i < count; i++) {
        size_t len = buffers[i].len > INT32_MAX ? 0 : buffers[i].len;
        jbyteArray b = (*env)->NewByteArray(env, (jsize)len);
        if (!b) return NULL;
        if (len) (*env)->SetByteArrayRegion(env, b, 0, (jsize)len, (const jbyte *)buffers[i].data);
        (*env)->SetObjectArrayElement(env, arr, (jsize)i, b);
        (*env)->DeleteLocalRef(env, b);
    }
    return arr;
}

/* Creates byte[] arguments; 1 when all succeeded (s == NULL gives NULL, not a failure). */
#define MAKE_BYTES(var, s)                              \
    jbyteArray var = bytes_of(env, (s));               \
    if ((s) && !var) goto done

/* ---- the callbacks handed to librealtime ---- */

static void cb_void(void *user_data) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    (*env)->CallVoidMethod(env, t, m_on_void);
    leave(env);
}

static void cb_text(void *user_data, const char *text) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    MAKE_BYTES(a, text ? text : "");
    (*env)->CallVoidMethod(env, t, m_on_text, a);
done:
    leave(env);
}

static void cb_text2(void *user_data, const char *first, const char *second) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    MAKE_BYTES(a, first ? first : "");
    MAKE_BYTES(b, second ? second : "null");
    (*env)->CallVoidMethod(env, t, m_on_text2, a, b);
done:
    leave(env);
}

static void cb_count(void *user_data, uint32_t n) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    (*env)->CallVoidMethod(env, t, m_on_count, (jint)n);
    leave(env);
}

static void cb_event(void *user_data, const char *event, const char *args_json,
                     const realtime_buffer *buffers, size_t buffer_count, uint64_t ack_id) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    MAKE_BYTES(name, event ? event : "");
    MAKE_BYTES(args, args_json ? args_json : "[]");
    jobjectArray bufs = buffers_of(env, buffers, buffers ? buffer_count : 0);
    if (!bufs) goto done;
    (*env)->CallVoidMethod(env, t, m_on_event, name, args, bufs, (jlong)ack_id);
done:
    leave(env);
}

static void cb_ack(void *user_data, const char *error, const char *args_json,
                   const realtime_buffer *buffers, size_t buffer_count) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 1);
    if (!t) return;
    MAKE_BYTES(err, error);
    MAKE_BYTES(args, args_json);
    jobjectArray bufs = buffers_of(env, buffers, buffers ? buffer_count : 0);
    if (!bufs) goto done;
    (*env)->CallVoidMethod(env, t, m_on_ack, err, args, bufs);
done:
    leave(env);
}

static void cb_members(void *user_data, const char *error, const char *members_json) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 1);
    if (!t) return;
    MAKE_BYTES(err, error);
    MAKE_BYTES(members, members_json);
    (*env)->CallVoidMethod(env, t, m_on_members, err, members);
done:
    leave(env);
}

static void cb_channel(void *user_data, const char *channel, const char *member_id, const char *data_json) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    MAKE_BYTES(ch, channel);
    MAKE_BYTES(member, member_id);
    MAKE_BYTES(data, data_json ? data_json : "null");
    (*env)->CallVoidMethod(env, t, m_on_channel, ch, member, data);
done:
    leave(env);
}

/* An Agnost user event: its name, the session and the user (JSON text, "null" when absent). */
static void cb_user_event(void *user_data, const char *event, const char *session_json, const char *user_json) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    MAKE_BYTES(name, event ? event : "");
    MAKE_BYTES(session, session_json ? session_json : "null");
    MAKE_BYTES(user, user_json ? user_json : "null");
    (*env)->CallVoidMethod(env, t, m_on_user_event, name, session, user);
done:
    leave(env);
}

static int is_final_status(realtime_message_status status) {
    return status == REALTIME_MESSAGE_STATUS_ACKED || status == REALTIME_MESSAGE_STATUS_EXPIRED ||
           status == REALTIME_MESSAGE_STATUS_FAILED;
}

/* A tracked emit's status; the final one takes (deletes) the token: the library never calls again. */
static void cb_status(void *user_data, realtime_message_status status, const char *detail) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, is_final_status(status));
    if (!t) return;
    MAKE_BYTES(d, detail ? detail : "");
    (*env)->CallVoidMethod(env, t, m_on_status, (jint)status, d);
done:
    leave(env);
}

static void cb_auth(void *user_data, uint64_t request_id) {
    JNIEnv *env;
    jobject t = enter(&env, user_data, 0);
    if (!t) return;
    (*env)->CallVoidMethod(env, t, m_on_auth, (jlong)request_id);
    leave(env);
}

/* ---- the log handler ---- */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static jobject g_log_handler; /* global reference of the installed NativeLogHandler, or NULL */
static _Thread_local int t_in_log; /* this thread is inside cb_log */

static void cb_log(void *user_data, realtime_log_level level, const char *target, const char *message) {
    JNIEnv *env = callback_env();
    if (!env || !user_data) return;
    /* A record made on a Java thread inside a native call that has an exception pending: Java cannot
     * be called now; drop it. */
    if ((*env)->ExceptionCheck(env)) return;
    if ((*env)->PushLocalFrame(env, 8) != 0) {
        (*env)->ExceptionClear(env);
        return;
    }
    t_in_log = 1;
    MAKE_BYTES(t, target ? target : "");
    MAKE_BYTES(m, message ? message : "");
    /* user_data is the handler's global reference: valid for the whole call (see the design notes). */
    (*env)->CallVoidMethod(env, (jobject)user_data, m_on_log, (jint)level, t, m);
done:
    t_in_log = 0;
    leave(env);
}

/* ------------------------------------------------------------------------------------------------ */
/* Arguments from Kotlin */

/* A NUL-terminated malloc'd copy of a byte[] (the UTF-8 of a string). Returns 1 on success (*out is
 * NULL for a NULL array), 0 on failure (an exception is pending). */
static int cstr(JNIEnv *env, jbyteArray a, char **out) {
    *out = NULL;
    if (!a) return 1;
    jsize n = (*env)->GetArrayLength(env, a);
    char *s = malloc((size_t)n + 1);
    if (!s) {
        jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
        if (oom) (*env)->ThrowNew(env, oom, "realtime_jni: malloc");
        return 0;
    }
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
    s[n] = '\0';
    *out = s;
    return 1;
}

/* Copies of byte[][] as realtime_buffer[]; 1 on success (*out NULL, *count 0 for a NULL array). */
static int buffers_in(JNIEnv *env, jobjectArray arr, realtime_buffer **out, size_t *count) {
    *out = NULL;
    *count = 0;
    if (!arr) return 1;
    jsize n = (*env)->GetArrayLength(env, arr);
    if (n == 0) return 1;
    realtime_buffer *bufs = calloc((size_t)n, sizeof *bufs);
    if (!bufs) goto oom;
    for (jsize i = 0; i < n; i++) {
        jbyteArray b = (jbyteArray)(*env)->GetObjectArrayElement(env, arr, i);
        jsize len = b ? (*env)->GetArrayLength(env, b) : 0;
        uint8_t *data = malloc(len ? (size_t)len : 1);
        if (!data) {
            if (b) (*env)->DeleteLocalRef(env, b);
            *out = bufs;
            *count = (size_t)i;
            goto oom;
        }
        if (len) (*env)->GetByteArrayRegion(env, b, 0, len, (jbyte *)data);
        if (b) (*env)->DeleteLocalRef(env, b);
        bufs[i].data = data;
        bufs[i].len = (size_t)len;
    }
    *out = bufs;
    *count = (size_t)n;
    return 1;
oom: {
    jclass oom_class = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
    if (oom_class) (*env)->ThrowNew(env, oom_class, "realtime_jni: malloc");
    return 0;
}
}

static void buffers_free(realtime_buffer *bufs, size_t count) {
    for (size_t i = 0; i < count; i++) free((void *)bufs[i].data);
    free(bufs);
}

#define CLIENT(h) ((realtime_client *)(uintptr_t)(h))
#define TOKEN(t) ((void *)(uintptr_t)(t))
/* Status returned when an argument could not be converted (an exception is pending in Kotlin). */
#define CONVERSION_FAILED ((jint)-1)

/* ------------------------------------------------------------------------------------------------ */
/* Natives of dev.realtime.Native */

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION) != JNI_OK) return JNI_ERR;
    g_vm = vm;
    if (pthread_key_create(&g_detach_key, detach_thread) != 0) return JNI_ERR;
    jclass cls = (*env)->FindClass(env, "dev/realtime/NativeCallback");
    if (!cls) return JNI_ERR;
    g_callback_class = (*env)->NewGlobalRef(env, cls);
    jclass bytes = (*env)->FindClass(env, "[B");
    if (!bytes) return JNI_ERR;
    g_bytes_class = (*env)->NewGlobalRef(env, bytes);
    if (!g_callback_class || !g_bytes_class) return JNI_ERR;
    struct {
        jmethodID *id;
        const char *name, *sig;
    } methods[] = {
        {&m_on_void, "onVoid", "()V"},
        {&m_on_text, "onText", "([B)V"},
        {&m_on_text2, "onText2", "([B[B)V"},
        {&m_on_count, "onCount", "(I)V"},
        {&m_on_event, "onEvent", "([B[B[[BJ)V"},
        {&m_on_ack, "onAck", "([B[B[[B)V"},
        {&m_on_members, "onMembers", "([B[B)V"},
        {&m_on_channel, "onChannel", "([B[B[B)V"},
        {&m_on_status, "onStatus", "(I[B)V"},
        {&m_on_auth, "onAuth", "(J)V"},
        {&m_on_user_event, "onUserEvent", "([B[B[B)V"},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        *methods[i].id = (*env)->GetMethodID(env, g_callback_class, methods[i].name, methods[i].sig);
        if (!*methods[i].id) return JNI_ERR;
    }
    jclass log_class = (*env)->FindClass(env, "dev/realtime/NativeLogHandler");
    if (!log_class) return JNI_ERR;
    g_log_class = (*env)->NewGlobalRef(env, log_class);
    if (!g_log_class) return JNI_ERR;
    m_on_log = (*env)->GetMethodID(env, g_log_class, "onLog", "(I[B[B)V");
    if (!m_on_log) return JNI_ERR;
    return JNI_VERSION;
}

JNIEXPORT jbyteArray JNICALL Java_dev_realtime_Native_nVersion(JNIEnv *env, jclass cls) {
    (void)cls;
    return bytes_of(env, realtime_version());
}

JNIEXPORT jbyteArray JNICALL Java_dev_realtime_Native_nLastError(JNIEnv *env, jclass cls) {
    (void)cls;
    return bytes_of(env, realtime_last_error());
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nLastErrorStatus(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    return (jint)realtime_last_error_status();
}

JNIEXPORT jbyteArray JNICALL Java_dev_realtime_Native_nStatusStr(JNIEnv *env, jclass cls, jint status) {
    (void)cls;
    return bytes_of(env, realtime_status_str((realtime_status)status));
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nNew(JNIEnv *env, jclass cls, jbyteArray url,
                                                      jbyteArray options) {
    (void)cls;
    char *u, *o = NULL;
    if (!cstr(env, url, &u)) return 0;
    if (!cstr(env, options, &o)) {
        free(u);
        return 0;
    }
    realtime_client *c = realtime_new(u, o);
    free(u);
    free(o);
    if (c) __atomic_add_fetch(&g_live_clients, 1, __ATOMIC_SEQ_CST);
    return (jlong)(uintptr_t)c;
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nNewNamespace(JNIEnv *env, jclass cls, jlong h,
                                                               jbyteArray nsp, jbyteArray options) {
    (void)cls;
    char *n, *o = NULL;
    if (!cstr(env, nsp, &n)) return 0;
    if (!cstr(env, options, &o)) {
        free(n);
        return 0;
    }
    realtime_client *c = realtime_new_namespace(CLIENT(h), n, o);
    free(n);
    free(o);
    if (c) __atomic_add_fetch(&g_live_clients, 1, __ATOMIC_SEQ_CST);
    return (jlong)(uintptr_t)c;
}

JNIEXPORT void JNICALL Java_dev_realtime_Native_nFree(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    realtime_free(CLIENT(h));
    __atomic_sub_fetch(&g_live_clients, 1, __ATOMIC_SEQ_CST);
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nOpen(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    return (jint)realtime_open(CLIENT(h));
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nClose(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    return (jint)realtime_close(CLIENT(h));
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nReconnectNow(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    return (jint)realtime_reconnect_now(CLIENT(h));
}

JNIEXPORT jboolean JNICALL Java_dev_realtime_Native_nIsConnected(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    return realtime_is_connected(CLIENT(h)) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jboolean JNICALL Java_dev_realtime_Native_nIsRecovered(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    return realtime_is_recovered(CLIENT(h)) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jbyteArray JNICALL Java_dev_realtime_Native_nSocketId(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    char small[64];
    size_t n = realtime_socket_id(CLIENT(h), small, sizeof small);
    if (n == 0) return NULL;
    if (n < sizeof small) return bytes_of(env, small);
    /* Longer than expected: ask again with room for it (it may change in between; retry a few times). */
    for (int attempt = 0; attempt < 4; attempt++) {
        size_t cap = n + 1;
        char *buf = malloc(cap);
        if (!buf) return NULL;
        n = realtime_socket_id(CLIENT(h), buf, cap);
        if (n == 0) {
            free(buf);
            return NULL;
        }
        if (n < cap) {
            jbyteArray a = bytes_of(env, buf);
            free(buf);
            return a;
        }
        free(buf);
    }
    return NULL;
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nRegister(JNIEnv *env, jclass cls, jobject listener) {
    (void)cls;
    return (jlong)table_add(env, listener);
}

JNIEXPORT void JNICALL Java_dev_realtime_Native_nUnregister(JNIEnv *env, jclass cls, jlong token) {
    (void)cls;
    table_remove(env, (uint64_t)token);
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nLiveTokens(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    pthread_mutex_lock(&g_table_lock);
    int64_t n = g_live_tokens;
    pthread_mutex_unlock(&g_table_lock);
    return (jlong)n;
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nLiveClients(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    return (jlong)__atomic_load_n(&g_live_clients, __ATOMIC_SEQ_CST);
}

/* kind: 0 connect, 1 disconnect, 2 error, 3 reconnect_attempt, 4 reconnect, 5 reconnect_failed */
JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nOnLifecycle(JNIEnv *env, jclass cls, jlong h, jint kind,
                                                              jlong token) {
    (void)env;
    (void)cls;
    realtime_client *c = CLIENT(h);
    void *ud = TOKEN(token);
    switch (kind) {
    case 0: return (jlong)realtime_on_connect(c, cb_void, ud);
    case 1: return (jlong)realtime_on_disconnect(c, cb_text, ud);
    case 2: return (jlong)realtime_on_error(c, cb_text2, ud);
    case 3: return (jlong)realtime_on_reconnect_attempt(c, cb_count, ud);
    case 4: return (jlong)realtime_on_reconnect(c, cb_count, ud);
    case 5: return (jlong)realtime_on_reconnect_failed(c, cb_void, ud);
    default: return 0;
    }
}

/* mode: 0 on, 1 once, 2 any (event ignored) */
JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nOn(JNIEnv *env, jclass cls, jlong h, jbyteArray event,
                                                     jlong token, jint mode) {
    (void)cls;
    if (mode == 2) return (jlong)realtime_on_any(CLIENT(h), cb_event, TOKEN(token));
    char *e;
    if (!cstr(env, event, &e)) return 0;
    uint64_t id = mode == 1 ? realtime_once(CLIENT(h), e, cb_event, TOKEN(token))
                            : realtime_on(CLIENT(h), e, cb_event, TOKEN(token));
    free(e);
    return (jlong)id;
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nOff(JNIEnv *env, jclass cls, jlong h, jlong id) {
    (void)env;
    (void)cls;
    return (jint)realtime_off(CLIENT(h), (uint64_t)id);
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nOffAny(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    return (jint)realtime_off_any(CLIENT(h));
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nEmit(JNIEnv *env, jclass cls, jlong h, jbyteArray event,
                                                      jbyteArray args, jboolean is_volatile) {
    (void)cls;
    char *e, *a;
    if (!cstr(env, event, &e)) return CONVERSION_FAILED;
    if (!cstr(env, args, &a)) {
        free(e);
        return CONVERSION_FAILED;
    }
    realtime_status s = is_volatile ? realtime_emit_volatile(CLIENT(h), e, a) : realtime_emit(CLIENT(h), e, a);
    free(e);
    free(a);
    return (jint)s;
}

/* Emit with binary buffers and/or an ack: token 0 means no ack (only with buffers). */
JNIEXPORT jint JNICALL Java_dev_realtime_Native_nEmitAck(JNIEnv *env, jclass cls, jlong h, jbyteArray event,
                                                         jbyteArray args, jobjectArray buffers, jint timeout_ms,
                                                         jlong token) {
    (void)cls;
    char *e, *a;
    realtime_buffer *bufs;
    size_t count;
    if (!cstr(env, event, &e)) return CONVERSION_FAILED;
    if (!cstr(env, args, &a)) {
        free(e);
        return CONVERSION_FAILED;
    }
    if (!buffers_in(env, buffers, &bufs, &count)) {
        buffers_free(bufs, count);
        free(e);
        free(a);
        return CONVERSION_FAILED;
    }
    uint32_t timeout = timeout_ms < 0 ? 0u : (uint32_t)timeout_ms;
    realtime_status s;
    if (buffers)
        s = realtime_emit_binary(CLIENT(h), e, a, bufs, count, timeout, token ? cb_ack : NULL, TOKEN(token));
    else
        s = realtime_emit_with_ack(CLIENT(h), e, a, timeout, cb_ack, TOKEN(token));
    buffers_free(bufs, count);
    free(e);
    free(a);
    return (jint)s;
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nAck(JNIEnv *env, jclass cls, jlong h, jlong ack_id,
                                                     jbyteArray args, jobjectArray buffers) {
    (void)cls;
    char *a;
    realtime_buffer *bufs;
    size_t count;
    if (!cstr(env, args, &a)) return CONVERSION_FAILED;
    if (!buffers_in(env, buffers, &bufs, &count)) {
        buffers_free(bufs, count);
        free(a);
        return CONVERSION_FAILED;
    }
    realtime_status s = buffers ? realtime_ack_binary(CLIENT(h), (uint64_t)ack_id, a, bufs, count)
                                : realtime_ack(CLIENT(h), (uint64_t)ack_id, a);
    buffers_free(bufs, count);
    free(a);
    return (jint)s;
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nEmitTracked(JNIEnv *env, jclass cls, jlong h, jbyteArray event,
                                                             jbyteArray args, jint ttl_ms, jlong token) {
    (void)cls;
    char *e, *a;
    if (!cstr(env, event, &e)) return CONVERSION_FAILED;
    if (!cstr(env, args, &a)) {
        free(e);
        return CONVERSION_FAILED;
    }
    uint32_t ttl = ttl_ms < 0 ? 0u : (uint32_t)ttl_ms;
    realtime_status s = realtime_emit_tracked(CLIENT(h), e, a, ttl, cb_status, TOKEN(token));
    free(e);
    free(a);
    return (jint)s;
}

/* ---- auth provider ---- */

/* token 0 removes the provider */
JNIEXPORT jint JNICALL Java_dev_realtime_Native_nSetAuthProvider(JNIEnv *env, jclass cls, jlong h, jlong token) {
    (void)env;
    (void)cls;
    return (jint)realtime_set_auth_provider(CLIENT(h), token ? cb_auth : NULL, TOKEN(token));
}

/* auth NULL declines */
JNIEXPORT jint JNICALL Java_dev_realtime_Native_nAuthReply(JNIEnv *env, jclass cls, jlong h, jlong request_id,
                                                           jbyteArray auth) {
    (void)cls;
    char *a;
    if (!cstr(env, auth, &a)) return CONVERSION_FAILED;
    realtime_status s = realtime_auth_reply(CLIENT(h), (uint64_t)request_id, a);
    free(a);
    return (jint)s;
}

/* "websocket", "polling", or "" when no connection is open (static storage in the library). */
JNIEXPORT jbyteArray JNICALL Java_dev_realtime_Native_nTransportName(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    return bytes_of(env, realtime_transport_name(CLIENT(h)));
}

/* ---- channels ---- */

/* op: 0 join(channel), 1 leave(channel), 2 update_profile(data) */
JNIEXPORT jint JNICALL Java_dev_realtime_Native_nChannelOp(JNIEnv *env, jclass cls, jlong h, jint op,
                                                           jbyteArray arg) {
    (void)cls;
    char *s;
    if (!cstr(env, arg, &s)) return CONVERSION_FAILED;
    realtime_status st;
    switch (op) {
    case 0: st = realtime_join(CLIENT(h), s); break;
    case 1: st = realtime_leave(CLIENT(h), s); break;
    case 2: st = realtime_update_profile(CLIENT(h), s); break;
    default: st = REALTIME_STATUS_INVALID_ARGUMENT; break;
    }
    free(s);
    return (jint)st;
}

/* channel NULL: broadcast */
JNIEXPORT jint JNICALL Java_dev_realtime_Native_nSend(JNIEnv *env, jclass cls, jlong h, jbyteArray channel,
                                                      jbyteArray event_name, jbyteArray message,
                                                      jboolean is_broadcast) {
    (void)cls;
    char *c, *e, *m;
    if (!cstr(env, channel, &c)) return CONVERSION_FAILED;
    if (!cstr(env, event_name, &e)) {
        free(c);
        return CONVERSION_FAILED;
    }
    if (!cstr(env, message, &m)) {
        free(c);
        free(e);
        return CONVERSION_FAILED;
    }
    realtime_status s = is_broadcast ? realtime_broadcast(CLIENT(h), e, m) : realtime_send(CLIENT(h), c, e, m);
    free(c);
    free(e);
    free(m);
    return (jint)s;
}

JNIEXPORT jint JNICALL Java_dev_realtime_Native_nGetMembers(JNIEnv *env, jclass cls, jlong h,
                                                            jbyteArray channel, jlong token) {
    (void)cls;
    char *c;
    if (!cstr(env, channel, &c)) return CONVERSION_FAILED;
    realtime_status s = realtime_get_members(CLIENT(h), c, cb_members, TOKEN(token));
    free(c);
    return (jint)s;
}

/* kind: 0 join, 1 leave, 2 update */
JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nOnChannel(JNIEnv *env, jclass cls, jlong h, jint kind,
                                                            jlong token) {
    (void)env;
    (void)cls;
    switch (kind) {
    case 0: return (jlong)realtime_on_channel_join(CLIENT(h), cb_channel, TOKEN(token));
    case 1: return (jlong)realtime_on_channel_leave(CLIENT(h), cb_channel, TOKEN(token));
    case 2: return (jlong)realtime_on_channel_update(CLIENT(h), cb_channel, TOKEN(token));
    default: return 0;
    }
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nOnMessage(JNIEnv *env, jclass cls, jlong h,
                                                            jbyteArray event_name, jlong token) {
    (void)cls;
    char *e;
    if (!cstr(env, event_name, &e)) return 0;
    uint64_t id = realtime_on_message(CLIENT(h), e, cb_channel, TOKEN(token));
    free(e);
    return (jlong)id;
}

JNIEXPORT jlong JNICALL Java_dev_realtime_Native_nOnUserEvent(JNIEnv *env, jclass cls, jlong h, jlong token) {
    (void)env;
    (void)cls;
    return (jlong)realtime_on_user_event(CLIENT(h), cb_user_event, TOKEN(token));
}

/* Installs handler (NULL or level 0: off). Returns the status; REALTIME_JNI_IN_LOG_HANDLER (-2) when
 * called from inside the log handler, CONVERSION_FAILED when the global reference could not be made. */
#define REALTIME_JNI_IN_LOG_HANDLER ((jint)-2)
JNIEXPORT jint JNICALL Java_dev_realtime_Native_nSetLogHandler(JNIEnv *env, jclass cls, jint level,
                                                               jobject handler) {
    (void)cls;
    if (t_in_log) return REALTIME_JNI_IN_LOG_HANDLER;
    if (level < 0 || level > 5) return (jint)realtime_set_log_handler((realtime_log_level)level, NULL, NULL);
    jobject ref = NULL;
    if (handler && level != REALTIME_LOG_LEVEL_OFF) {
        ref = (*env)->NewGlobalRef(env, handler);
        if (!ref) return CONVERSION_FAILED;
    }
    pthread_mutex_lock(&g_log_lock);
    realtime_status s = realtime_set_log_handler((realtime_log_level)level, ref ? cb_log : NULL, ref);
    jobject old = NULL;
    if (s == REALTIME_STATUS_OK) {
        old = g_log_handler;
        g_log_handler = ref;
    } else {
        old = ref; /* not installed */
    }
    pthread_mutex_unlock(&g_log_lock);
    /* realtime_set_log_handler has returned: no call of the previous handler runs or will start. */
    if (old) (*env)->DeleteGlobalRef(env, old);
    return (jint)s;
}

/* The stats JSON (UTF-8), or NULL for a freed client. */
JNIEXPORT jbyteArray JNICALL Java_dev_realtime_Native_nStats(JNIEnv *env, jclass cls, jlong h) {
    (void)cls;
    char small[2048];
    size_t n = realtime_stats_json(CLIENT(h), small, sizeof small);
    if (n == 0) return NULL;
    if (n < sizeof small) return bytes_of(env, small);
    for (int tries = 0; tries < 8; tries++) {
        size_t cap = n + 256;
        char *big = malloc(cap);
        if (!big) {
            jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
            if (oom) (*env)->ThrowNew(env, oom, "realtime_jni: malloc");
            return NULL;
        }
        n = realtime_stats_json(CLIENT(h), big, cap);
        if (n == 0) {
            free(big);
            return NULL;
        }
        if (n < cap) {
            jbyteArray a = bytes_of(env, big);
            free(big);
            return a;
        }
        free(big);
    }
    return NULL;
}
