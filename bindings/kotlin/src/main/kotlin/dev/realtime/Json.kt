package dev.realtime

/**
 * A minimal JSON writer for options and arguments, so the library needs no JSON dependency.
 * Accepts null, String, Boolean, Number (finite), Map (string keys), Iterable, Array, and [Raw]
 * (JSON text inserted as is).
 *
 *     Json.encode(mapOf("auth" to mapOf("token" to "abc"), "reconnectionDelay" to 100))
 *     Json.array("hello", 42)   // ["hello",42]
 */
object Json {
    /** JSON text inserted verbatim. */
    class Raw(val json: String)

    fun encode(value: Any?): String = StringBuilder().also { write(it, value) }.toString()

    fun array(vararg values: Any?): String = encode(values.asList())

    fun quote(s: String): String = StringBuilder().also { writeString(it, s) }.toString()

    private fun write(out: StringBuilder, value: Any?) {
        when (value) {
            null -> out.append("null")
            is Raw -> out.append(value.json)
            is String -> writeString(out, value)
            is Boolean -> out.append(value)
            is Double, is Float -> {
                val d = (value as Number).toDouble()
                require(d.isFinite()) { "JSON cannot hold $d" }
                if (d == Math.rint(d) && Math.abs(d) < 1e15) out.append(d.toLong()) else out.append(d)
            }
            is Number -> out.append(value.toString())
            is Map<*, *> -> {
                out.append('{')
                var first = true
                for ((k, v) in value) {
                    require(k is String) { "JSON object keys must be strings, not $k" }
                    if (!first) out.append(',')
                    first = false
                    writeString(out, k)
                    out.append(':')
                    write(out, v)
                }
                out.append('}')
            }
            is Iterable<*> -> writeList(out, value)
            is Array<*> -> writeList(out, value.asList())
            is IntArray -> writeList(out, value.asList())
            is LongArray -> writeList(out, value.asList())
            else -> throw IllegalArgumentException("cannot write ${value::class.java.name} as JSON")
        }
    }

    private fun writeList(out: StringBuilder, list: Iterable<*>) {
        out.append('[')
        var first = true
        for (v in list) {
            if (!first) out.append(',')
            first = false
            write(out, v)
        }
        out.append(']')
    }

    private fun writeString(out: StringBuilder, s: String) {
        out.append('"')
        for (c in s) {
            when (c) {
                '"' -> out.append("\\\"")
                '\\' -> out.append("\\\\")
                '\n' -> out.append("\\n")
                '\r' -> out.append("\\r")
                '\t' -> out.append("\\t")
                '\b' -> out.append("\\b")
                '\u000C' -> out.append("\\f")
                else -> if (c < ' ' || c == '\u2028' || c == '\u2029') {
                    out.append(String.format("\\u%04x", c.code))
                } else {
                    out.append(c)
                }
            }
        }
        out.append('"')
    }
}
