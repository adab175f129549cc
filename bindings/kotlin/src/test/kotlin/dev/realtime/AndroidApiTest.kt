package dev.realtime

import java.io.DataInputStream
import java.io.File
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * A lint-like check that the compiled library (target/classes) references only JDK classes that Android
 * has at the library's minSdk, API 21. It reads the constant pool of every class file: the classes it
 * names (CONSTANT_Class) and the classes in its field, method and generic signatures (`Ljava/...;`).
 * Every platform class (java.*, javax.*, jdk.*, sun.*) must be in [API_21], a list of the classes the
 * library uses today, each checked against the Android reference ("Added in API level N"), or in
 * [GATED] for the classes named there only. It also requires no invokedynamic at all (lambdas and
 * string concatenation compiled as classes: see the Kotlin compiler arguments in pom.xml).
 * A class not in the list fails the test: check its API level before adding it.
 * Not covered: members (a method added after API 21 to a class that existed); the list names classes.
 */
class AndroidApiTest {
    /** Scanned references of one class file. */
    class Refs(val platformClasses: Set<String>, val hasInvokeDynamic: Boolean)

    companion object {
        /** JDK classes available at Android API 21 (all "Added in API level 1" unless noted). */
        val API_21 = setOf(
            "java/io/Closeable", "java/io/File", "java/io/FileOutputStream", "java/io/InputStream",
            "java/io/IOException", "java/io/OutputStream", "java/io/Serializable",
            "java/lang/AutoCloseable", // API 19
            "java/lang/Boolean", "java/lang/Byte", "java/lang/CharSequence", "java/lang/Character",
            "java/lang/Class", "java/lang/ClassCastException", "java/lang/Comparable", "java/lang/Double",
            "java/lang/Enum", "java/lang/Error", "java/lang/Exception", "java/lang/Float",
            "java/lang/IllegalArgumentException", "java/lang/IllegalStateException",
            "java/lang/IndexOutOfBoundsException", "java/lang/Integer", "java/lang/InterruptedException",
            "java/lang/Iterable", "java/lang/Long", "java/lang/Math", "java/lang/NullPointerException",
            "java/lang/Number", "java/lang/Object", "java/lang/Runnable", "java/lang/RuntimeException",
            "java/lang/Short", "java/lang/String", "java/lang/StringBuilder", "java/lang/System",
            "java/lang/Thread", "java/lang/Thread\$UncaughtExceptionHandler", "java/lang/Throwable",
            "java/lang/UnsatisfiedLinkError", "java/lang/UnsupportedOperationException", "java/lang/Void",
            "java/lang/ref/PhantomReference", "java/lang/ref/Reference", "java/lang/ref/ReferenceQueue",
            "java/nio/charset/Charset",
            "java/util/ArrayList", "java/util/Arrays", "java/util/Collection", "java/util/Collections",
            "java/util/HashMap", "java/util/HashSet", "java/util/Iterator", "java/util/LinkedHashMap",
            "java/util/List", "java/util/Locale", "java/util/Map", "java/util/Map\$Entry", "java/util/Set",
            "java/util/concurrent/CancellationException", // Job.cancel's parameter (kotlinx.coroutines)
            "java/util/concurrent/Executor", "java/util/concurrent/ExecutorService",
            "java/util/concurrent/Executors", "java/util/concurrent/RejectedExecutionException",
            "java/util/concurrent/ThreadFactory", "java/util/concurrent/TimeUnit",
            "java/util/concurrent/atomic/AtomicBoolean", "java/util/concurrent/atomic/AtomicInteger",
            "java/util/concurrent/atomic/AtomicLong", "java/util/concurrent/atomic/AtomicReference",
            "java/util/concurrent/locks/Condition", "java/util/concurrent/locks/Lock",
            "java/util/concurrent/locks/ReentrantLock",
        )

        /**
         * Classes of a later API level, allowed only in the named classes of the library (a class name or
         * a prefix ending in '$'): RealtimeClient.emitWithAckFuture returns a CompletableFuture (API 24);
         * on API 21-23 use the suspending emitWithAck.
         */
        val GATED = mapOf(
            "java/util/concurrent/CompletableFuture" to
                (24 to listOf("dev/realtime/RealtimeClient", "dev/realtime/RealtimeClient\$emitWithAckFuture\$")),
        )

        /** Known traps, kept out of [API_21] (the test asserts it): each with its Android API level. */
        val FORBIDDEN = mapOf(
            "java/lang/ref/Cleaner" to 33, "java/lang/ref/Cleaner\$Cleanable" to 33,
            "java/lang/invoke/VarHandle" to 33, "java/util/concurrent/Flow" to 30,
            "java/util/concurrent/Flow\$Publisher" to 30,
            "java/lang/invoke/LambdaMetafactory" to 26, "java/lang/invoke/StringConcatFactory" to 26,
            "java/nio/file/Files" to 26, "java/nio/file/Path" to 26, "java/nio/file/StandardCopyOption" to 26,
            "java/util/concurrent/CompletableFuture" to 24, "java/util/Optional" to 24,
            "java/util/function/Function" to 24, "java/util/stream/Stream" to 24, "java/time/Duration" to 26,
        )

        private val PLATFORM = Regex("^(java|javax|jdk|sun|com/sun)/")
        private val IN_DESCRIPTOR = Regex("L((?:java|javax|jdk|sun|com/sun)/[^;<>]+)[;<]")

        /** Reads the constant pool of [file] (JVMS §4.4). */
        fun scan(file: File): Refs {
            DataInputStream(file.inputStream().buffered()).use { input ->
                check(input.readInt() == 0xCAFEBABE.toInt()) { "$file is not a class file" }
                input.readUnsignedShort() // minor
                input.readUnsignedShort() // major
                val count = input.readUnsignedShort()
                val utf8 = arrayOfNulls<String>(count)
                val classIndexes = ArrayList<Int>()
                var indy = false
                var i = 1
                while (i < count) {
                    when (val tag = input.readUnsignedByte()) {
                        1 -> utf8[i] = input.readUTF()
                        3, 4 -> input.readInt()
                        5, 6 -> { input.readLong(); i++ } // two slots
                        7 -> classIndexes += input.readUnsignedShort()
                        8, 16, 19, 20 -> input.readUnsignedShort()
                        9, 10, 11, 12 -> input.readInt()
                        15 -> { input.readUnsignedByte(); input.readUnsignedShort() }
                        17 -> input.readInt()
                        18 -> { input.readInt(); indy = true }
                        else -> error("$file: unknown constant pool tag $tag at $i")
                    }
                    i++
                }
                val found = HashSet<String>()
                for (index in classIndexes) {
                    val name = utf8[index] ?: continue
                    if (name.startsWith("[")) {
                        IN_DESCRIPTOR.findAll(name).forEach { found += it.groupValues[1] }
                    } else if (PLATFORM.containsMatchIn(name)) {
                        found += name
                    }
                }
                for (s in utf8) if (s != null) IN_DESCRIPTOR.findAll(s).forEach { found += it.groupValues[1] }
                return Refs(found, indy)
            }
        }

        fun classFiles(dir: File): List<File> =
            dir.walkTopDown().filter { it.isFile && it.name.endsWith(".class") }.toList()

        /** The directory a class was loaded from (target/classes or target/test-classes). */
        fun classesDir(c: Class<*>): File = File(c.protectionDomain.codeSource.location.toURI())

        /** The violations of the classes under [dir], as readable lines (empty: all good). */
        fun violations(dir: File): List<String> {
            val out = ArrayList<String>()
            for (file in classFiles(dir)) {
                val name = file.relativeTo(dir).path.removeSuffix(".class").replace(File.separatorChar, '/')
                val refs = scan(file)
                if (refs.hasInvokeDynamic) out += "$name: uses invokedynamic (java.lang.invoke, Android API 26+)"
                for (ref in refs.platformClasses.sorted()) {
                    if (ref in API_21) continue
                    val gated = GATED[ref]
                    if (gated != null && gated.second.any { if (it.endsWith("$")) name.startsWith(it) else name == it }) {
                        continue
                    }
                    val level = FORBIDDEN[ref]?.let { "Android API $it" } ?: "not in the API 21 list"
                    out += "$name references ${ref.replace('/', '.')} ($level)"
                }
            }
            return out
        }
    }

