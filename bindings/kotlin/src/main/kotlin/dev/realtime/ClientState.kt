package dev.realtime

import java.util.concurrent.Executor
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean

/**
 * The native side of one client: its handle and every JNI token (global reference) it owns. It never
 * references the RealtimeClient, so it can be the Cleaner action that frees a forgotten client.
 *
 * Lifetime rules:
 *  - a token is recorded here before the library gets it, so close() always finds it;
 *  - close (run) marks the state closed, calls realtime_free (which, outside a callback, waits for running
 *    callbacks), then deletes every token and fails every pending one-shot (ack, members);
 *  - JNI callbacks look their token up in a table and hold a local reference for the call, so deleting
 *    a token while a callback runs (close from inside a callback) is safe.
 */
internal class ClientState(val handle: Long) : Runnable {
    private val lock = Any()

    @Volatile
    var closed = false
        private set

    /** listener id -> token */
    private val listeners = HashMap<Long, Long>()
    /** every live token of this client: listeners (also while being registered) and pending one-shots */
    private val tokens = HashSet<Long>()
    /** token -> one-shot callback, failed on close */
    private val pending = HashMap<Long, OneShot>()
    /** ids of catch-all listeners (for offAny) */
    private val anyIds = HashSet<Long>()

    fun closedError() = IllegalStateException("the RealtimeClient is closed")

    fun checkOpen() {
        if (closed) throw closedError()
    }

    /** Throws for a failed status; call right after the native call, on the same thread. */
    fun check(status: Int) {
        if (status == Status.OK) return
        // A call racing with close() on another thread fails with INVALID_HANDLE, or with another status
        // when it passed the library's handle lookup just before realtime_free (realtime_off then says
        // UNKNOWN_LISTENER): once closed, any failure is the closure.
        if (closed) throw closedError()
        throw RealtimeException(status, Native.lastError())
    }

    /**
     * Registers [callback] with the library through [register] (handle, token -> listener id, 0 on
     * failure) and returns the listener id.
     */
    fun addListener(callback: NativeCallback, any: Boolean = false, register: (Long, Long) -> Long): Long {
        checkOpen()
        val token = Native.nRegister(callback)
        if (callback is Tokened) callback.token = token
        synchronized(lock) {
            if (closed) {
                Native.nUnregister(token)
                throw closedError()
            }
            tokens.add(token)
        }
        val id = try {
            register(handle, token)
        } catch (t: Throwable) {
            releaseToken(token)
            throw t
        }
        if (id == 0L) {
            val failure = Native.lastFailure()
            releaseToken(token)
            if (closed) throw closedError()
            throw failure
        }
        synchronized(lock) {
            // Closed meanwhile: close() deleted the token already, and realtime_free dropped the listener.
            if (closed) throw closedError()
            // A once-listener that fired already released its token: nothing to bind.
            if (token in tokens) {
                listeners[id] = token
                if (any) anyIds.add(id)
            }
        }
        return id
    }

    /** Removes listener [id] (realtime_off) and deletes its token. */
    fun off(id: Long) {
        checkOpen()
        val token = synchronized(lock) {
            anyIds.remove(id)
            listeners.remove(id)
        }
        val status = Native.nOff(handle, id)
        if (token != null) releaseToken(token)
        check(status)
        if (token == null) throw RealtimeException(Status.UNKNOWN_LISTENER, "no listener with id $id")
    }

    fun anyListenerIds(): List<Long> = synchronized(lock) { anyIds.toList() }

    /** Forgets [token] (and the listener bound to it) and deletes its global reference. */
    fun releaseToken(token: Long) {
        synchronized(lock) {
            tokens.remove(token)
            pending.remove(token)
            listeners.values.remove(token)
        }
        Native.nUnregister(token)
    }

    /** Registers a one-shot callback; returns its token. */
    fun addPending(callback: OneShot): Long {
        checkOpen()
        val token = Native.nRegister(callback)
        callback.token = token
        synchronized(lock) {
            if (closed) {
                Native.nUnregister(token)
                throw closedError()
            }
            tokens.add(token)
            pending[token] = callback
        }
        return token
    }

    val isClosed: Boolean get() = closed

    /** close() and the Cleaner: runs once (through the Cleanable). */
    override fun run() {
        synchronized(lock) { closed = true }
        Native.nFree(handle)
        val toDelete: List<Long>
        val toFail: List<OneShot>
        synchronized(lock) {
            toDelete = tokens.toList()
            toFail = pending.values.toList()
            tokens.clear()
            pending.clear()
            listeners.clear()
            anyIds.clear()
        }
        for (token in toDelete) Native.nUnregister(token)
        val error = IllegalStateException("the RealtimeClient was closed before the answer came")
        for (callback in toFail) callback.fail(error)
    }
}

