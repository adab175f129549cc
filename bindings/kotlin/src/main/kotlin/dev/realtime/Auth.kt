package dev.realtime

import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive

/**
 * Gives credentials before each CONNECT ([RealtimeClient.setAuthProvider], for Java and callback code):
 * answer [request] with [AuthRequest.reply] or [AuthRequest.decline], in [provide] or later from any
 * thread.
 */
fun interface AuthProvider {
    fun provide(request: AuthRequest)
}

/**
 * One request of the library for credentials (realtime_auth_fn): the CONNECT waits for its answer.
 * [reply] with a JSON object text — sent as the CONNECT's `auth` (the server's `socket.handshake.auth`)
 * and kept for later CONNECTs — or [decline]: the client then stops with an onError, as after a refusal by
 * the server, until open(). No answer within the `authTimeout` option (default 10000 ms) ends the same way.
 */
class AuthRequest internal constructor(
    /** The library's request id (realtime_auth_reply's `request_id`). */
    val id: Long,
    private val state: ClientState,
) {
    private val answered = AtomicBoolean(false)

    /** [reply] or [decline] succeeded. */
    val isAnswered: Boolean get() = answered.get()

    /**
     * Answers with [authJson], a JSON object such as `{"token":"abc"}`. Throws RealtimeException
     * (INVALID_ARGUMENT) when it is not a JSON object (the request stays open: answer it again), and
     * IllegalStateException when it was answered already or the client is closed. A request that stopped
     * waiting (timed out, or its connection has gone) ignores the answer.
     */
    fun reply(authJson: String) = answer(Native.utf8(authJson))

    /** Declines: no credentials; the client stops with an onError until open(). */
    fun decline() = answer(null)

    private fun answer(auth: ByteArray?) {
        state.checkOpen()
        check(answered.compareAndSet(false, true)) { "auth request $id was answered already" }
        val status = Native.nAuthReply(state.handle, id, auth)
        if (status != Status.OK) {
            answered.set(false)
            state.check(status)
        }
    }

    override fun toString() = "AuthRequest($id, answered=$isAnswered)"
}

/**
 * The client's auth token for the library (see ClientState.setAuthProvider): asks [provider], the one set
 * last. With none (removed while the library was asking), the request is declined.
 */
internal class AuthSlot(private val state: ClientState) : NativeCallback() {
    @Volatile
    var provider: ((AuthRequest) -> Unit)? = null

    override fun onAuth(requestId: Long) {
        val request = AuthRequest(requestId, state)
        val current = provider
        if (current == null) {
            runCatching { request.decline() }
            return
        }
        current(request)
    }
}

/**
 * Runs a suspend provider for [request] and answers with its result: null, an exception or a text that is
 * not a JSON object declines (rather than leaving the CONNECT waiting for authTimeout). Cancelled (the
 * client closed): no answer.
 */
internal suspend fun answerAuth(request: AuthRequest, provider: suspend () -> String?) {
    val auth = try {
        provider()
    } catch (_: Throwable) {
        // The client's scope was cancelled (close): rethrows. Any other failure (a timeout inside the
        // provider included) declines.
        currentCoroutineContext().ensureActive()
        null
    }
    try {
        if (auth == null) request.decline() else request.reply(auth)
    } catch (_: RealtimeException) {
        runCatching { request.decline() }
    } catch (_: IllegalStateException) {
        // Closed meanwhile: nothing waits for the answer any more.
    }
}
