@testable import CPG
import CPGTesting
import Foundation
import Testing

/// Node names from corosync's nodelist (libcmap), on the shared local daemon and as plain values.
@Suite("Node names", .timeLimit(.minutes(1)))
struct NodeNamesTests {
    @Test("a nodelist's keys become nodes by id: names, addresses by link, ring0_addr standing in for a missing name")
    func nodelistFromKeys() {
        let nodes = CPGNode.nodelist([
            "nodelist.node.0.nodeid": "7",
            "nodelist.node.0.name": "alpha",
            "nodelist.node.0.ring1_addr": "10.1.0.7",
            "nodelist.node.0.ring0_addr": "10.0.0.7",
            "nodelist.node.0.quorum_votes": "1",
            "nodelist.node.1.nodeid": "3",
            "nodelist.node.1.ring0_addr": "10.0.0.3",
            // No node id: nothing to map it from.
            "nodelist.node.2.name": "ghost",
            "nodelist.node.2.ring0_addr": "10.0.0.9",
            "nodelist.node.3.nodeid": "not a number",
            "nodelist.local_node_pos": "0",
            "nodelist.node.x.nodeid": "5",
        ])
        #expect(nodes == [
            CPGNode(nodeID: 3, name: nil, addresses: ["10.0.0.3"]),
            CPGNode(nodeID: 7, name: "alpha", addresses: ["10.0.0.7", "10.1.0.7"]),
        ])
        #expect(nodes.map(\.displayName) == ["10.0.0.3", "alpha"])
        #expect(CPGNode(nodeID: 9, name: nil, addresses: []).displayName == nil)
        #expect(nodes[1].description == "7 alpha (10.0.0.7, 10.1.0.7)")
    }

    @Test("the local daemon's nodes are the nodelist corosync-cmapctl prints, and this node has its name")
    func localDaemonMatchesCmapctl() async throws {
        let listed = try await Shell.check(["corosync-cmapctl", "-b", "nodelist.node."])
        // Lines such as `nodelist.node.0.name (str) = node1`.
        var values: [String: String] = [:]
        for line in listed.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3)
            guard parts.count == 4, parts[2] == "=" else { continue }
            values[String(parts[0])] = String(parts[3])
        }
        let expected = CPGNode.nodelist(values)
        #expect(!expected.isEmpty, "the local daemon has a nodelist: \(listed.standardOutput)")

        let nodes = try await CPGCluster.nodes()
        #expect(nodes == expected)

        let localID = try await CPGCluster.localNodeID()
        let names = try await CPGCluster.nodeNames()
        let local = try #require(nodes.first { $0.nodeID == localID }, "this node (\(localID)) is in the nodelist")
        #expect(names[localID] == local.name ?? local.addresses.first)
        #expect(names.count == nodes.count)
    }

    @Test("no daemon in the namespace: nodes and nodeNames throw unreachable")
    func unreachable() async throws {
        let namespace = "cpg-nodes-empty-\(getpid())"
        _ = try await Shell.check(["ip", "netns", "add", namespace], timeout: .seconds(10))
        let path = "/run/netns/\(namespace)"
        let error = await #expect(throws: CPGError.self) { try await CPGCluster.nodes(networkNamespace: path) }
        #expect(error?.code == .unreachable)
        #expect(error?.description.contains("corosync is not reachable") == true)
        let namesError = await #expect(throws: CPGError.self) { try await CPGCluster.nodeNames(networkNamespace: path) }
        #expect(namesError?.code == .unreachable)
        _ = try await Shell.check(["ip", "netns", "delete", namespace], timeout: .seconds(10))
    }
}
