package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * setAuthProvider (realtime_set_auth_provider / realtime_auth_reply): what the server saw is read back
 * with the test server's "test:whoami" event, whose ack answers socket.handshake.auth.
 */
class AuthProviderTest {
    private fun offlineClient(extra: String = "") =
        RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false" + if (extra.isEmpty()) "" else ",$extra"))

    private fun RealtimeClient.whoami(): String =
        runBlocking { withTimeout(WAIT_S * 1000) { emitWithAck("test:whoami", timeoutMs = 5000) } }

    @Test
    fun `a suspending provider that answers after a delay gives the connect's auth`() {
        offlineClient(""""auth":{"token":"static"}""").use { client ->
            val calls = AtomicInteger()
            client.setAuthProvider {
                delay(300)
                """{"token":"fresh-${calls.incrementAndGet()}"}"""
            }
            val connected = CountDownLatch(1)
            client.onConnect { connected.countDown() }
            val t0 = System.nanoTime()
            client.open()
            connected.awaitOrFail("connect with the provider's token")
            val waitedMs = (System.nanoTime() - t0) / 1_000_000
            assertTrue(waitedMs >= 250, "the CONNECT did not wait for the provider ($waitedMs ms)")
            assertEquals("""[{"token":"fresh-1"}]""", client.whoami())
            assertEquals(1, calls.get())
        }
    }

    @Test
    fun `a callback provider answering later from another thread gives a new token after a reconnect`() {
        val answerer = Executors.newSingleThreadExecutor { r -> Thread(r, "auth-answerer").apply { isDaemon = true } }
        try {
            offlineClient().use { client ->
                val calls = AtomicInteger()
                val notAnObject = CompletableFuture<Int>()
                val secondAnswer = CompletableFuture<Throwable?>()
                client.setAuthProvider { request ->
                    val n = calls.incrementAndGet()
                    answerer.execute {
                        Thread.sleep(100)
                        if (n == 1) {
                            // Not a JSON object: refused, and the request stays open.
                            notAnObject.complete(assertThrows(RealtimeException::class.java) { request.reply("[1]") }.status)
                        }
                        request.reply("""{"token":"t$n"}""")
                        secondAnswer.complete(runCatching { request.reply("{}") }.exceptionOrNull())
                    }
                }
                val connects = AtomicInteger()
                val firstConnect = CountDownLatch(1)
                val secondConnect = CountDownLatch(1)
                client.onConnect {
                    if (connects.incrementAndGet() == 1) firstConnect.countDown() else secondConnect.countDown()
                }
                client.open()
                firstConnect.awaitOrFail("the first connect")
                assertEquals("""[{"token":"t1"}]""", client.whoami())
                assertEquals(Status.INVALID_ARGUMENT, notAnObject.getOrFail())
                assertTrue(secondAnswer.getOrFail() is IllegalStateException, "a second answer throws IllegalStateException")

                client.reconnectNow()
                secondConnect.awaitOrFail("the reconnect")
                assertEquals("""[{"token":"t2"}]""", client.whoami(), "the server saw the provider's new token")
                assertEquals(2, calls.get(), "one request per CONNECT")
            }
        } finally {
            answerer.shutdown()
        }
    }

    @Test
    fun `a provider returning null declines - an error and the client stops`() {
        offlineClient().use { client ->
            val calls = AtomicInteger()
            client.setAuthProvider {
                calls.incrementAndGet()
                null
            }
            val error = CompletableFuture<String>()
            val connected = AtomicInteger()
            client.onError { message, _ -> error.complete(message) }
            client.onConnect { connected.incrementAndGet() }
            client.open()
            val message = error.getOrFail()
            assertTrue(message.contains("declined"), message)
            Thread.sleep(500) // a window in which no retry may come (nothing to await)
            assertEquals(1, calls.get(), "the client asked again: it did not stop")
            assertEquals(0, connected.get())
            assertFalse(client.isConnected)
            assertEquals("idle", client.stats().state)
            assertEquals(ConnectionState.DISCONNECTED, client.connectionState.value)
        }
    }

    @Test
    fun `a refused token, then open with a fresh one connects`() {
        offlineClient().use { client ->
            val calls = AtomicInteger()
            client.setAuthProvider {
                if (calls.incrementAndGet() == 1) """{"refuse":true}""" else """{"token":"refreshed"}"""
            }
            val refused = CompletableFuture<String>()
            val connected = CountDownLatch(1)
            client.onError { message, _ -> refused.complete(message) }
            client.onConnect { connected.countDown() }
            client.open()
            assertEquals("not authorized", refused.getOrFail())
            client.open() // the expired-token pattern: asks the provider again
            connected.awaitOrFail("connect with the refreshed token")
            assertEquals("""[{"token":"refreshed"}]""", client.whoami())
        }
    }

    @Test
    fun `a provider that throws declines`() {
        offlineClient().use { client ->
            client.setAuthProvider { throw IllegalStateException("no token store (expected in this test)") }
            val error = CompletableFuture<String>()
            client.onError { message, _ -> error.complete(message) }
            client.open()
            assertTrue(error.getOrFail().contains("declined"))
        }
    }

    @Test
    fun `close cancels a provider that is still working, and deletes its reference`() {
        val tokens0 = Native.nLiveTokens()
        val client = offlineClient()
        val started = CompletableFuture<Unit>()
        val cancelled = CompletableFuture<Throwable>()
        client.setAuthProvider {
            started.complete(Unit)
            try {
                awaitCancellation()
            } catch (e: Throwable) {
                cancelled.complete(e)
                throw e
            }
        }
        client.open()
        started.getOrFail()
        client.close()
        assertTrue(cancelled.get(WAIT_S, TimeUnit.SECONDS) is kotlinx.coroutines.CancellationException)
        assertEquals(tokens0, Native.nLiveTokens(), "every global reference deleted")
        assertThrows(IllegalStateException::class.java) { client.setAuthProvider { null } }
    }

    @Test
    fun `the cleaner frees a forgotten client that has an auth provider`() {
        assertCleanerFrees(forgotten = 20) {
            repeat(10) {
                // Providers that do not capture their client: the client must become unreachable.
                offlineClient().setAuthProvider { request -> request.decline() }
                offlineClient().setAuthProvider { null }
            }
        }
    }

    @Test
    fun `a replaced provider is not asked, and clearAuthProvider keeps the last answer`() {
        offlineClient(""""auth":{"token":"static"}""").use { client ->
            client.setAuthProvider { """{"token":"old"}""" }
            client.setAuthProvider { request -> request.reply("""{"token":"new"}""") }
            val connects = AtomicInteger()
            val first = CountDownLatch(1)
            val second = CountDownLatch(1)
            client.onConnect { if (connects.incrementAndGet() == 1) first.countDown() else second.countDown() }
            client.open()
            first.awaitOrFail("connect")
            assertEquals("""[{"token":"new"}]""", client.whoami())

            client.clearAuthProvider()
            client.reconnectNow()
            second.awaitOrFail("reconnect")
            assertEquals("""[{"token":"new"}]""", client.whoami(), "the last answer stays the auth in use")
        }
    }
}
