import CPGTesting
import Foundation
import Glibc
import Testing

extension LocalClusterTests {
    @Test("killDaemon removes the node from the others' membership; restartDaemon brings it back",
          .timeLimit(.minutes(1)))
    func killAndRestart() async throws {
        let cluster = try await LocalCluster.start(nodes: 3)
        do {
            let (node1, node2, node3) = (cluster.node(1), cluster.node(2), cluster.node(3))
            let oldPID = try #require(await cluster.daemonProcessID(of: node3))

            reportTiming("kill daemon", try await cluster.killDaemon(node3))
            #expect(await cluster.state(of: node3) == .stopped)
            #expect(await cluster.daemonProcessID(of: node3) == nil)
            #expect(kill(oldPID, 0) == -1 && errno == ESRCH, "the daemon is gone")
            #expect(try await quorumtoolMembers(cluster, node1) == [1, 2])
            #expect(try await quorumtoolMembers(cluster, node2) == [1, 2])
            #expect(try await cluster.membership(of: node3) == nil)

            reportTiming("restart daemon", try await cluster.restartDaemon(node3))
            #expect(await cluster.state(of: node3) == .running)
            #expect(await cluster.daemonProcessID(of: node3) != oldPID)
            for node in cluster.nodes {
                #expect(try await quorumtoolMembers(cluster, node) == [1, 2, 3])
            }

            // restartDaemon on a running daemon kills it first.
            reportTiming("restart running daemon", try await cluster.restartDaemon(node1))
            #expect(try await quorumtoolMembers(cluster, node2) == [1, 2, 3])
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
        try await expectNothingLeft(of: cluster)
    }

    @Test("partition splits one node off (both sides see it), heal merges it back", .timeLimit(.minutes(1)))
    func partitionAndHeal() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let (node1, node2, node3) = (cluster.node(1), cluster.node(2), cluster.node(3))

            reportTiming("partition", try await cluster.partition(node3))
            #expect(await cluster.isPartitioned(node3))
            #expect(try await quorumtoolMembers(cluster, node1) == [1, 2])
            #expect(try await quorumtoolMembers(cluster, node2) == [1, 2])
            #expect(try await quorumtoolMembers(cluster, node3) == [3])
            let majority = try #require(try await cluster.membership(of: node1))
            let minority = try #require(try await cluster.membership(of: node3))
            #expect(majority.isQuorate)
            #expect(!minority.isQuorate, "a lone node of three has no quorum")
            #expect(majority.ringID != minority.ringID)
            #expect(await cluster.state(of: node3) == .running, "the daemon keeps running")

            reportTiming("heal", try await cluster.heal(node3))
            #expect(await !cluster.isPartitioned(node3))
            for node in cluster.nodes {
                #expect(try await quorumtoolMembers(cluster, node) == [1, 2, 3])
                #expect(try await cluster.membership(of: node)?.isQuorate == true)
            }
        }
    }

    @Test("pauseDaemon (SIGSTOP) drops the node from the others' membership; resumeDaemon brings it back",
          .timeLimit(.minutes(1)))
    func pauseAndResume() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let node3 = cluster.node(3)
            let pid = try #require(await cluster.daemonProcessID(of: node3))

            reportTiming("pause", try await cluster.pauseDaemon(node3))
            #expect(await cluster.state(of: node3) == .paused)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            #expect(status.contains("State:\tT"), "the daemon is stopped")
            #expect(try await quorumtoolMembers(cluster, cluster.node(1)) == [1, 2])
            #expect(try await quorumtoolMembers(cluster, cluster.node(2)) == [1, 2])

            reportTiming("resume", try await cluster.resumeDaemon(node3))
            #expect(await cluster.daemonProcessID(of: node3) == pid, "the same daemon, not a new one")
            for node in cluster.nodes {
                #expect(try await quorumtoolMembers(cluster, node) == [1, 2, 3])
            }
        }
    }

    @Test("split(into:) makes two 2-node memberships; healAll merges them", .timeLimit(.minutes(1)))
    func splitAndHealAll() async throws {
        try await LocalCluster.withCluster(nodes: 4) { cluster in
            reportTiming("start 4 nodes", await cluster.startupDuration)
            let (node1, node2, node3, node4) = (cluster.node(1), cluster.node(2), cluster.node(3), cluster.node(4))

            reportTiming("split 2+2", try await cluster.split(into: [[node1, node2], [node3, node4]]))
            #expect(try await quorumtoolMembers(cluster, node1) == [1, 2])
            #expect(try await quorumtoolMembers(cluster, node2) == [1, 2])
            #expect(try await quorumtoolMembers(cluster, node3) == [3, 4])
            #expect(try await quorumtoolMembers(cluster, node4) == [3, 4])

            reportTiming("heal all", try await cluster.healAll())
            for node in cluster.nodes {
                #expect(try await quorumtoolMembers(cluster, node) == [1, 2, 3, 4])
            }

            await #expect(throws: LocalClusterError.self) {
                try await cluster.split(into: [[node1], [node2]])
            }
        }
    }

    @Test("faults refuse what does not fit the daemon's state", .timeLimit(.minutes(1)))
    func faultsCheckState() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let node = cluster.nodes[0]
            await #expect(throws: LocalClusterError.self) { try await cluster.resumeDaemon(node) }
            await #expect(throws: LocalClusterError.self) { try await cluster.startDaemon(node) }
            try await cluster.killDaemon(node)
            await #expect(throws: LocalClusterError.self) { try await cluster.pauseDaemon(node) }
            await #expect(throws: LocalClusterError.self) { try await cluster.killDaemon(node) }
            try await cluster.startDaemon(node)
            #expect(try await cluster.membership(of: node)?.members == [1])
        }
    }
}
