import AsyncAlgorithms
@testable import CPG
import CPGTesting
import Logging
import ServiceLifecycle
import Testing

@Suite("swift-service-lifecycle and swift-async-algorithms", .timeLimit(.minutes(1)))
struct ServiceLifecycleTests {
    @Test("graceful shutdown leaves the group, ends the streams, and run() returns")
    func gracefulShutdown() async throws {
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name)
        let events = group.events
        let serviceGroup = ServiceGroup(
            configuration: .init(services: [.init(service: group)], logger: CPGGroup.silentLogger)
        )
        let running = Task { try await serviceGroup.run() }
        var iterator = events.makeAsyncIterator()
        _ = try await iterator.next()  // joined: the group is up
        await serviceGroup.triggerGracefulShutdown()
        try await running.value
        var rest: [CPGEvent] = []
        while let event = try await iterator.next() { rest.append(event) }
        let last = try #require(rest.last?.membership)
        #expect(last.left == [CPGMemberChange(member: group.localMember, reason: .leave)])
        #expect(try await CPGCluster.members(of: name).contains(group.localMember) == false)
    }

    @Test("run() throws connectionLost when the daemon dies")
    func runThrowsWhenDaemonDies() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            var configuration = CPGConfiguration()
            configuration.networkNamespace = cluster.node(1).namespacePath
            let group = try await CPGGroup.join("service", configuration: configuration)
            let running = Task { try await group.run() }
            try await cluster.killDaemon(cluster.node(1))
            do {
                try await running.value
                Issue.record("run() returned normally")
            } catch let error as CPGError {
                #expect(error.code == .connectionLost)
            }
        }
    }

    @Test("event sequences compose with swift-async-algorithms")
    func composesWithAsyncAlgorithms() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let merged = merge(group.messages.map { "message \($0.deliveryIndex)" }, group.membershipChanges.map { "view \($0.members.count)" })
        try await group.send([1])
        try await group.send([2])
        var seen: Set<String> = []
        for try await line in merged {
            seen.insert(line)
            if seen.count == 3 { break }
        }
        #expect(seen == ["view 1", "message 1", "message 2"])
        await group.close()
    }
}
