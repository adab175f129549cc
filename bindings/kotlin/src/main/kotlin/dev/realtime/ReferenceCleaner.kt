package dev.realtime

import java.lang.ref.PhantomReference
import java.lang.ref.ReferenceQueue
import java.util.concurrent.atomic.AtomicBoolean

/**
 * What java.lang.ref.Cleaner does, with APIs Android has had since API 1 (Cleaner is API 33+): a
 * PhantomReference per registered object, on a ReferenceQueue drained by one daemon thread of this
 * library ("realtime-cleaner", started at the first registration).
 *
 * The action must not reference the object (it would never become phantom reachable). It runs at most
 * once: on [Cleanable.clean], or on the cleaner thread after the object was collected. An exception of an
 * action is printed and never stops the thread (nor the process).
 */
internal object ReferenceCleaner {
    private val queue = ReferenceQueue<Any>()

    /** Keeps every registered reference reachable until its action ran (else it would be collected). */
    private val live = HashSet<Ref>()

    @Volatile
    private var thread: Thread? = null

    class Cleanable internal constructor(private val ref: Ref) {
        /** Runs the action now if it has not run yet (idempotent, thread-safe). */
        fun clean() = ref.clean()
    }

    internal class Ref(referent: Any, q: ReferenceQueue<Any>, private val action: Runnable) :
        PhantomReference<Any>(referent, q) {
        private val done = AtomicBoolean(false)

        fun clean() {
            if (!done.compareAndSet(false, true)) return
            synchronized(live) { live.remove(this) }
            clear()
            action.run()
        }
    }

    fun register(obj: Any, action: Runnable): Cleanable {
        val ref = Ref(obj, queue, action)
        synchronized(live) { live.add(ref) }
        ensureThread()
        return Cleanable(ref)
    }

    /** Registered references whose action has not run yet (a test hook). */
    val pendingCount: Int get() = synchronized(live) { live.size }

    private fun ensureThread() {
        if (thread != null) return
        synchronized(this) {
            if (thread != null) return
            thread = Thread(::drain, "realtime-cleaner").apply {
                isDaemon = true
                start()
            }
        }
    }

    private fun drain() {
        while (true) {
            try {
                (queue.remove() as? Ref)?.clean()
            } catch (_: InterruptedException) {
                // Nobody but this library owns the thread: keep draining.
            } catch (t: Throwable) {
                // Not the thread's uncaught-exception handler: on Android the default one ends the process.
                try {
                    t.printStackTrace()
                } catch (_: Throwable) {
                }
            }
        }
    }
}
