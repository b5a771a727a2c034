import ArgumentParser
import CPG

/// `cpgctl local`: this node's id and name, and corosync's atomic message size.
struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this node's id and name, and the largest message corosync sends unfragmented.",
        discussion: """
            The name is the node's name in corosync's nodelist, or its ring0_addr when it has no \
            name; it is left out when the nodelist does not know the node. --json prints \
            {"nodeid":1,"name":"node1","max_atomic_msgsize":1048000} ("name" only when known).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        let namespace = self.connection.networkNamespace
        let nodeID = try await CPGCluster.localNodeID(networkNamespace: namespace)
        let atomic = try await CPGCluster.maxAtomicMessageSize(networkNamespace: namespace)
        let name = await NodeNames.lookup(networkNamespace: namespace)[nodeID]
        if self.json {
            let named = name.map { #","name":\#(JSON.string($0))"# } ?? ""
            try Output.line(#"{"nodeid":\#(nodeID)\#(named),"max_atomic_msgsize":\#(atomic)}"#)
        } else {
            try Output.line("node id: \(nodeID)" + (name.map { " (\($0))" } ?? ""))
            try Output.line("max atomic message size: \(atomic) bytes")
        }
    }
}
