package dev.realtime

import java.util.concurrent.CompletableFuture
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/** Event and ack arguments as values (issue 11 item 5): emitValues / emitWithAckValues / args / ackValues. */
class TypedArgsTest {
    private val values = listOf<Any?>(
        "hi é😀 \"q\"",
        42L,
        -1.5,
        true,
        null,
        mapOf("b" to 1L, "a" to listOf(1L, mapOf("deep" to "x")), "big" to 12345678901234L),
        emptyList<Any?>(),
    )

    @Test
    fun `emitted values come back as the same values, in the event and in the ack`() = runBlocking {
        connectedClient().use { client ->
            val echoed = CompletableFuture<RealtimeEvent>()
            client.on("echo") { echoed.complete(it) }
            val answer = withTimeout(WAIT_S * 1000) {
                client.emitWithAckValues("echo", *values.toTypedArray(), timeoutMs = 5000)
            }
            assertEquals(values, answer)
            val event = echoed.getOrFail()
            assertEquals(values, event.args)
            // Map order is the sender's: b before a.
            assertEquals(listOf("b", "a", "big"), (event.args[5] as Map<*, *>).keys.toList())
            // The exact text is still there.
            assertEquals(Json.encode(values), event.argsJson)

            val second = CompletableFuture<RealtimeEvent>()
            client.on("echo") { if (it.args == listOf<Any?>("two", 2L)) second.complete(it) }
            client.emitValues("echo", "two", 2)
            assertEquals(listOf<Any?>("two", 2L), second.getOrFail().args)
        }
    }

    @Test
    fun `ackValues answers the server's question with values`() {
        connectedClient().use { client ->
            val answer = CompletableFuture<RealtimeEvent>()
            client.on("question") { it.ackValues("yes", 3, mapOf("k" to listOf(true, null))) }
            client.on("test:answer") { answer.complete(it) }
            client.emit("test:ask", Json.array(mapOf("event" to "question", "args" to listOf(1))))
            val got = answer.getOrFail().args[0] as Map<*, *>
            assertEquals(null, got["error"])
            assertEquals(listOf<Any?>("yes", 3L, mapOf("k" to listOf(true, null))), got["args"])
        }
    }
}
