package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executor
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.onSubscription
import kotlinx.coroutines.flow.takeWhile
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class ConnectionTest {
    @Test
    fun `connects and has a socket id`() {
        assertTrue(RealtimeClient.version.isNotEmpty())
        val client = RealtimeClient(TestServer.url, TestServer.FAST)
        client.use {
            val connected = CompletableFuture<String?>()
            client.onConnect { connected.complete(client.socketId) }
            val id = connected.getOrFail()
            assertNotNull(id)
            assertTrue(id!!.isNotEmpty())
            assertTrue(client.isConnected)
            assertEquals(id, client.socketId)
            assertFalse(client.isRecovered)
        }
        assertTrue(client.isClosed)
    }

    @Test
    fun `disconnect and open give a new socket id`() {
        connectedClient().use { client ->
            val first = client.socketId!!
            val reason = CompletableFuture<String>()
            client.onDisconnect { reason.complete(it) }
            client.disconnect()
            assertFalse(client.isConnected)
            assertNull(client.socketId)
            assertEquals("io client disconnect", reason.getOrFail())

            val reconnected = CompletableFuture<String>()
            client.onConnect { reconnected.complete(client.socketId!!) }
            client.open()
            val second = reconnected.getOrFail()
            assertNotEquals(first, second)
            assertTrue(client.isConnected)
        }
    }

    @Test
    fun `reconnects after a server restart with numbered attempts`() = runBlocking {
        connectedClient().use { client ->
            // Lambda listeners and the lifecycle Flow both see the whole sequence.
            val seen = ConcurrentLinkedQueue<String>()
            val reconnected = CountDownLatch(1)
            client.onDisconnect { seen += "disconnect:$it" }
            client.onReconnectAttempt { seen += "attempt:$it" }
            client.onReconnect { seen += "reconnect:$it" }
            client.onConnect { seen += "connect"; reconnected.countDown() }

            val subscribed = CompletableDeferred<Unit>()
            val flowEvents = async(Dispatchers.Default) {
                var reconnectedSeen = false
                client.lifecycle
                    .onSubscription { subscribed.complete(Unit) }
                    .takeWhile { event ->
                        val go = !(reconnectedSeen && event == LifecycleEvent.Connect)
                        if (event is LifecycleEvent.Reconnect) reconnectedSeen = true
                        go
                    }
                    .toList()
            }
            withTimeout(WAIT_S * 1000) { subscribed.await() }

            client.emit("test:restart", """[{"downMs":1000}]""")
            reconnected.awaitOrFail("reconnect after restart", 20)

            val events = seen.toList()
            assertEquals("disconnect:transport close", events.first(), "events: $events")
            val attempts = events.filter { it.startsWith("attempt:") }.map { it.removePrefix("attempt:").toInt() }
            assertTrue(attempts.size >= 2, "the port refused for 1 s: expected several attempts, got $events")
            assertEquals((1..attempts.size).toList(), attempts, "attempts are numbered from 1: $events")
            assertEquals(listOf("reconnect:${attempts.size}", "connect"), events.takeLast(2), "events: $events")
            assertTrue(client.isConnected)

            val flowList = withTimeout(WAIT_S * 1000) { flowEvents.await() }
            assertEquals(LifecycleEvent.Disconnect("transport close"), flowList.first(), "flow: $flowList")
            assertEquals(
                attempts.map { LifecycleEvent.ReconnectAttempt(it) },
                flowList.filterIsInstance<LifecycleEvent.ReconnectAttempt>(),
            )
            assertEquals(LifecycleEvent.Reconnect(attempts.size), flowList.last(), "flow: $flowList")
        }
    }

    @Test
    fun `reconnectNow drops the connection and connects again at once`() {
        connectedClient().use { client ->
            val reason = CompletableFuture<String>()
            val connected = CountDownLatch(1)
            client.onDisconnect { reason.complete(it) }
            client.onConnect { connected.countDown() }
            client.reconnectNow()
            assertEquals("transport close", reason.getOrFail())
            connected.awaitOrFail("connect after reconnectNow")
            assertTrue(client.isConnected)
        }
    }

    @Test
    fun `a refusal by the server carries its message and data`() {
        val client = RealtimeClient(TestServer.url, TestServer.options(""""auth":{"refuse":true}"""))
        client.use {
            val error = CompletableFuture<Pair<String, String>>()
            client.onError { message, data -> error.complete(message to data) }
            val (message, data) = error.getOrFail()
            assertEquals("not authorized", message)
            val compact = data.replace(" ", "")
            assertTrue(compact.contains("\"hint\":\"sendtoken\"") && compact.contains("\"code\":42"), data)
            assertFalse(client.isConnected)
        }
    }

    @Test
    fun `construction failures throw RealtimeException with the status`() {
        val badUrl = assertThrows(RealtimeException::class.java) { RealtimeClient("ftp://example.com") }
        assertEquals(Status.INVALID_URL, badUrl.status)
        assertTrue(badUrl.detail.isNotEmpty())

        val unknown = assertThrows(RealtimeException::class.java) {
            RealtimeClient(TestServer.url, """{"noSuchOption":1}""")
        }
        assertEquals(Status.UNKNOWN_OPTION, unknown.status)
        assertTrue(unknown.detail.contains("noSuchOption"), unknown.detail)

        val badType = assertThrows(RealtimeException::class.java) {
            RealtimeClient(TestServer.url, mapOf("reconnectionDelay" to "soon"))
        }
        assertEquals(Status.INVALID_OPTIONS, badType.status)
    }

    @Test
    fun `options as a Map and autoConnect false`() {
        RealtimeClient(TestServer.url, mapOf("autoConnect" to false, "auth" to mapOf("token" to "abc"))).use { client ->
            assertFalse(client.isConnected)
            val connected = CountDownLatch(1)
            client.onConnect { connected.countDown() }
            client.open()
            connected.awaitOrFail("connect after open")
            assertTrue(client.isConnected)
        }
    }

    @Test
    fun `close from inside a callback, on the executor and on the library's thread`() {
        for (direct in listOf(false, true)) {
            val tokensBefore = Native.nLiveTokens()
            val executor: Executor = if (direct) Executor { it.run() } else RealtimeClient.defaultExecutor
            val client = RealtimeClient(TestServer.url, TestServer.FAST, executor)
            val closed = CountDownLatch(1)
            val failure = CompletableFuture<Throwable?>()
            client.onConnect {
                try {
                    client.close()
                    client.close() // idempotent
                    failure.complete(null)
                } catch (t: Throwable) {
                    failure.complete(t)
                }
                closed.countDown()
            }
            closed.awaitOrFail("close inside onConnect (direct=$direct)")
            assertNull(failure.getOrFail(), "close inside a callback (direct=$direct)")
            assertTrue(client.isClosed)
            assertThrows(IllegalStateException::class.java) { client.isConnected }
            assertThrows(IllegalStateException::class.java) { client.socketId }
            assertThrows(IllegalStateException::class.java) { client.emit("echo") }
            assertThrows(IllegalStateException::class.java) { client.open() }
            assertThrows(IllegalStateException::class.java) { client.disconnect() }
            assertThrows(IllegalStateException::class.java) { client.on("echo") {} }
            assertThrows(IllegalStateException::class.java) { client.join("room") }
            assertThrows(IllegalStateException::class.java) { runBlocking { client.emitWithAck("echo") } }
            client.close()
            assertEquals(tokensBefore, Native.nLiveTokens(), "every global reference deleted (direct=$direct)")
        }
    }

    @Test
    fun `off removes a listener`() {
        connectedClient().use { client ->
            var removedCalls = 0
            val removed = client.on("echo") { removedCalls++ }
            val kept = CompletableFuture<String>()
            client.on("echo") { kept.complete(it.argsJson) }
            client.off(removed)
            val e = assertThrows(RealtimeException::class.java) { client.off(removed) }
            assertEquals(Status.UNKNOWN_LISTENER, e.status)
            client.emit("echo", "[7]")
            assertEquals("[7]", kept.getOrFail())
            // Both listeners would run on the same single-thread executor, in order: the removed one
            // would have run before the kept one completed the future.
            val drained = CompletableFuture<Unit>()
            RealtimeClient.defaultExecutor.execute { drained.complete(Unit) }
            drained.getOrFail()
            assertEquals(0, removedCalls)
        }
    }
}
