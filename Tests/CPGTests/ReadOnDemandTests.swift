@testable import CPG
import CPGTesting
import Testing

@Suite("Reading on demand", .timeLimit(.minutes(2)))
struct ReadOnDemandTests {
    @Test("a consumer reads on demand what waits in the ring, in order with what the source reads")
    func consumerReadsOnDemand() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let count = 2000
        // Confirmed last: when it returns, everything before it sits in the log or in the ring.
        for index in 0..<count { try await group.send(Array("m\(index)".utf8)) }
        _ = try await group.sendConfirmed(Array("last".utf8))
        var delivered: [String] = []
        for try await message in messages {
            let text = String(decoding: message.payload, as: UTF8.self)
            if text == "last" { break }
            delivered.append(text)
        }
        #expect(delivered == (0..<count).map { "m\($0)" })
        // With everything read, a read on demand finds nothing.
        #expect(group.readOnDemand() == false)
        await group.close()
    }

    @Test("after large events the consumer leaves reading to the source; small events bring it back")
    func largeEventsLeaveReadingToTheSource() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let large = [UInt8](repeating: 0x4C, count: 65536)
        for _ in 0..<4 { try await group.send(large) }
        _ = try await group.sendConfirmed(large)
        var received = 0
        for try await message in messages {
            #expect(message.payload == large)
            received += 1
            if received == 5 { break }
        }
        #expect(group.readOnDemandPolicy.withLock { $0.largeEvents })
        #expect(group.readOnDemand() == false)

        let small = Array("small".utf8)
        _ = try await group.sendConfirmed(small)
        for try await message in group.messages where message.payload == small { break }
        #expect(group.readOnDemandPolicy.withLock { $0.allowsReadOnDemand })
        await group.close()
    }

    @Test("while a query waits for a paused daemon, a waiting consumer holds no thread and can be cancelled")
    func noWaitBehindABlockedQuery() async throws {
        // A private one-node cluster: its daemon can be paused without disturbing other suites.
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let node = cluster.node(1)
            var configuration = CPGConfiguration()
            configuration.networkNamespace = node.namespacePath
            let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
            try await cluster.pauseDaemon(node)

            // cpg_membership_get waits for an answer the paused daemon does not give: the query
            // holds the group's queue until the daemon continues.
            let query = Task { try await group.members() }
            while group.readOnDemandPolicy.withLock({ $0.requestCalls }) == 0 { await Task.yield() }

            // A consumer that waited for the queue behind it would block its thread and ignore
            // cancellation until the daemon continues; it must not read on demand now.
            #expect(group.readOnDemand() == false)
            let consumer = Task { () -> Int in
                var seen = 0
                for try await _ in group.messages { seen += 1 }
                return seen
            }
            consumer.cancel()
            #expect(try await consumer.value == 0)

            try await cluster.resumeDaemon(node)
            let members = try await query.value
            #expect(members.contains(group.localMember))
            _ = try await group.sendConfirmed(Array("after".utf8))
            await group.close()
        }
    }
}
