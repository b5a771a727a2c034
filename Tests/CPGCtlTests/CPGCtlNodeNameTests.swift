import CPG
import CPGTesting
import Foundation
import Testing

/// Node names in `cpgctl`'s output, against the shared local daemon.
@Suite("cpgctl node names", .timeLimit(.minutes(1)))
struct CPGCtlNodeNameTests {
    /// This node's id and its name as the library reads it from the daemon.
    static func localNode() async throws -> (id: UInt32, name: String) {
        let id = try await CPGCluster.localNodeID()
        let name = try #require(try await CPGCluster.nodeNames()[id], "the local daemon's nodelist names node \(id)")
        return (id, name)
    }

    @Test("groups shows the node name after the node id, where corosync-cpgtool shows the address; --json names it")
    func groupsWithNames() async throws {
        let (id, name) = try await Self.localNode()
        let group = uniqueGroup()
        let listener = try await startCPGCtl("listen", group, "--json", "--timeout", CPGCtlTests.toolTimeout)
        defer { listener.terminate() }
        _ = try await waitForOwnJoin(listener)

        let groups = try await cpgctl("groups")
        #expect(groups.termination == .exited(0))
        let index = try #require(groups.lines.firstIndex(of: group))
        let pid = String(listener.pid)
        let nodeID = String(id)
        let row = "\t\t" + String(repeating: " ", count: 10 - pid.count) + pid
            + "\t" + String(repeating: " ", count: 10 - nodeID.count) + nodeID + " (\(name))"
        #expect(groups.lines[index + 1] == row)

        let json = try await cpgctl("groups", "--json")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [[String: Any]])
        let entry = try #require(list.first { $0["group"] as? String == group })
        let member = try #require((entry["members"] as? [[String: Any]])?.first)
        #expect(member["name"] as? String == name)
        #expect(member["nodeid"] as? Int == Int(id))

        let listed = try await cpgctl("members", group)
        #expect(listed.lines.dropFirst().first == row.dropFirst().description)
        let listedJSON = try jsonObject(try await cpgctl("members", group, "--json").standardOutput)
        #expect((listedJSON["members"] as? [[String: Any]])?.first?["name"] as? String == name)

        listener.terminate()
        _ = await listener.finish()
    }

    @Test("local names this node, in text and JSON")
    func localWithName() async throws {
        let (id, name) = try await Self.localNode()
        let text = try await cpgctl("local")
        #expect(text.lines.first == "node id: \(id) (\(name))")
        let object = try jsonObject(try await cpgctl("local", "--json").standardOutput)
        #expect(object["name"] as? String == name)
        #expect(object["nodeid"] as? Int == Int(id))
    }

    @Test("nodes lists the daemon's nodelist as the library reads it, in text and JSON")
    func nodes() async throws {
        let expected = try await CPGCluster.nodes()
        let text = try await cpgctl("nodes")
        #expect(text.termination == .exited(0))
        #expect(text.lines.first?.hasPrefix("   Node ID\tName\tAddresses") == true)
        #expect(text.lines.count == expected.count + 1)
        for (line, node) in zip(text.lines.dropFirst(), expected) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            #expect(fields.count == 3)
            #expect(fields.first?.trimmingCharacters(in: .whitespaces) == String(node.nodeID))
            #expect(fields.dropFirst().first.map(String.init) == (node.name ?? "-"))
        }

        let json = try await cpgctl("nodes", "--json")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [[String: Any]])
        let decoded = list.map { object in
            CPGNode(
                nodeID: UInt32(object["nodeid"] as? Int ?? -1),
                name: object["name"] as? String,
                addresses: object["addresses"] as? [String] ?? []
            )
        }
        #expect(decoded == expected)
    }
}

/// `cpgctl` against a real three-node cluster: names of members on other nodes.
@Suite("cpgctl on a real cluster", .serialized, .timeLimit(.minutes(2)))
struct CPGCtlClusterTests {
    @Test("groups on node 1 names the members on node 1 and node 2, as node 1's daemon knows them")
    func memberOnAnotherNode() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let (node1, node2) = (cluster.node(1), cluster.node(2))
            let group = uniqueGroup()
            let first = try await startCPGCtl("listen", group, "--json", "--timeout", CPGCtlTests.toolTimeout, "--netns", node1.namespacePath)
            defer { first.terminate() }
            _ = try await waitForOwnJoin(first)
            let second = try await startCPGCtl("listen", group, "--json", "--timeout", CPGCtlTests.toolTimeout, "--netns", node2.namespacePath)
            defer { second.terminate() }
            _ = try await waitForOwnJoin(second)
            // Once node 1's member saw the join, node 1's daemon lists the member on node 2.
            while true {
                let line = try #require(await first.nextLine(), "the listener on node 1 ended before it saw node 2's member join")
                let object = try jsonObject(line)
                if object["event"] as? String == "membership",
                    members(object["joined"]).contains(where: { $0.pid == second.pid && $0.nodeID == 2 })
                {
                    break
                }
            }

            let groups = try await cpgctl("groups", "--netns", node1.namespacePath)
            #expect(groups.termination == .exited(0), "\(groups.standardError)")
            let index = try #require(groups.lines.firstIndex(of: group))
            let rows = Array(groups.lines[(index + 1)...].prefix { $0.hasPrefix("\t\t") })
            #expect(rows.count == 2, "\(rows)")
            #expect(rows.contains { $0.contains(String(first.pid)) && $0.hasSuffix("\t         1 (node1)") }, "\(rows)")
            #expect(rows.contains { $0.contains(String(second.pid)) && $0.hasSuffix("\t         2 (node2)") }, "\(rows)")

            let listed = try jsonObject(try await cpgctl("members", group, "--json", "--netns", node1.namespacePath).standardOutput)
            let named = (listed["members"] as? [[String: Any]] ?? []).map { "\($0["nodeid"] ?? "")=\($0["name"] ?? "")" }
            #expect(Set(named) == ["1=node1", "2=node2"])

            let local = try jsonObject(try await cpgctl("local", "--json", "--netns", node2.namespacePath).standardOutput)
            #expect(local["name"] as? String == "node2")
            for listener in [first, second] {
                listener.terminate()
                _ = await listener.finish()
            }
        }
    }
}
