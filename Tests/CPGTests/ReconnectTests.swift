@testable import CPG
import CPGTesting
import Testing

@Suite("Supervised reconnect", .serialized, .timeLimit(.minutes(1)))
struct ReconnectTests {
    @Test("a daemon restart: disconnected, sends wait, reconnected with a new view, the waiting send delivered")
    func outlivesDaemonRestart() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let configuration = quicklyReconnecting(networkNamespace: cluster.node(1).namespacePath)
            let group = try await CPGGroup.join("phoenix", configuration: configuration)
            var events = group.events.makeAsyncIterator()
            let before = try await group.sendConfirmed(Array("before".utf8))
            var seen: [CPGEvent] = []
            while seen.compactMap(\.message).isEmpty, let event = try await events.next() { seen.append(event) }

            let clock = ContinuousClock()
            let killed = clock.now
            try await cluster.killDaemon(cluster.node(1))
            let disconnected = try await events.next()
            guard case .disconnected(let error) = disconnected else {
                Issue.record("expected disconnected, got \(String(describing: disconnected))")
                return
            }
            #expect(error.code == .connectionLost)
            #expect(clock.now - killed < .seconds(5))
            await #expect(throws: CPGError.self) { try await group.members() }
            let during = Task { try await group.sendConfirmed(Array("during".utf8)) }

            try await cluster.startDaemon(cluster.node(1))
            let next = try await events.next()
            #expect(next == .reconnected)
            var rejoined = false
            var delivered: [CPGMessage] = []
            while delivered.isEmpty, let event = try await events.next() {
                if let change = event.membership, change.joined.contains(CPGMemberChange(member: group.localMember, reason: .join)) {
                    rejoined = true
                }
                if let message = event.message { delivered.append(message) }
            }
            #expect(rejoined)
            #expect(delivered.map(\.payload) == [Array("during".utf8)])
            // Delivery indices go on across the reconnect.
            #expect(try await during.value == before + 1)
            #expect(try await group.members() == [group.localMember])
            #expect(await group.reconnects == 1)
            await group.close()
        }
    }

    @Test("sendsWhileDisconnected .fail: sends fail at once with connectionLost while disconnected")
    func failsSendsWhileDisconnected() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            var configuration = CPGConfiguration()
            configuration.networkNamespace = cluster.node(1).namespacePath
            var policy = CPGReconnectPolicy()
            policy.sendsWhileDisconnected = .fail
            policy.giveUpAfter = .milliseconds(300)
            configuration.reconnect = policy
            let group = try await CPGGroup.join("phoenix", configuration: configuration)
            let connection = group.events.filter {
                if case .disconnected = $0 { return true }
                return false
            }
            let events = group.events
            try await cluster.killDaemon(cluster.node(1))
            _ = try await connection.first(where: { _ in true })
            do {
                try await group.send([1])
                Issue.record("a send while disconnected succeeded")
            } catch let error as CPGError {
                #expect(error.code == .connectionLost)
            }
            // The daemon stays down: after giveUpAfter the streams end with the error.
            do {
                for try await _ in events {}
                Issue.record("the stream ended without an error")
            } catch let error as CPGError {
                #expect(error.code == .connectionLost)
            }
        }
    }

    @Test("a leave right after the reconnect: the rejoin's own join comes before the own leave, and corosync gets one cpg_leave")
    func leaveRightAfterReconnect() async throws {
        var options = LocalClusterOptions()
        options.corosync.debugLogging = true  // the daemon logs each leave request it gets
        try await LocalCluster.withCluster(nodes: 1, options: options) { cluster in
            let node = cluster.node(1)
            let group = try await CPGGroup.join("phoenix", configuration: quicklyReconnecting(networkNamespace: node.namespacePath))
            var events = group.events.makeAsyncIterator()
            try await cluster.killDaemon(node)
            while let event = try await events.next() {
                if case .disconnected = event { break }
            }
            try await cluster.startDaemon(node)
            let next = try await events.next()
            #expect(next == .reconnected)
            // At once: corosync may not have put the join round the ring yet. Then a leave
            // answers CS_ERR_BUSY, which libcpg repeats without pause; the group waits for its
            // own join first (GroupLifecycleReconnectTests covers that state on its own).
            try await group.leave()
            var rest: [CPGEvent] = []
            while let event = try await events.next() { rest.append(event) }
            let own = group.localMember
            let joinedAt = rest.firstIndex { $0.membership?.joined.contains(CPGMemberChange(member: own, reason: .join)) == true }
            let leftAt = rest.firstIndex { $0.membership?.left.contains(CPGMemberChange(member: own, reason: .leave)) == true }
            #expect(joinedAt != nil && leftAt != nil && joinedAt! < leftAt!)
            let log = try String(contentsOfFile: node.logPath, encoding: .utf8)
            let leaveRequests = log.components(separatedBy: "\n").filter { $0.contains("got leave request") }
            #expect(leaveRequests.count == 1, "corosync got \(leaveRequests.count) leave requests")
            #expect(await group.reconnects == 1)
        }
    }
}
