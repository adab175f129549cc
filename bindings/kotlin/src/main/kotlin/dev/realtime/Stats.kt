package dev.realtime

/**
 * A snapshot of a client's live counters ([RealtimeClient.stats], realtime_stats_json, version 1).
 * Cheap (atomics and three short locks, no I/O): fine for every frame of a UI.
 *
 * Connection-wide counters (`packets*`, `frames*`, `bytes*`) cover every namespace on the connection;
 * bytes are WebSocket payload bytes. A member a later library version adds is in [json] only.
 */
data class RealtimeStats(
    val version: Int,
    /** "idle", "connecting", "connected" or "waiting" (the backoff delay before a reconnect attempt). */
    val state: String,
    /** This namespace is joined. */
    val connected: Boolean,
    val namespace: String,
    /** Milliseconds in [state] so far. */
    val msInState: Long,
    /** Milliseconds in each state ("idle", "connecting", ...), the current stretch included. */
    val msInEachState: Map<String, Long>,
    val connects: Long,
    val reconnects: Long,
    val failedAttempts: Long,
    /** socket.io-client's reason of the last disconnect, or null. */
    val lastDisconnectReason: String?,
    /** "websocket" or "polling", or null when no connection is open. */
    val transport: String?,
    val packetsIn: Long,
    val framesIn: Long,
    val bytesIn: Long,
    val packetsOut: Long,
    val bytesOut: Long,
    /** Emits accepted by this client. */
    val emits: Long,
    /** Emits waiting offline or in the retry queue. */
    val emitsBuffered: Long,
    /** Sent, not yet taken by the OS. */
    val bytesQueuedForSocket: Long,
    val eventsWaitingForCallbacks: Long,
    val bytesWaitingForCallbacks: Long,
    val pendingAcks: Long,
    val acksAnswered: Long,
    /** The latest emit-with-ack round trip in µs, or null. */
    val lastAckRoundTripUs: Long?,
    /** Always null with Engine.IO 4 (the server pings). */
    val lastPingRoundTripUs: Long?,
    val listeners: Long,
    /** The JSON object as the library wrote it. */
    val json: String,
) {
    companion object {
        /** Parses realtime_stats_json's object; a missing number reads 0, a missing text "". */
        @JvmStatic
        fun parse(json: String): RealtimeStats {
            val m = Json.parse(json) as? Map<*, *> ?: throw IllegalArgumentException("stats are not a JSON object")
            fun long(key: String): Long = (m[key] as? Number)?.toLong() ?: 0L
            fun longOrNull(key: String): Long? = (m[key] as? Number)?.toLong()
            fun text(key: String): String = m[key] as? String ?: ""
            fun textOrNull(key: String): String? = m[key] as? String
            val each = LinkedHashMap<String, Long>()
            (m["msInEachState"] as? Map<*, *>)?.forEach { (k, v) ->
                if (k is String && v is Number) each[k] = v.toLong()
            }
            return RealtimeStats(
                version = long("version").toInt(),
                state = text("state"),
                connected = m["connected"] == true,
                namespace = text("namespace"),
                msInState = long("msInState"),
                msInEachState = each,
                connects = long("connects"),
                reconnects = long("reconnects"),
                failedAttempts = long("failedAttempts"),
                lastDisconnectReason = textOrNull("lastDisconnectReason"),
                transport = textOrNull("transport"),
                packetsIn = long("packetsIn"),
                framesIn = long("framesIn"),
                bytesIn = long("bytesIn"),
                packetsOut = long("packetsOut"),
                bytesOut = long("bytesOut"),
                emits = long("emits"),
                emitsBuffered = long("emitsBuffered"),
                bytesQueuedForSocket = long("bytesQueuedForSocket"),
                eventsWaitingForCallbacks = long("eventsWaitingForCallbacks"),
                bytesWaitingForCallbacks = long("bytesWaitingForCallbacks"),
                pendingAcks = long("pendingAcks"),
                acksAnswered = long("acksAnswered"),
                lastAckRoundTripUs = longOrNull("lastAckRoundTripUs"),
                lastPingRoundTripUs = longOrNull("lastPingRoundTripUs"),
                listeners = long("listeners"),
                json = json,
            )
        }
    }
}
