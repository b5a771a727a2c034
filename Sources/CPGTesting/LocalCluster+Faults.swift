import Foundation
import Glibc

/// Faults. Each acts, then waits (by polling the daemons, up to
/// ``LocalClusterOptions/settleTimeout``) until every running daemon reports the
/// membership the fault implies, and returns how long that took from the start
/// of the call.
extension LocalCluster {
    /// Kills the node's daemon with `SIGKILL` and returns once every other running
    /// daemon's membership no longer includes it.
    ///
    /// Works on a paused daemon too.
    @discardableResult
    public func killDaemon(_ node: ClusterNode) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        try ensureMember(node)
        guard let daemon = daemons[node.id], daemonStates[node.id] != .stopped else {
            throw LocalClusterError.invalidState(node: node, state: state(of: node), operation: "kill")
        }
        logger.debug("killing corosync on \(node.name) (pid \(daemon.pid))")
        daemon.send(SIGKILL)
        _ = await daemon.terminated
        SharedMemoryLeftovers.remove(daemonPID: daemon.pid)
        daemons[node.id] = nil
        daemonStates[node.id] = .stopped
        let settled = try await settle(since: start)
        logger.info("killed \(node.name): settled in \(settled)")
        return settled
    }

    /// Starts the node's (stopped) daemon again and returns once it is part of
    /// the membership it should be in (all reachable running nodes).
    @discardableResult
    public func startDaemon(_ node: ClusterNode) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        try ensureMember(node)
        guard daemonStates[node.id] == .stopped else {
            throw LocalClusterError.invalidState(node: node, state: state(of: node), operation: "start")
        }
        try await launchDaemon(node)
        let settled = try await settle(since: start)
        logger.info("started \(node.name): settled in \(settled)")
        return settled
    }

    /// Kills the node's daemon if it runs (waiting until the others noticed), then
    /// starts it again and returns once it rejoined.
    @discardableResult
    public func restartDaemon(_ node: ClusterNode) async throws -> Duration {
        let start = clock.now
        if daemonStates[node.id] != .stopped {
            try await killDaemon(node)
        }
        try await startDaemon(node)
        return clock.now - start
    }

    /// Stops the node's daemon with `SIGSTOP` and returns once every other running
    /// daemon's membership no longer includes it.
    ///
    /// - Parameter settle: `false` returns right after the signal, while the other daemons
    ///   still wait for the token the stopped one holds: until their token timeout, nothing
    ///   new is ordered on the ring. The duration returned is then zero.
    @discardableResult
    public func pauseDaemon(_ node: ClusterNode, settle: Bool = true) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        try ensureMember(node)
        guard let daemon = daemons[node.id], daemonStates[node.id] == .running else {
            throw LocalClusterError.invalidState(node: node, state: state(of: node), operation: "pause")
        }
        daemon.send(SIGSTOP)
        daemonStates[node.id] = .paused
        guard settle else {
            logger.info("paused \(node.name), not waiting for the membership to settle")
            return .zero
        }
        let settled = try await self.settle(since: start)
        logger.info("paused \(node.name): settled in \(settled)")
        return settled
    }

    /// Continues the node's paused daemon with `SIGCONT` and returns once it is
    /// back in the membership it should be in.
    @discardableResult
    public func resumeDaemon(_ node: ClusterNode) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        try ensureMember(node)
        guard let daemon = daemons[node.id], daemonStates[node.id] == .paused else {
            throw LocalClusterError.invalidState(node: node, state: state(of: node), operation: "resume")
        }
        daemon.send(SIGCONT)
        daemonStates[node.id] = .running
        let settled = try await settle(since: start)
        logger.info("resumed \(node.name): settled in \(settled)")
        return settled
    }

    /// Cuts the node off the network and returns once both sides see the split:
    /// the node alone, the others without it.
    ///
    /// The bridge side of the node's veth is detached from its bridge, so every
    /// packet to or from the node is dropped while both interfaces stay up. (Setting
    /// the veth down instead also takes the carrier away; measured with corosync
    /// 3.1.7, knet then keeps stale link state and the heal goes through an extra
    /// membership change about a second after the merge.)
    ///
    /// The daemon keeps running; a partitioned minority loses quorum, but CPG
    /// keeps working on both sides.
    @discardableResult
    public func partition(_ node: ClusterNode) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        try ensureMember(node)
        try await bridgeNamespace.ip("link", "set", "v\(node.id)", "nomaster")
        isolated.insert(node.id)
        let settled = try await settle(since: start)
        logger.info("partitioned \(node.name): settled in \(settled)")
        return settled
    }

    /// Reconnects a node cut off by ``partition(_:)`` and returns once the memberships merged.
    @discardableResult
    public func heal(_ node: ClusterNode) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        try ensureMember(node)
        try await bridgeNamespace.ip("link", "set", "v\(node.id)", "master", "br\(segments[node.id] ?? 0)", "up")
        isolated.remove(node.id)
        let settled = try await settle(since: start)
        logger.info("healed \(node.name): settled in \(settled)")
        return settled
    }

    /// Splits the network into groups that cannot reach each other (each group on
    /// a bridge of its own) and returns once every side sees its own membership.
    ///
    /// Every node must appear in exactly one group. Links cut with
    /// ``partition(_:)`` come back up.
    ///
    /// ```swift
    /// try await cluster.split(into: [[cluster.node(1), cluster.node(2)], [cluster.node(3), cluster.node(4)]])
    /// ```
    @discardableResult
    public func split(into groups: [[ClusterNode]]) async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        let listed = groups.flatMap { $0 }
        for node in listed {
            try ensureMember(node)
        }
        guard listed.count == nodes.count, Set(listed.map(\.id)).count == nodes.count else {
            throw LocalClusterError.invalidArgument("split(into:) needs every node in exactly one group")
        }
        for (index, group) in groups.enumerated() {
            try await addBridge(index)
            for node in group {
                try await bridgeNamespace.ip("link", "set", "v\(node.id)", "master", "br\(index)", "up")
                segments[node.id] = index
                isolated.remove(node.id)
            }
        }
        let settled = try await settle(since: start)
        logger.info("split into \(groups.map { $0.map(\.name) }): settled in \(settled)")
        return settled
    }

    /// Undoes every network fault (``partition(_:)`` and ``split(into:)``): all links
    /// up, all nodes on one bridge. Returns once the memberships merged.
    @discardableResult
    public func healAll() async throws -> Duration {
        let start = clock.now
        try ensureRunning()
        for node in nodes where segments[node.id] != 0 || isolated.contains(node.id) {
            try await bridgeNamespace.ip("link", "set", "v\(node.id)", "master", "br0", "up")
            segments[node.id] = 0
            isolated.remove(node.id)
        }
        let settled = try await settle(since: start)
        logger.info("healed all: settled in \(settled)")
        return settled
    }
}
