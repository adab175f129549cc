package dev.realtime

import java.io.File
import java.io.FileOutputStream

/**
 * The JNI surface of `librealtime_jni.so` (src/main/c/realtime_jni.c). Strings cross as UTF-8 byte
 * arrays; client handles as Long (librealtime handles are never reused, and a freed one is reported as
 * INVALID_HANDLE, so a call racing with close is safe).
 *
 * Loading, in this order:
 *  1. the system property `realtime.jni.lib`: an absolute path to librealtime_jni.so (System.load);
 *  2. System.loadLibrary("realtime_jni"): on Android, the AAR's `jni/<abi>/librealtime_jni.so` that the
 *     app packages; on the JVM, a copy on java.library.path;
 *  3. the copy bundled in the jar (dev/realtime/native/<os>-<arch>/librealtime_jni.so, linux-x86_64
 *     today), extracted to a temporary file.
 * Only java.io is used (java.nio.file is Android API 26+).
 */
internal object Native {
    const val LIBRARY = "realtime_jni"

    /** How the library was loaded: "property", "loadLibrary" or "jar" (a test hook). */
    @Volatile
    var loadedFrom: String = ""
        private set

    init {
        load()
    }

    private fun load() {
        val explicit = System.getProperty("realtime.jni.lib")
        if (!explicit.isNullOrEmpty()) {
            System.load(File(explicit).absolutePath)
            loadedFrom = "property"
            return
        }
        val fromPath = try {
            System.loadLibrary(LIBRARY)
            loadedFrom = "loadLibrary"
            return
        } catch (e: UnsatisfiedLinkError) {
            e
        }
        val bundled = Native::class.java.getResourceAsStream(resourcePath())
            ?: throw UnsatisfiedLinkError(
                "lib$LIBRARY not found: not on java.library.path (${fromPath.message}) and not in the jar " +
                    "for ${platform()} (set -Drealtime.jni.lib=/path/to/librealtime_jni.so)",
            )
        val tmp = File.createTempFile("librealtime_jni", ".so")
        try {
            bundled.use { input ->
                FileOutputStream(tmp).use { output ->
                    val buffer = ByteArray(64 * 1024)
                    while (true) {
                        val n = input.read(buffer)
                        if (n < 0) break
                        output.write(buffer, 0, n)
                    }
                }
            }
            System.load(tmp.absolutePath)
            loadedFrom = "jar"
        } finally {
            // Mapped already; the file is not needed any more on Linux.
            tmp.delete()
        }
    }

    /** "linux-x86_64", "linux-aarch64", ... (the jar's resource directory for this JVM). */
    private fun platform(): String {
        val os = System.getProperty("os.name").orEmpty().lowercase().let { if (it.startsWith("linux")) "linux" else it }
        val arch = when (val a = System.getProperty("os.arch").orEmpty().lowercase()) {
            "amd64", "x86_64" -> "x86_64"
            "arm64", "aarch64" -> "aarch64"
            else -> a
        }
        return "$os-$arch"
    }

    private fun resourcePath() = "/dev/realtime/native/${platform()}/librealtime_jni.so"

    fun utf8(s: String): ByteArray {
        require(s.indexOf('\u0000') < 0) { "strings passed to realtime cannot contain NUL characters" }
        return s.toByteArray(Charsets.UTF_8)
    }

    fun utf8OrNull(s: String?): ByteArray? = s?.let { utf8(it) }
    fun str(b: ByteArray): String = String(b, Charsets.UTF_8)
    fun strOrNull(b: ByteArray?): String? = b?.let { String(it, Charsets.UTF_8) }

    /** This thread's last librealtime failure message (call right after the failing call). */
    fun lastError(): String = str(nLastError())

    /** This thread's last failure as an exception (status from realtime_last_error_status()). */
    fun lastFailure(): RealtimeException {
        val status = nLastErrorStatus()
        return RealtimeException(if (status == Status.OK) Status.INTERNAL else status, lastError())
    }

    @JvmStatic external fun nVersion(): ByteArray
    @JvmStatic external fun nLastError(): ByteArray
    @JvmStatic external fun nLastErrorStatus(): Int
    @JvmStatic external fun nStatusStr(status: Int): ByteArray

    @JvmStatic external fun nNew(url: ByteArray, options: ByteArray?): Long
    @JvmStatic external fun nNewNamespace(handle: Long, nsp: ByteArray, options: ByteArray?): Long
    @JvmStatic external fun nFree(handle: Long)
    @JvmStatic external fun nOpen(handle: Long): Int
    @JvmStatic external fun nClose(handle: Long): Int
    @JvmStatic external fun nReconnectNow(handle: Long): Int
    @JvmStatic external fun nIsConnected(handle: Long): Boolean
    @JvmStatic external fun nIsRecovered(handle: Long): Boolean
    @JvmStatic external fun nSocketId(handle: Long): ByteArray?

