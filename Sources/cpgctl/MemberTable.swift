import CPG

/// The member lines corosync-cpgtool prints: pid and node id, right-aligned in ten columns, then
/// the node's name in parentheses where corosync-cpgtool puts its address.
enum MemberTable {
    /// The header, after a first column title (`Group Name`, or empty).
    static func header(first: String) -> String {
        first + "\t" + self.pad("PID") + "\t" + self.pad("Node ID")
    }

    /// One member, after a tab that stands for the first column.
    static func row(_ member: CPGMember, names: [UInt32: String]) -> String {
        var row = "\t" + self.pad(String(member.pid)) + "\t" + self.pad(String(member.nodeID))
        if let name = names[member.nodeID] {
            row += " (" + name + ")"
        }
        return row
    }

    private static func pad(_ text: String) -> String {
        String(repeating: " ", count: max(0, 10 - text.count)) + text
    }
}
