import Dispatch

/// Questions about the whole cluster that need no joined group. Each call opens a short-lived
/// connection to the local corosync, asks, and closes it; the blocking IPC runs on a Dispatch
/// queue, never on Swift's cooperative thread pool.
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

    /// Blocking IPC runs on this serial queue, not on the global queues: Dispatch on Linux gives
    /// those about one thread per core and a blocked one stalls unrelated work, while a serial
    /// queue may get a thread of its own.
    private static let queue = DispatchQueue(label: "swift-cpg.cluster")

    private static func withHandle<T: Sendable>(
        _ networkNamespace: String?,
        _ body: @escaping @Sendable (LibCPGHandle) throws(CPGError) -> T
    ) async throws(CPGError) -> T {
        let result: Result<T, CPGError> = await withCheckedContinuation { continuation in
            self.queue.async {
                continuation.resume(
                    returning: Result { () throws(CPGError) in
                        let handle = try LibCPGHandle.connect(networkNamespace: networkNamespace)
                        defer { handle.finalize() }
                        _ = try handle.verifyDaemon(trustedUIDs: CPGConfiguration().trustedDaemonUIDs)
                        return try body(handle)
                    }
                )
            }
        }
        return try result.get()
    }
}
