package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.suspendCancellableCoroutine

/**
 * A Socket.IO v5 client (one namespace and the connection it runs on), backed by librealtime.
 *
 * - [url]: `http://`, `https://`, `ws://` or `wss://`; its path is the namespace (`https://host/admin`).
 * - [options]: JSON object text of socket.io-client options (`{"auth":{"token":"abc"}}`), or a Map (see
 *   the other constructor). Unless `"autoConnect": false`, it starts connecting at once.
 * - [executor]: where every listener runs. The default is one shared single-thread daemon executor, so a
 *   client's listeners run one at a time, in event order. With your own multi-threaded executor the order
 *   between events is not kept.
 *
 * Every method may be called from any thread, including from inside a listener. After [close], every
 * method throws IllegalStateException (except [close] itself, which is idempotent, and [isClosed]).
 * Construction failure (bad URL, unknown option, ...) throws [RealtimeException].
 */
class RealtimeClient private constructor(
    private val state: ClientState,
    private val executor: Executor,
) : AutoCloseable {

    @JvmOverloads
    constructor(url: String, options: String? = null, executor: Executor = defaultExecutor) :
        this(ClientState(create(url, options)), executor)

    @JvmOverloads
    constructor(url: String, options: Map<String, Any?>, executor: Executor = defaultExecutor) :
        this(url, Json.encode(options), executor)

    // The safety net: frees the native client if the application drops this object without close()
    // (a PhantomReference drained by the library's own daemon thread; java.lang.ref.Cleaner is API 33+
    // on Android).
    private val cleanable: ReferenceCleaner.Cleanable = ReferenceCleaner.register(this, state)

    private val lifecycleSink = MutableSharedFlow<LifecycleEvent>(
        extraBufferCapacity = 4096,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    private val lifecycleView: SharedFlow<LifecycleEvent> = lifecycleSink.asSharedFlow()

    /**
     * The flow's native listeners are registered at the first use of [lifecycle], not at construction:
     * a listener of the library ends its initial hold of the connect event, so listeners registered at
     * construction would let the first connect pass before the application's onConnect is registered.
     */
    private val lifecycleRegistered = java.util.concurrent.atomic.AtomicBoolean(false)

    private val userEventSink = MutableSharedFlow<UserEvent>(
        extraBufferCapacity = 4096,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    private val userEventView: SharedFlow<UserEvent> = userEventSink.asSharedFlow()

    /** Like [lifecycleRegistered]: the flow's native listener is registered at the first use of [userEvents]. */
    private val userEventsRegistered = java.util.concurrent.atomic.AtomicBoolean(false)

    private val stateTracker = ConnectionStateTracker(state)

    // ---- connection ----

    /** Connects (idempotent); re-enables reconnection after [disconnect]. Result: onConnect or onError. */
    fun open() {
        state.checkOpen()
        state.check(Native.nOpen(state.handle))
        stateTracker.opened()
    }

    /** Disconnects (realtime_close): "io client disconnect"; no reconnection until [open]. Reopenable. */
    fun disconnect() {
        state.checkOpen()
        state.check(Native.nClose(state.handle))
        stateTracker.disconnected()
    }

    /**
     * Ends the client's lifetime (realtime_free): disconnects, removes every listener, fails pending acks
     * with IllegalStateException, deletes the JNI references. No listener of this client starts afterwards
     * (events still queued on the executor are dropped; one already running finishes). Safe from inside a
     * listener, whatever the executor. Idempotent.
     */
    override fun close() {
        cleanable.clean()
        stateTracker.closed()
    }

    /**
     * The network changed or the app came back to the foreground: drop the connection ("transport close")
     * and connect again at once, skipping the backoff (realtime_reconnect_now). Shared by every namespace
     * on the connection.
     */
    fun reconnectNow() {
        state.checkOpen()
        state.check(Native.nReconnectNow(state.handle))
    }

    val isClosed: Boolean get() = state.isClosed

    /** Whether the namespace is joined now. */
    val isConnected: Boolean
        get() {
            state.checkOpen()
            return Native.nIsConnected(state.handle)
        }

    /** The server's `socket.id` of this connection, or null when not connected. */
    val socketId: String?
        get() {
            state.checkOpen()
            return Native.strOrNull(Native.nSocketId(state.handle))
        }

    /** Whether this connection recovered the previous session (connection state recovery). */
    val isRecovered: Boolean
        get() {
            state.checkOpen()
            return Native.nIsRecovered(state.handle)
        }

    /**
     * The transport of the open connection (realtime_transport_name): "websocket" or "polling", or null
     * when no connection is open (connecting, waiting to reconnect, disconnected). A polling connection
     * that upgraded reads "websocket" from the moment the upgrade completed. Choose the transports with the
     * `transports` option, e.g. `{"transports":["polling"]}`.
     */
    val transportName: String?
        get() {
            state.checkOpen()
            return Native.str(Native.nTransportName(state.handle)).ifEmpty { null }
        }

    /**
     * A snapshot of the live counters (realtime_stats_json): state, connects, transport, packets and
     * bytes, emits, acks, listeners, ... Cheap enough for every frame of a UI. Does not end the
     * library's initial event hold.
     */
    fun stats(): RealtimeStats {
        state.checkOpen()
        val json = Native.nStats(state.handle)
        if (json == null) {
            if (state.isClosed) throw state.closedError()
            throw RealtimeException(Status.INVALID_HANDLE, "realtime_stats_json returned nothing")
        }
        return RealtimeStats.parse(Native.str(json))
    }

    /**
     * Opens namespace [nsp] (e.g. "/admin") on this client's connection (socket.io-client's
     * `manager.socket(nsp)`): its own id, listeners and lifecycle; [options] may hold socket options only.
     * Close it on its own.
     */
    @JvmOverloads
    fun namespace(nsp: String, options: String? = null, executor: Executor = this.executor): RealtimeClient {
        state.checkOpen()
        val handle = Native.nNewNamespace(state.handle, Native.utf8(nsp), Native.utf8OrNull(options))
        if (handle == 0L) {
            val failure = Native.lastFailure()
            if (state.isClosed) throw state.closedError()
            throw failure
        }
        return RealtimeClient(ClientState(handle), executor)
    }

    // ---- auth provider ----

    /**
     * Asks [provider] for credentials before each CONNECT of this namespace (the first connection, every
     * reconnection, every open() after a refusal; realtime_set_auth_provider). It returns a JSON object
     * text, sent as the CONNECT's `auth` (it replaces the `auth` option, for this CONNECT and later ones),
     * or null to decline; an exception, or a text that is not a JSON object, declines too. Declined, or no
     * answer within the `authTimeout` option (default 10000 ms): onError, and the client stops until
     * open(). After a refusal by the server (an expired token), open() asks again.
     *
     * It runs in a coroutine scope of the client, dispatched on the client's executor (suspend freely; move
     * blocking work to another dispatcher); close() cancels it. Set it before the first connection: create
     * the client with `"autoConnect": false` and call open() after this (or set it right after the
     * constructor). A second call replaces the provider for every request not handed to the old one yet.
     * For Java: the [AuthProvider] overload.
     */
    @JvmSynthetic
    fun setAuthProvider(provider: suspend () -> String?) = state.setAuthProvider(askInScope(state.scope(executor), provider))

    /**
     * [setAuthProvider] with a callback, for Java and callback code: [provider] runs on the executor (name
     * the lambda's parameter in Kotlin, `setAuthProvider { request -> request.reply(json) }`: a lambda
     * without one is the suspending provider) and answers the [AuthRequest] there or later, from any
     * thread. An exception it throws before answering declines the request (and goes to the thread's
     * uncaught-exception handler, as a listener's does).
     */
    fun setAuthProvider(provider: AuthProvider) = state.setAuthProvider(askOnExecutor(executor, state, provider))

    /** Removes the auth provider: later CONNECTs send its last answer (or the `auth` option). */
    fun clearAuthProvider() = state.setAuthProvider(null)

    // ---- lifecycle listeners: each returns a listener id for off() ----

    fun onConnect(listener: () -> Unit): Long =
        state.addListener(VoidListener(executor, state, listener)) { h, t -> Native.nOnLifecycle(h, 0, t) }

    /** [listener] gets socket.io-client's reason ("transport close", "io client disconnect", ...). */
    fun onDisconnect(listener: (reason: String) -> Unit): Long =
        state.addListener(TextListener(executor, state, listener)) { h, t -> Native.nOnLifecycle(h, 1, t) }

    /** A failed connection attempt, or a refusal: the server's message and its `data` as JSON ("null"). */
    fun onError(listener: (message: String, dataJson: String) -> Unit): Long =
        state.addListener(ErrorListener(executor, state, listener)) { h, t -> Native.nOnLifecycle(h, 2, t) }

    fun onReconnectAttempt(listener: (attempt: Int) -> Unit): Long =
        state.addListener(CountListener(executor, state, listener)) { h, t -> Native.nOnLifecycle(h, 3, t) }

    fun onReconnect(listener: (attempts: Int) -> Unit): Long =
        state.addListener(CountListener(executor, state, listener)) { h, t -> Native.nOnLifecycle(h, 4, t) }

    fun onReconnectFailed(listener: () -> Unit): Long =
        state.addListener(VoidListener(executor, state, listener)) { h, t -> Native.nOnLifecycle(h, 5, t) }

    /**
     * Removes a listener (any kind). Once off() has returned, that listener never starts again: its
     * calls still queued on the executor are dropped, and off() waits for a call of it that is running
     * on another thread (so the resources it uses can be released right after). Called from inside that
     * very listener, it does not wait (that would deadlock): the current call finishes, no other starts.
     * Do not call it while holding a lock the listener takes. Works for a [once] listener whose event
     * arrived but whose call has not run yet (it is dropped). Throws RealtimeException(UNKNOWN_LISTENER)
     * for an unknown id (or a once-listener that has run).
     */
    fun off(listenerId: Long) = state.off(listenerId)

    /**
     * The lifecycle as a hot [SharedFlow] (no replay): Connect, Disconnect(reason), Error(message, data),
     * ReconnectAttempt(n), Reconnect(n), ReconnectFailed. Emitted straight from the library's callback
     * thread (not through the executor): the collector's coroutine context decides where they run. A
     * collector more than 4096 events behind loses the oldest. Use `onSubscription { }` to know when a
     * collector is subscribed. Completes never; cancel the collection (it ends nothing on the client).
     * The flow starts listening at the first read of this property.
     */
    val lifecycle: SharedFlow<LifecycleEvent>
        get() {
            if (!lifecycleRegistered.get() && lifecycleRegistered.compareAndSet(false, true)) {
                try {
                    registerLifecycle(state, lifecycleSink)
                } catch (_: IllegalStateException) {
                    // Closed: the flow never emits.
                }
            }
            return lifecycleView
        }

    /**
     * The connection state as a [StateFlow]: a collector that starts late gets the current state at once,
     * then every change (conflated: a slow collector sees the latest, not each step). CONNECTING,
     * CONNECTED, DISCONNECTED (not trying: see [ConnectionState.DISCONNECTED]), CLOSED (final). Read
     * `connectionState.value` for a plain snapshot. Updated on the library's callback thread, not through
     * the executor. Like [lifecycle], it starts listening at the first read of this property (its first
     * value comes from [stats]); after close() it reads CLOSED.
     */
    val connectionState: StateFlow<ConnectionState>
        get() = if (state.isClosed) stateTracker.also { it.closed() }.view else stateTracker.start()

    // ---- events ----

    /** Listens for server events named [event]. */
    fun on(event: String, listener: (RealtimeEvent) -> Unit): Long {
        val name = Native.utf8(event)
        return state.addListener(EventListener(executor, state, false, listener)) { h, t -> Native.nOn(h, name, t, 0) }
    }

    /** Like [on], for the next such event only. */
    fun once(event: String, listener: (RealtimeEvent) -> Unit): Long {
        val name = Native.utf8(event)
        return state.addListener(EventListener(executor, state, true, listener)) { h, t -> Native.nOn(h, name, t, 1) }
    }

    /** Listens for every server event (runs before the named listeners). */
    fun onAny(listener: (RealtimeEvent) -> Unit): Long =
        state.addListener(EventListener(executor, state, false, listener), any = true) { h, t -> Native.nOn(h, null, t, 2) }

    /** Removes every [onAny] listener. */
    fun offAny() {
        state.checkOpen()
        for (id in state.anyListenerIds()) runCatching { state.off(id) }.onFailure { if (it is IllegalStateException) throw it }
    }

    /**
     * Emits [event] with [argsJson] (a JSON array, e.g. `["hi", {"n": 1}]`, or use [Json.array]).
     * Buffered while offline (up to maxBufferedEmits). Throws RealtimeException: RESERVED_EVENT,
     * BUFFER_FULL, PAYLOAD_TOO_LARGE, INVALID_ARGUMENT (bad JSON).
     */
    @JvmOverloads
    fun emit(event: String, argsJson: String = "[]") {
        state.checkOpen()
        state.check(Native.nEmit(state.handle, Native.utf8(event), Native.utf8(argsJson), false))
    }

    /**
     * [emit] with values, as socket.io-client-java's `emit(event, args…)`: each of [args] is encoded as
     * [Json.encode] does (null, Boolean, Number, String, Map, Iterable, arrays, [Json.Raw]).
     */
    fun emitValues(event: String, vararg args: Any?) = emit(event, Json.encode(args.asList()))

    /** [emitWithAck] with values; returns the answer's arguments as values ([RealtimeEvent.args]). */
    suspend fun emitWithAckValues(event: String, vararg args: Any?, timeoutMs: Long = 0): List<Any?> =
        emitAck(event, Json.encode(args.asList()), null, timeoutMs).args

    /** Like [emit], but dropped when not connected. */
    @JvmOverloads
    fun emitVolatile(event: String, argsJson: String = "[]") {
        state.checkOpen()
        state.check(Native.nEmit(state.handle, Native.utf8(event), Native.utf8(argsJson), true))
    }

    /**
     * Emits binary arguments as binary frames: `{"_placeholder":true,"num":i}` in [argsJson] stands for
     * [buffers]`[i]` (at most 10).
     */
    fun emitBinary(event: String, argsJson: String, buffers: List<ByteArray>) {
        state.checkOpen()
        state.check(
            Native.nEmitAck(state.handle, Native.utf8(event), Native.utf8(argsJson), buffers.toTypedArray(), 0, 0),
        )
    }

    /**
     * Emits asking the server for an ack and returns its answer (a JSON array). [timeoutMs] 0 means the
     * ackTimeout option (without it: no timeout; cancel the coroutine, e.g. with withTimeout).
     * Throws [AckException] on timeout ("operation has timed out") or when the connection drops after
     * the packet was sent ("socket has been disconnected"); IllegalStateException if the client is closed
     * before the answer.
     */
    suspend fun emitWithAck(event: String, argsJson: String = "[]", timeoutMs: Long = 0): String =
        emitAck(event, argsJson, null, timeoutMs).argsJson

    /** [emitWithAck] with binary arguments (as [emitBinary]); the answer may carry buffers too. */
    suspend fun emitBinaryWithAck(event: String, argsJson: String, buffers: List<ByteArray>, timeoutMs: Long = 0): AckResult =
        emitAck(event, argsJson, buffers, timeoutMs)

    /** [emitWithAck] for Java and callback code: the future completes on the executor. */
    @JvmOverloads
    fun emitWithAckFuture(event: String, argsJson: String = "[]", timeoutMs: Long = 0): CompletableFuture<AckResult> {
        val future = CompletableFuture<AckResult>()
        startAck(event, argsJson, null, timeoutMs) { result ->
            post(executor) { result.fold(future::complete, future::completeExceptionally) }
        }
        return future
    }

    private suspend fun emitAck(event: String, argsJson: String, buffers: List<ByteArray>?, timeoutMs: Long): AckResult =
        suspendCancellableCoroutine { cont ->
            val token = startAck(event, argsJson, buffers, timeoutMs) { result ->
                result.fold({ cont.resume(it) }, { cont.resumeWithException(it) })
            }
            cont.invokeOnCancellation { state.releaseToken(token) }
        }

    /** Registers the one-shot and emits; on a synchronous failure it throws (the callback never runs). */
    private fun startAck(
        event: String,
        argsJson: String,
        buffers: List<ByteArray>?,
        timeoutMs: Long,
        result: (Result<AckResult>) -> Unit,
    ): Long {
        require(timeoutMs in 0..Int.MAX_VALUE) { "timeoutMs must be in 0..${Int.MAX_VALUE}" }
        val name = Native.utf8(event)
        val args = Native.utf8(argsJson)
        return state.startPending(AckCallback(state, result)) { token ->
            Native.nEmitAck(state.handle, name, args, buffers?.toTypedArray(), timeoutMs.toInt(), token)
        }
    }

    // ---- tracked emits ----

    /**
     * Emits [event] and reports its fate to [onStatus] (realtime_emit_tracked): [MessageStatus.Queued]
     * (offline) or [MessageStatus.Sent], possibly again after a reconnect (delivery is at least once), then
     * exactly one final status: [MessageStatus.Acked] with the server's answer, [MessageStatus.Expired] (not
     * sent within [ttlMs]; it never will be) or [MessageStatus.Failed] (sent, not acknowledged within
     * [ttlMs], or [disconnect] after it was sent). The server's handler must acknowledge the event. [ttlMs]
     * 0: no time to live. Counts in maxBufferedEmits while offline.
     *
     * [onStatus] runs on the executor, one status at a time and in order (on a multi-threaded executor
     * too). close() ends the tracking without a final status: [onStatus] is not called any more. Synchronous
     * failures throw RealtimeException as [emit] does, and [onStatus] is never called.
     */
    @JvmOverloads
    fun emitTracked(event: String, argsJson: String = "[]", ttlMs: Long = 0, onStatus: (MessageStatus) -> Unit) {
        val serial = SerialPoster(executor, state)
        startTracked(event, argsJson, ttlMs, { status -> serial.enqueue { onStatus(status) } }, {})
    }

    /**
     * [emitTracked] as a cold [Flow]: each collection emits the message once and gets its statuses,
     * completing after the final one. A synchronous failure (RealtimeException) is thrown by the
     * collection; close() before the final status fails it with IllegalStateException. Cancelling the
     * collection stops the reporting, not the message (an emit cannot be withdrawn). Statuses are sent
     * from the library's callback thread into an unbounded buffer (none is lost); the collector's context
     * decides where they are handled.
     */
    fun emitTrackedFlow(event: String, argsJson: String = "[]", ttlMs: Long = 0): Flow<MessageStatus> = callbackFlow {
        val token = startTracked(
            event,
            argsJson,
            ttlMs,
            { status ->
                trySend(status)
                if (status.isFinal) channel.close()
            },
            { error -> channel.close(error) },
        )
        awaitClose { state.releaseToken(token) }
    }.buffer(Channel.UNLIMITED)

    /** Registers the tracker and emits; on a synchronous failure it throws (nothing is reported). */
    private fun startTracked(
        event: String,
        argsJson: String,
        ttlMs: Long,
        report: (MessageStatus) -> Unit,
        closed: (Throwable) -> Unit,
    ): Long {
        require(ttlMs in 0..Int.MAX_VALUE) { "ttlMs must be in 0..${Int.MAX_VALUE}" }
        val name = Native.utf8(event)
        val args = Native.utf8(argsJson)
        return state.startPending(TrackedCallback(state, report, closed)) { token ->
            Native.nEmitTracked(state.handle, name, args, ttlMs.toInt(), token)
        }
    }

    // ---- Agnost channels ----

    /** Joins [channel] (re-joined after every reconnect with autoJoinChannels, the default). */
    fun join(channel: String) = channelOp(0, channel)

    fun leave(channel: String) = channelOp(1, channel)

    /** Sets this member's profile to [dataJson] (any JSON value); other members get onChannelUpdate. */
    fun updateProfile(dataJson: String) = channelOp(2, dataJson)

    private fun channelOp(op: Int, arg: String) {
        state.checkOpen()
        state.check(Native.nChannelOp(state.handle, op, Native.utf8(arg)))
    }

    /** Sends [messageJson] (any JSON value) as [eventName] to the members of [channel]. */
    fun send(channel: String, eventName: String, messageJson: String) {
        state.checkOpen()
        state.check(
            Native.nSend(state.handle, Native.utf8(channel), Native.utf8(eventName), Native.utf8(messageJson), false),
        )
    }

    /** Sends [messageJson] as [eventName] to every connected client. */
    fun broadcast(eventName: String, messageJson: String) {
        state.checkOpen()
        state.check(Native.nSend(state.handle, null, Native.utf8(eventName), Native.utf8(messageJson), true))
    }

    /** The members of [channel]: the server's JSON array of `{"id":…, "data":…}`. Throws [AckException]. */
    suspend fun members(channel: String): String = suspendCancellableCoroutine { cont ->
        val name = Native.utf8(channel)
        val callback = MembersCallback(state) { result ->
            result.fold({ cont.resume(it) }, { cont.resumeWithException(it) })
        }
        val token = state.addPending(callback)
        val status = try {
            Native.nGetMembers(state.handle, name, token)
        } catch (t: Throwable) {
            state.releaseToken(token)
            throw t
        }
        if (status != Status.OK) {
            val error = runCatching { state.check(status) }.exceptionOrNull()!!
            state.releaseToken(token)
            throw error
        }
        cont.invokeOnCancellation { state.releaseToken(token) }
    }

    fun onChannelJoin(listener: (ChannelEvent) -> Unit): Long =
        state.addListener(ChannelListener(executor, state, listener)) { h, t -> Native.nOnChannel(h, 0, t) }

    fun onChannelLeave(listener: (ChannelEvent) -> Unit): Long =
        state.addListener(ChannelListener(executor, state, listener)) { h, t -> Native.nOnChannel(h, 1, t) }

    fun onChannelUpdate(listener: (ChannelEvent) -> Unit): Long =
        state.addListener(ChannelListener(executor, state, listener)) { h, t -> Native.nOnChannel(h, 2, t) }

    /** Channel messages and broadcasts sent as [eventName]: channel (null for a broadcast), sender, data. */
    fun onMessage(eventName: String, listener: (ChannelEvent) -> Unit): Long {
        val name = Native.utf8(eventName)
        return state.addListener(ChannelListener(executor, state, listener)) { h, t -> Native.nOnMessage(h, name, t) }
    }

    /**
     * Agnost's user events (realtime_on_user_event): `user:signin`, `user:signout`, `user:update`,
     * `user:delete`, `user:pwdchange`, `user:emailchange`, `user:phonechange`, pushed by the API server to
     * the sockets of the session's user, one listener for all of them (like Agnost's `onUserEvent`). They
     * are not channel messages: [onMessage] never gets them; a plain [on] of that name and [onAny] get the
     * event too, with its arguments `[name, session, user]`. Removed by [off] (not by [offAny]).
     */
    fun onUserEvent(listener: (UserEvent) -> Unit): Long =
        state.addListener(UserEventListener(executor, state, listener)) { h, t -> Native.nOnUserEvent(h, t) }

    /**
     * The user events of [onUserEvent] as a hot [SharedFlow] (no replay), like [lifecycle]: emitted straight
     * from the library's callback thread (not through the executor), a collector more than 4096 events
     * behind loses the oldest, `onSubscription { }` tells when a collector is subscribed, and it never
     * completes. The flow starts listening at the first read of this property.
     */
    val userEvents: SharedFlow<UserEvent>
        get() {
            if (!userEventsRegistered.get() && userEventsRegistered.compareAndSet(false, true)) {
                try {
                    registerUserEvents(state, userEventSink)
                } catch (_: IllegalStateException) {
                    // Closed: the flow never emits.
                }
            }
            return userEventView
        }

    override fun toString(): String =
        if (state.isClosed) "RealtimeClient(closed)" else "RealtimeClient(connected=${Native.nIsConnected(state.handle)})"

    companion object {
        /** The executor used when none is given: one daemon thread, shared by all clients. */
        @JvmStatic
        val defaultExecutor: Executor by lazy {
            Executors.newSingleThreadExecutor { r -> Thread(r, "realtime-events").apply { isDaemon = true } }
        }

        /** The librealtime version, e.g. "0.1.0". */
        @JvmStatic
        val version: String get() = Native.str(Native.nVersion())

        private fun create(url: String, options: String?): Long {
            val handle = Native.nNew(Native.utf8(url), Native.utf8OrNull(options))
            if (handle == 0L) throw Native.lastFailure()
            return handle
        }

        // The auth providers' askers reference the scope, executor and state only, never the client: the
        // auth slot holding them lives as long as the native client (the cleaner needs that).

        private fun askInScope(scope: CoroutineScope, provider: suspend () -> String?): (AuthRequest) -> Unit =
            { request -> scope.launch { answerAuth(request, provider) } }

        private fun askOnExecutor(executor: Executor, state: ClientState, provider: AuthProvider): (AuthRequest) -> Unit =
            { request ->
                val queued = post(executor, state) {
                    try {
                        provider.provide(request)
                    } catch (t: Throwable) {
                        if (!request.isAnswered) runCatching { request.decline() }
                        throw t
                    }
                }
                // The application shut its executor down: nobody will answer.
                if (!queued) runCatching { request.decline() }
            }

        /** The flow's listeners: they reference the flow only, never the client (the cleaner needs that). */
        private fun registerLifecycle(state: ClientState, sink: MutableSharedFlow<LifecycleEvent>) {
            val direct = Executor { it.run() }
            val emit: (LifecycleEvent) -> Unit = { sink.tryEmit(it) }
            state.addListener(VoidListener(direct, null) { emit(LifecycleEvent.Connect) }) { h, t -> Native.nOnLifecycle(h, 0, t) }
            state.addListener(TextListener(direct, null) { emit(LifecycleEvent.Disconnect(it)) }) { h, t -> Native.nOnLifecycle(h, 1, t) }
            state.addListener(ErrorListener(direct, null) { m, d -> emit(LifecycleEvent.Error(m, d)) }) { h, t -> Native.nOnLifecycle(h, 2, t) }
            state.addListener(CountListener(direct, null) { emit(LifecycleEvent.ReconnectAttempt(it)) }) { h, t -> Native.nOnLifecycle(h, 3, t) }
            state.addListener(CountListener(direct, null) { emit(LifecycleEvent.Reconnect(it)) }) { h, t -> Native.nOnLifecycle(h, 4, t) }
            state.addListener(VoidListener(direct, null) { emit(LifecycleEvent.ReconnectFailed) }) { h, t -> Native.nOnLifecycle(h, 5, t) }
        }

        /** The [userEvents] flow's listener: it references the flow only, never the client. */
        private fun registerUserEvents(state: ClientState, sink: MutableSharedFlow<UserEvent>) {
            val direct = Executor { it.run() }
            state.addListener(UserEventListener(direct, null) { sink.tryEmit(it) }) { h, t -> Native.nOnUserEvent(h, t) }
        }
    }
}
