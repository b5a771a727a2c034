import Dispatch

/// Questions about the whole cluster that need no joined group. Each call opens a short-lived
/// connection to the local corosync (its CPG service, or for node names its configuration map),
/// asks, and closes it; the blocking IPC runs on a Dispatch queue, never on Swift's cooperative
/// thread pool.
public enum CPGCluster {
    /// Every group in the cluster with its members, as `corosync-cpgtool` lists them
    /// (`cpg_iteration_initialize` with `CPG_ITERATION_ALL`).
    ///
    /// - Parameter networkNamespace: ask the corosync of this network namespace (`/run/netns/NAME`).
    public static func groups(networkNamespace: String? = nil) async throws(CPGError) -> [CPGGroupInfo] {
        let rows = try await self.withHandle(networkNamespace) { (handle) throws(CPGError) in try handle.iterate(.all) }
        var groups: [CPGGroupInfo] = []
        var position: [CPGGroupName: Int] = [:]
        for row in rows {
            if let index = position[row.group] {
                groups[index].members.append(row.member)
            } else {
                position[row.group] = groups.count
                groups.append(CPGGroupInfo(name: row.group, members: [row.member]))
            }
        }
        return groups
    }

    /// The names of every group in the cluster (`CPG_ITERATION_NAME_ONLY`).
    public static func groupNames(networkNamespace: String? = nil) async throws(CPGError) -> [CPGGroupName] {
        try await self.withHandle(networkNamespace) { (handle) throws(CPGError) in try handle.iterate(.namesOnly) }.map(\.group)
    }

    /// The members of one group, on every node, whether or not this process joined it
    /// (`CPG_ITERATION_ONE_GROUP`). An unknown group has no members.
    public static func members(of group: CPGGroupName, networkNamespace: String? = nil) async throws(CPGError) -> [CPGMember] {
        try await self.withHandle(networkNamespace) { (handle) throws(CPGError) in try handle.iterate(.group(group)) }.map(\.member)
    }

    /// This node's corosync node id (`cpg_local_get`).
    public static func localNodeID(networkNamespace: String? = nil) async throws(CPGError) -> UInt32 {
        try await self.withHandle(networkNamespace) { (handle) throws(CPGError) in try handle.localNodeID() }
    }

    /// The largest message corosync sends unfragmented (`cpg_max_atomic_msgsize_get`).
    public static func maxAtomicMessageSize(networkNamespace: String? = nil) async throws(CPGError) -> Int {
        try await self.withHandle(networkNamespace) { (handle) throws(CPGError) in try handle.maxAtomicMessageSize() }
    }

    /// The nodes of corosync's nodelist with their names and addresses, by node id, read from
    /// the daemon's configuration map (libcmap: `nodelist.node.N.nodeid`, `.name`, `.ringK_addr`).
    ///
    /// These are the nodes the daemon is configured with, whether or not they are up; a node
    /// without a `nodeid` in the nodelist is left out. A daemon with no nodelist (configured by
    /// other means) answers an empty list.
    ///
    /// - Parameter networkNamespace: ask the corosync of this network namespace (`/run/netns/NAME`).
    /// - Throws: ``CPGError`` with ``CPGError/Code/unreachable`` when no corosync answers,
    ///   ``CPGError/Code/untrustedDaemon`` when the answering process is not trusted.
    public static func nodes(networkNamespace: String? = nil) async throws(CPGError) -> [CPGNode] {
        try await self.withConfigurationMap(networkNamespace) { (map) throws(CPGError) in
            CPGNode.nodelist(try map.nodelistValues())
        }
    }

    /// What to call each node of the nodelist, by node id: its `name`, or its `ring0_addr` when
    /// it has no name (see ``CPGNode/displayName``). Node ids not in the nodelist are absent.
    ///
    /// - Parameter networkNamespace: ask the corosync of this network namespace (`/run/netns/NAME`).
    /// - Throws: what ``nodes(networkNamespace:)`` throws.
    public static func nodeNames(networkNamespace: String? = nil) async throws(CPGError) -> [UInt32: String] {
        var names: [UInt32: String] = [:]
        for node in try await self.nodes(networkNamespace: networkNamespace) {
            if let name = node.displayName { names[node.nodeID] = name }
        }
        return names
    }

    /// Blocking IPC runs on this serial queue, not on the global queues: Dispatch on Linux gives
    /// those about one thread per core and a blocked one stalls unrelated work, while a serial
    /// queue may get a thread of its own.
    private static let queue = DispatchQueue(label: "swift-cpg.cluster")

    /// Runs `body` with a fresh, verified libcpg connection on ``queue``.
    private static func withHandle<T: Sendable>(
        _ networkNamespace: String?,
        _ body: @escaping @Sendable (LibCPGHandle) throws(CPGError) -> T
    ) async throws(CPGError) -> T {
        try await self.onQueue { () throws(CPGError) in
            let handle = try LibCPGHandle.connect(networkNamespace: networkNamespace)
            defer { handle.finalize() }
            _ = try handle.verifyDaemon(trustedUIDs: CPGConfiguration().trustedDaemonUIDs)
            return try body(handle)
        }
    }

    /// Runs `body` with a fresh, verified libcmap connection on ``queue``.
    private static func withConfigurationMap<T: Sendable>(
        _ networkNamespace: String?,
        _ body: @escaping @Sendable (LibCMapHandle) throws(CPGError) -> T
    ) async throws(CPGError) -> T {
        try await self.onQueue { () throws(CPGError) in
            let map = try LibCMapHandle.connect(networkNamespace: networkNamespace)
            defer { map.finalize() }
            try map.verifyDaemon(trustedUIDs: CPGConfiguration().trustedDaemonUIDs)
            return try body(map)
        }
    }

    /// Runs blocking IPC on ``queue`` and hands its result back to the awaiting task.
    private static func onQueue<T: Sendable>(
        _ body: @escaping @Sendable () throws(CPGError) -> T
    ) async throws(CPGError) -> T {
        let result: Result<T, CPGError> = await withCheckedContinuation { continuation in
            self.queue.async {
                continuation.resume(returning: Result { () throws(CPGError) in try body() })
            }
        }
        return try result.get()
    }
}
