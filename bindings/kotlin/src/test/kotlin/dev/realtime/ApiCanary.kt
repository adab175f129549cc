package dev.realtime

import java.lang.invoke.VarHandle
import java.lang.ref.Cleaner
import java.util.concurrent.Flow

/** Test classes only: what the library must not use, for AndroidApiTest to prove that it catches them. */
internal class ApiCanary {
    fun cleaner(): Cleaner = Cleaner.create()

    fun varHandle(h: VarHandle?): VarHandle? = h

    fun flow(p: Flow.Publisher<String>?): Flow.Publisher<String>? = p
}
