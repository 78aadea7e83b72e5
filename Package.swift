// swift-tools-version:6.1
import Foundation
import PackageDescription

/// Debian 12 ships librdkafka 2.0.2, which cannot talk to Tansu (see DESIGN.md). `make` links a
/// newer runtime into `.parley/lib`; this rpath makes every binary of the package find it first,
/// so `swift run relay-svc` works without LD_LIBRARY_PATH. A missing folder is ignored.
/// Image builds set PARLEY_NO_RPATH=1: a shipped binary must not search a build machine's path.
let projectLib = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent(".parley/lib").path
let rpath: [LinkerSetting] = Context.environment["PARLEY_NO_RPATH"] == "1"
    ? [] : [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", projectLib])]

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ws-edge", targets: ["ws-edge"]),
        .executable(name: "relay-svc", targets: ["relay-svc"]),
        .executable(name: "presence-svc", targets: ["presence-svc"]),
        .executable(name: "offline-svc", targets: ["offline-svc"]),
        .executable(name: "parley-admin", targets: ["parley-admin"]),
        // For the micro-benchmarks package in Benchmarks/.
        .library(name: "ParleyProtocol", targets: ["ParleyProtocol"]),
        .library(name: "ParleyChat", targets: ["ParleyChat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP/HTTP only: the gRPC exporter's dependencies would double the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Tests only: property-based differential tests of the wire reader.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CRDKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM refuses with a warning;
        // the shim includes <hiredis/hiredis.h> from the default include path.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),

        // Clients over the C libraries.
        .target(
            name: "ParleyKafka",
            dependencies: ["CRDKafka", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict, linkerSettings: rpath),
        .target(
            name: "ParleyRedis",
            dependencies: ["CHiredis", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),

        // The wire: client frames, Kafka envelopes, topic names, validation limits.
        .target(name: "ParleyProtocol", swiftSettings: strict),

        // Process plumbing every executable shares: settings, lifecycle, logging, metrics, health,
        // consumer loops and topic set-up. No chat domain, no Redis.
        .target(
            name: "ParleyServiceKit",
            dependencies: [
                "ParleyKafka", "ParleyProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: strict, linkerSettings: rpath),
        // The chat domain edges and services share over Kafka: batched envelope records, deliver batches.
        .target(name: "ParleyChat", dependencies: ["ParleyKafka", "ParleyProtocol"], swiftSettings: strict),
        // What the backend services (relay, presence, offline) share: Redis settings and keys, the
        // backbone they start with. Edges never depend on it (they never talk to Redis).
        .target(
            name: "ParleyBackend",
            dependencies: ["ParleyServiceKit", "ParleyChat", "ParleyRedis", "ParleyKafka", "ParleyProtocol",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict, linkerSettings: rpath),

        // Each service is a library (buildApplication, testable) and a tiny executable.
        .target(
            name: "Edge",
            dependencies: [
                "ParleyServiceKit", "ParleyChat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/ws-edge/Edge", swiftSettings: strict),
        .executableTarget(
            name: "ws-edge", dependencies: ["Edge"], path: "Sources/ws-edge/Main",
            swiftSettings: strict, linkerSettings: rpath),
        .target(name: "Relay", dependencies: ["ParleyBackend", "ParleyChat", "ParleyRedis", "ParleyServiceKit"], path: "Sources/relay-svc",
                exclude: ["Main"], swiftSettings: strict),
        .executableTarget(
            name: "relay-svc", dependencies: ["Relay"], path: "Sources/relay-svc/Main",
            swiftSettings: strict, linkerSettings: rpath),
        .target(name: "Presence", dependencies: ["ParleyBackend", "ParleyChat", "ParleyRedis", "ParleyServiceKit"], path: "Sources/presence-svc/Presence", swiftSettings: strict),
        .executableTarget(
            name: "presence-svc", dependencies: ["Presence"], path: "Sources/presence-svc/Main",
            swiftSettings: strict, linkerSettings: rpath),
        .target(name: "Offline", dependencies: ["ParleyBackend", "ParleyChat", "ParleyRedis", "ParleyServiceKit"], path: "Sources/offline-svc/Offline", swiftSettings: strict),
        .executableTarget(
            name: "offline-svc", dependencies: ["Offline"], path: "Sources/offline-svc/Main",
            swiftSettings: strict, linkerSettings: rpath),

        // Operators' tool: where a message is (`parley-admin trace <msg id>`), read from Kafka and Redis.
        .target(name: "Admin", dependencies: ["ParleyBackend", "ParleyKafka", "ParleyRedis", "ParleyServiceKit", "ParleyProtocol",
                                              .product(name: "Logging", package: "swift-log")],
                path: "Sources/parley-admin/Admin", swiftSettings: strict),
        .executableTarget(
            name: "parley-admin", dependencies: ["Admin"], path: "Sources/parley-admin/Main",
            swiftSettings: strict, linkerSettings: rpath),

        // libFuzzer target over the protocol's readers: `make fuzz` builds it with
        // --sanitize fuzzer,address (scripts/fuzz.sh); a plain build replays saved inputs.
        .executableTarget(
            name: "ProtocolFuzz", dependencies: ["ParleyProtocol"], path: "Fuzz/ProtocolFuzz",
            exclude: ["corpus", "wire.dict"], swiftSettings: strict),

        // Tests. ParleyTestSupport starts real redis-server and Tansu processes for them.
        .target(
            name: "ParleyTestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Tests/ParleyTestSupport", swiftSettings: strict),
        .testTarget(
            name: "ParleyKafkaTests",
            dependencies: ["ParleyKafka", "CRDKafka", "ParleyTestSupport",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict, linkerSettings: rpath),
        .testTarget(
            name: "ParleyRedisTests", dependencies: ["ParleyRedis", "ParleyTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ProtocolTests",
            dependencies: ["ParleyProtocol", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strict),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: ["ParleyServiceKit", "ParleyTestSupport",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict, linkerSettings: rpath),
        // ws-edge's own types (sessions, loops, hub, rate limits) on NIO's embedded and real
        // event loops, without a broker.
        .testTarget(
            name: "EdgeTests",
            dependencies: ["Edge", "ParleyProtocol",
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOWebSocket", package: "swift-nio")],
            swiftSettings: strict, linkerSettings: rpath),
        // Each service alone against the real broker and redis-server: feed its input topics,
        // check its output topics and Redis state.
        .testTarget(
            name: "ServiceTests",
            dependencies: ["Edge", "Relay", "Presence", "Offline", "ParleyBackend", "ParleyChat", "ParleyRedis", "ParleyTestSupport",
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket")],
            swiftSettings: strict, linkerSettings: rpath),
        // Static checks of compose/ and deploy/ against the executables' settings.
        .testTarget(
            name: "DeployTests",
            dependencies: ["Edge", "Relay", "Presence", "Offline", "Admin", "ParleyTestSupport",
                           .product(name: "Yams", package: "Yams")],
            swiftSettings: strict, linkerSettings: rpath),
    ]
)
