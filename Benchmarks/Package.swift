// swift-tools-version: 6.1
// Benchmarks for swift-cpg, a package of their own so the library's build never sees them.
//
// Run everything with `scripts/bench` from the repository root (it builds this package in
// release mode, makes sure a corosync answers, and writes RESULTS.md next to this file).
import PackageDescription

let package = Package(
    name: "swift-cpg-benchmarks",
    dependencies: [
        .package(name: "swift-cpg", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        // The raw-C libcpg baseline (corosync's cpgbench pipeline and friends), callable from Swift.
        .target(
            name: "CPGBaseline",
            linkerSettings: [.linkedLibrary("cpg"), .linkedLibrary("cmap"), .linkedLibrary("pthread")]
        ),
        // A plain-C member for child processes: sender, echo peer, stalled receiver.
        .executableTarget(
            name: "cpg-bench-peer",
            dependencies: ["CPGBaseline"],
            path: "Sources/CPGBenchPeer"
        ),
        // Counts malloc calls process-wide by defining malloc & co. in the executable (no LD_PRELOAD).
        .target(name: "CAllocationCounter"),
        // What glibc's allocator holds (bytes in use, bytes held, arenas): the soak's leak check.
        .target(name: "CHeapStatistics"),
        // The harness: runs every measurement, Swift and C side by side, and prints the table.
        .executableTarget(
            name: "cpg-bench",
            dependencies: [
                .product(name: "CPG", package: "swift-cpg"),
                // A private corosync to stop with SIGSTOP for the flow-control measurement.
                .product(name: "CPGTesting", package: "swift-cpg"),
                // Counts the sends that waited for corosync's flow control (a group metric).
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "CPGBaseline",
                "CAllocationCounter",
            ],
            path: "Sources/CPGBench"
        ),
        // The soak: a 3-node private cluster, daemon restarts, supervised reconnect (scripts/soak).
        .executableTarget(
            name: "cpg-soak",
            dependencies: [
                .product(name: "CPG", package: "swift-cpg"),
                .product(name: "CPGTesting", package: "swift-cpg"),
                .product(name: "Logging", package: "swift-log"),
                "CHeapStatistics",
            ],
            path: "Sources/CPGSoak"
        ),
    ]
)
