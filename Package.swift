// swift-tools-version:6.1
import PackageDescription

/// One set of settings for every target: Swift 6 mode, explicit existentials, and imports that do not leak.
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The one module compiled for a CPU feature beyond the baseline: SSE 4.2's `crc32` instruction on x86-64 (Swift has no
/// per-function target attribute, so the module as a whole is). SightlineCore calls it only where the CPU has it.
#if arch(x86_64)
let hardwareCRCSettings: [SwiftSetting] = settings + [.unsafeFlags(["-Xcc", "-msse4.2"])]
#else
let hardwareCRCSettings: [SwiftSetting] = settings
#endif

let package = Package(
    name: "Sightline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sightline", targets: ["sightline"]),
        .library(name: "AuditKit", targets: ["AuditKit"]),
        .library(name: "AuditKitPostgres", targets: ["AuditKitPostgres"]),
        .library(name: "AuditKitGRDB", targets: ["AuditKitGRDB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // Data model, errors, byte codecs and the store protocols. Depends on no other Sightline module but the
        // hardware CRC-32C.
        .target(
            name: "SightlineCore",
            dependencies: ["SightlineCRC32CHardware"],
            swiftSettings: settings
        ),
        // CRC-32C through the CPU's instruction (x86-64 SSE 4.2); empty elsewhere.
        .target(
            name: "SightlineCRC32CHardware",
            swiftSettings: hardwareCRCSettings
        ),
        // What every embedded store shares: the write-ahead log and file helpers.
        .target(
            name: "SightlineStorageCore",
            dependencies: ["SightlineCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        // Wire protocols: bytes in, shared data model out. Knows nothing of stores or HTTP.
        .target(
            name: "SightlineIngest",
            dependencies: ["SightlineCore"],
            swiftSettings: settings
        ),
        // The time-series engine: head of compressed chunks, immutable blocks with an inverted index, compaction.
        .target(
            name: "SightlineTSDB",
            dependencies: ["SightlineCore", "SightlineStorageCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        // Pull collection: scrape configs, relabeling, the scrape loops and their small HTTP client.
        .target(
            name: "SightlineScrape",
            dependencies: [
                "SightlineCore", "SightlineIngest",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        // Query languages: PromQL (and later LogQL), over the store protocols only.
        .target(
            name: "SightlineQuery",
            dependencies: ["SightlineCore"],
            swiftSettings: settings
        ),
        // Alerting: rule evaluation over the query engines, and the notifier (routing, grouping, silences, receivers).
        .target(
            name: "SightlineAlerting",
            dependencies: [
                "SightlineCore", "SightlineStorageCore", "SightlineQuery",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: settings
        ),
        // The trace engine: time-partitioned columnar parts with a trace-id index, a head, retention and merges.
        .target(
            name: "SightlineTraceStore",
            dependencies: ["SightlineCore", "SightlineStorageCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        // The log engine: per-stream heads, immutable columnar LZ4 parts with trigram filters, merges, rollover, retention.
        .target(
            name: "SightlineLogStore",
            dependencies: ["SightlineCore", "SightlineStorageCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        // The audit engine: append-only, hash-chained segments per tenant, signed digests, verification, retention with holds.
        .target(
            name: "SightlineAuditStore",
            dependencies: [
                "SightlineCore", "SightlineStorageCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: settings
        ),
        // The ClickHouse backend: the store protocols over ClickHouse's HTTP interface, for servers that scale out.
        // It uses the audit store's chain rules (hashing, digests, verification) for the audit trail on ClickHouse.
        .target(
            name: "SightlineClickHouse",
            dependencies: [
                "SightlineCore", "SightlineStorageCore", "SightlineAuditStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        // A small unary gRPC server over HTTP/2 (no TLS), for OTLP/gRPC in the server and in the agent.
        .target(
            name: "SightlineGRPC",
            dependencies: [
                "SightlineCore", "SightlineIngest",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: settings
        ),
        // A NATS client over NIO (core protocol, request/reply, the JetStream subset a durable work queue needs).
        .target(
            name: "SightlineNATS",
            dependencies: [
                "SightlineCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: settings
        ),
        // The host agent: file tailing, transforms, the on-disk buffer and delivery to a server. Never imports the server.
        .target(
            name: "SightlineAgent",
            dependencies: [
                "SightlineCore", "SightlineStorageCore", "SightlineIngest", "SightlineScrape", "SightlineGRPC", "SightlineNATS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: settings
        ),
        // HTTP and gRPC APIs, auth, the ingestion pipeline and the service group.
        .target(
            name: "SightlineServer",
            dependencies: [
                "SightlineCore", "SightlineStorageCore", "SightlineIngest", "SightlineTSDB", "SightlineScrape",
                "SightlineQuery", "SightlineTraceStore", "SightlineLogStore", "SightlineAlerting", "SightlineAuditStore", "SightlineGRPC",
                "SightlineClickHouse", "SightlineNATS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            // The web UI: static HTML, CSS and JavaScript modules, no build step (see HTTP/WebUI.swift).
            resources: [.copy("UI")],
            swiftSettings: settings
        ),
        // The `sightline` executable: flags in, services out.
        .executableTarget(
            name: "sightline",
            dependencies: [
                "SightlineServer", "SightlineScrape", "SightlineAlerting", "SightlineQuery", "SightlineAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: settings
        ),
        // Micro-benchmarks run by scripts/bench (not tests): WAL append against raw write+fsync, log store ingestion and size.
        .executableTarget(
            name: "SightlineBenchmarks",
            dependencies: [
                "SightlineCore", "SightlineStorageCore", "SightlineIngest", "SightlineLogStore", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/SightlineBenchmarks",
            swiftSettings: settings
        ),
        // AuditKit, the library apps use to write audit events in their own transactions and relay them to Sightline.
        // Depends on no Sightline module, and on neither database, so the server never links SQLite or postgres-nio.
        .target(
            name: "AuditKit",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: settings
        ),
        // AuditKit's outbox in PostgreSQL (postgres-nio): record in the app's transaction, migration, relay store.
        .target(
            name: "AuditKitPostgres",
            dependencies: ["AuditKit", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        // AuditKit's outbox in SQLite (GRDB, linking the system SQLite): record in the app's transaction, migration, relay store.
        .target(
            name: "AuditKitGRDB",
            dependencies: ["AuditKit", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: settings
        ),
        // Example app for AuditKit: invoices and transfers over SQLite or PostgreSQL, audited into Sightline.
        .executableTarget(
            name: "invoice-app",
            dependencies: [
                "AuditKit", "AuditKitGRDB", "AuditKitPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/InvoiceApp",
            swiftSettings: settings
        ),
        // AuditKit benchmarks run by scripts/bench/audit.sh: latency added to a transaction, relay throughput.
        .executableTarget(
            name: "AuditKitBenchmark",
            dependencies: [
                "AuditKit", "AuditKitGRDB", "AuditKitPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/AuditKitBenchmark",
            swiftSettings: settings
        ),
        // Helpers several test targets share: a seeded generator, temporary directories, error expectations, fixture paths.
        .target(
            name: "SightlineTestSupport",
            dependencies: ["SightlineCore"],
            path: "Tests/SightlineTestSupport",
            swiftSettings: settings
        ),
        .testTarget(name: "SightlineCoreTests", dependencies: ["SightlineCore"], swiftSettings: settings),
        .testTarget(
            name: "AuditKitTests",
            dependencies: [
                "AuditKit", "AuditKitGRDB", "AuditKitPostgres", "SightlineTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineStorageCoreTests",
            dependencies: ["SightlineStorageCore", "SightlineTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineLogStoreTests",
            dependencies: ["SightlineLogStore", "SightlineQuery", "SightlineTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineTSDBTests",
            dependencies: ["SightlineTSDB", "SightlineTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineScrapeTests",
            dependencies: [
                "SightlineScrape",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineTraceStoreTests",
            dependencies: ["SightlineTraceStore", "SightlineTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        .testTarget(name: "SightlineQueryTests", dependencies: ["SightlineQuery", "SightlineTestSupport"], swiftSettings: settings),
        .testTarget(
            name: "SightlineAlertingTests",
            dependencies: [
                "SightlineAlerting", "SightlineQuery", "SightlineTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineAgentTests",
            dependencies: ["SightlineAgent", "SightlineIngest", "SightlineScrape", "SightlineNATS", "SightlineTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineClickHouseTests",
            dependencies: [
                "SightlineClickHouse", "SightlineTestSupport", "SightlineQuery", "SightlineLogStore", "SightlineTraceStore", "SightlineTSDB",
                "SightlineStorageCore", "SightlineAuditStore", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineAuditStoreTests",
            dependencies: ["SightlineAuditStore", "SightlineTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: settings
        ),
        .testTarget(name: "SightlineIngestTests", dependencies: ["SightlineIngest", "SightlineTestSupport"], swiftSettings: settings),
        .testTarget(
            name: "SightlineNATSTests",
            dependencies: [
                "SightlineNATS", "SightlineTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: settings
        ),
        .testTarget(
            name: "SightlineServerTests",
            dependencies: [
                "SightlineServer", "SightlineQuery", "SightlineTraceStore", "SightlineLogStore", "SightlineTestSupport", "SightlineAlerting",
                "SightlineNATS", "SightlineGRPC",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            swiftSettings: settings
        ),
    ]
)
