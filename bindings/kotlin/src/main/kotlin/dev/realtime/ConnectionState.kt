package dev.realtime

import java.util.concurrent.Executor
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** Where a client's namespace stands, as [RealtimeClient.connectionState]. */
enum class ConnectionState {
    /** An attempt is in flight or the next one is scheduled (the backoff delay). */
    CONNECTING,

    /** The namespace is joined. */
    CONNECTED,

    /**
     * Not connected and not trying: before open() with `"autoConnect": false`, after disconnect(), after
     * the server disconnected the socket ("io server disconnect"), after the reconnection attempts ran
     * out, or after a refusal with reconnection off. open() leaves it.
     */
    DISCONNECTED,

    /** close() was called: final. */
    CLOSED,
}

/**
 * The state behind [RealtimeClient.connectionState]: the lifecycle events move it, and the library's
 * stats (realtime_stats_json: `connected`, `state`) settle the cases the events leave open. Its
 * listeners reference this tracker and the ClientState only, never the client (the cleaner needs that).
 */
internal class ConnectionStateTracker(private val state: ClientState) {
    private val flow = MutableStateFlow(ConnectionState.DISCONNECTED)
    val view: StateFlow<ConnectionState> = flow.asStateFlow()

    @Volatile
    private var started = false

    /** Registers the listeners once (at the first read: a listener ends the library's initial hold). */
    fun start(): StateFlow<ConnectionState> {
        if (started) return view
        synchronized(this) {
            if (started) return view
            started = true
            try {
                val before = fromStats()
                set(before)
                val direct = Executor { it.run() }
                state.addListener(VoidListener(direct, null) { set(ConnectionState.CONNECTED) }) { h, t -> Native.nOnLifecycle(h, 0, t) }
                state.addListener(TextListener(direct, null) { reason -> set(afterDisconnect(reason)) }) { h, t -> Native.nOnLifecycle(h, 1, t) }
                state.addListener(ErrorListener(direct, null) { _, _ -> set(fromStats()) }) { h, t -> Native.nOnLifecycle(h, 2, t) }
                state.addListener(CountListener(direct, null) { set(ConnectionState.CONNECTING) }) { h, t -> Native.nOnLifecycle(h, 3, t) }
                state.addListener(VoidListener(direct, null) { set(ConnectionState.DISCONNECTED) }) { h, t -> Native.nOnLifecycle(h, 5, t) }
                // What happened while registering, unless an event said it already.
                flow.compareAndSet(before, fromStats())
            } catch (_: IllegalStateException) {
                set(ConnectionState.CLOSED)
            }
        }
        return view
    }

    private fun afterDisconnect(reason: String): ConnectionState = when (reason) {
        // socket.io-client does not reconnect after these.
        "io client disconnect", "io server disconnect" -> ConnectionState.DISCONNECTED
        else -> fromStats().let { if (it == ConnectionState.DISCONNECTED) it else ConnectionState.CONNECTING }
    }

    /** open() returned: trying now, unless an event moved on already. */
    fun opened() {
        if (started) flow.compareAndSet(ConnectionState.DISCONNECTED, ConnectionState.CONNECTING)
    }

    /** disconnect() returned: no attempt runs (and none was in flight to say so by an event). */
    fun disconnected() {
        if (started) set(ConnectionState.DISCONNECTED)
    }

    fun closed() = set(ConnectionState.CLOSED)

    /** Sets [next] unless CLOSED (final). */
    private fun set(next: ConnectionState) {
        while (true) {
            val current = flow.value
            if (current == ConnectionState.CLOSED || current == next) return
            if (flow.compareAndSet(current, next)) return
        }
    }

    private fun fromStats(): ConnectionState {
        if (state.isClosed) return ConnectionState.CLOSED
        val json = Native.nStats(state.handle) ?: return ConnectionState.CLOSED
        val stats = RealtimeStats.parse(Native.str(json))
        return when {
            stats.connected -> ConnectionState.CONNECTED
            stats.state == "idle" -> ConnectionState.DISCONNECTED
            else -> ConnectionState.CONNECTING
        }
    }
}
