package dev.realtime

import java.util.concurrent.Executor
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher

/**
 * The native side of one client: its handle and every JNI token (global reference) it owns. It never
 * references the RealtimeClient, so it can be the cleaner action (ReferenceCleaner) that frees a
 * forgotten client.
 *
 * Lifetime rules:
 *  - a token is recorded here before the library gets it, so close() always finds it;
 *  - close (run) marks the state closed, cancels the client's coroutines (suspend auth providers), calls
 *    realtime_free (which, outside a callback, waits for running callbacks), then deletes every token and
 *    fails every pending one-shot (ack, members, tracked emit);
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
    /**
     * listener id -> its gate, while off(id) can still stop a call: for a once-listener, also after the
     * library dropped it, until its queued call has run.
     */
    private val registrations = HashMap<Long, Registration>()
    /** The auth provider's slot and its token: one for the client's life (see [setAuthProvider]). */
    private var authSlot: AuthSlot? = null
    private var authToken = 0L
    /** Serializes [setAuthProvider] calls, so the provider set last is the one installed natively. */
    private val authLock = Any()
    /** The job of the client's coroutines, created at the first [scope] call; cancelled at close. */
    private var scopeJob: Job? = null
    private var scope: CoroutineScope? = null

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
            // The registration itself succeeded (its listener may even have run and closed the client,
            // with a direct executor): return the id rather than fail the caller; off(id) now throws
            // IllegalStateException like every call on a closed client.
            if (closed) return id
            // A once-listener that fired already released its token: nothing to bind.
            if (token in tokens) {
                listeners[id] = token
                if (any) anyIds.add(id)
            }
            // ... and its call may still be queued: off(id) must be able to stop it.
            if (callback is ListenerCallback && !callback.registration.forgotten) {
                registrations[id] = callback.registration
            }
        }
        return id
    }

    /**
     * Removes listener [id] (realtime_off) and deletes its token. When it returns, no call of that
     * listener starts any more (calls still queued on the executor are dropped), and none is running,
     * unless off() was called from inside one (then that one, and any other already running, finish).
     */
    fun off(id: Long) {
        checkOpen()
        val token: Long?
        val registration: Registration?
        synchronized(lock) {
            anyIds.remove(id)
            token = listeners.remove(id)
            registration = registrations.remove(id)
        }
        // realtime_off waits for a running library callback of the listener (which only queues a task);
        // then the gate stops the queued tasks and waits for a running one.
        val status = Native.nOff(handle, id)
        registration?.cancel()
        if (token != null) releaseToken(token)
        // A once-listener the library dropped (it fired) whose call had not run yet: cancelled above.
        if (token == null && registration != null && status == Status.UNKNOWN_LISTENER) return
        check(status)
        if (token == null) throw RealtimeException(Status.UNKNOWN_LISTENER, "no listener with id $id")
    }

    /** A once-listener's call ran (or was dropped): off(id) has nothing to stop any more. */
    fun forgetRegistration(registration: Registration) {
        synchronized(lock) {
            registration.forgotten = true
            registrations.values.remove(registration)
        }
    }

    fun anyListenerIds(): List<Long> = synchronized(lock) { anyIds.toList() }

    /** Forgets [token] (and the listener bound to it) and deletes its global reference. */
    fun releaseToken(token: Long) {
        synchronized(lock) {
            tokens.remove(token)
            pending.remove(token)
            listeners.entries.removeAll { (id, t) -> (t == token).also { if (it) registrations.remove(id) } }
        }
        Native.nUnregister(token)
    }

    /** [releaseToken] for a once-listener that fired: its registration stays until its call has run. */
    fun releaseFiredOnce(token: Long) {
        synchronized(lock) {
            tokens.remove(token)
            listeners.values.remove(token)
        }
        Native.nUnregister(token)
    }

    /**
     * Registers a one-shot callback and starts the call that will answer it (`send(token)` returns a
     * C status); returns its token. A synchronous failure (a throw, or a status other than OK) releases
     * the token and throws: the callback never runs.
     */
    inline fun startPending(callback: OneShot, send: (Long) -> Int): Long {
        val token = addPending(callback)
        val status = try {
            send(token)
        } catch (t: Throwable) {
            releaseToken(token)
            throw t
        }
        if (status != Status.OK) {
            val error = runCatching { check(status) }.exceptionOrNull()!!
            releaseToken(token)
            throw error
        }
        return token
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

    /**
     * Installs [provider] as the client's auth provider (null removes it: realtime_set_auth_provider).
     * The library gets one token for the client's life, an [AuthSlot] that asks the provider set last: a
     * request the library asked before a replacement took effect (it applies it asynchronously) still
     * finds a provider to answer it, and no token is deleted while the library may use it.
     */
    fun setAuthProvider(provider: ((AuthRequest) -> Unit)?) {
        checkOpen()
        synchronized(authLock) {
            var slot = synchronized(lock) { authSlot }
            if (slot == null && provider != null) {
                val created = AuthSlot(this)
                val token = Native.nRegister(created)
                synchronized(lock) {
                    if (closed) {
                        Native.nUnregister(token)
                        throw closedError()
                    }
                    tokens.add(token)
                    authSlot = created
                    authToken = token
                }
                slot = created
            }
            slot?.provider = provider
            check(Native.nSetAuthProvider(handle, if (provider == null) 0L else authToken))
        }
    }

    /** The client's coroutine scope (a SupervisorJob on [executor]); close() cancels it. */
    fun scope(executor: Executor): CoroutineScope = synchronized(lock) {
        if (closed) throw closedError()
        scope ?: SupervisorJob().let { job ->
            scopeJob = job
            CoroutineScope(job + executor.asCoroutineDispatcher()).also { scope = it }
        }
    }

    val isClosed: Boolean get() = closed

    /** close() and the cleaner: runs once (through the Cleanable). */
    override fun run() {
        val job = synchronized(lock) {
            closed = true
            scopeJob
        }
        job?.cancel()
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
            registrations.clear()
            authSlot = null
            authToken = 0L
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
 * The gate of one listener: every task it queues on the application's executor passes through [enter]
 * before running the application's code. After [cancel] has returned, no task of this listener starts,
 * and (unless cancel was called from inside one of them) none is still running.
 */
internal class Registration {
    private val lock = ReentrantLock()
    private val idle = lock.newCondition()
    private var cancelled = false
    /** Set (under the ClientState's lock) once a once-listener's call has run: nothing left to cancel. */
    var forgotten = false
    /** Threads running an invocation of this listener now (a thread appears once per nesting level). */
    private val running = ArrayList<Thread>(1)

    /** Runs [block] unless cancelled; returns whether it ran. */
    fun enter(block: () -> Unit): Boolean {
        val thread = Thread.currentThread()
        lock.withLock {
            if (cancelled) return false
            running.add(thread)
        }
        try {
            block()
        } finally {
            lock.withLock {
                running.remove(thread)
                if (running.isEmpty()) idle.signalAll()
            }
        }
        return true
    }

    /**
     * Marks the listener cancelled, then waits for its running invocations to finish, except when called
     * from inside one of them (the caller is a handler of this very listener: waiting would deadlock, and
     * the other invocations may be waiting for this one; it only marks).
     */
    fun cancel() {
        val thread = Thread.currentThread()
        lock.withLock {
            cancelled = true
            if (thread in running) return
            while (running.isNotEmpty()) idle.awaitUninterruptibly()
        }
    }
}

/**
 * Hands [block] to [executor]; exceptions of the application's code go to the thread's handler. With a
 * [gate], a task still queued when the client is closed is dropped: no listener starts after close().
 * With a [registration], a task still queued when its listener is removed (off) is dropped, and off()
 * waits for one that is running.
 */
internal fun post(
    executor: Executor,
    gate: ClientState? = null,
    registration: Registration? = null,
    block: () -> Unit,
): Boolean {
    try {
        executor.execute {
            try {
                if (gate?.isClosed != true) {
                    if (registration == null) block() else registration.enter(block)
                }
            } catch (t: Throwable) {
                reportUncaught(t)
            }
        }
    } catch (_: RejectedExecutionException) {
        // The application shut its executor down: the event is dropped.
        return false
    }
    return true
}

/** An exception of the application's code, run by [post]: to the thread's uncaught-exception handler. */
internal fun reportUncaught(t: Throwable) {
    val thread = Thread.currentThread()
    thread.uncaughtExceptionHandler?.uncaughtException(thread, t) ?: t.printStackTrace()
}

/**
 * Runs blocks on [executor] one at a time and in the order given, whatever the executor's threads (the
 * statuses of one tracked emit must not overtake each other on a pool); like [post] with a gate, what is
 * still queued when the client is closed is dropped.
 */
internal class SerialPoster(private val executor: Executor, private val gate: ClientState) {
    private val queue = ArrayDeque<() -> Unit>()
    /** A drain task is queued or running: it takes what [enqueue] adds meanwhile. */
    private var draining = false

    fun enqueue(block: () -> Unit) {
        synchronized(queue) {
            queue.addLast(block)
            if (draining) return
            draining = true
        }
        if (!post(executor, gate) { drain() }) {
            synchronized(queue) {
                queue.clear()
                draining = false
            }
        }
    }

    private fun drain() {
        while (!gate.isClosed) {
            val next = synchronized(queue) {
                queue.removeFirstOrNull() ?: run {
                    draining = false
                    return
                }
            }
            try {
                next()
            } catch (t: Throwable) {
                reportUncaught(t)
            }
        }
    }
}

/** A listener that delivers on the application's executor, through its own [registration] gate. */
internal abstract class ListenerCallback(
    private val executor: Executor,
    private val gate: ClientState?,
) : NativeCallback() {
    val registration = Registration()

    protected fun deliver(block: () -> Unit) = post(executor, gate, registration, block)
}

/** A one-shot answer (ack, members): [complete] or [fail] wins once. */
internal abstract class OneShot(private val state: ClientState) : NativeCallback(), Tokened {
    override var token: Long = 0
    private val done = AtomicBoolean(false)

    /** [finish] ran: the one-shot has ended. */
    protected val finished: Boolean get() = done.get()

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

/**
 * The statuses of one tracked emit: [report] gets each, the final one included; [closed] gets
 * IllegalStateException when the client is closed before the final status (realtime_free ends a tracked
 * emit without one; close() deletes the token then, as for a pending ack). The bridge deletes the token
 * at the final status.
 */
internal class TrackedCallback(
    state: ClientState,
    private val report: (MessageStatus) -> Unit,
    private val closed: (Throwable) -> Unit,
) : OneShot(state) {
    override fun onStatus(status: Int, detail: ByteArray) {
        val s = MessageStatus.of(status, Native.str(detail)) ?: return
        if (s.isFinal) {
            if (!finish()) return
        } else if (finished) {
            return
        }
        report(s)
    }

    override fun fail(error: Throwable) {
        if (finish()) closed(error)
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
    executor: Executor,
    gate: ClientState?,
    private val f: () -> Unit,
) : ListenerCallback(executor, gate) {
    override fun onVoid() {
        deliver(f)
    }
}

internal class TextListener(
    executor: Executor,
    gate: ClientState?,
    private val f: (String) -> Unit,
) : ListenerCallback(executor, gate) {
    override fun onText(text: ByteArray) {
        val s = Native.str(text)
        deliver { f(s) }
    }
}

internal class ErrorListener(
    executor: Executor,
    gate: ClientState?,
    private val f: (String, String) -> Unit,
) : ListenerCallback(executor, gate) {
    override fun onText2(first: ByteArray, second: ByteArray) {
        val message = Native.str(first)
        val data = Native.str(second)
        deliver { f(message, data) }
    }
}

internal class CountListener(
    executor: Executor,
    gate: ClientState?,
    private val f: (Int) -> Unit,
) : ListenerCallback(executor, gate) {
    override fun onCount(n: Int) {
        deliver { f(n) }
    }
}

internal class EventListener(
    executor: Executor,
    private val state: ClientState,
    private val once: Boolean,
    private val f: (RealtimeEvent) -> Unit,
) : ListenerCallback(executor, state), Tokened {
    override var token: Long = 0

    override fun onEvent(name: ByteArray, args: ByteArray, buffers: Array<ByteArray>, ackId: Long) {
        val event = RealtimeEvent(Native.str(name), Native.str(args), buffers.asList(), ackId, state)
        if (!once) {
            deliver { f(event) }
            return
        }
        // The library removed a once-listener before this call: release its global reference, but keep
        // its registration until the queued call has run, so that off(id) meanwhile still cancels it.
        state.releaseFiredOnce(token)
        val queued = deliver {
            try {
                f(event)
            } finally {
                state.forgetRegistration(registration)
            }
        }
        // Not queued (the executor refused it): off(id) has nothing to stop.
        if (!queued) state.forgetRegistration(registration)
    }
}

internal class ChannelListener(
    executor: Executor,
    gate: ClientState?,
    private val f: (ChannelEvent) -> Unit,
) : ListenerCallback(executor, gate) {
    override fun onChannel(channel: ByteArray?, memberId: ByteArray?, data: ByteArray) {
        val event = ChannelEvent(Native.strOrNull(channel), Native.strOrNull(memberId), Native.str(data))
        deliver { f(event) }
    }
}

internal class UserEventListener(
    executor: Executor,
    gate: ClientState?,
    private val f: (UserEvent) -> Unit,
) : ListenerCallback(executor, gate) {
    override fun onUserEvent(name: ByteArray, session: ByteArray, user: ByteArray) {
        val event = UserEvent(Native.str(name), Native.str(session), Native.str(user))
        deliver { f(event) }
    }
}
