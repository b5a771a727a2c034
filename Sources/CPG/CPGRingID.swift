/// A totem ring's identity: the node that formed it and a sequence number that grows with
/// every new ring (`struct cpg_ring_id`).
public struct CPGRingID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The node id of the ring's representative.
    public var nodeID: UInt32
    /// The ring sequence number.
    public var sequence: UInt64

    /// Creates a ring id.
    public init(nodeID: UInt32, sequence: UInt64) {
        self.nodeID = nodeID
        self.sequence = sequence
    }

    /// Orders rings by sequence number (then representative): a later ring sorts after.
    public static func < (lhs: CPGRingID, rhs: CPGRingID) -> Bool {
        (lhs.sequence, lhs.nodeID) < (rhs.sequence, rhs.nodeID)
    }

    /// `nodeid.seq` in hexadecimal sequence, as corosync logs it (for example `1.5`).
    public var description: String { "\(self.nodeID).\(String(self.sequence, radix: 16))" }
}
