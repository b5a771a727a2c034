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

    @Test("sendsWhileDisconnected .wait: a send that meets the dead connection before the reader has seen it go waits for the reconnect")
    func sendMeetsDeadConnectionFirst() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let node = cluster.node(1)
            var configuration = quicklyReconnecting(networkNamespace: node.namespacePath)
            configuration.eventBufferCount = 4
            let group = try await CPGGroup.join("phoenix", configuration: configuration)
            var events = group.events.makeAsyncIterator()
            // Unread own messages fill the buffer: the group stops reading, so it cannot see
            // the daemon go until the buffer drains, and the next send meets the dead socket.
            let before = (0..<8).map { Array("before \($0)".utf8) }
            for payload in before { try await group.send(payload) }
            await group.waitUntilReadingPaused()
            try await cluster.killDaemon(node)
            // It waits for the reconnect, which needs the buffer drained below: in a task.
            let during = Task { try await group.send(Array("during".utf8)) }
            try await cluster.startDaemon(node)
            var seen: [CPGEvent] = []
            while let event = try await events.next() {
                seen.append(event)
                if event.message?.payload == Array("during".utf8) { break }
            }
            let disconnectedAt = try #require(seen.firstIndex { if case .disconnected = $0 { true } else { false } })
            let earlier = seen[..<disconnectedAt].compactMap(\.message?.payload)
            #expect(Array(before.prefix(earlier.count)) == earlier)
            #expect(seen[(disconnectedAt + 1)...].compactMap(\.message?.payload) == [Array("during".utf8)])
            #expect(seen.contains(.reconnected))
            try await during.value
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

    @Test("a leave right after a reconnect whose join the ring cannot order yet waits for it: corosync gets one cpg_leave, not a loop of BUSY answers")
    func leaveRightAfterReconnect() async throws {
        let options = LocalClusterOptions(corosync: CorosyncConfig(debugLogging: true))  // corosync logs each leave request
        try await LocalCluster.withCluster(nodes: 2, options: options) { cluster in
            let node = cluster.node(1)
            var configuration = CPGConfiguration()
            configuration.networkNamespace = node.namespacePath
            var policy = CPGReconnectPolicy()
            // One attempt at once (the daemon is gone), the next 6 s later: after the kill and
            // the restart below have settled (about 2 s each here) and node 2 is paused.
            policy.initialDelay = .seconds(6)
            policy.maximumDelay = .seconds(6)
            configuration.reconnect = policy
            let group = try await CPGGroup.join("phoenix", configuration: configuration)
            var events = group.events.makeAsyncIterator()
            try await cluster.killDaemon(node)
            while let event = try await events.next() {
                if case .disconnected = event { break }
            }
            try await cluster.startDaemon(node)
            // With node 2's daemon stopped, node 1 still takes cpg_join, but the token stays at
            // node 2: the join is ordered only once node 1 gives node 2 up (token timeout, then
            // consensus). Until then corosync answers cpg_leave with CS_ERR_BUSY, and libcpg
            // repeats a leave at once for as long as it does.
            try await cluster.pauseDaemon(cluster.node(2), settle: false)
            let next = try await events.next()
            #expect(next == .reconnected)
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
            try await cluster.resumeDaemon(cluster.node(2))
        }
    }
}
