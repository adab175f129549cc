package dev.realtime

/**
 * A synchronous failure of librealtime: [status] is the C `realtime_status` value (see [Status]) and
 * [detail] the library's message (realtime_last_error()). Construction failures carry the status of
 * realtime_last_error_status() (INVALID_URL, INVALID_OPTIONS, UNKNOWN_OPTION, ...).
 */
open class RealtimeException(val status: Int, val detail: String) :
    RuntimeException("${Status.name(status)} ($status): $detail") {
}

/** An ack (or a members request) that ended without an answer: timed out, or the socket disconnected. */
class AckException(val reason: String) : RuntimeException(reason) {
    /** "operation has timed out". */
    val isTimeout: Boolean get() = reason.contains("timed out")
}

/** The C `realtime_status` values (they never change between versions). */
object Status {
    const val OK = 0
    const val INVALID_ARGUMENT = 1
    const val INVALID_URL = 2
    const val INVALID_OPTIONS = 3
    const val UNKNOWN_OPTION = 4
    const val INVALID_HANDLE = 5
    const val UNKNOWN_LISTENER = 6
    const val RESERVED_EVENT = 7
    const val BUFFER_FULL = 8
    const val PAYLOAD_TOO_LARGE = 9
    const val UNKNOWN_ACK = 10
    const val NAMESPACE_IN_USE = 11
    const val INTERNAL = 100

    /** realtime_status_str(): "ok", "invalid argument", ... */
    fun name(status: Int): String = Native.str(Native.nStatusStr(status))
}

/**
 * A server event. [argsJson] is the JSON array of its arguments; a binary argument appears as
 * `{"_placeholder":true,"num":i}` and its bytes are [buffers]`[i]`.
 * When the server asked for an acknowledgement ([ackRequested]), answer with [ack] exactly once (now or
 * later, from any thread); not answering is allowed.
 */
class RealtimeEvent internal constructor(
    val name: String,
    val argsJson: String,
    val buffers: List<ByteArray>,
    private val ackId: Long,
    private val state: ClientState,
) {
    private val answered = java.util.concurrent.atomic.AtomicBoolean(false)

    val ackRequested: Boolean get() = ackId != 0L

    /**
     * The arguments as values (parsed once, on first use): null, Boolean, String, Long (an integer that
     * fits) or Double, List<Any?>, Map<String, Any?> in the sender's order. [argsJson] stays the exact
     * text (numbers beyond Long/Double, escapes as sent).
     */
    val args: List<Any?> by lazy { Json.parseArray(argsJson) }

    /** [ack] with values (encoded as [Json.encode] does). */
    fun ackValues(vararg values: Any?) = answer(Json.encode(values.asList()), null)

    /**
     * Answers the server's ack request with [argsJson] (a JSON array). Throws IllegalStateException when
     * no ack was requested, when called a second time, or when the client is closed; RealtimeException
     * (UNKNOWN_ACK) when the connection that asked is gone.
     */
    fun ack(argsJson: String = "[]") = answer(argsJson, null)

    /** [ack] with binary arguments (`{"_placeholder":true,"num":i}` stands for [buffers]`[i]`). */
    fun ackBinary(argsJson: String, buffers: List<ByteArray>) = answer(argsJson, buffers.toTypedArray())

    private fun answer(argsJson: String, buffers: Array<ByteArray>?) {
        check(ackId != 0L) { "the server did not ask for an ack of \"$name\"" }
        check(answered.compareAndSet(false, true)) { "the ack of \"$name\" was answered already" }
        state.checkOpen()
        state.check(Native.nAck(state.handle, ackId, Native.utf8(argsJson), buffers))
    }

    override fun toString() = "RealtimeEvent($name, $argsJson, ${buffers.size} buffer(s), ack=$ackRequested)"
}

/** An ack's answer: [argsJson] (a JSON array) and its binary [buffers]. */
data class AckResult(val argsJson: String, val buffers: List<ByteArray>) {
    /** The answer's arguments as values (as [RealtimeEvent.args]). */
    val args: List<Any?> get() = Json.parseArray(argsJson)
}

/**
 * A channel event (member join/leave/update) or a channel message: [channel] (null for a broadcast),
 * [memberId] (the member's socket id, null if the server did not say) and [dataJson] (the profile or the
 * message, as JSON text).
 */
data class ChannelEvent(val channel: String?, val memberId: String?, val dataJson: String)

/**
 * An Agnost user event, pushed by the API server to the sockets of the session's user: [name] is one of
 * `user:signin`, `user:signout`, `user:update`, `user:delete`, `user:pwdchange`, `user:emailchange`,
 * `user:phonechange`; [sessionJson] and [userJson] are the session and the user as the server sent them
 * (JSON text; "null" when absent).
 */
data class UserEvent(val name: String, val sessionJson: String, val userJson: String)

/** The connection's lifecycle, as a [kotlinx.coroutines.flow.Flow] from [RealtimeClient.lifecycle]. */
sealed class LifecycleEvent {
    /** The namespace was joined (first connect and every reconnect). */
    data object Connect : LifecycleEvent()

    /** socket.io-client's reasons: "io server disconnect", "io client disconnect", "ping timeout", ... */
    data class Disconnect(val reason: String) : LifecycleEvent()

    /** A failed attempt or a refusal by the server ([dataJson] is the error's `data`, or "null"). */
    data class Error(val message: String, val dataJson: String) : LifecycleEvent()

    /** Just before reconnection attempt [attempt] (from 1). */
    data class ReconnectAttempt(val attempt: Int) : LifecycleEvent()

    /** Reconnected after [attempts] attempts (before [Connect]). */
    data class Reconnect(val attempts: Int) : LifecycleEvent()

    /** `reconnectionAttempts` attempts failed; nothing more is tried until open(). */
    data object ReconnectFailed : LifecycleEvent()
}