/** A callback that knows its token (to release itself). */
internal interface Tokened {
    var token: Long
}

/**
 * Hands [block] to [executor]; exceptions of the application's code go to the thread's handler. With a
 * [gate], a task still queued when the client is closed is dropped: no listener starts after close().
 */
internal fun post(executor: Executor, gate: ClientState? = null, block: () -> Unit) {
    try {
        executor.execute {
            try {
                if (gate?.isClosed != true) block()
            } catch (t: Throwable) {
                val thread = Thread.currentThread()
                thread.uncaughtExceptionHandler?.uncaughtException(thread, t) ?: t.printStackTrace()
            }
        }
    } catch (_: RejectedExecutionException) {
        // The application shut its executor down: the event is dropped.
    }
}

/** A one-shot answer (ack, members): [complete] or [fail] wins once. */
internal abstract class OneShot(private val state: ClientState) : NativeCallback(), Tokened {
    override var token: Long = 0
    private val done = AtomicBoolean(false)

    protected fun finish(): Boolean {
        if (!done.compareAndSet(false, true)) return false
        state.releaseToken(token)
        return true
    }

    abstract fun fail(error: Throwable)
}

internal class AckCallback(state: ClientState, private val result: (Result<AckResult>) -> Unit) : OneShot(state) {
    override fun onAck(error: ByteArray?, args: ByteArray?, buffers: Array<ByteArray>) {
        if (!finish()) return
        if (error != null) {
            result(Result.failure(AckException(Native.str(error))))
        } else {
            result(Result.success(AckResult(Native.strOrNull(args) ?: "[]", buffers.asList())))
        }
    }

    override fun fail(error: Throwable) {
        if (finish()) result(Result.failure(error))
    }
}

internal class MembersCallback(state: ClientState, private val result: (Result<String>) -> Unit) : OneShot(state) {
    override fun onMembers(error: ByteArray?, members: ByteArray?) {
        if (!finish()) return
        if (error != null) {
            result(Result.failure(AckException(Native.str(error))))
        } else {
            result(Result.success(Native.strOrNull(members) ?: "[]"))
        }
    }

    override fun fail(error: Throwable) {
        if (finish()) result(Result.failure(error))
    }
}

// ---- listeners: each hands its event to the application's executor ----

internal class VoidListener(
    private val executor: Executor,
    private val gate: ClientState?,
    private val f: () -> Unit,
) : NativeCallback() {
    override fun onVoid() = post(executor, gate, f)
}

internal class TextListener(
    private val executor: Executor,
    private val gate: ClientState?,
    private val f: (String) -> Unit,
) : NativeCallback() {
    override fun onText(text: ByteArray) {
        val s = Native.str(text)
        post(executor, gate) { f(s) }
    }
}

internal class ErrorListener(
    private val executor: Executor,
    private val gate: ClientState?,
    private val f: (String, String) -> Unit,
) : NativeCallback() {
    override fun onText2(first: ByteArray, second: ByteArray) {
        val message = Native.str(first)
        val data = Native.str(second)
        post(executor, gate) { f(message, data) }
    }
}

internal class CountListener(
    private val executor: Executor,
    private val gate: ClientState?,
    private val f: (Int) -> Unit,
) : NativeCallback() {
    override fun onCount(n: Int) = post(executor, gate) { f(n) }
}

internal class EventListener(
    private val executor: Executor,
    private val state: ClientState,
    private val once: Boolean,
    private val f: (RealtimeEvent) -> Unit,
) : NativeCallback(), Tokened {
    override var token: Long = 0

    override fun onEvent(name: ByteArray, args: ByteArray, buffers: Array<ByteArray>, ackId: Long) {
        // The library removed a once-listener before this call: release its global reference.
        if (once) state.releaseToken(token)
        val event = RealtimeEvent(Native.str(name), Native.str(args), buffers.asList(), ackId, state)
        post(executor, state) { f(event) }
    }
}

internal class ChannelListener(
    private val executor: Executor,
    private val gate: ClientState?,
    private val f: (ChannelEvent) -> Unit,
) : NativeCallback() {
    override fun onChannel(channel: ByteArray?, memberId: ByteArray?, data: ByteArray) {
        val event = ChannelEvent(Native.strOrNull(channel), Native.strOrNull(memberId), Native.str(data))
        post(executor, gate) { f(event) }
    }
}
