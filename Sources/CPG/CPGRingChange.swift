/// A change of the totem ring under the cluster (libcpg's totem configuration change callback):
/// which nodes now form the cluster.
///
/// The first ring change after join describes the ring as it was then
/// (`CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`).
public struct CPGRingChange: Hashable, Sendable {
    /// The new ring's id.
    public var ringID: CPGRingID
    /// The node ids of the nodes in the ring.
    public var members: [UInt32]

    /// Creates a ring change.
    public init(ringID: CPGRingID, members: [UInt32]) {
        self.ringID = ringID
        self.members = members
    }
}
