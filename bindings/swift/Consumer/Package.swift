// swift-tools-version:6.0
// A separate package that depends on bindings/swift the way an app does (by path here; an app may
// also use a git URL or a registry version, which SwiftPM allows only for packages without unsafe
// flags). Built and run by `make swift-consumer-test` against the bundled test server.
import PackageDescription

let package = Package(
    name: "RealtimeConsumer",
    products: [
        .executable(name: "realtime-consumer", targets: ["RealtimeConsumer"]),
    ],
    dependencies: [
        .package(name: "Realtime", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "RealtimeConsumer",
            dependencies: [.product(name: "Realtime", package: "Realtime")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
