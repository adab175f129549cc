package dev.realtime

import java.util.concurrent.CountDownLatch
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicReference
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class ResourceTest {
    /** One create / connect / use / close cycle. */
    private fun cycle(i: Int) {
        val client = RealtimeClient(TestServer.url, TestServer.FAST)
        val connected = CountDownLatch(1)
        client.onConnect { connected.countDown() }
        client.onDisconnect { }
        client.on("echo") { }
        client.onMessage("chat") { }
        client.isConnected // ends the library's initial event hold (up to 50 ms): listeners are set
        connected.awaitOrFail("connect in cycle $i")
        client.emit("echo", "[$i]")
        client.close()
    }

    private fun settle() {
        repeat(3) { System.gc() }
        System.runFinalization()
    }

    @Test
    fun `1000 create and close cycles keep memory and native handles bounded`() {
        val tokens0 = Native.nLiveTokens()
        val clients0 = Native.nLiveClients()
        repeat(100) { cycle(it) } // warm-up: runtime threads, JIT, allocator arenas
        settle()
        val rssBefore = rssKb()
        // -Drealtime.cycles=N for a longer run (the bound stays 30 MB); RSS is printed every 1000 cycles.
        val cycles = Integer.getInteger("realtime.cycles", 1000)
        val t0 = System.nanoTime()
        for (i in 0 until cycles) {
            cycle(i)
            if ((i + 1) % 1000 == 0 && i + 1 < cycles) println("after ${i + 1} cycles: VmRSS ${rssKb()} kB")
        }
        val seconds = (System.nanoTime() - t0) / 1e9
        settle()
        val rssAfter = rssKb()
        val growthMb = (rssAfter - rssBefore) / 1024.0
        println(
            "%d cycles in %.1f s; VmRSS %d kB -> %d kB (%+.1f MB); tokens %d, clients %d"
                .format(cycles, seconds, rssBefore, rssAfter, growthMb, Native.nLiveTokens(), Native.nLiveClients()),
        )
        assertEquals(tokens0, Native.nLiveTokens(), "every JNI global reference deleted")
        assertEquals(clients0, Native.nLiveClients(), "every native client freed")
        assertTrue(growthMb < 30.0, "VmRSS grew by $growthMb MB over $cycles cycles")
    }

    @Test
    fun `the cleaner frees a client the application forgot to close`() {
        assertCleanerFrees(forgotten = 20) {
            repeat(20) {
                val c = RealtimeClient(TestServer.url, """{"autoConnect":false}""")
                c.on("echo") { } // a listener that does not capture the client
            }
        }
    }

    @Test
    fun `calls from many threads racing with close`() {
        repeat(20) { round ->
            val client = connectedClient()
            val threads = 8
            val pool = Executors.newFixedThreadPool(threads)
            val start = CyclicBarrier(threads + 1)
            val unexpected = AtomicReference<Throwable?>(null)
            val done = CountDownLatch(threads)
            repeat(threads) { t ->
                pool.execute {
                    try {
                        start.await()
                        var n = 0
                        while (true) {
                            try {
                                when ((n + t) % 6) {
                                    0 -> client.emit("echo", "[$n]")
                                    1 -> client.isConnected
                                    2 -> client.off(client.on("echo") { })
                                    3 -> client.socketId
                                    4 -> client.emitWithAckFuture("echo", "[$n]", 1000)
                                    5 -> client.join("r$t")
                                }
                            } catch (e: IllegalStateException) {
                                break // closed: the expected end
                            }
                            n++
                        }
                    } catch (t2: Throwable) {
                        unexpected.compareAndSet(null, t2)
                    } finally {
                        done.countDown()
                    }
                }
            }
            start.await()
            Thread.yield()
            client.close()
            done.awaitOrFail("threads to stop after close (round $round)")
            pool.shutdown()
            assertNull(unexpected.get(), "round $round: ${unexpected.get()}")
        }
    }
}
