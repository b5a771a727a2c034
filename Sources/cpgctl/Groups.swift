import ArgumentParser
import CPG

/// `cpgctl groups`: every group in the cluster with its members.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every group in the cluster with its members, and the names of their nodes.",
        discussion: """
            The human output follows corosync-cpgtool: a group's name (non-printable bytes escaped \
            as \\xNN), then one line per member with its pid and node id, and after the node id \
            the node's name in parentheses: its name in corosync's nodelist, or its ring0_addr \
            when it has no name (corosync-cpgtool shows the address). A node the nodelist does \
            not know shows no name. --json prints an array of \
            {"group":"name","members":[{"nodeid":1,"pid":42,"name":"node1"}]} ("name" only when known).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print one JSON array of groups instead of the table.")
    var json = false

    func run() async throws {
        let namespace = self.connection.networkNamespace
        let groups = try await CPGCluster.groups(networkNamespace: namespace)
        let names = await NodeNames.lookup(networkNamespace: namespace)
        if self.json {
            try Output.line("[" + groups.map { JSON.group($0.name, members: $0.members, names: names) }.joined(separator: ",") + "]")
            return
        }
        try Output.line(MemberTable.header(first: "Group Name"))
        for group in groups {
            try Output.line(group.name.description)
            for member in group.members {
                try Output.line("\t" + MemberTable.row(member, names: names))
            }
        }
    }
}
