// swift-tools-version:6.0
// Swift wrapper of librealtime (a Socket.IO v5 client core behind a C ABI).
//
// `CRealtime` is a system library target over the C header, found through pkg-config (`realtime.pc`):
// either installed (`make install PREFIX=…` writes <prefix>/lib/pkgconfig/realtime.pc) or the one
// `make swift-pc` writes for the build tree (target/release/pkgconfig). Point PKG_CONFIG_PATH at its
// directory when it is not in pkg-config's default search path. `Realtime` is the Swift API.
// No unsafe flags: other packages can depend on this one.
import PackageDescription

let package = Package(
    name: "Realtime",
    products: [
        .library(name: "Realtime", targets: ["Realtime"]),
        .executable(name: "realtime-demo", targets: ["RealtimeDemo"]),
    ],
    targets: [
        .systemLibrary(name: "CRealtime", path: "Sources/CRealtime", pkgConfig: "realtime"),
        .target(name: "Realtime", dependencies: ["CRealtime"]),
        .executableTarget(name: "RealtimeDemo", dependencies: ["Realtime"]),
        .testTarget(name: "RealtimeTests", dependencies: ["Realtime"]),
    ],
    // Swift 6 language mode: complete strict-concurrency checking (data races are errors).
    swiftLanguageModes: [.v6]
)
