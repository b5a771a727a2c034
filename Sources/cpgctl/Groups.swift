import ArgumentParser
import CPG

/// `cpgctl groups`: every group in the cluster with its members.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every group in the cluster with its members, and the names of their nodes.",
        discussion: """
            The human output follows corosync-cpgtool: a header line, each group's name on a line \
            of its own, then one line per member with its pid and node id, and after the node id \
            the node's name in parentheses: its name in corosync's nodelist, or its ring0_addr \
            when it has no name (corosync-cpgtool shows the address). A node the nodelist does \
            not know shows no name.

            Group names are escaped as corosync-cpgtool escapes them: printable ASCII as it is, a \
            backslash doubled, every other byte as \\xNN with two upper-case hex digits (so \
            "name\\0" prints name\\x00 and "café" prints caf\\xC3\\xA9). -e prints the bytes as \
            they are.

            -d C prints corosync-cpgtool's delimited form: the line GRP_NAME<C>PID<C>NODEID, then \
            one line <group><C><pid><C><nodeid> per member, without node names. -n prints only \
            the group names, one per line; with -d all on one line, each followed by the \
            delimiter, as corosync-cpgtool does.

            --json prints an array of \
            {"group":"name","members":[{"nodeid":1,"pid":42,"name":"node1"}]} ("name" only when \
            known), and with -n an array of the names. JSON escapes names its own way, so --json \
            takes neither -d nor -e.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: [.customShort("d"), .long],
        help: ArgumentHelp(
            "Print the fields separated by this one character, after the header GRP_NAME<C>PID<C>NODEID, as corosync-cpgtool -d does.",
            valueName: "character"
        )
    )
    var delimiter: String?

    @Flag(
        name: [.customShort("e"), .customLong("no-escape")],
        help: "Print group names' bytes as they are, without escaping unprintable ones as \\xNN (corosync-cpgtool -e)."
    )
    var noEscape = false

    @Flag(
        name: [.customShort("n"), .customLong("names-only")],
        help: "Print only the group names, one per line (corosync-cpgtool -n)."
    )
    var namesOnly = false

    @Flag(help: "Print one JSON array of groups (of names with --names-only) instead of the table.")
    var json = false

    func validate() throws {
        if let delimiter = self.delimiter, delimiter.count != 1 {
            throw ValidationError("--delimiter takes exactly one character, not \"\(delimiter)\".")
        }
        if self.json, self.delimiter != nil {
            throw ValidationError("--delimiter cannot be combined with --json: JSON has its own separators.")
        }
        if self.json, self.noEscape {
            throw ValidationError("--no-escape cannot be combined with --json: JSON strings escape control characters.")
        }
    }

    func run() async throws {
        let namespace = self.connection.networkNamespace
        let delimiter = self.delimiter.map { Array($0.utf8) }
        if self.namesOnly {
            let groups = try await CPGCluster.groupNames(networkNamespace: namespace)
            if self.json {
                try Output.line("[" + groups.map(JSON.groupName).joined(separator: ",") + "]")
            } else if let delimiter {
                // corosync-cpgtool ends every name with the delimiter, the last one too.
                try Output.line(bytes: groups.flatMap { self.text($0) + delimiter })
            } else {
                for group in groups { try Output.line(bytes: self.text(group)) }
            }
            return
        }

        let groups = try await CPGCluster.groups(networkNamespace: namespace)
        if let delimiter {
            try Output.line(bytes: Array("GRP_NAME".utf8) + delimiter + Array("PID".utf8) + delimiter + Array("NODEID".utf8))
            for group in groups {
                let name = self.text(group.name)
                for member in group.members {
                    try Output.line(
                        bytes: name + delimiter + Array(String(member.pid).utf8) + delimiter + Array(String(member.nodeID).utf8)
                    )
                }
            }
            return
        }

        let names = await NodeNames.lookup(networkNamespace: namespace)
        if self.json {
            try Output.line("[" + groups.map { JSON.group($0.name, members: $0.members, names: names) }.joined(separator: ",") + "]")
            return
        }
        try Output.line(MemberTable.header(first: "Group Name"))
        for group in groups {
            try Output.line(bytes: self.text(group.name))
            for member in group.members {
                try Output.line("\t" + MemberTable.row(member, names: names))
            }
        }
    }

    /// A group's name as this command prints it: escaped unless `--no-escape`.
    private func text(_ name: CPGGroupName) -> [UInt8] {
        GroupNameText.bytes(name, escaped: !self.noEscape)
    }
}
