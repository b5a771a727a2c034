import CPGTesting
import Foundation
import Glibc
import Testing

/// The plain-C libcpg member (`cpg-c-peer`), when it was built next to the test binary.
let cPeerPath: String? = {
    if let path = ProcessInfo.processInfo.environment["CPG_C_PEER"] {
        return path
    }
    guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
        return nil
    }
    let candidate = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("cpg-c-peer").path
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
}()

/// Starts a C peer on `node`.
func runPeer(_ arguments: [String], on node: ClusterNode, in cluster: LocalCluster) async throws -> ChildProcess {
    try await cluster.run([try #require(cPeerPath)] + arguments, onNode: node)
}

/// Reads the peer's output to the end and waits for it to exit.
func finish(_ peer: ChildProcess) async -> (ProcessTermination, [String]) {
    var lines: [String] = []
    for await line in peer.lines {
        lines.append(line)
    }
    return (await peer.waitForExit(), lines)
}

extension LocalClusterTests {
    @Test("CPG serves right after start, and on both sides of a partition, the inquorate minority included",
          .timeLimit(.minutes(1)))
    func cpgAcrossPartition() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let (node1, node2, node3) = (cluster.node(1), cluster.node(2), cluster.node(3))

            // Serving right after start: all three exchange one message each.
            var peers: [ChildProcess] = []
            for node in cluster.nodes {
                peers.append(try await runPeer(["all", "--wait-members", "3", "--send", "1", "--expect", "3"], on: node, in: cluster))
            }
            for peer in peers {
                let (termination, lines) = await finish(peer)
                #expect(termination == .exited(0), "\(peer.standardError)")
                #expect(lines.filter { $0.hasPrefix("message ") }.count == 3)
            }

            try await cluster.partition(node3)
            let lone = try await runPeer(["minority", "--send", "3", "--expect", "3"], on: node3, in: cluster)
            let left = try await runPeer(["majority", "--wait-members", "2", "--send", "2", "--expect", "4"], on: node1, in: cluster)
            let right = try await runPeer(["majority", "--wait-members", "2", "--send", "2", "--expect", "4"], on: node2, in: cluster)
            let (loneEnd, loneLines) = await finish(lone)
            #expect(loneEnd == .exited(0), "the inquorate minority still serves CPG: \(lone.standardError)")
            #expect(loneLines.filter { $0.hasPrefix("message nodeid=3 ") }.count == 3)
            for peer in [left, right] {
                let (termination, lines) = await finish(peer)
                #expect(termination == .exited(0), "\(peer.standardError)")
                #expect(lines.filter { $0.hasPrefix("message ") }.count == 4)
                #expect(!lines.contains { $0.hasPrefix("message nodeid=3 ") })
            }
        }
    }
}
