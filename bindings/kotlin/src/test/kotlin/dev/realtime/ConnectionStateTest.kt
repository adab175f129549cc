package dev.realtime

import java.util.concurrent.ConcurrentLinkedQueue
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class ConnectionStateTest {
    private suspend fun RealtimeClient.awaitState(s: ConnectionState) =
        withTimeout(WAIT_S * 1000) { connectionState.first { it == s } }

    @Test
    fun `late collectors see the current state, then every change`() = runBlocking {
        RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false")).use { client ->
            assertEquals(ConnectionState.DISCONNECTED, client.connectionState.value)
            assertEquals(ConnectionState.DISCONNECTED, client.connectionState.first())

            client.open()
            client.awaitState(ConnectionState.CONNECTED)
            assertTrue(client.isConnected)
            // A collector that starts now gets CONNECTED at once (the StateFlow's replay of one).
            assertEquals(ConnectionState.CONNECTED, withTimeout(1000) { client.connectionState.first() })

            val seen = ConcurrentLinkedQueue<ConnectionState>()
            val updates = Channel<ConnectionState>(Channel.UNLIMITED)
            val job = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                client.connectionState.collect {
                    seen += it
                    updates.trySend(it)
                }
            }
            val reconnected = java.util.concurrent.CompletableFuture<Unit>()
            client.onReconnect { reconnected.complete(Unit) }
            client.reconnectNow()
            reconnected.getOrFail()
            // Back to CONNECTED after the drop (a CONNECTING in between may be conflated away).
            client.awaitState(ConnectionState.CONNECTED)
            assertEquals(ConnectionState.CONNECTED, seen.first())
            // The collector runs on Dispatchers.Default and may lag behind the client: await its updates
            // until it has seen the state the client is in.
            withTimeout(5000) { while (seen.last() != ConnectionState.CONNECTED) updates.receive() }
            assertEquals(ConnectionState.CONNECTED, seen.last())

            client.disconnect()
            assertEquals(ConnectionState.DISCONNECTED, client.connectionState.value)
            client.open()
            client.awaitState(ConnectionState.CONNECTED)
            job.cancel()

            client.close()
            assertEquals(ConnectionState.CLOSED, client.connectionState.value)
        }
        Unit
    }

    @Test
    fun `connecting while attempts fail, disconnected once they run out`() = runBlocking {
        RealtimeClient("http://127.0.0.1:1/", """{"reconnectionAttempts":2,"reconnectionDelay":50,"reconnectionDelayMax":50}""").use { client ->
            val first = client.connectionState.value
            assertTrue(first == ConnectionState.CONNECTING || first == ConnectionState.DISCONNECTED, "$first")
            // Awaiting DISCONNECTED alone could return at once (the state before the first attempt):
            // reconnect_failed is what says the attempts ran out.
            val failed = java.util.concurrent.CompletableFuture<Unit>()
            client.onReconnectFailed { failed.complete(Unit) }
            failed.getOrFail()
            client.awaitState(ConnectionState.DISCONNECTED)
            assertEquals("idle", client.stats().state)
            client.open()
            assertTrue(client.connectionState.value == ConnectionState.CONNECTING || client.connectionState.value == ConnectionState.DISCONNECTED)
        }
        Unit
    }

    @Test
    fun `read first after close it is CLOSED`() {
        val client = RealtimeClient(TestServer.url, TestServer.FAST)
        client.close()
        assertEquals(ConnectionState.CLOSED, client.connectionState.value)
    }
}
