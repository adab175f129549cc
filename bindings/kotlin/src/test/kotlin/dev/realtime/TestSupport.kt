package dev.realtime

import java.util.concurrent.CompletableFuture
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executor
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertTrue

/** The bundled socket.io server, started by tests/server/with-server.js. */
object TestServer {
    val url: String by lazy {
        System.getenv("REALTIME_TEST_URL")
            ?: error(
                "REALTIME_TEST_URL is not set: run the tests through the test server, from the repo root:\n" +
                    "  node tests/server/with-server.js -- mvn -B -f bindings/kotlin/pom.xml test",
            )
    }

    /** Short reconnection delays for the tests. */
    const val FAST = """{"reconnectionDelay":100,"reconnectionDelayMax":300}"""

    fun options(extra: String = ""): String =
        if (extra.isEmpty()) FAST else """{"reconnectionDelay":100,"reconnectionDelayMax":300,$extra}"""
}

const val WAIT_S = 10L

fun CountDownLatch.awaitOrFail(what: String, seconds: Long = WAIT_S) =
    assertTrue(await(seconds, TimeUnit.SECONDS), "timed out waiting for $what")

fun <T> CompletableFuture<T>.getOrFail(seconds: Long = WAIT_S): T = get(seconds, TimeUnit.SECONDS)

/** A connected client (waits for onConnect). */
fun connectedClient(options: String = TestServer.FAST): RealtimeClient = connectedClient(options, RealtimeClient.defaultExecutor)

/** A connected client whose listeners run on [executor]. */
fun connectedClient(options: String, executor: Executor): RealtimeClient {
    val client = RealtimeClient(TestServer.url, options, executor)
    val connected = CountDownLatch(1)
    val id = client.onConnect { connected.countDown() }
    // Listeners are registered: end the library's initial event hold (<= 50 ms) at once. Any call but
    // a listener registration does; not open(): realtime_open() while the first connect is in flight can
    // lose the connect (see the README, "Known library issues").
    client.isConnected
    connected.awaitOrFail("connect")
    client.off(id)
    return client
}

/** VmRSS of this process in kB, from /proc/self/status. */
fun rssKb(): Long =
    java.io.File("/proc/self/status").readLines()
        .first { it.startsWith("VmRSS:") }
        .split(Regex("\\s+"))[1].toLong()

/**
 * [forget] creates [forgotten] clients and drops them: the cleaner frees them (and deletes their global
 * references) once the GC has seen them. GC is asynchronous by nature: poll with a deadline (no fixed
 * sleep decides the outcome).
 */
fun assertCleanerFrees(forgotten: Long, forget: () -> Unit) {
    val clients0 = Native.nLiveClients()
    val tokens0 = Native.nLiveTokens()
    forget()
    org.junit.jupiter.api.Assertions.assertEquals(clients0 + forgotten, Native.nLiveClients())
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
    while (Native.nLiveClients() > clients0 && System.nanoTime() < deadline) {
        System.gc()
        Thread.sleep(20)
    }
    org.junit.jupiter.api.Assertions.assertEquals(clients0, Native.nLiveClients(), "the cleaner freed the forgotten clients")
    org.junit.jupiter.api.Assertions.assertEquals(tokens0, Native.nLiveTokens(), "and deleted their global references")
}
