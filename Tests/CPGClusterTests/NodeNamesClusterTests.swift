import CPG
import CPGTesting
import Foundation
import Testing

/// Node names on a real three-node cluster: each daemon's nodelist, read through libcmap from
/// inside its node's network namespace.
@Suite("Node names on a real cluster", .serialized)
struct NodeNamesClusterTests {
    @Test("every node's daemon maps node ids 1...3 to node1...node3 and their addresses", .timeLimit(.minutes(2)))
    func namesOnEveryNode() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let expected = cluster.nodes.map { CPGNode(nodeID: $0.id, name: $0.name, addresses: [$0.address]) }
            #expect(expected.map(\.name) == ["node1", "node2", "node3"])
            for node in cluster.nodes {
                let nodes = try await CPGCluster.nodes(networkNamespace: node.namespacePath)
                #expect(nodes == expected, "as node \(node.id)'s daemon says")
                let names = try await CPGCluster.nodeNames(networkNamespace: node.namespacePath)
                #expect(names == [1: "node1", 2: "node2", 3: "node3"], "as node \(node.id)'s daemon says")
                #expect(try await CPGCluster.localNodeID(networkNamespace: node.namespacePath) == node.id)
            }
        }
    }

    @Test("a node whose name the daemon does not have is called by its ring0_addr", .timeLimit(.minutes(2)))
    func ring0AddressWithoutName() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let (node2, node3) = (cluster.node(2), cluster.node(3))
            // Node 3's daemon restarts with a nodelist that gives node 2 no name (the nodelist is
            // read-only at runtime: cmap refuses to delete the key).
            try await cluster.killDaemon(node3)
            let config = try String(contentsOfFile: node3.configPath, encoding: .utf8)
            let nameless = config.replacingOccurrences(of: "    name: node2\n", with: "")
            #expect(nameless != config)
            try nameless.write(toFile: node3.configPath, atomically: true, encoding: .utf8)
            try await cluster.startDaemon(node3)

            let names = try await CPGCluster.nodeNames(networkNamespace: node3.namespacePath)
            #expect(names == [1: "node1", 2: node2.address, 3: "node3"])
            let nodes = try await CPGCluster.nodes(networkNamespace: node3.namespacePath)
            #expect(nodes.first { $0.nodeID == 2 } == CPGNode(nodeID: 2, name: nil, addresses: [node2.address]))
            // The other daemons still have it.
            #expect(try await CPGCluster.nodeNames(networkNamespace: cluster.node(1).namespacePath)[2] == "node2")
        }
    }
}