    /** Holds [listener] by a JNI global reference; returns its token (> 0). */
    @JvmStatic external fun nRegister(listener: NativeCallback): Long
    /** Deletes the global reference of [token]; no-op when gone already. */
    @JvmStatic external fun nUnregister(token: Long)
    /** Test hooks: live tokens (global references) and live native clients of this process. */
    @JvmStatic external fun nLiveTokens(): Long
    @JvmStatic external fun nLiveClients(): Long

    /** kind: 0 connect, 1 disconnect, 2 error, 3 reconnect attempt, 4 reconnect, 5 reconnect failed. */
    @JvmStatic external fun nOnLifecycle(handle: Long, kind: Int, token: Long): Long
    /** mode: 0 on, 1 once, 2 any (event ignored). */
    @JvmStatic external fun nOn(handle: Long, event: ByteArray?, token: Long, mode: Int): Long
    @JvmStatic external fun nOff(handle: Long, listenerId: Long): Int
    @JvmStatic external fun nOffAny(handle: Long): Int

    @JvmStatic external fun nEmit(handle: Long, event: ByteArray, args: ByteArray?, isVolatile: Boolean): Int
    /** buffers null: emit_with_ack (token required); otherwise emit_binary (token 0: no ack). */
    @JvmStatic external fun nEmitAck(
        handle: Long, event: ByteArray, args: ByteArray?, buffers: Array<ByteArray>?, timeoutMs: Int, token: Long,
    ): Int
    @JvmStatic external fun nAck(handle: Long, ackId: Long, args: ByteArray?, buffers: Array<ByteArray>?): Int
    /** realtime_emit_tracked: the token's onStatus gets every status; the bridge deletes it at the final one. */
    @JvmStatic external fun nEmitTracked(handle: Long, event: ByteArray, args: ByteArray?, ttlMs: Int, token: Long): Int

    /** realtime_set_auth_provider with the token's onAuth; token 0 removes the provider. */
    @JvmStatic external fun nSetAuthProvider(handle: Long, token: Long): Int
    /** realtime_auth_reply; auth null declines. */
    @JvmStatic external fun nAuthReply(handle: Long, requestId: Long, auth: ByteArray?): Int
    /** realtime_transport_name: "websocket", "polling", or "" when no connection is open. */
    @JvmStatic external fun nTransportName(handle: Long): ByteArray

    /** op: 0 join(channel), 1 leave(channel), 2 updateProfile(dataJson). */
    @JvmStatic external fun nChannelOp(handle: Long, op: Int, arg: ByteArray): Int
    @JvmStatic external fun nSend(
        handle: Long, channel: ByteArray?, eventName: ByteArray, message: ByteArray, isBroadcast: Boolean,
    ): Int
    @JvmStatic external fun nGetMembers(handle: Long, channel: ByteArray, token: Long): Int
    /** kind: 0 join, 1 leave, 2 update. */
    @JvmStatic external fun nOnChannel(handle: Long, kind: Int, token: Long): Long
    @JvmStatic external fun nOnMessage(handle: Long, eventName: ByteArray, token: Long): Long
    /** realtime_on_user_event: the token's onUserEvent gets Agnost's user events. */
    @JvmStatic external fun nOnUserEvent(handle: Long, token: Long): Long

    /** realtime_set_log_handler; -2 from inside the log handler, -1 when no global reference. */
    @JvmStatic external fun nSetLogHandler(level: Int, handler: NativeLogHandler?): Int
    /** realtime_stats_json, or null for a freed client. */
    @JvmStatic external fun nStats(handle: Long): ByteArray?
}

/**
 * What the JNI callbacks call (method ids are looked up once in JNI_OnLoad). Each listener overrides the
 * method of its kind. Runs on a librealtime callback thread: implementations hand the work to the
 * application's Executor and never throw.
 */
internal abstract class NativeCallback {
    open fun onVoid() {}
    open fun onText(text: ByteArray) {}
    open fun onText2(first: ByteArray, second: ByteArray) {}
    open fun onCount(n: Int) {}
    open fun onEvent(name: ByteArray, args: ByteArray, buffers: Array<ByteArray>, ackId: Long) {}
    open fun onAck(error: ByteArray?, args: ByteArray?, buffers: Array<ByteArray>) {}
    open fun onMembers(error: ByteArray?, members: ByteArray?) {}
    open fun onChannel(channel: ByteArray?, memberId: ByteArray?, data: ByteArray) {}
    open fun onStatus(status: Int, detail: ByteArray) {}
    open fun onAuth(requestId: Long) {}
    open fun onUserEvent(name: ByteArray, session: ByteArray, user: ByteArray) {}
}
