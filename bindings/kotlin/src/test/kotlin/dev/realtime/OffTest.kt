package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.CountDownLatch
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.ThreadPoolExecutor
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/**
 * The off() guarantee: once off(id) has returned, listener id never starts again, even for events
 * already queued on the application's executor; and off() from inside that very listener returns at once.
 * The flood: N "echo" emits, which the test server echoes back (N "echo" events), handled by a slow
 * listener on the client's own executor, so that hundreds of them sit in the executor's queue.
 */
class OffTest {
    private val flood = 300
    private val endMarker = """["end"]"""

    private fun pool(threads: Int) =
        ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, LinkedBlockingQueue()) { r ->
            Thread(r, "off-test").apply { isDaemon = true }
        }

    /** A connected client delivering on [executor]. */
    private fun client(executor: ThreadPoolExecutor): RealtimeClient {
        // autoConnect off, then open(): the connect cannot happen before onConnect is registered.
        val client = RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false"), executor)
        val connected = CountDownLatch(1)
        val id = client.onConnect { connected.countDown() }
        client.open()
        connected.awaitOrFail("connect")
        client.off(id)
        return client
    }

    /** Completes when the echo of [endMarker] (emitted after the flood) has been handled. */
    private fun endListener(client: RealtimeClient): CompletableFuture<Unit> {
        val end = CompletableFuture<Unit>()
        client.on("echo") { if (it.argsJson == endMarker) end.complete(Unit) }
        return end
    }

    /** Waits for the end marker, then for every task of [pool] to finish. */
    private fun drain(client: RealtimeClient, pool: ThreadPoolExecutor, end: CompletableFuture<Unit>) {
        client.emit("echo", endMarker)
        end.getOrFail(30)
        pool.shutdown()
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "the executor drained")
    }

    @ParameterizedTest(name = "{0} executor thread(s)")
    @ValueSource(ints = [1, 4])
    fun `no handler starts after off returned, with events queued on a slow executor`(threads: Int) {
        val pool = pool(threads)
        client(pool).use { client ->
            val end = endListener(client)
            val offReturned = AtomicBoolean(false)
            val calls = AtomicInteger()
            val startedAfterOff = AtomicInteger()
            val running = AtomicInteger()
            val first = CountDownLatch(1)
            val id = client.on("echo") {
                running.incrementAndGet()
                try {
                    if (offReturned.get()) startedAfterOff.incrementAndGet()
                    calls.incrementAndGet()
                    first.countDown()
                    Thread.sleep(3)
                } finally {
                    running.decrementAndGet()
                }
            }
            repeat(flood) { client.emit("echo", "[$it]") }
            first.awaitOrFail("the first handler call")
            // Let the backlog build up on the executor: that is what off() must cut.
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S)
            while (pool.queue.size < 50 && System.nanoTime() < deadline) Thread.sleep(1)
            val queuedAtOff = pool.queue.size
            assertTrue(queuedAtOff >= 50, "events queued on the executor when off() is called ($queuedAtOff)")

            client.off(id)
            val runningAtReturn = running.get()
            offReturned.set(true)

            drain(client, pool, end)
            println("off() with $queuedAtOff tasks queued ($threads thread(s)): ${calls.get()} of $flood calls, " +
                "${startedAfterOff.get()} started after off() returned, $runningAtReturn running when it returned")
            assertEquals(0, startedAfterOff.get(), "handler invocations started after off() returned")
            assertEquals(0, runningAtReturn, "handler invocations still running when off() returned")
        }
    }

    @ParameterizedTest(name = "{0} executor thread(s)")
    @ValueSource(ints = [1, 4])
    fun `off from inside the handler returns at once and ends the listener`(threads: Int) {
        val pool = pool(threads)
        client(pool).use { client ->
            val end = endListener(client)
            val idRef = AtomicLong(0)
            val offDone = CompletableFuture<Unit>()
            val offCalled = AtomicBoolean(false)
            val offReturned = AtomicBoolean(false)
            val startedAfterOff = AtomicInteger()
            idRef.set(
                client.on("echo") {
                    if (offReturned.get()) startedAfterOff.incrementAndGet()
                    if (offCalled.compareAndSet(false, true)) {
                        Thread.sleep(20) // more events queue up meanwhile
                        try {
                            client.off(idRef.get())
                            offReturned.set(true)
                            offDone.complete(Unit)
                        } catch (t: Throwable) {
                            offDone.completeExceptionally(t)
                        }
                    }
                },
            )
            repeat(flood) { client.emit("echo", "[$it]") }
            offDone.getOrFail() // a deadlock (off waiting for its own caller) times out here
            drain(client, pool, end)
            if (threads == 1) {
                assertEquals(0, startedAfterOff.get(), "handler invocations started after off() returned")
            } else {
                // Calls already past the gate on the other threads when off() returned may still be
                // counted here (they had started; off() from inside a handler does not wait for them).
                assertTrue(startedAfterOff.get() < threads, "${startedAfterOff.get()} calls started after off()")
            }
        }
    }

    @Test
    fun `off of a once-listener whose event is queued drops it`() {
        val pool = pool(1)
        client(pool).use { client ->
            val end = endListener(client)
            val blocker = CountDownLatch(1)
            pool.execute { blocker.await() } // the executor is busy: everything queues behind this
            val ran = AtomicBoolean(false)
            val id = client.once("echo") { ran.set(true) }
            client.emit("echo", "[1]")
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S)
            while (pool.queue.size < 2 && System.nanoTime() < deadline) Thread.sleep(1) // once + end listener
            assertTrue(pool.queue.size >= 2, "the once-listener's event is queued")
            client.off(id) // the library dropped the once-listener already; its queued call must not run
            blocker.countDown()
            drain(client, pool, end)
            assertTrue(!ran.get(), "the once-listener ran after off() returned")
        }
    }
}
