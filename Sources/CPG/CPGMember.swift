/// One process in a closed process group: the corosync node it runs on and its process id.
///
/// A process joins a group at most once, so `(nodeID, pid)` names one member of one group.
/// Members order by node id, then pid: the order corosync's own tools use, and the one a
/// "lowest member leads" election needs.
public struct CPGMember: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The corosync node id (`nodeid` in corosync.conf's nodelist).
    public var nodeID: UInt32
    /// The process id of the member on its node.
    public var pid: UInt32

    /// Creates a member from a node id and a process id.
    public init(nodeID: UInt32, pid: UInt32) {
        self.nodeID = nodeID
        self.pid = pid
    }

    /// Orders by node id, then pid.
    public static func < (lhs: CPGMember, rhs: CPGMember) -> Bool {
        (lhs.nodeID, lhs.pid) < (rhs.nodeID, rhs.pid)
    }

    /// `nodeid:pid`, as corosync-cpgtool would name it.
    public var description: String { "\(self.nodeID):\(self.pid)" }
}
