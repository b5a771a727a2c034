import ArgumentParser
import CPG

/// `cpgctl members GROUP`: one group's members, without joining it.
struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the members of one group, without joining it.",
        discussion: """
            One line per member with its pid, node id and the node's name in parentheses, as \
            `cpgctl groups` prints them. --json prints \
            {"group":"name","members":[{"nodeid":1,"pid":42,"name":"node1"}]} ("name" only when \
            the nodelist knows the node). A group nobody joined has no members.
            """
    )

    @OptionGroup var group: GroupArgument
    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func run() async throws {
        let name = try self.group.name()
        let namespace = self.connection.networkNamespace
        let members = try await CPGCluster.members(of: name, networkNamespace: namespace)
        let names = await NodeNames.lookup(networkNamespace: namespace)
        if self.json {
            try Output.line(JSON.group(name, members: members, names: names))
            return
        }
        try Output.line(MemberTable.header(first: ""))
        for member in members {
            try Output.line(MemberTable.row(member, names: names))
        }
    }
}
