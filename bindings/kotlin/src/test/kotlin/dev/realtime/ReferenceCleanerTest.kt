package dev.realtime

import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/** The Cleaner replacement (PhantomReference + ReferenceQueue + the library's daemon thread). */
class ReferenceCleanerTest {
    private fun awaitCount(counter: AtomicInteger, expected: Int) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
        while (counter.get() < expected && System.nanoTime() < deadline) {
            System.gc()
            Thread.sleep(10)
        }
    }

    @Test
    fun `clean runs the action once, and never again after collection`() {
        val runs = AtomicInteger()
        var obj: Any? = Any()
        val cleanable = ReferenceCleaner.register(obj!!, Runnable { runs.incrementAndGet() })
        cleanable.clean()
        cleanable.clean()
        assertEquals(1, runs.get())
        @Suppress("UNUSED_VALUE")
        obj = null
        repeat(3) { System.gc(); Thread.sleep(10) }
        assertEquals(1, runs.get())
    }

    @Test
    fun `collected objects are cleaned on the daemon thread, which survives a failing action`() {
        val runs = AtomicInteger()
        val thread = java.util.concurrent.atomic.AtomicReference<String>()
        fun registerGarbage(fail: Boolean) {
            ReferenceCleaner.register(Any(), Runnable {
                thread.set(Thread.currentThread().name)
                runs.incrementAndGet()
                if (fail) throw IllegalStateException("a failing cleanup action (expected in this test)")
            })
        }
        registerGarbage(fail = true)
        awaitCount(runs, 1)
        assertEquals(1, runs.get(), "the first object was cleaned")
        registerGarbage(fail = false)
        registerGarbage(fail = false)
        awaitCount(runs, 3)
        assertEquals(3, runs.get(), "the thread kept draining after a failing action")
        assertEquals("realtime-cleaner", thread.get())
    }
}
