@testable import CPG
import CPGTesting
import Testing

/// `CPGConfiguration.readerLinger`: the reader waits on the fd on the group's queue. Each test
/// uses a linger far longer than the test may take, so that anything that waited for the linger
/// to end instead of waking the reader would fail (or run into the time limit).
@Suite("Reader linger", .timeLimit(.minutes(2)))
struct ReaderLingerTests {
    private static func configuration(_ linger: Duration = .seconds(30)) -> CPGConfiguration {
        var configuration = CPGConfiguration()
        configuration.readerLinger = linger
        return configuration
    }

    /// Waits until the group's reader waits on the fd.
    private static func untilLingering(_ group: CPGGroup) async {
        while group.executor.wakeup?.isLingering != true { await Task.yield() }
    }

    @Test("a lingering reader delivers every message in order, bursts and single ones alike")
    func orderAcrossLingers() async throws {
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: Self.configuration())
        let messages = group.messages
        var expected: [String] = []
        for burst in 0..<20 {
            // Alternate a burst with a single message, each after the reader went back to waiting.
            let size = burst.isMultiple(of: 2) ? 50 : 1
            await Self.untilLingering(group)
            for index in 0..<size {
                let text = "b\(burst)m\(index)"
                expected.append(text)
                try await group.send(Array(text.utf8))
            }
            _ = try await group.sendConfirmed(Array("end\(burst)".utf8))
            expected.append("end\(burst)")
        }
        var delivered: [String] = []
        for try await message in messages {
            delivered.append(String(decoding: message.payload, as: UTF8.self))
            if delivered.count == expected.count { break }
        }
        #expect(delivered == expected)
        await group.close()
    }

    @Test("a query made while the reader lingers is answered at once, not when the linger ends")
    func queryWakesTheReader() async throws {
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: Self.configuration())
        let clock = ContinuousClock()
        for _ in 0..<5 {
            await Self.untilLingering(group)
            let started = clock.now
            let members = try await group.members()
            #expect(members.contains(group.localMember))
            // The linger is 30 s: an answer this quick means the query woke the reader.
            #expect(clock.now - started < .seconds(10))
        }
        await group.close()
    }

    @Test("a linger of any length is taken, and still gives way to other work")
    func hugeLinger() async throws {
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: Self.configuration(.seconds(Int64.max)))
        let messages = group.messages
        await Self.untilLingering(group)
        _ = try await group.sendConfirmed(Array("still here".utf8))
        #expect(try await messages.first(1).first?.payload == Array("still here".utf8))
        #expect(try await group.members().contains(group.localMember))
        await group.close()
    }

    @Test("close() ends a lingering group at once, and its streams end")
    func closeWhileLingering() async throws {
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: Self.configuration())
        let events = group.events
        await Self.untilLingering(group)
        let clock = ContinuousClock()
        let started = clock.now
        await group.close()
        #expect(clock.now - started < .seconds(10))
        var seen = 0
        for try await _ in events { seen += 1 }
        #expect(seen >= 2)  // own join and the ring, buffered before the close
    }

    @Test("a lingering member sees a peer's messages, then its leave, in order")
    func membershipWhileLingering() async throws {
        try await LocalCluster.withCluster(nodes: 2) { cluster in
            var lingering = Self.configuration()
            lingering.networkNamespace = cluster.node(1).namespacePath
            var plain = CPGConfiguration()
            plain.networkNamespace = cluster.node(2).namespacePath
            let name = uniqueGroupName()
            let a = try await CPGGroup.join(name, configuration: lingering)
            let aEvents = a.events
            let b = try await CPGGroup.join(name, configuration: plain)
            for index in 0..<100 { try await b.send(Array("b\(index)".utf8)) }
            let bMember = b.localMember
            try await b.leave()
            await b.close()

            var received: [String] = []
            var bJoined = false
            eventLoop: for try await event in aEvents {
                switch event {
                case .membership(let change):
                    if change.joined.contains(where: { $0.member == bMember }) { bJoined = true }
                    if change.left.contains(where: { $0.member == bMember }) { break eventLoop }
                case .message(let message) where message.sender == bMember:
                    #expect(bJoined, "a message of the peer came before its join")
                    received.append(String(decoding: message.payload, as: UTF8.self))
                default:
                    break
                }
            }
            #expect(received == (0..<100).map { "b\($0)" })
            await a.close()
        }
    }

    @Test("when corosync dies under a lingering reader, the streams end with connectionLost at once")
    func daemonKilledWhileLingering() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            var configuration = Self.configuration()
            configuration.networkNamespace = cluster.node(1).namespacePath
            let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
            let events = group.events
            await Self.untilLingering(group)
            let clock = ContinuousClock()
            let killedAt = clock.now
            try await cluster.killDaemon(cluster.node(1))
            do {
                for try await _ in events {}
                Issue.record("the stream ended without an error")
            } catch let error as CPGError {
                #expect(error.code == .connectionLost)
            }
            #expect(clock.now - killedAt < .seconds(10))
            await group.close()
        }
    }
}
