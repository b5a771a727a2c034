// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-cpg",
    products: [
        .library(name: "CPG", targets: ["CPG"]),
        .library(name: "CPGTesting", targets: ["CPGTesting"]),
        .executable(name: "cpgctl", targets: ["cpgctl"]),
        .executable(name: "cpg-chat", targets: ["Chat"]),
        .executable(name: "cpg-demo", targets: ["Demo"]),
        .executable(name: "cpg-kv", targets: ["KeyValueStore"]),
        .executable(name: "cpg-leader", targets: ["LeaderElection"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        // `swift package generate-documentation --target CPG` builds the DocC catalogs.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The one place that sees libcpg's C API (Debian: libcpg-dev, libcorosync-common-dev).
        .systemLibrary(
            name: "CLibCPG",
            providers: [.apt(["libcpg-dev", "libcorosync-common-dev"])]
        ),
        // libcmap, read for the node names of corosync's nodelist (Debian: libcmap-dev).
        .systemLibrary(
            name: "CLibCMap",
            providers: [.apt(["libcmap-dev", "libcorosync-common-dev"])]
        ),
        .target(
            name: "CPG",
            dependencies: [
                "CLibCPG",
                "CLibCMap",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Real N-node corosync clusters in network namespaces, with faults, for tests.
        .target(
            name: "CPGTesting",
            dependencies: ["CPG", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "cpgctl",
            dependencies: [
                "CPG",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A plain-C libcpg member, used by the tests to prove interoperability.
        .executableTarget(
            name: "cpg-c-peer",
            path: "Tests/Support/cpg-c-peer",
            linkerSettings: [.linkedLibrary("cpg")]
        ),
        .executableTarget(
            name: "Chat",
            dependencies: ["CPG", .product(name: "Logging", package: "swift-log")],
            path: "Samples/Chat",
            exclude: ["README.md"]
        ),
        .executableTarget(
            name: "Demo",
            dependencies: ["CPG", .product(name: "Logging", package: "swift-log")],
            path: "Samples/Demo",
            exclude: ["README.md"]
        ),
        // The replicated key-value store sample: its logic (a library the tests use) and its tool.
        .target(
            name: "ReplicatedKV",
            dependencies: ["CPG", .product(name: "Logging", package: "swift-log")],
            path: "Samples/KeyValueStore/Sources/ReplicatedKV"
        ),
        .executableTarget(
            name: "KeyValueStore",
            dependencies: ["CPG", "ReplicatedKV"],
            path: "Samples/KeyValueStore/Sources/KeyValueStore"
        ),
        .executableTarget(
            name: "LeaderElection",
            dependencies: ["CPG"],
            path: "Samples/LeaderElection",
            exclude: ["README.md"]
        ),
        .testTarget(name: "CPGClusterTests", dependencies: ["CPG", "CPGTesting", "cpg-c-peer"]),
        .testTarget(name: "CPGChannelTests", dependencies: ["CPG", "CPGTesting", "cpg-c-peer"]),
        .testTarget(name: "CPGSampleTests", dependencies: ["CPG", "CPGTesting", "ReplicatedKV", "LeaderElection"]),
        .testTarget(
            name: "CPGTestingTests",
            dependencies: ["CPGTesting", "cpg-c-peer"]
        ),
        .testTarget(
            name: "CPGCtlTests",
            dependencies: ["CPG", "CPGTesting", "cpgctl"]
        ),
        .testTarget(
            name: "CPGStateMachineTests",
            dependencies: ["CPG"]
        ),
        .testTarget(
            name: "CPGTests",
            dependencies: [
                "CPG",
                "CPGTesting",
                "cpg-c-peer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]
        ),
    ]
)
