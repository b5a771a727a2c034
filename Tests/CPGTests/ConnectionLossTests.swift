@testable import CPG
import CPGTesting
import Foundation
import Testing

@Suite("Losing the daemon", .serialized, .timeLimit(.minutes(1)))
struct ConnectionLossTests {
    @Test("when corosync dies, every stream ends with connectionLost at once, and sends fail with it")
    func daemonKilled() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            var configuration = CPGConfiguration()
            configuration.networkNamespace = cluster.node(1).namespacePath
            let group = try await CPGGroup.join("doomed", configuration: configuration)
            let events = group.events
            let messages = group.messages
            try await group.send(Array("before".utf8))
            #expect(try await messages.first(1).first?.payload == Array("before".utf8))

            let clock = ContinuousClock()
            let killedAt = clock.now
            try await cluster.killDaemon(cluster.node(1))
            var seen = 0
            do {
                for try await _ in events { seen += 1 }
                Issue.record("the stream ended without an error")
            } catch let error as CPGError {
                #expect(error.code == .connectionLost)
            }
            // killDaemon returns once the kill is observed; the hang-up reaches the fd at once.
            #expect(clock.now - killedAt < .seconds(5))
            #expect(seen >= 3)  // own join, ring, the message: buffered events are still delivered
            do {
                try await group.send([1])
                Issue.record("a send after the daemon died succeeded")
            } catch let error as CPGError {
                #expect(error.code == .connectionLost)
            }
            await #expect(throws: CPGError.self) { try await group.members() }
            try await group.leave()  // nothing to leave: returns
            await group.close()
        }
    }

    @Test("two clients of one process, each on its own node, are both members of one group")
    func twoClientsOneProcess() async throws {
        try await LocalCluster.withCluster(nodes: 2) { cluster in
            var first = CPGConfiguration()
            first.networkNamespace = cluster.node(1).namespacePath
            var second = CPGConfiguration()
            second.networkNamespace = cluster.node(2).namespacePath
            let a = try await CPGGroup.join("pair", configuration: first)
            let aMessages = a.messages
            let b = try await CPGGroup.join("pair", configuration: second)
            let bMessages = b.messages
            #expect(a.localNodeID == 1)
            #expect(b.localNodeID == 2)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { for index in 0..<200 { try await a.send(Array("a\(index)".utf8)) } }
                tasks.addTask { for index in 0..<200 { try await b.send(Array("b\(index)".utf8)) } }
                try await tasks.waitForAll()
            }
            let seenByA = try await aMessages.first(400).map(\.payload)
            let seenByB = try await bMessages.first(400).map(\.payload)
            #expect(seenByA == seenByB)
            #expect(Set(try await a.members()) == [a.localMember, b.localMember])
            await a.close()
            await b.close()
        }
    }
}
