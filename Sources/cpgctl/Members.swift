import ArgumentParser
import CPG

/// `cpgctl members GROUP`: one group's members, without joining it.
struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the members of one group, without joining it.",
        discussion: """
            --json prints {"group":"name","members":[{"nodeid":1,"pid":42}]}. A group nobody \
            joined has no members.
            """
    )

    @OptionGroup var group: GroupArgument
    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let name = try self.group.name()
        let members = try await CPGCluster.members(of: name, networkNamespace: self.connection.networkNamespace)
        if self.json {
            try Output.line(JSON.group(name, members: members))
            return
        }
        try Output.line(MemberTable.header(first: ""))
        for member in members {
            try Output.line(MemberTable.row(member))
        }
    }
}
