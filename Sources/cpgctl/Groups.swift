import ArgumentParser
import CPG

/// `cpgctl groups`: every group in the cluster with its members.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every group in the cluster with its members.",
        discussion: """
            The human output follows corosync-cpgtool: a group's name (non-printable bytes escaped \
            as \\xNN), then one line per member. --json prints an array of \
            {"group":"name","members":[{"nodeid":1,"pid":42}]}.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let groups = try await CPGCluster.groups(networkNamespace: self.connection.networkNamespace)
        if self.json {
            try Output.line("[" + groups.map { JSON.group($0.name, members: $0.members) }.joined(separator: ",") + "]")
            return
        }
        try Output.line(MemberTable.header(first: "Group Name"))
        for group in groups {
            try Output.line(group.name.description)
            for member in group.members {
                try Output.line("\t" + MemberTable.row(member))
            }
        }
    }
}

/// The member lines corosync-cpgtool prints: pid and node id, right-aligned in ten columns.
enum MemberTable {
    /// The header, after a first column title (`Group Name`, or empty).
    static func header(first: String) -> String {
        first + "\t" + self.pad("PID") + "\t" + self.pad("Node ID")
    }

    /// One member, after a tab that stands for the first column.
    static func row(_ member: CPGMember) -> String {
        "\t" + self.pad(String(member.pid)) + "\t" + self.pad(String(member.nodeID))
    }

    private static func pad(_ text: String) -> String {
        String(repeating: " ", count: max(0, 10 - text.count)) + text
    }
}
