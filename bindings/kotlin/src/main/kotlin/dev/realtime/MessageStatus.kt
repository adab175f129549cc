package dev.realtime

/**
 * The fate of one tracked emit ([RealtimeClient.emitTracked], realtime_emit_tracked): [Queued] (offline)
 * or [Sent], possibly again — a message sent but not acknowledged when the connection drops goes back to
 * the offline buffer and is sent again after the reconnect, so delivery is at least once —, then exactly
 * one final status ([isFinal]): [Acked], [Expired] or [Failed]. Nothing follows the final status.
 */
sealed class MessageStatus(
    /** [Acked], [Expired] and [Failed] are final: the last status of the message. */
    val isFinal: Boolean,
) {
    /** Waiting offline for the connection (again after a lost connection: it will be resent). */
    data object Queued : MessageStatus(false)

    /** Handed to the connection. */
    data object Sent : MessageStatus(false)

    /** Final: the server acknowledged it; [argsJson] is its answer (a JSON array). */
    data class Acked(val argsJson: String) : MessageStatus(true)

    /** Final: its time to live passed before it could be sent; it never was. */
    data object Expired : MessageStatus(true)

    /**
     * Final: sent, but not acknowledged within its time to live, or [RealtimeClient.disconnect] was called
     * after it was sent; [reason] says which.
     */
    data class Failed(val reason: String) : MessageStatus(true)

    internal companion object {
        /** The status of C value [code] (realtime_message_status), or null for a value this version does not know. */
        fun of(code: Int, detail: String): MessageStatus? = when (code) {
            0 -> Queued
            1 -> Sent
            2 -> Acked(detail)
            3 -> Expired
            4 -> Failed(detail)
            else -> null
        }
    }
}
