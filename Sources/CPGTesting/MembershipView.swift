import Foundation

/// What one corosync daemon reports about the membership it is part of,
/// as read from `corosync-quorumtool -s -p` in its namespace.
public struct MembershipView: Sendable, Hashable, CustomStringConvertible {
    /// The reporting daemon's node id.
    public var nodeID: UInt32
    /// The ring id, as corosync prints it (`<representative>.<sequence>` in hex, e.g. `1.1c`).
    /// Daemons in the same membership report the same ring id.
    public var ringID: String
    /// Whether votequorum considers this partition quorate. CPG works without quorum.
    public var isQuorate: Bool
    /// The node ids in the membership, ascending.
    public var members: [UInt32]

    /// Creates a view.
    public init(nodeID: UInt32, ringID: String, isQuorate: Bool, members: [UInt32]) {
        self.nodeID = nodeID
        self.ringID = ringID
        self.isQuorate = isQuorate
        self.members = members.sorted()
    }

    /// Parses the output of `corosync-quorumtool -s -p` (or `-s`); `nil` if it
    /// lacks the node id, the ring id or the member list.
    public init?(quorumtoolOutput output: String) {
        var nodeID: UInt32?
        var ringID: String?
        var quorate = false
        var members: [UInt32] = []
        var inMemberTable = false
        for rawLine in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingPrefix(while: \.isWhitespace)
            if inMemberTable {
                guard let first = line.split(separator: " ").first, let member = UInt32(first) else {
                    if line.isEmpty { inMemberTable = false }
                    continue
                }
                members.append(member)
            } else if line.hasPrefix("Node ID:") {
                nodeID = UInt32(Self.value(of: line))
            } else if line.hasPrefix("Ring ID:") {
                ringID = Self.value(of: line)
            } else if line.hasPrefix("Quorate:") {
                quorate = Self.value(of: line) == "Yes"
            } else if line.hasPrefix("Nodeid") {
                inMemberTable = true
            }
        }
        guard let nodeID, let ringID, !members.isEmpty else {
            return nil
        }
        self.init(nodeID: nodeID, ringID: ringID, isQuorate: quorate, members: members)
    }

    private static func value(of line: Substring) -> String {
        guard let colon = line.firstIndex(of: ":") else { return "" }
        return String(line[line.index(after: colon)...].trimmingPrefix(while: \.isWhitespace))
            .trimmingCharacters(in: .whitespaces)
    }

    /// For example `node 1 ring 1.1c quorate members [1, 2, 3]`.
    public var description: String {
        "node \(nodeID) ring \(ringID) \(isQuorate ? "quorate" : "inquorate") members \(members)"
    }
}
