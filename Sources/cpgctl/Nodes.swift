import ArgumentParser
import CPG

/// `cpgctl nodes`: the nodes of corosync's nodelist with their names and addresses.
struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the nodes of corosync's nodelist with their names and addresses.",
        discussion: """
            Read from the daemon's configuration map (libcmap: nodelist.node.N.nodeid, .name and \
            .ringK_addr), by node id: every node the daemon is configured with, up or not. A node \
            without a name shows "-". --json prints an array of \
            {"nodeid":1,"name":"node1","addresses":["10.0.0.1"]} ("name" is null without a name).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print one JSON array of nodes instead of the table.")
    var json = false

    func run() async throws {
        let nodes = try await CPGCluster.nodes(networkNamespace: self.connection.networkNamespace)
        if self.json {
            try Output.line("[" + nodes.map(JSON.node).joined(separator: ",") + "]")
            return
        }
        try Output.line(Self.pad("Node ID") + "\tName\tAddresses")
        for node in nodes {
            try Output.line(Self.pad(String(node.nodeID)) + "\t" + (node.name ?? "-") + "\t" + node.addresses.joined(separator: " "))
        }
    }

    private static func pad(_ text: String) -> String {
        String(repeating: " ", count: max(0, 10 - text.count)) + text
    }
}
