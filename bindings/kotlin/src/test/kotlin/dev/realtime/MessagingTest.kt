package dev.realtime

import java.util.concurrent.CompletableFuture
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class MessagingTest {
    @Test
    fun `emitWithAck echo and the echoed event`() = runBlocking {
        connectedClient().use { client ->
            val echoed = CompletableFuture<RealtimeEvent>()
            client.on("echo") { echoed.complete(it) }
            val args = Json.array("hi", 1, mapOf("u" to "é😀\"\\"), null, true)
            val answer = withTimeout(WAIT_S * 1000) { client.emitWithAck("echo", args, timeoutMs = 5000) }
            assertEquals(args, answer)
            val event = echoed.getOrFail()
            assertEquals("echo", event.name)
            assertEquals(args, event.argsJson)
            assertFalse(event.ackRequested)
            assertThrows(IllegalStateException::class.java) { event.ack("[]") }

            // The future flavour.
            assertEquals("[2]", client.emitWithAckFuture("echo", "[2]", 5000).getOrFail().argsJson)
        }
    }

    @Test
    fun `an ack that never comes times out`() = runBlocking {
        connectedClient().use { client ->
            val e = assertThrows(AckException::class.java) {
                runBlocking { client.emitWithAck("no-such-handler", "[1]", timeoutMs = 200) }
            }
            assertTrue(e.isTimeout, e.reason)
        }
    }

    @Test
    fun `a pending ack fails when the client is closed`() = runBlocking {
        val client = connectedClient()
        // UNDISPATCHED: runs until emitWithAck suspends, i.e. with the ack registered.
        val pending = async(start = CoroutineStart.UNDISPATCHED) {
            runCatching { client.emitWithAck("no-such-handler", "[1]") }
        }
        val future = client.emitWithAckFuture("no-such-handler", "[2]")
        client.close()
        val result = withTimeout(WAIT_S * 1000) { pending.await() }
        assertTrue(result.exceptionOrNull() is IllegalStateException, "got $result")
        val e = assertThrows(java.util.concurrent.ExecutionException::class.java) { future.getOrFail() }
        assertTrue(e.cause is IllegalStateException, "got ${e.cause}")
    }

    @Test
    fun `binary arguments both ways`() = runBlocking {
        connectedClient().use { client ->
            val bytes = ByteArray(300) { (it * 7).toByte() }
            val echoed = CompletableFuture<RealtimeEvent>()
            client.on("echo") { echoed.complete(it) }
            val answer = withTimeout(WAIT_S * 1000) {
                client.emitBinaryWithAck("echo", """["file",{"_placeholder":true,"num":0}]""", listOf(bytes), 5000)
            }
            assertEquals(1, answer.buffers.size)
            assertArrayEquals(bytes, answer.buffers[0])
            assertTrue(answer.argsJson.contains("_placeholder"), answer.argsJson)
            val event = echoed.getOrFail()
            assertEquals(1, event.buffers.size)
            assertArrayEquals(bytes, event.buffers[0])

            val second = CompletableFuture<RealtimeEvent>()
            client.once("echo") { second.complete(it) }
            client.emitBinary("echo", """[{"_placeholder":true,"num":0}]""", listOf(byteArrayOf(1, 2, 3)))
            assertArrayEquals(byteArrayOf(1, 2, 3), second.getOrFail().buffers[0])
        }
    }

    @Test
    fun `the server asks and the handler's ack is the answer`() {
        connectedClient().use { client ->
            val question = CompletableFuture<RealtimeEvent>()
            val secondAck = CompletableFuture<Throwable?>()
            client.on("question") { event ->
                event.ack("""["yes",42]""")
                secondAck.complete(runCatching { event.ack("[]") }.exceptionOrNull())
                question.complete(event)
            }
            val answer = CompletableFuture<String>()
            client.on("test:answer") { answer.complete(it.argsJson) }
            client.emit("test:ask", Json.array(mapOf("event" to "question", "args" to listOf(1, "two"), "timeoutMs" to 5000)))

            val event = question.getOrFail()
            assertEquals("[1,\"two\"]", event.argsJson)
            assertTrue(event.ackRequested)
            assertTrue(secondAck.getOrFail() is IllegalStateException, "a second ack throws IllegalStateException")
            assertEquals("""[{"error":null,"args":["yes",42]}]""", answer.getOrFail())
        }
    }

    @Test
    fun `reserved event names are refused`() {
        connectedClient().use { client ->
            val e = assertThrows(RealtimeException::class.java) { client.emit("disconnect") }
            assertEquals(Status.RESERVED_EVENT, e.status)
            val bad = assertThrows(RealtimeException::class.java) { client.emit("echo", "not json") }
            assertEquals(Status.INVALID_ARGUMENT, bad.status)
        }
    }

    @Test
    fun `channel join, send and members`() = runBlocking {
        connectedClient(TestServer.options(""""echoMessages":true""")).use { client ->
            val myId = client.socketId!!
            val message = CompletableFuture<ChannelEvent>()
            client.onMessage("chat") { message.complete(it) }
            client.join("room")
            client.send("room", "chat", """{"text":"hi"}""")
            val got = message.getOrFail()
            assertEquals("room", got.channel)
            assertNull(got.memberId) // Agnost's messages carry no sender id: the message is delivered whole
            assertEquals("""{"text":"hi"}""", got.dataJson)

            client.updateProfile("""{"name":"ann"}""")
            val members = withTimeout(WAIT_S * 1000) { client.members("room") }
            assertTrue(members.contains(myId), members)

            val broadcast = CompletableFuture<ChannelEvent>()
            client.onMessage("news") { broadcast.complete(it) }
            client.broadcast("news", "42")
            val b = broadcast.getOrFail()
            assertNull(b.channel)
            assertEquals("42", b.dataJson)
            client.leave("room")
        }
    }

    @Test
    fun `channel join events between two clients`() {
        connectedClient().use { a ->
            connectedClient().use { b ->
                val joined = CompletableFuture<ChannelEvent>()
                a.onChannelJoin { joined.complete(it) }
                a.join("lobby")
                // b joins after a's join was processed: a's members request is answered after its join.
                runBlocking { withTimeout(WAIT_S * 1000) { a.members("lobby") } }
                b.join("lobby")
                val event = joined.getOrFail()
                assertEquals("lobby", event.channel)
                assertEquals(b.socketId, event.memberId)
            }
        }
    }

    @Test
    fun `a second namespace on the same connection`() {
        connectedClient().use { root ->
            root.namespace("/admin").use { admin ->
                val connected = CompletableFuture<String>()
                admin.onConnect { connected.complete(admin.socketId!!) }
                val adminId = connected.getOrFail()
                assertTrue(adminId != root.socketId)
                val e = assertThrows(RealtimeException::class.java) { root.namespace("/admin") }
                assertEquals(Status.NAMESPACE_IN_USE, e.status)
            }
            assertTrue(root.isConnected)
        }
    }
}
