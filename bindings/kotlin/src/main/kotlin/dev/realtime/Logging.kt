package dev.realtime

/** The C `realtime_log_level` values (they never change): a record's severity, or a minimum level. */
enum class LogLevel(val code: Int) {
    /** No records (as a minimum level: logging off). */
    OFF(0),
    /** The client cannot do what it was asked (a bound dropped data, a callback panicked). */
    ERROR(1),
    /** A connection attempt failed, TLS refused a certificate, an emit was refused, giving up. */
    WARN(2),
    /** State changes: connecting, connected (transport, heartbeat), disconnected (reason), reconnects. */
    INFO(3),
    /** Handshake details, upgrades, backpressure pauses, volatile emits dropped. */
    DEBUG(4),
    /** Every packet in and out (type, namespace, size; never its arguments). */
    TRACE(5);

    companion object {
        /** The level of C value [code]; TRACE for a value above 5 (a future, more verbose level). */
        @JvmStatic
        fun of(code: Int): LogLevel = when (code) {
            0 -> OFF
            1 -> ERROR
            2 -> WARN
            3 -> INFO
            4 -> DEBUG
            else -> TRACE
        }
    }
}

/** Process-wide settings of librealtime. */
object Realtime {
    /**
     * Sends the library's log records of [minLevel] and more severe to [handler] (level, target such as
     * `realtime::client::manager`, message), for the whole process (every client); a second call
     * replaces the handler. Off by default; a null [handler] or [LogLevel.OFF] turns logging off.
     *
     * Records are redacted by the library before they get here (auth payloads and header values are
     * never logged; URL user-info, query values, secret-named JSON members, Authorization/Cookie values
     * and Bearer/Basic credentials become `[redacted]`).
     *
     * [handler] runs on the thread that made the record: a library thread (attached to the JVM as a
     * daemon) or the thread calling into the library. Keep it short and non-blocking (hand it to
     * android.util.Log or SLF4J); an exception it throws is printed and dropped. It may call the library
     * (records made inside it are dropped), but not setLogHandler (IllegalStateException).
     *
     * When this returns, the previous handler is not running and never runs again.
     *
     * Android: `Realtime.setLogHandler(LogLevel.INFO) { level, target, msg -> Log.println(level.androidPriority, "realtime", "$target: $msg") }`.
     */
    @JvmStatic
    fun setLogHandler(minLevel: LogLevel, handler: ((level: LogLevel, target: String, message: String) -> Unit)?) {
        val native = if (handler == null || minLevel == LogLevel.OFF) null else NativeLogHandler(handler)
        // Serialized in the JNI bridge (no lock here: a handler calling this must get its
        // IllegalStateException, not wait for a setter that waits for that very handler).
        val status = Native.nSetLogHandler(minLevel.code, native)
        when (status) {
            Status.OK -> return
            IN_LOG_HANDLER -> throw IllegalStateException("setLogHandler cannot be called from inside the log handler")
            -1 -> throw RealtimeException(Status.INTERNAL, "no JNI global reference for the log handler")
            else -> throw RealtimeException(status, Native.lastError())
        }
    }

    /** Turns logging off (as [setLogHandler] with null). */
    @JvmStatic
    fun clearLogHandler() = setLogHandler(LogLevel.OFF, null)

    /** nSetLogHandler's status when called from inside the log handler. */
    private const val IN_LOG_HANDLER = -2
}

/** The `android.util.Log` priority of this level (VERBOSE 2 … ERROR 6), for `Log.println`. */
val LogLevel.androidPriority: Int
    // From the C code, not `when (this)` (its WhenMappings class references NoSuchFieldError).
    get() = if (code == 0) 6 else 7 - code

/** What the JNI log callback calls (realtime_jni.c looks `onLog` up in JNI_OnLoad). */
internal class NativeLogHandler(private val handler: (LogLevel, String, String) -> Unit) {
    fun onLog(level: Int, target: ByteArray, message: ByteArray) {
        try {
            handler(LogLevel.of(level), Native.str(target), Native.str(message))
        } catch (t: Throwable) {
            // A log handler must not break the library thread that logged.
            t.printStackTrace()
        }
    }
}