    @Test
    fun `the library references only JDK classes of Android API 21`() {
        val dir = classesDir(RealtimeClient::class.java)
        val files = classFiles(dir)
        assertTrue(files.size > 20, "class files under $dir: ${files.size}")
        val all = files.flatMap { scan(it).platformClasses }.toSortedSet()
        println("AndroidApiTest: ${files.size} class files, ${all.size} JDK classes referenced: " +
            all.joinToString(" ") { it.substringAfterLast('/') })
        // The scan sees what it must (else an empty result would pass).
        assertTrue("java/lang/ref/PhantomReference" in all && "java/util/concurrent/Executor" in all, "$all")
        val violations = violations(dir)
        assertEquals(emptyList<String>(), violations, violations.joinToString("\n"))
    }

    @Test
    fun `the check catches Cleaner, VarHandle and Flow`() {
        // The canaries (ApiCanary.kt, test classes only) use what the library must not.
        assertTrue(FORBIDDEN.keys.none { it in API_21 }, "a known trap is in the API 21 list")
        val dir = classesDir(AndroidApiTest::class.java)
        val found = classFiles(dir).filter { it.name.startsWith("ApiCanary") }
        assertTrue(found.isNotEmpty(), "canary class files under $dir")
        val copy = kotlin.io.path.createTempDirectory("api-canary").toFile()
        try {
            for (f in found) f.copyTo(File(copy, "dev/realtime/${f.name}"))
            val report = violations(copy).joinToString("\n")
            for (trap in listOf("java.lang.ref.Cleaner (Android API 33)", "java.lang.invoke.VarHandle (Android API 33)",
                "java.util.concurrent.Flow")) {
                assertTrue(report.contains(trap), "the check reports $trap:\n$report")
            }
        } finally {
            copy.deleteRecursively()
        }
    }
}
