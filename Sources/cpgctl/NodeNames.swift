import CPG

/// The names of corosync's nodes, for output that shows node ids.
enum NodeNames {
    /// The name of every node of the daemon's nodelist by node id; empty when the daemon cannot
    /// say (no nodelist, or its configuration map cannot be read): the names are an addition to
    /// the ids, and a listing does not fail for want of them.
    static func lookup(networkNamespace: String?) async -> [UInt32: String] {
        (try? await CPGCluster.nodeNames(networkNamespace: networkNamespace)) ?? [:]
    }
}
