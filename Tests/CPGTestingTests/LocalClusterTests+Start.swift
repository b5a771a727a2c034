import CPGTesting
import Foundation
import Glibc
import Testing

extension LocalClusterTests {
    @Test("a 3-node cluster starts, every namespace sees all 3 members, and stop removes everything",
          .timeLimit(.minutes(1)))
    func startsThreeNodes() async throws {
        let cluster = try await LocalCluster.start(nodes: 3)
        do {
            reportTiming("start 3 nodes", await cluster.startupDuration)
            #expect(cluster.nodes.map(\.id) == [1, 2, 3])
            #expect(Set(cluster.nodes.map(\.namespaceName)).count == 3)

            for node in cluster.nodes {
                #expect(node.namespacePath == "/run/netns/\(node.namespaceName)")
                #expect(FileManager.default.fileExists(atPath: node.namespacePath))
                #expect(try await quorumtoolMembers(cluster, node) == [1, 2, 3])

                let view = try #require(try await cluster.membership(of: node))
                #expect(view.nodeID == node.id)
                #expect(view.members == [1, 2, 3])
                #expect(view.isQuorate)

                // The CPG service answers in every namespace.
                let cpgtool = try await cluster.execute(["corosync-cpgtool"], onNode: node)
                #expect(cpgtool.succeeded, "\(cpgtool.standardError)")

                // The node's address lives in its namespace only.
                let address = try await cluster.execute(["ip", "-4", "-o", "addr", "show", "dev", "eth0"], onNode: node)
                #expect(address.standardOutput.contains("inet \(node.address)/24"))
            }
            // All daemons share one ring. On a loaded machine the ring can re-form (the same
            // members, a new ring id) between two reads; then wait until every daemon agrees
            // again (a lasting split makes that throw) and read once more.
            var rings = Set<String>()
            for _ in 1...3 {
                rings = []
                for node in cluster.nodes {
                    if let view = try await cluster.membership(of: node) { rings.insert(view.ringID) }
                }
                if rings.count == 1 { break }
                try await cluster.waitUntilSettled()
            }
            #expect(rings.count == 1, "all daemons share one ring: \(rings)")
            try await expectRootNamespaceUntouched()
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
        await cluster.stop()  // a second stop is harmless
        try await expectNothingLeft(of: cluster)
    }

    @Test("two clusters run side by side without colliding", .timeLimit(.minutes(1)))
    func clustersDoNotCollide() async throws {
        async let first = LocalCluster.start(nodes: 1)
        async let second = LocalCluster.start(nodes: 1)
        let clusters = try await [first, second]
        #expect(clusters[0].runID != clusters[1].runID)
        for cluster in clusters {
            let view = try #require(try await cluster.membership(of: cluster.nodes[0]))
            #expect(view.members == [1])
        }
        for cluster in clusters {
            await cluster.stop()
            try await expectNothingLeft(of: cluster)
        }
    }

    @Test("a daemon that cannot start makes start throw, and nothing is left behind", .timeLimit(.minutes(1)))
    func failedStartCleansUp() async throws {
        let broken = LocalClusterOptions(corosync: CorosyncConfig(extraTotemLines: ["this is not corosync.conf syntax {"]))
        let error = await #expect(throws: LocalClusterError.self) {
            try await LocalCluster.withCluster(nodes: 2, options: broken) { _ in }
        }
        guard case .daemonExited(let node, let termination, let log)? = error else {
            Issue.record("expected daemonExited, got \(String(describing: error))")
            return
        }
        #expect(termination != .exited(0))
        #expect(log.contains("parser error"), "the error carries the daemon's complaint")
        // The node's namespace is named <run id>-n<id>; its state directory is <state root>/<run id>/node<id>.
        let runID = String(node.namespaceName.dropLast("-n\(node.id)".count))
        let runDirectory = URL(fileURLWithPath: node.stateDirectory).deletingLastPathComponent().path
        #expect(runDirectory.hasSuffix("/" + runID))
        let namespaces = try FileManager.default.contentsOfDirectory(atPath: "/run/netns").filter { $0.hasPrefix(runID) }
        #expect(namespaces.isEmpty, "namespaces left: \(namespaces)")
        #expect(!FileManager.default.fileExists(atPath: runDirectory))
        #expect(processes(mentioning: runDirectory + "/").isEmpty)
    }
}
