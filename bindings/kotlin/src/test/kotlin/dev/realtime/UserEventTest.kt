package dev.realtime

import java.util.Collections
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.onSubscription
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

/**
 * Agnost's user events (onUserEvent, userEvents), pushed by the test server's `test:user-event` hook as
 * Agnost's API server does: `<eventName>(eventName, session, user)` to this socket.
 */
class UserEventTest {
    private val userEventNames = listOf(
        "user:signin", "user:signout", "user:update", "user:delete", "user:pwdchange", "user:emailchange",
        "user:phonechange",
    )

    private fun push(client: RealtimeClient, eventName: String, session: Any?, user: Any?) =
        client.emit("test:user-event", Json.array(mapOf("eventName" to eventName, "session" to session, "user" to user)))

    /**
     * Waits for the server's echo of [tag], sent after everything emitted before it: the server answers
     * in order, and the client's executor (one thread) runs the listeners in event order, so every
     * listener call for an earlier event has run (or was dropped) when this returns.
     */
    private fun sentinel(client: RealtimeClient, tag: String) {
        val echoed = CountDownLatch(1)
        val id = client.on("echo") { if (it.argsJson == Json.array(tag)) echoed.countDown() }
        client.emit("echo", Json.array(tag))
        echoed.awaitOrFail("the echo $tag")
        client.off(id)
    }

    @Test
    fun `user signin reaches onUserEvent with its session and user, on the client's executor`() {
        val executor = Executors.newSingleThreadExecutor { r -> Thread(r, "user-event-test").apply { isDaemon = true } }
        try {
            connectedClient(TestServer.FAST, executor).use { client ->
                val got = CompletableFuture<Pair<UserEvent, String>>()
                client.onUserEvent { got.complete(it to Thread.currentThread().name) }
                val session = mapOf("token" to "t-1", "userId" to "u1", "expiresAt" to 1700000000000L, "ua" to mapOf("os" to "linux"))
                val user = mapOf("_id" to "u1", "name" to "Ann \"é😀\"", "tags" to listOf("a", "b"), "verified" to true)
                push(client, "user:signin", session, user)
                val (event, thread) = got.getOrFail()
                assertEquals("user:signin", event.name)
                assertEquals(session, Json.parse(event.sessionJson))
                assertEquals(user, Json.parse(event.userJson))
                // The server's JSON text as it sent it (JSON.stringify writes what Json.encode writes here).
                assertEquals(Json.encode(session), event.sessionJson)
                assertEquals(Json.encode(user), event.userJson)
                assertEquals("user-event-test", thread)
            }
        } finally {
            executor.shutdown()
        }
    }

    @Test
    fun `the seven user events arrive in order`() {
        connectedClient().use { client ->
            val events = Collections.synchronizedList(ArrayList<UserEvent>())
            val all = CountDownLatch(userEventNames.size)
            client.onUserEvent {
                events += it
                all.countDown()
            }
            userEventNames.forEachIndexed { i, name -> push(client, name, mapOf("token" to "t"), mapOf("n" to i)) }
            all.awaitOrFail("${userEventNames.size} user events")
            assertEquals(userEventNames, events.map { it.name })
            assertEquals(userEventNames.indices.map { """{"n":$it}""" }, events.map { it.userJson })
            assertEquals(List(userEventNames.size) { """{"token":"t"}""" }, events.map { it.sessionJson })
        }
    }

    @Test
    fun `user events are not channel messages, on and onAny get them as plain events`() {
        connectedClient().use { client ->
            val messages = Collections.synchronizedList(ArrayList<ChannelEvent>())
            for (name in userEventNames) client.onMessage(name) { messages += it }
            val plain = CompletableFuture<RealtimeEvent>()
            client.on("user:update") { plain.complete(it) }
            val any = Collections.synchronizedList(ArrayList<String>())
            client.onAny { any += it.name }
            val users = Collections.synchronizedList(ArrayList<String>())
            client.onUserEvent { users += it.name }

            for (name in userEventNames) push(client, name, mapOf("token" to "t"), mapOf("_id" to name))
            sentinel(client, "after user events")

            assertEquals(emptyList<ChannelEvent>(), messages.toList())
            assertEquals(userEventNames, users.toList())
            assertEquals(userEventNames, any.filter { it.startsWith("user:") })
            // A plain listener gets the event as the server emitted it: (eventName, session, user).
            val event = plain.getOrFail()
            assertEquals("user:update", event.name)
            assertEquals("""["user:update",{"token":"t"},{"_id":"user:update"}]""", event.argsJson)
        }
    }

    @Test
    fun `after off no user event reaches the listener, and offAny does not remove it`() {
        connectedClient().use { client ->
            val removed = Collections.synchronizedList(ArrayList<UserEvent>())
            val first = CountDownLatch(1)
            val id = client.onUserEvent {
                removed += it
                first.countDown()
            }
            val kept = Collections.synchronizedList(ArrayList<String>())
            client.onUserEvent { kept += it.name }
            push(client, "user:signin", mapOf("token" to "t"), mapOf("_id" to "u1"))
            first.awaitOrFail("the first user event")

            client.off(id)
            client.offAny()
            push(client, "user:signout", mapOf("token" to "t"), mapOf("_id" to "u1"))
            push(client, "user:delete", null, mapOf("_id" to "u1"))
            sentinel(client, "after off")

            assertEquals(listOf("user:signin"), removed.map { it.name })
            assertEquals(listOf("user:signin", "user:signout", "user:delete"), kept.toList())
        }
    }

    @Test
    fun `a missing session or user arrives as null`() {
        connectedClient().use { client ->
            val events = Collections.synchronizedList(ArrayList<UserEvent>())
            val all = CountDownLatch(3)
            client.onUserEvent {
                events += it
                all.countDown()
            }
            push(client, "user:signout", null, null)
            push(client, "user:delete", mapOf("token" to "t"), null)
            // No session and no user in the hook's payload at all: the server sends null for both.
            client.emit("test:user-event", Json.array(mapOf("eventName" to "user:pwdchange")))
            all.awaitOrFail("3 user events")
            assertEquals(
                listOf(
                    UserEvent("user:signout", "null", "null"),
                    UserEvent("user:delete", """{"token":"t"}""", "null"),
                    UserEvent("user:pwdchange", "null", "null"),
                ),
                events.toList(),
            )
        }
    }

    @Test
    fun `the userEvents flow`() = runBlocking {
        connectedClient().use { client ->
            val subscribed = CompletableDeferred<Unit>()
            val collected = async { client.userEvents.onSubscription { subscribed.complete(Unit) }.take(2).toList() }
            withTimeout(WAIT_S * 1000) { subscribed.await() }
            push(client, "user:emailchange", mapOf("token" to "t"), mapOf("email" to "ann@example.com"))
            push(client, "user:phonechange", mapOf("token" to "t"), mapOf("phone" to "+10000000000"))
            assertEquals(
                listOf(
                    UserEvent("user:emailchange", """{"token":"t"}""", """{"email":"ann@example.com"}"""),
                    UserEvent("user:phonechange", """{"token":"t"}""", """{"phone":"+10000000000"}"""),
                ),
                withTimeout(WAIT_S * 1000) { collected.await() },
            )
        }
    }
}
