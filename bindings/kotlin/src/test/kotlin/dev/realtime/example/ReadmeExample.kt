// The example of bindings/kotlin/README.md, compiled with the tests so it stays correct.
// Run against the test server (from the repo root, after `mvn -f bindings/kotlin/pom.xml test-compile`):
//   node tests/server/with-server.js -- sh -c 'java -Drealtime.jni.lib=$PWD/bindings/kotlin/target/native/librealtime_jni.so \
//     -cp "bindings/kotlin/target/classes:bindings/kotlin/target/test-classes:$(cat bindings/kotlin/target/cp.txt)" \
//     dev.realtime.example.ReadmeExampleKt'
package dev.realtime.example

import dev.realtime.Json
import dev.realtime.LogLevel
import dev.realtime.Realtime
import dev.realtime.RealtimeClient
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull

fun main(): Unit = runBlocking {
    val url = System.getenv("REALTIME_TEST_URL") ?: "http://localhost:3000"
    Realtime.setLogHandler(LogLevel.WARN) { level, target, msg -> println("$level $target: $msg") }  // process-wide
    RealtimeClient(url, mapOf("auth" to mapOf("token" to "abc"), "echoMessages" to true)).use { client ->
        client.onConnect { println("connected as ${client.socketId}") }
        client.onDisconnect { reason -> println("disconnected: $reason") }   // "transport close", ...
        client.onError { message, dataJson -> println("refused: $message $dataJson") }
        client.on("chat") { ev ->
            println("${ev.name} ${ev.argsJson}")                               // chat ["hi",{"from":"ann"}]
            if (ev.ackRequested) ev.ack("""["got it"]""")                      // exactly once
        }

        client.emit("hello", Json.array("world", 42))                          // buffered until connected
        val answer = client.emitWithAck("echo", """["ping"]""", timeoutMs = 5000)  // suspends; AckException on timeout
        println("answer: $answer")

        client.join("room")                                                    // Agnost channels
        client.onMessage("chat") { m -> println("${m.channel} ${m.memberId}: ${m.dataJson}") }
        client.onUserEvent { e -> println("${e.name} ${e.userJson}") }         // user:signin, user:signout, ...
        client.send("room", "chat", """{"text":"hi"}""")
        println(client.members("room"))                                        // [{"id":..,"data":..}]
        println("${client.connectionState.value} ${client.stats().emits} emits")  // CONNECTED 4 emits

        withTimeoutOrNull(1000) {
            client.lifecycle.collect { println(it) }  // Connect, Disconnect(reason), ReconnectAttempt(n), ...
        }
    }
}
