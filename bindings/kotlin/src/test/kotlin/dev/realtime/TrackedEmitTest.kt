package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** emitTracked / emitTrackedFlow (realtime_emit_tracked) against the test server, whose "ack" event acks. */
class TrackedEmitTest {
    /** Collects the statuses of one emitTracked; completes at the final one. */
    private class Recorder {
        val seen = ConcurrentLinkedQueue<MessageStatus>()
        val final = CompletableFuture<List<MessageStatus>>()
        val first = CompletableFuture<MessageStatus>()

        fun record(status: MessageStatus) {
            seen += status
            first.complete(status)
            if (status.isFinal) final.complete(seen.toList())
        }
    }

    @Test
    fun `acked - Sent then Acked with the server's answer, and its global reference is deleted`() = runBlocking {
        connectedClient().use { client ->
            val tokens0 = Native.nLiveTokens()
            val recorder = Recorder()
            client.emitTracked("ack", """[1,{"a":"é"}]""", ttlMs = 5000) { recorder.record(it) }
            assertEquals(listOf(MessageStatus.Sent, MessageStatus.Acked("""[1,{"a":"é"}]""")), recorder.final.getOrFail())
            assertEquals(tokens0, Native.nLiveTokens(), "the tracked emit's global reference was deleted at its final status")

            // The Flow flavour: completes after the final status.
            val statuses = withTimeout(WAIT_S * 1000) { client.emitTrackedFlow("ack", "[2]", ttlMs = 5000).toList() }
            assertEquals(listOf(MessageStatus.Sent, MessageStatus.Acked("[2]")), statuses)
            assertEquals(tokens0, Native.nLiveTokens(), "and the flow's")
        }
    }

    @Test
    fun `expired - offline past its time to live, Queued then Expired, and never sent`() = runBlocking {
        RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false")).use { client ->
            // "echo" acks and echoes: had the expired message been sent at the connect, its echo would come
            // before the marker's.
            val echoes = ConcurrentLinkedQueue<String>()
            val marker = CompletableFuture<Unit>()
            client.on("echo") {
                echoes += it.argsJson
                if (it.argsJson == """["marker"]""") marker.complete(Unit)
            }
            val statuses = withTimeout(WAIT_S * 1000) {
                client.emitTrackedFlow("echo", """["expiring"]""", ttlMs = 150).toList()
            }
            assertEquals(listOf(MessageStatus.Queued, MessageStatus.Expired), statuses)

            val connected = CompletableFuture<Unit>()
            client.onConnect { connected.complete(Unit) }
            client.open()
            connected.getOrFail()
            client.emit("echo", """["marker"]""")
            marker.getOrFail()
            assertEquals(listOf("""["marker"]"""), echoes.toList(), "the expired message reached the server")
        }
    }

    @Test
    fun `failed - sent but never acknowledged, Sent then Failed when the time to live passes`() {
        connectedClient().use { client ->
            val recorder = Recorder()
            client.emitTracked("no-such-handler", "[]", ttlMs = 200) { recorder.record(it) }
            val statuses = recorder.final.getOrFail()
            assertEquals(2, statuses.size, "$statuses")
            assertEquals(MessageStatus.Sent, statuses[0])
            val failed = statuses[1]
            assertTrue(failed is MessageStatus.Failed && failed.reason.contains("time to live"), "$statuses")
            Thread.sleep(100) // a window in which no call may come (nothing to await)
            assertEquals(statuses, recorder.seen.toList(), "nothing after the final status")
        }
    }

    @Test
    fun `statuses stay in order on a multi-threaded executor`() {
        val pool = Executors.newFixedThreadPool(4) { r -> Thread(r, "tracked-test").apply { isDaemon = true } }
        try {
            RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false"), pool).use { client ->
                val order = ConcurrentLinkedQueue<MessageStatus>()
                val done = CompletableFuture<Unit>()
                val queuedRunning = CompletableFuture<Unit>()
                client.emitTracked("ack", "[1]") { status ->
                    if (status == MessageStatus.Queued) {
                        queuedRunning.complete(Unit)
                        Thread.sleep(300) // Sent and Acked arrive meanwhile: free threads must not run them first
                    }
                    order += status
                    if (status.isFinal) done.complete(Unit)
                }
                queuedRunning.getOrFail()
                client.open()
                done.getOrFail()
                assertEquals(listOf(MessageStatus.Queued, MessageStatus.Sent, MessageStatus.Acked("[1]")), order.toList())
            }
        } finally {
            pool.shutdown()
            pool.awaitTermination(WAIT_S, TimeUnit.SECONDS)
        }
    }

    @Test
    fun `close before the final status deletes the reference and fails the flow`() = runBlocking {
        val tokens0 = Native.nLiveTokens()
        val client = RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false"))
        val recorder = Recorder()
        client.emitTracked("ack", "[1]") { recorder.record(it) } // no time to live: waits for a connection
        val flow = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            runCatching { client.emitTrackedFlow("ack", "[2]").toList() }
        }
        recorder.first.getOrFail() // Queued: the emit waits offline
        client.close()
        val result = withTimeout(WAIT_S * 1000) { flow.await() }
        assertTrue(result.exceptionOrNull() is IllegalStateException, "got $result")
        assertEquals(listOf<MessageStatus>(MessageStatus.Queued), recorder.seen.toList())
        assertEquals(tokens0, Native.nLiveTokens(), "every global reference deleted, with no final status")
    }

    @Test
    fun `the cleaner frees a forgotten client with a tracked emit pending`() {
        assertCleanerFrees(forgotten = 10) {
            repeat(10) {
                RealtimeClient(TestServer.url, TestServer.options("\"autoConnect\":false")).emitTracked("ack", "[1]") { }
            }
        }
    }

    @Test
    fun `synchronous failures throw and report nothing`() = runBlocking {
        connectedClient().use { client ->
            val reported = ConcurrentLinkedQueue<MessageStatus>()
            val reserved = assertThrows(RealtimeException::class.java) { client.emitTracked("connect", "[]") { reported += it } }
            assertEquals(Status.RESERVED_EVENT, reserved.status)
            val bad = assertThrows(RealtimeException::class.java) {
                runBlocking { client.emitTrackedFlow("ack", "[1").toList() }
            }
            assertEquals(Status.INVALID_ARGUMENT, bad.status)
            assertThrows(IllegalArgumentException::class.java) { client.emitTracked("ack", "[]", -1) { reported += it } }
            // A later tracked emit on the same client is reported as usual: nothing above was.
            val recorder = Recorder()
            client.emitTracked("ack", "[3]", 5000) { recorder.record(it) }
            recorder.final.getOrFail()
            assertEquals(emptyList<MessageStatus>(), reported.toList())
        }
    }
}
