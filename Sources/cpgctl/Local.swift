import ArgumentParser
import CPG

/// `cpgctl local`: this node's id and corosync's atomic message size.
struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this node's id and the largest message corosync sends unfragmented.",
        discussion: #"--json prints {"nodeid":1,"max_atomic_msgsize":1048000}."#
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let namespace = self.connection.networkNamespace
        let nodeID = try await CPGCluster.localNodeID(networkNamespace: namespace)
        let atomic = try await CPGCluster.maxAtomicMessageSize(networkNamespace: namespace)
        if self.json {
            try Output.line(#"{"nodeid":\#(nodeID),"max_atomic_msgsize":\#(atomic)}"#)
        } else {
            try Output.line("node id: \(nodeID)")
            try Output.line("max atomic message size: \(atomic) bytes")
        }
    }
}
