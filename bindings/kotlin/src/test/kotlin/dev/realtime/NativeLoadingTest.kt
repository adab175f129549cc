package dev.realtime

import java.io.File
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Prints how Native loaded the library, and its version (run in a child JVM by NativeLoadingTest). */
object NativeLoadProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        println("${Native.loadedFrom} ${Native.str(Native.nVersion())}")
    }
}

/**
 * The loading order, each case in a fresh JVM (a library loads once per process): System.loadLibrary
 * first (what Android does with an AAR's jni/<abi>/), then the jar's copy. The jar's resource is in
 * target/classes, so it is on this classpath.
 */
class NativeLoadingTest {
    private fun probe(vararg jvmArgs: String): String {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val classpath = listOf(RealtimeClient::class.java, NativeLoadingTest::class.java, KotlinVersion::class.java)
            .joinToString(File.pathSeparator) { File(it.protectionDomain.codeSource.location.toURI()).path }
        val process = ProcessBuilder(listOf(java, *jvmArgs, "-cp", classpath, NativeLoadProbe::class.java.name))
            .redirectErrorStream(true)
            .start()
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the probe JVM ended")
        val out = process.inputStream.bufferedReader().readText().trim()
        assertEquals(0, process.exitValue(), out)
        return out
    }

    private val jniDir: File get() = File(System.getProperty("realtime.jni.lib")).parentFile

    @Test
    fun `System loadLibrary is tried first`() {
        val out = probe("-Djava.library.path=${jniDir.path}")
        assertTrue(out.startsWith("loadLibrary ${RealtimeClient.version}"), out)
    }

    @Test
    fun `the jar's copy is the fallback`() {
        val out = probe("-Djava.library.path=${File(jniDir, "nowhere").path}")
        assertTrue(out.startsWith("jar ${RealtimeClient.version}"), out)
    }

    @Test
    fun `the realtime jni lib property wins`() {
        val out = probe("-Drealtime.jni.lib=${System.getProperty("realtime.jni.lib")}", "-Djava.library.path=${jniDir.path}")
        assertTrue(out.startsWith("property ${RealtimeClient.version}"), out)
    }
}
