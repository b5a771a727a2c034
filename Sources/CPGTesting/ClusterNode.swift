/// One node of a ``LocalCluster``: a network namespace with one corosync daemon in it.
///
/// A value describes the node; it does not own anything. It stays valid (as a
/// description) after the cluster stopped, but the namespace and files are gone then.
public struct ClusterNode: Sendable, Hashable, Identifiable, CustomStringConvertible {
    /// The corosync node id, 1...N in the order of ``LocalCluster/nodes``.
    public let id: UInt32
    /// The node's name in corosync.conf: `node1`, `node2`, ...
    public let name: String
    /// The node's IPv4 address on the cluster's private network (only reachable
    /// from the cluster's namespaces).
    public let address: String
    /// The network namespace the node's daemon (and ``LocalCluster/run(_:onNode:)``) runs in.
    public let namespace: NetworkNamespace
    /// The directory with this node's corosync.conf, log and private `/run` and
    /// `/var/lib/corosync`.
    public let stateDirectory: String

    /// The namespace's name, for `ip netns exec NAME ...`.
    public var namespaceName: String {
        namespace.name
    }

    /// The namespace's file, `/run/netns/NAME`, for `setns(2)`.
    public var namespacePath: String {
        namespace.path
    }

    /// The generated corosync.conf.
    public var configPath: String {
        "\(stateDirectory)/corosync.conf"
    }

    /// The corosync log file.
    public var logPath: String {
        "\(stateDirectory)/corosync.log"
    }

    /// Where the daemon's standard output and standard error go.
    public var outputPath: String {
        "\(stateDirectory)/daemon.out"
    }

    /// Creates a node description; ``LocalCluster`` makes these.
    public init(id: UInt32, name: String, address: String, namespace: NetworkNamespace, stateDirectory: String) {
        self.id = id
        self.name = name
        self.address = address
        self.namespace = namespace
        self.stateDirectory = stateDirectory
    }

    /// For example `node2 (10.213.77.12 in cpgt-1234-ab12-n2)`.
    public var description: String {
        "\(name) (\(address) in \(namespace.name))"
    }
}
