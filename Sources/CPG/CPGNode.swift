/// A node of corosync's nodelist (`nodelist { node { ... } }` in corosync.conf), as the daemon
/// holds it in its configuration map (`nodelist.node.N.*` in cmap).
///
/// Group members carry only a node id (``CPGMember/nodeID``); this maps it to the name and the
/// addresses an operator knows the node by. ``CPGCluster/nodes(networkNamespace:)`` lists them.
public struct CPGNode: Hashable, Sendable, CustomStringConvertible {
    /// The corosync node id (`nodelist.node.N.nodeid`).
    public var nodeID: UInt32
    /// The node's name (`nodelist.node.N.name`), if the nodelist gives one.
    public var name: String?
    /// The node's addresses (`nodelist.node.N.ringK_addr`), by link number: `ring0_addr` first.
    /// Each is written as in corosync.conf: an IP address or a host name.
    public var addresses: [String]

    /// Creates a node description.
    public init(nodeID: UInt32, name: String?, addresses: [String]) {
        self.nodeID = nodeID
        self.name = name
        self.addresses = addresses
    }

    /// What to call the node: its ``name``, or else its first address (`ring0_addr`), as
    /// corosync's own tools fall back. `nil` only when the nodelist has neither.
    public var displayName: String? {
        self.name ?? self.addresses.first
    }

    /// For example `1 node1 (10.0.0.1)`.
    public var description: String {
        var text = String(self.nodeID)
        if let name = self.name { text += " " + name }
        if !self.addresses.isEmpty { text += " (" + self.addresses.joined(separator: ", ") + ")" }
        return text
    }
}
