package dev.realtime

import java.util.concurrent.CompletableFuture
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class StatsTest {
    @Test
    fun `idle before connect, connected after, emits counted`() {
        RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false")).use { client ->
            val idle = client.stats()
            assertEquals(1, idle.version)
            assertEquals("idle", idle.state, idle.json)
            assertFalse(idle.connected)
            assertEquals(0L, idle.connects)
            assertNull(idle.transport)
            assertNull(idle.lastDisconnectReason)
            assertNull(idle.lastPingRoundTripUs)
            assertEquals("/", idle.namespace)

            val connected = CompletableFuture<Unit>()
            client.onConnect { connected.complete(Unit) }
            client.open()
            connected.getOrFail()
            val on = client.stats()
            assertEquals("connected", on.state, on.json)
            assertTrue(on.connected)
            assertEquals(1L, on.connects)
            assertEquals("websocket", on.transport)
            assertTrue(on.listeners >= 1, on.json)
            assertTrue(on.msInEachState.containsKey("connected"), on.json)

            val emitsBefore = on.emits
            client.emit("hello", "[1]")
            client.emit("hello", "[2]")
            kotlinx.coroutines.runBlocking { client.emitWithAck("echo", "[3]", timeoutMs = 5000) }
            val after = client.stats()
            assertEquals(emitsBefore + 3, after.emits, after.json)
            assertEquals(0L, after.pendingAcks)
            assertTrue(after.packetsOut > on.packetsOut, after.json)
            assertTrue(after.lastAckRoundTripUs != null, after.json)

            // A dropped connection (the library records the reason of a connection that closed; a
            // client-side disconnect() of the namespace is not recorded there today).
            val gone = CompletableFuture<String>()
            val back = CompletableFuture<Unit>()
            client.onDisconnect { gone.complete(it) }
            client.onConnect { back.complete(Unit) }
            client.reconnectNow()
            assertEquals("transport close", gone.getOrFail())
            back.getOrFail()
            val again = client.stats()
            assertEquals("transport close", again.lastDisconnectReason, again.json)
            assertEquals(2L, again.connects, again.json)
            assertEquals("connected", again.state, again.json)

            client.disconnect()
            val down = client.stats()
            // The namespace is left at once; the connection closes asynchronously.
            assertFalse(down.connected, down.json)
        }
    }

    @Test
    fun `stats after close throws`() {
        val client = RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false"))
        client.close()
        assertThrows(IllegalStateException::class.java) { client.stats() }
    }

    @Test
    fun `the parser reads the documented members and tolerates new ones`() {
        val s = RealtimeStats.parse(
            """{"version":1,"state":"waiting","connected":false,"namespace":"/a","msInState":12,
               "msInEachState":{"idle":1,"waiting":12},"connects":2,"reconnects":1,"failedAttempts":3,
               "lastDisconnectReason":"transport close","transport":null,"packetsIn":5,"framesIn":6,
               "bytesIn":7,"packetsOut":8,"bytesOut":9,"emits":10,"emitsBuffered":11,
               "bytesQueuedForSocket":0,"eventsWaitingForCallbacks":0,"bytesWaitingForCallbacks":0,
               "pendingAcks":1,"acksAnswered":4,"lastAckRoundTripUs":1500,"lastPingRoundTripUs":null,
               "listeners":2,"future":{"x":[1,2.5,"\u00e9\n",true]}}""",
        )
        assertEquals("waiting", s.state)
        assertEquals(mapOf("idle" to 1L, "waiting" to 12L), s.msInEachState)
        assertEquals("transport close", s.lastDisconnectReason)
        assertNull(s.transport)
        assertEquals(1500L, s.lastAckRoundTripUs)
        assertEquals(11L, s.emitsBuffered)
        assertEquals(2L, s.listeners)
        assertEquals(listOf(1L, 2.5, "\u00e9\n", true), (Json.parse(s.json) as Map<*, *>)["future"].let { (it as Map<*, *>)["x"] })
        assertThrows(IllegalArgumentException::class.java) { Json.parse("{\"a\":}") }
        assertThrows(IllegalArgumentException::class.java) { Json.parse("[1,2") }
    }
}
