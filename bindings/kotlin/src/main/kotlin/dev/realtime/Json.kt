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

    /**
     * Parses JSON text: null, Boolean, String, Long (an integer that fits) or Double, List<Any?>,
     * Map<String, Any?> (in document order). Throws IllegalArgumentException for invalid JSON.
     */
    /** [parse] for a JSON array text (event and ack arguments). */
    internal fun parseArray(text: String): List<Any?> {
        val v = parse(text)
        require(v is List<*>) { "not a JSON array: $text" }
        return v
    }

    internal fun parse(text: String): Any? {
        val p = Parser(text)
        p.skipSpace()
        val v = p.value(0)
        p.skipSpace()
        if (p.pos != text.length) p.fail("trailing characters")
        return v
    }

    private class Parser(val s: String) {
        var pos = 0

        fun fail(what: String): Nothing = throw IllegalArgumentException("invalid JSON at $pos: $what")

        fun skipSpace() {
            while (pos < s.length && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t')) pos++
        }

        fun value(depth: Int): Any? {
            if (depth > 512) fail("nested too deeply")
            if (pos >= s.length) fail("unexpected end")
            return when (s[pos]) {
                '{' -> obj(depth)
                '[' -> arr(depth)
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        fun literal(word: String, v: Any?): Any? {
            if (!s.startsWith(word, pos)) fail("unexpected character")
            pos += word.length
            return v
        }

        fun obj(depth: Int): Map<String, Any?> {
            pos++
            val out = LinkedHashMap<String, Any?>()
            skipSpace()
            if (pos < s.length && s[pos] == '}') { pos++; return out }
            while (true) {
                skipSpace()
                if (pos >= s.length || s[pos] != '"') fail("expected a member name")
                val k = string()
                skipSpace()
                if (pos >= s.length || s[pos] != ':') fail("expected ':'")
                pos++
                skipSpace()
                out[k] = value(depth + 1)
                skipSpace()
                if (pos >= s.length) fail("unexpected end")
                when (s[pos++]) {
                    ',' -> continue
                    '}' -> return out
                    else -> { pos--; fail("expected ',' or '}'") }
                }
            }
        }

        fun arr(depth: Int): List<Any?> {
            pos++
            val out = ArrayList<Any?>()
            skipSpace()
            if (pos < s.length && s[pos] == ']') { pos++; return out }
            while (true) {
                skipSpace()
                out.add(value(depth + 1))
                skipSpace()
                if (pos >= s.length) fail("unexpected end")
                when (s[pos++]) {
                    ',' -> continue
                    ']' -> return out
                    else -> { pos--; fail("expected ',' or ']'") }
                }
            }
        }

        fun string(): String {
            pos++ // the opening quote
            val out = StringBuilder()
            while (true) {
                if (pos >= s.length) fail("unterminated string")
                val c = s[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (pos >= s.length) fail("unterminated string")
                        when (val e = s[pos++]) {
                            '"' -> out.append('"')
                            '\\' -> out.append('\\')
                            '/' -> out.append('/')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (pos + 4 > s.length) fail("bad \\u escape")
                                val code = s.substring(pos, pos + 4).toIntOrNull(16) ?: fail("bad \\u escape")
                                out.append(code.toChar())
                                pos += 4
                            }
                            else -> fail("bad escape \\$e")
                        }
                    }
                    c < ' ' -> fail("control character in a string")
                    else -> out.append(c)
                }
            }
        }

        fun number(): Number {
            val start = pos
            if (pos < s.length && s[pos] == '-') pos++
            var integral = true
            while (pos < s.length) {
                val c = s[pos]
                if (c in '0'..'9') {
                    pos++
                } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                    integral = false
                    pos++
                } else {
                    break
                }
            }
            val text = s.substring(start, pos)
            if (text.isEmpty() || text == "-") fail("unexpected character")
            if (integral) text.toLongOrNull()?.let { return it }
            return text.toDoubleOrNull() ?: fail("bad number $text")
        }
    }
}
