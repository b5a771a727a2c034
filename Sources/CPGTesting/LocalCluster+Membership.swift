import Foundation
import Glibc

extension LocalCluster {
    /// Reads what the node's daemon reports about its membership
    /// (`corosync-quorumtool -s -p` in the node's namespace).
    ///
    /// - Returns: `nil` if the daemon does not answer (stopped, paused, starting)
    ///   within ``LocalClusterOptions/queryTimeout``.
    public nonisolated func membership(of node: ClusterNode) async throws -> MembershipView? {
        try await Self.query(node, timeout: options.queryTimeout)
    }

    /// The members each running daemon should report, given what was done to the
    /// cluster: a daemon cut off by ``partition(_:)`` sees only itself; the others see every
    /// running daemon on the same bridge. Paused and stopped daemons are absent.
    public func expectedMemberships() -> [UInt32: [UInt32]] {
        var expected: [UInt32: [UInt32]] = [:]
        let running = nodes.filter { daemonStates[$0.id] == .running }.map(\.id)
        for id in running {
            if isolated.contains(id) {
                expected[id] = [id]
            } else {
                expected[id] = running.filter { !isolated.contains($0) && segments[$0] == segments[id] }
            }
        }
        return expected
    }

    /// Waits until every running daemon reports exactly its expected membership
    /// (see ``expectedMemberships()``) and daemons in the same membership agree on
    /// the ring id. Faults call this before they return.
    ///
    /// - Parameter timeout: The limit; ``LocalClusterOptions/settleTimeout`` if `nil`.
    /// - Returns: How long it took.
    /// - Throws: ``LocalClusterError/settleTimedOut(after:expected:observed:logs:)``,
    ///   ``LocalClusterError/daemonExited(node:termination:log:)``, `CancellationError`.
    @discardableResult
    public func waitUntilSettled(timeout: Duration? = nil) async throws -> Duration {
        try await settle(since: clock.now, timeout: timeout ?? options.settleTimeout)
    }

    /// Polls until settled; returns the time since `start`.
    func settle(since start: ContinuousClock.Instant, timeout: Duration? = nil) async throws -> Duration {
        let limit = timeout ?? options.settleTimeout
        let deadline = clock.now + limit
        var polls = 0
        while true {
            try Task.checkCancellation()
            try ensureRunning()
            try checkDaemonsAlive()
            let expected = expectedMemberships()
            let observed = try await observe(Array(expected.keys))
            polls += 1
            if Self.matches(expected: expected, observed: observed) {
                let elapsed = clock.now - start
                logger.debug("settled after \(elapsed) (\(polls) polls)")
                return elapsed
            }
            if clock.now >= deadline {
                try checkDaemonsAlive()
                throw LocalClusterError.settleTimedOut(
                    after: limit,
                    expected: expected.sorted { $0.key < $1.key }
                        .map { "  node \($0.key): \($0.value)" }.joined(separator: "\n"),
                    observed: observed.sorted { $0.key < $1.key }
                        .map { "  node \($0.key): \($0.value.map(\.description) ?? "no answer")" }
                        .joined(separator: "\n"),
                    logs: nodes.map { logTail(of: $0, lines: 15) }.joined())
            }
            try await Task.sleep(for: options.pollInterval)
        }
    }

    /// Throws if a daemon that should be running (or paused) has exited.
    func checkDaemonsAlive() throws {
        for node in nodes where daemonStates[node.id] != .stopped {
            if let daemon = daemons[node.id], let termination = daemon.currentTermination {
                SharedMemoryLeftovers.remove(daemonPID: daemon.pid)
                daemons[node.id] = nil
                daemonStates[node.id] = .stopped
                throw LocalClusterError.daemonExited(node: node, termination: termination, log: logTail(of: node))
            }
        }
    }

    /// Queries the given nodes concurrently.
    private func observe(_ ids: [UInt32]) async throws -> [UInt32: MembershipView?] {
        let timeout = options.queryTimeout
        let targets = ids.map { nodes[Int($0) - 1] }
        return try await withThrowingTaskGroup(of: (UInt32, MembershipView?).self) { group in
            for node in targets {
                group.addTask { (node.id, try await Self.query(node, timeout: timeout)) }
            }
            var views: [UInt32: MembershipView?] = [:]
            for try await (id, view) in group {
                views[id] = view
            }
            return views
        }
    }

    private static func query(_ node: ClusterNode, timeout: Duration) async throws -> MembershipView? {
        do {
            let result = try await Shell.run(
                ["ip", "netns", "exec", node.namespace.name, "corosync-quorumtool", "-s", "-p"], timeout: timeout)
            return MembershipView(quorumtoolOutput: result.standardOutput)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            return nil
        }
    }

    private static func matches(expected: [UInt32: [UInt32]], observed: [UInt32: MembershipView?]) -> Bool {
        var ringOfGroup: [[UInt32]: String] = [:]
        for (id, members) in expected {
            guard let view = observed[id] ?? nil, view.nodeID == id, view.members == members else {
                return false
            }
            if let ring = ringOfGroup[members], ring != view.ringID {
                return false
            }
            ringOfGroup[members] = view.ringID
        }
        return true
    }
}
