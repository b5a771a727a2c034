import Foundation
import Glibc
import Logging

/// A real corosync 3 cluster of N nodes on this machine, with faults on demand.
///
/// Each node is a network namespace with one `corosync` daemon in it, started
/// in a private mount namespace so it has its own `/run` and
/// `/var/lib/corosync`. The nodes' veth interfaces hang off a bridge that
/// lives in a namespace of its own, on a private /24 (`10.213.X.0/24`) that
/// exists only inside these namespaces: nothing is added to the root network
/// namespace, and no traffic leaves the cluster's namespaces.
///
/// Needs root, `ip` (iproute2), `unshare`, `setpriv`, `mount` and corosync 3
/// with its tools.
///
/// ```swift
/// try await LocalCluster.withCluster(nodes: 3) { cluster in
///     let node3 = cluster.nodes[2]
///     try await cluster.partition(node3)   // returns once both sides see the split
///     try await cluster.heal(node3)        // returns once all three are one membership again
/// }
/// ```
///
/// Every fault returns once the membership has settled: every running daemon
/// reports exactly the members it can reach, with one ring id per connected
/// group. The waits observe the daemons (`corosync-quorumtool` in each
/// namespace); they are not fixed sleeps. Faults are meant to be called one at
/// a time.
///
/// Clients reach node i's daemon from inside `nodes[i].namespace` (libqb IPC
/// uses abstract unix sockets, which are per network namespace): enter it on a
/// thread with `setns(2)` (see ``NetworkNamespace/perform(_:)``), or start a
/// process there with ``run(_:onNode:)``.
///
/// Cleanup: ``stop()`` (or leaving ``withCluster(nodes:options:logger:isolation:_:)``)
/// kills every process the cluster started or that lives in its namespaces,
/// deletes the namespaces (and with them interfaces and mounts) and the state
/// directory. Daemons and node processes die with the test process even if it
/// crashes, and ``start(nodes:options:logger:)`` removes leftovers of earlier
/// runs whose process is gone.
public actor LocalCluster {
    /// The nodes, node ids 1...N in order.
    public nonisolated let nodes: [ClusterNode]
    /// This run's unique id, `cpgt-<pid>-<tag>`: the prefix of every namespace
    /// and the name of the state directory.
    public nonisolated let runID: String
    /// The corosync `cluster_name` (the run id).
    public nonisolated let clusterName: String
    /// The cluster's private network, e.g. `10.213.77.0/24`; node i has `.10+i`.
    public nonisolated let subnet: String
    /// The namespace that holds the bridge(s) every node's veth is attached to.
    public nonisolated let bridgeNamespace: NetworkNamespace
    /// The directory holding every node's state directory (`<stateRoot>/<runID>`).
    public nonisolated let stateDirectory: String
    /// The options the cluster was started with.
    public nonisolated let options: LocalClusterOptions

    /// How long ``start(nodes:options:logger:)`` took from its call until every
    /// daemon reported the full membership.
    public private(set) var startupDuration: Duration = .zero

    let logger: Logger
    let clock = ContinuousClock()

    var daemons: [UInt32: SpawnedProcess] = [:]
    var daemonStates: [UInt32: DaemonState] = [:]
    /// Nodes cut off by ``partition(_:)`` (their bridge port is detached).
    var isolated: Set<UInt32> = []
    /// Which bridge (`br<k>` in the bridge namespace) each node's veth is attached to.
    var segments: [UInt32: Int] = [:]
    var bridges: Set<Int> = []
    var children: [ChildProcess] = []
    /// Every daemon pid this cluster ever had, to check for shared-memory leftovers.
    var daemonHistory: [pid_t] = []
    var teardown: Task<Void, Never>?

    init(identity: RunIdentity, nodeCount: Int, options: LocalClusterOptions, logger: Logger) {
        let runID = identity.runID
        let subnetPrefix = "10.213.\(identity.subnetOctet)"
        let stateDirectory = "\(options.stateRoot)/\(runID)"
        self.runID = runID
        self.clusterName = runID
        self.subnet = "\(subnetPrefix).0/24"
        self.bridgeNamespace = NetworkNamespace(name: "\(runID)-br")
        self.stateDirectory = stateDirectory
        self.options = options
        var logger = logger
        logger[metadataKey: "cluster"] = "\(runID)"
        self.logger = logger
        self.nodes = (1...nodeCount).map { index in
            ClusterNode(
                id: UInt32(index),
                name: "node\(index)",
                address: "\(subnetPrefix).\(10 + index)",
                namespace: NetworkNamespace(name: "\(runID)-n\(index)"),
                stateDirectory: "\(stateDirectory)/node\(index)")
        }
    }

    /// A cluster released without ``stop()`` kills its processes at once and
    /// removes its namespaces and files in the background.
    deinit {
        guard teardown == nil else { return }
        let processes = children
        let running = Array(daemons.values)
        for child in processes {
            child.kill()
        }
        for daemon in running {
            daemon.send(SIGKILL)
        }
        let runID = runID
        let stateDirectory = stateDirectory
        let logger = logger
        logger.warning("released without stop(); removing \(runID) in the background")
        Task.detached {
            for daemon in running {
                _ = await daemon.terminated
                SharedMemoryLeftovers.remove(daemonPID: daemon.pid)
            }
            await RunRemover.remove(runID: runID, stateDirectory: stateDirectory, logger: logger)
        }
    }

    /// Builds an N-node cluster and returns once every daemon reports a membership of all N nodes.
    ///
    /// Leftovers of earlier runs whose process is gone are removed first. If
    /// anything fails (or the task is cancelled) everything made so far is removed
    /// before the error is thrown. Call ``stop()`` when done, or use
    /// ``withCluster(nodes:options:logger:isolation:_:)``.
    ///
    /// - Parameters:
    ///   - nodes: The number of nodes, 1...200.
    ///   - options: Timings, corosync tunables and where state goes.
    ///   - logger: Receives progress (`info`) and every step (`debug`).
    public static func start(
        nodes: Int,
        options: LocalClusterOptions = LocalClusterOptions(),
        logger: Logger = Logger(label: "CPGTesting.LocalCluster")
    ) async throws -> LocalCluster {
        guard (1...200).contains(nodes) else {
            throw LocalClusterError.invalidNodeCount(nodes)
        }
        guard geteuid() == 0 else {
            throw LocalClusterError.notRoot
        }
        let began = ContinuousClock.now
        await StaleRunCleaner.clean(stateRoot: options.stateRoot, logger: logger)
        let cluster = LocalCluster(identity: .makeNew(), nodeCount: nodes, options: options, logger: logger)
        do {
            try await cluster.bringUp(began: began)
        } catch {
            cluster.logger.warning("start failed, removing everything: \(error)")
            await cluster.stop()
            throw error
        }
        return cluster
    }

    /// Starts a cluster, runs `body` with it, and always tears the cluster down
    /// afterwards: when `body` returns, throws, or its task is cancelled.
    ///
    /// - Parameters:
    ///   - nodes: The number of nodes, 1...200.
    ///   - options: Timings, corosync tunables and where state goes.
    ///   - logger: Receives progress (`info`) and every step (`debug`).
    ///   - isolation: The caller's actor isolation, which `body` runs in; leave the default.
    ///   - body: Uses the running cluster.
    /// - Returns: What `body` returns.
    public static func withCluster<Result>(
        nodes: Int,
        options: LocalClusterOptions = LocalClusterOptions(),
        logger: Logger = Logger(label: "CPGTesting.LocalCluster"),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (LocalCluster) async throws -> Result
    ) async throws -> Result {
        let cluster = try await start(nodes: nodes, options: options, logger: logger)
        let result: Result
        do {
            result = try await body(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
        return result
    }

    /// The node with corosync node id `id` (1...N).
    public nonisolated func node(_ id: Int) -> ClusterNode {
        precondition((1...nodes.count).contains(id), "node ids are 1...\(nodes.count)")
        return nodes[id - 1]
    }

    /// What the cluster last did to the node's daemon.
    public func state(of node: ClusterNode) -> DaemonState {
        daemonStates[node.id] ?? .stopped
    }

    /// The pid of the node's corosync daemon, or `nil` if it is not running (or paused).
    public func daemonProcessID(of node: ClusterNode) -> Int32? {
        daemons[node.id]?.pid
    }

    /// Whether the node is cut off from the network by ``partition(_:)``.
    public func isPartitioned(_ node: ClusterNode) -> Bool {
        isolated.contains(node.id)
    }

    /// The last `lines` lines of the node's corosync log and daemon output.
    public nonisolated func logTail(of node: ClusterNode, lines: Int = 30) -> String {
        var text = ""
        for path in [node.logPath, node.outputPath] {
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8), !contents.isEmpty else { continue }
            let tail = contents.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
            text += "--- \(path)\n" + tail.joined(separator: "\n") + "\n"
        }
        return text
    }

    // MARK: - Building

    private func bringUp(began: ContinuousClock.Instant) async throws {
        logger.info("starting \(nodes.count)-node cluster on \(subnet)")
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try RunIdentity.ownerMarker().write(toFile: "\(stateDirectory)/owner", atomically: true, encoding: .utf8)
        for node in nodes {
            try fileManager.createDirectory(atPath: "\(node.stateDirectory)/run", withIntermediateDirectories: true)
            try fileManager.createDirectory(atPath: "\(node.stateDirectory)/lib", withIntermediateDirectories: true)
            let config = options.corosync.render(clusterName: clusterName, nodes: nodes, for: node)
            try config.write(toFile: node.configPath, atomically: true, encoding: .utf8)
        }

        let bridge = try await NetworkNamespace.add(bridgeNamespace.name)
        try await bridge.ip("link", "set", "lo", "up")
        try await addBridge(0)
        let bridgeName = bridgeNamespace.name
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in nodes {
                group.addTask {
                    try await Self.plumb(node, bridgeNamespace: bridgeName)
                }
            }
            try await group.waitForAll()
        }
        for node in nodes {
            segments[node.id] = 0
        }
        let networkReady = clock.now
        logger.debug("network ready after \(networkReady - began)")

        for node in nodes {
            try await launchDaemon(node)
        }
        try await waitUntilSettled()
        startupDuration = clock.now - began
        logger.info("\(nodes.count)-node cluster up in \(startupDuration) (network \(networkReady - began))")
    }

    /// Adds bridge `br<index>` to the bridge namespace.
    func addBridge(_ index: Int) async throws {
        guard !bridges.contains(index) else { return }
        try await bridgeNamespace.ip("link", "add", "br\(index)", "type", "bridge")
        try await bridgeNamespace.ip("link", "set", "br\(index)", "up")
        bridges.insert(index)
    }

    /// Makes the node's namespace and connects it to `br0`: the node side of the
    /// veth is `eth0` (with the node's address), the bridge side `v<id>`. The
    /// veth is created inside the node's namespace, so it never appears in the
    /// root namespace.
    private static func plumb(_ node: ClusterNode, bridgeNamespace: String) async throws {
        let namespace = try await NetworkNamespace.add(node.namespace.name)
        let bridge = NetworkNamespace(name: bridgeNamespace)
        let port = "v\(node.id)"
        try await namespace.ip("link", "set", "lo", "up")
        try await namespace.ip("link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", bridgeNamespace)
        try await bridge.ip("link", "set", port, "master", "br0", "up")
        try await namespace.ip("addr", "add", "\(node.address)/24", "dev", "eth0")
        try await namespace.ip("link", "set", "eth0", "up")
    }

    /// Starts corosync for `node` in its namespace, in a private mount namespace
    /// with the node's own `/run` and `/var/lib/corosync`.
    ///
    /// `setpriv --pdeathsig KILL` makes the kernel kill the daemon when this
    /// process dies; every program in the chain execs the next, so the pid is corosync's.
    func launchDaemon(_ node: ClusterNode) async throws {
        let script = #"mount --bind "$1/run" /run && mount --bind "$1/lib" /var/lib/corosync && exec corosync -f -c "$1/corosync.conf""#
        let arguments = [
            "ip", "netns", "exec", node.namespace.name,
            "setpriv", "--pdeathsig", "KILL",
            "unshare", "--mount", "--propagation", "private",
            "sh", "-c", script, "sh", node.stateDirectory,
        ]
        let process = try await SpawnedProcess.spawn(
            arguments, standardOutput: .file(node.outputPath), standardError: .file(node.outputPath))
        daemons[node.id] = process
        daemonHistory.append(process.pid)
        daemonStates[node.id] = .running
        logger.debug("started corosync for \(node.name), pid \(process.pid)")
    }

    /// Throws if the cluster was stopped.
    func ensureRunning() throws {
        guard teardown == nil else { throw LocalClusterError.stopped }
    }

    /// Throws unless `node` is one of this cluster's nodes.
    func ensureMember(_ node: ClusterNode) throws {
        guard node.id >= 1, Int(node.id) <= nodes.count, nodes[Int(node.id) - 1] == node else {
            throw LocalClusterError.unknownNode(node)
        }
    }
}
