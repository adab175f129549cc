package dev.realtime

import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/** The `transports` and `proxy` options, and transportName (realtime_transport_name). */
class TransportTest {
    private fun echoRoundTrip(client: RealtimeClient) = runBlocking {
        val echoed = CompletableFuture<String>()
        client.once("echo") { echoed.complete(it.argsJson) }
        assertEquals("""["over",1]""", withTimeout(WAIT_S * 1000) { client.emitWithAck("echo", """["over",1]""", 5000) })
        assertEquals("""["over",1]""", echoed.getOrFail())
    }

    @Test
    fun `transports polling connects over long-polling and messages flow`() {
        RealtimeClient(TestServer.url, TestServer.options(""""autoConnect":false,"transports":["polling"]""")).use { client ->
            assertNull(client.transportName, "no connection open yet")
            val connected = CompletableFuture<Unit>()
            client.onConnect { connected.complete(Unit) }
            client.open()
            connected.getOrFail()
            assertEquals("polling", client.transportName)
            assertEquals("polling", client.stats().transport)
            echoRoundTrip(client)
            assertEquals("polling", client.transportName, "still polling: websocket is not among the transports")
            client.disconnect()
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S)
            while (client.transportName != null && System.nanoTime() < deadline) Thread.sleep(2)
            assertNull(client.transportName, "no connection open after disconnect")
        }
    }

    @Test
    fun `the default transport is websocket`() {
        connectedClient().use { client ->
            assertEquals("websocket", client.transportName)
        }
    }

    @Test
    fun `through an HTTP CONNECT proxy (tinyproxy)`() {
        val proxy = System.getenv("REALTIME_TEST_HTTP_PROXY")
        val log = System.getenv("REALTIME_TEST_HTTP_PROXY_LOG")
        assumeTrue(proxy != null && log != null, "REALTIME_TEST_HTTP_PROXY is not set (tinyproxy not installed: make proxy-deps)")
        val port = System.getenv("REALTIME_TEST_PORT") ?: TestServer.url.substringAfterLast(':').trimEnd('/')
        RealtimeClient(TestServer.url, mapOf("proxy" to proxy, "reconnectionDelay" to 100, "autoConnect" to false)).use { client ->
            val connected = CompletableFuture<Unit>()
            val error = CompletableFuture<String>()
            client.onConnect { connected.complete(Unit) }
            client.onError { message, data -> error.complete("$message $data") }
            client.open()
            CompletableFuture.anyOf(connected, error).getOrFail()
            assertFalse(error.isDone, "error through the proxy: ${error.getNow(null)}")
            assertTrue(client.isConnected)
            assertEquals("websocket", client.transportName)
            echoRoundTrip(client)
        }
        // tinyproxy logs the tunnel it opened: "CONNECT 127.0.0.1:<server port>".
        val needle = "CONNECT 127.0.0.1:$port"
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S)
        while (!File(log).readText().contains(needle) && System.nanoTime() < deadline) Thread.sleep(20)
        assertTrue(File(log).readText().contains(needle), "tinyproxy's log has no '$needle': the connection did not go through it")
    }

    @Test
    fun `a proxy that is down gives an error`() {
        val closedPort = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        val options = mapOf("proxy" to "http://127.0.0.1:$closedPort", "reconnection" to false, "autoConnect" to false)
        RealtimeClient(TestServer.url, options).use { client ->
            val error = CompletableFuture<String>()
            val connected = CompletableFuture<Unit>()
            client.onError { message, _ -> error.complete(message) }
            client.onConnect { connected.complete(Unit) }
            client.open()
            val message = error.getOrFail()
            assertTrue(message.contains("proxy"), message)
            assertFalse(connected.isDone)
            assertFalse(client.isConnected)
        }
    }

    @Test
    fun `a proxy URL of an unknown scheme fails the constructor`() {
        val e = assertThrows(RealtimeException::class.java) {
            RealtimeClient(TestServer.url, mapOf("proxy" to "ftp://127.0.0.1:1"))
        }
        assertTrue(e.detail.contains("proxy"), e.detail)
    }
}
