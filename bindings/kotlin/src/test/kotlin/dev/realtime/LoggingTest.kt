package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class LoggingTest {
    data class Record(val level: LogLevel, val target: String, val message: String, val thread: String)

    @AfterEach
    fun off() = Realtime.setLogHandler(LogLevel.OFF, null)

    private fun waitFor(what: String, seconds: Long = WAIT_S, condition: () -> Boolean) {
        val deadline = System.nanoTime() + seconds * 1_000_000_000L
        while (!condition()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for $what")
            Thread.sleep(10)
        }
    }

    @Test
    fun `records arrive at INFO, none after the handler is removed`() {
        val records = ConcurrentLinkedQueue<Record>()
        Realtime.setLogHandler(LogLevel.INFO) { level, target, message ->
            records += Record(level, target, message, Thread.currentThread().name)
        }
        connectedClient().use { client ->
            waitFor("an INFO record \"connected to\"") {
                records.any { it.level == LogLevel.INFO && it.message.contains("connected to") }
            }
            val connected = records.first { it.message.contains("connected to") }
            assertTrue(connected.target.startsWith("realtime"), connected.toString())
            assertTrue(connected.message.contains("websocket") || connected.message.contains("polling"), connected.toString())
            assertTrue(records.all { it.level <= LogLevel.INFO && it.level != LogLevel.OFF }, "$records")

            Realtime.setLogHandler(LogLevel.INFO, null)
            val count = records.size
            // A disconnect and a reconnect would log at INFO: nothing arrives now.
            val gone = CompletableFuture<String>()
            client.onDisconnect { gone.complete(it) }
            client.disconnect()
            gone.getOrFail()
            val back = CompletableFuture<Unit>()
            client.onConnect { back.complete(Unit) }
            client.open()
            back.getOrFail()
            Thread.sleep(200)
            assertEquals(count, records.size, "records after the handler was removed: ${records.drop(count)}")
        }
    }

    @Test
    fun `DEBUG gets more than INFO, a replaced handler never runs again`() {
        val first = AtomicInteger()
        Realtime.setLogHandler(LogLevel.DEBUG) { _, _, _ -> first.incrementAndGet() }
        val second = ConcurrentLinkedQueue<LogLevel>()
        connectedClient().use { client ->
            waitFor("a record") { first.get() > 0 }
            Realtime.setLogHandler(LogLevel.WARN) { level, _, _ -> second += level }
            val frozen = first.get()
            client.disconnect()
            client.open()
            connectedClient().close()
            Thread.sleep(200)
            assertEquals(frozen, first.get(), "the replaced handler ran after setLogHandler returned")
            assertTrue(second.all { it <= LogLevel.WARN }, "$second")
        }
    }

    @Test
    fun `setLogHandler from inside the handler throws, an exception of the handler is dropped`() {
        val inside = CompletableFuture<Throwable?>()
        val calls = AtomicInteger()
        val threw = AtomicBoolean(false)
        Realtime.setLogHandler(LogLevel.INFO) { _, _, _ ->
            calls.incrementAndGet()
            if (!inside.isDone) {
                inside.complete(runCatching { Realtime.setLogHandler(LogLevel.OFF, null) }.exceptionOrNull())
            } else if (threw.compareAndSet(false, true)) {
                throw RuntimeException("a handler's own failure (expected in this test's output)")
            }
        }
        connectedClient().use {
            val error = inside.getOrFail()
            assertTrue(error is IllegalStateException, "got $error")
        }
        // Still installed (the inner call was refused), and still working after the handler threw.
        val before = calls.get()
        connectedClient().close()
        waitFor("records after the refused call") { calls.get() > before }
    }

    @Test
    fun `levels keep the C values`() {
        assertEquals(listOf(0, 1, 2, 3, 4, 5), LogLevel.values().map { it.code })
        for (level in LogLevel.values()) assertEquals(level, LogLevel.of(level.code))
        assertEquals(4, LogLevel.INFO.androidPriority)
    }
}
