// swift-tools-version:6.0
// Swift wrapper of librealtime (a Socket.IO v5 client core behind a C ABI).
//
// The C module `CRealtime` is a module map over the repository's include/realtime.h; `Realtime` is the
// Swift API. librealtime is linked from REALTIME_LIB_DIR (default: <repo>/target/release, built with
// `cargo build --release`), with an rpath to it so tests and tools run without LD_LIBRARY_PATH.
// Set REALTIME_LIB_DIR to an empty string to add no flags at all (library installed in a default linker
// path, e.g. by `make install PREFIX=/usr/local`): the package then has no unsafe flags and can be
// used as a dependency of other packages.
import PackageDescription
import Foundation

let libDir: String = {
    if let dir = Context.environment["REALTIME_LIB_DIR"] { return dir }
    return URL(fileURLWithPath: Context.packageDirectory + "/../../target/release").standardized.path
}()

let linkerSettings: [LinkerSetting] = libDir.isEmpty
    ? []
    : [.unsafeFlags(["-L\(libDir)", "-Xlinker", "-rpath", "-Xlinker", libDir])]

let package = Package(
    name: "Realtime",
    products: [
        .library(name: "Realtime", targets: ["Realtime"]),
        .executable(name: "realtime-demo", targets: ["RealtimeDemo"]),
    ],
    targets: [
        .systemLibrary(name: "CRealtime", path: "Sources/CRealtime"),
        .target(name: "Realtime", dependencies: ["CRealtime"], linkerSettings: linkerSettings),
        .executableTarget(name: "RealtimeDemo", dependencies: ["Realtime"], linkerSettings: linkerSettings),
        .testTarget(name: "RealtimeTests", dependencies: ["Realtime"], linkerSettings: linkerSettings),
    ],
    // Swift 6 language mode: complete strict-concurrency checking (data races are errors).
    swiftLanguageModes: [.v6]
)
