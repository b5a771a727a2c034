import CPG
import CPGBaseline
import CPGTesting
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The measurements on a private multi-node cluster (``LocalCluster``: one network namespace and
/// one corosync per node, on a private /24 that exists only inside those namespaces).
///
/// The member under test (Swift or C) runs in this process and talks to node 1's daemon: the Swift
/// group through ``CPGConfiguration/networkNamespace``, the C baseline from a thread that entered
/// node 1's namespace before `cpg_initialize` (`cpg_baseline_throughput_in`). The other members
/// are `cpg-bench-peer` processes started inside the nodes' namespaces, so every message crosses
/// totem between the daemons.
struct ClusterScenarios: Sendable {
    let scenarios: Scenarios
    let cluster: LocalCluster

    enum Side: String {
        case swift = "Swift"
        case c = "C"
    }

    /// Starts `cpg-bench-peer ARGUMENTS` inside `node`'s network namespace, with a pipe on its
    /// stdin. The cluster's teardown kills it if it is still running then.
    func spawnPeer(_ arguments: [String], on node: ClusterNode) throws -> Peer {
        try Peer.spawn(["ip", "netns", "exec", node.namespaceName, self.scenarios.peerPath] + arguments)
    }

    // MARK: Throughput across nodes

    /// One sender on node 1 (Swift `CPGGroup` or the C pipeline) sends `count` messages of `size`
    /// bytes; a C receiver on every other node (`cpg-bench-peer recv`) must get all of them, each
    /// payload intact (the senders send the same message every time, so there is no sequence to
    /// check). The sender starts once the group has every receiver; wall time is first send to the
    /// last own delivery, CPU is this process's, as in section (a).
    func throughput(_ side: Side, size: Int, count: Int) async throws -> RunResult {
        let node1 = self.cluster.nodes[0]
        let name = GroupNames.make(side == .swift ? "ntput-s" : "ntput-c")
        var receivers: [Peer] = []
        do {
            for node in self.cluster.nodes.dropFirst() {
                receivers.append(try self.spawnPeer(["recv", name, "\(count)"], on: node))
            }
            for receiver in receivers { _ = try await receiver.expectLine(startingWith: "ready") }
        } catch {
            await Self.kill(receivers)
            throw error
        }
        var result: RunResult
        do {
            // The two measurements take the same arguments.
            let measure = side == .swift ? self.scenarios.swiftThroughput : self.scenarios.cThroughput
            result = try await measure(size, count, 1, false, name, node1.namespacePath, self.cluster.nodes.count)
        } catch {
            await Self.kill(receivers)
            throw error
        }
        // Every message the sender saw delivered is delivered to the receivers at about the same
        // time; give them 30 s, then close their stdin so they report what they got.
        let giveUp = Task {
            try await Task.sleep(for: .seconds(30))
            for receiver in receivers { receiver.closeInput() }
        }
        var fewest = Int.max
        var errors = 0
        var ringChanged = false
        for receiver in receivers {
            let done = keyValues(try await receiver.expectLine(startingWith: "done"))
            _ = await receiver.waitForExit()
            fewest = min(fewest, Int(done["messages"] ?? "") ?? -1)
            errors += Int(done["payload_errors"] ?? "") ?? 1
            ringChanged = ringChanged || done["nodedown"] != "0"
        }
        giveUp.cancel()
        if ringChanged {
            throw RingChangedDuringRun(
                description: "\(side.rawValue) sender: the ring re-formed during the run (a receiver saw a nodedown); "
                    + "the fewest messages a receiver got: \(fewest) of \(count)"
            )
        }
        guard fewest == count, errors == 0 else {
            throw BenchError("\(side.rawValue) sender: a receiver on another node got \(fewest) of \(count), \(errors) errors")
        }
        result.peerMessages = fewest
        result.peerErrors = errors
        return result
    }

    /// A run during which the totem membership changed (a receiver saw a member leave with
    /// reason nodedown, as when daemons starved of CPU lose the token). Virtual synchrony
    /// then lets the two sides deliver different messages, and the time includes the re-forming:
    /// the run does not count.
    struct RingChangedDuringRun: Error, CustomStringConvertible {
        var description: String
    }

    private static func kill(_ peers: [Peer]) async {
        for peer in peers {
            peer.signal(SIGKILL)
            _ = await peer.waitForExit()
        }
    }

    // MARK: Failure detection

    struct DetectionSample {
        /// The node whose daemon was killed.
        var victim: UInt32
        /// Seconds from the kill to the nodedown membership change, as each member on node 1 saw it.
        var swift: Double
        var c: Double
        /// What `LocalCluster.killDaemon` measured: until every other daemon's
        /// `corosync-quorumtool` showed the node gone (polled every 100 ms).
        var settled: Double
        /// From the daemon's restart until the group had every member again.
        var rejoin: Double
    }

    /// A Swift member (in this process) and a C member (`cpg-bench-peer member`; one process
    /// joins a group once) on node 1, and a C member on every other node, all in one group.
    /// `repetitions` times: kill -9 the daemon of one node other than 1 (the last node first, then
    /// the one before, ...), time until each member on node 1 sees the nodedown membership
    /// change, then restart that daemon, start its member again and wait until the group has
    /// everyone again. Both members take the time with CLOCK_MONOTONIC, one clock for the machine.
    /// A kill after which a member's first nodedown names another node does not count and is
    /// repeated (at most 3 times in a row); `repeated` counts them.
    func failureDetection(repetitions: Int) async throws -> (samples: [DetectionSample], repeated: Int) {
        let nodes = self.cluster.nodes
        let node1 = nodes[0]
        let name = GroupNames.make("detect")
        var configuration = CPGConfiguration()
        configuration.networkNamespace = node1.namespacePath
        let group = try await CPGGroup.join(name, configuration: configuration)
        let watcher = NodeDownWatcher(group.membershipChanges)
        var peers: [UInt32: Peer] = [:]
        func startPeer(on node: ClusterNode) async throws {
            let peer = try self.spawnPeer(["member", name], on: node)
            peers[node.id] = peer
            _ = try await peer.expectLine(startingWith: "ready")
        }
        let everyone = nodes.count + 1
        var samples: [DetectionSample] = []
        var repeated = 0
        var repeatedInARow = 0
        var attempt = 0
        do {
            for node in nodes { try await startPeer(on: node) }
            try await self.scenarios.waitForMembers(group, everyone, seconds: 60)
            while samples.count < repetitions {
                let victim = nodes[nodes.count - 1 - attempt % (nodes.count - 1)]
                attempt += 1
                watcher.reset()
                let killed = nowNanoseconds()
                let settled = try await self.cluster.killDaemon(victim)
                let swift = try await watcher.wait(seconds: 30)
                // C's member reports every nodedown on its stdout: skip what an earlier kill left
                // there (a second node declared down after that kill's victim).
                var line: String
                var c: [String: String]
                var cAt: UInt64
                repeat {
                    line = try await peers[node1.id]!.expectLine(startingWith: "nodedown")
                    c = keyValues(line)
                    guard let at = UInt64(c["at_ns"] ?? "") else { throw BenchError("no time in '\(line)' (C)") }
                    cAt = at
                } while cAt < killed
                // On two cores a daemon starved of CPU can miss the token while the ring re-forms
                // without the victim, and is declared down too (seen with 9 nodes). The first
                // nodedown a member then reports may be that node's: the repetition does not count.
                let disturbed = swift.at < killed || swift.node != victim.id || c["node"] != "\(victim.id)"
                if disturbed {
                    repeatedInARow += 1
                    guard repeatedInARow <= 3 else {
                        throw BenchError("nodedown of node \(swift.node) (Swift) / '\(line)' (C), expected node \(victim.id), 4 times in a row")
                    }
                    log("(g) \(nodes.count) nodes: killed node\(victim.id), but the first nodedown was of node \(swift.node) (Swift) / '\(line)' (C); repeated")
                }
                // The victim's member lost its daemon; it is killed and started afresh.
                if let peer = peers.removeValue(forKey: victim.id) {
                    peer.signal(SIGKILL)
                    _ = await peer.waitForExit()
                }
                let restart = nowNanoseconds()
                try await self.cluster.startDaemon(victim)
                try await startPeer(on: victim)
                // A node declared down while its daemon ran merges back by itself.
                try await self.scenarios.waitForMembers(group, everyone, seconds: 60)
                if disturbed {
                    repeated += 1
                    continue
                }
                repeatedInARow = 0
                let sample = DetectionSample(
                    victim: victim.id,
                    swift: Double(swift.at - killed) / 1e9,
                    c: Double(cAt - killed) / 1e9,
                    settled: seconds(settled),
                    rejoin: Double(nowNanoseconds() - restart) / 1e9
                )
                log("(g) \(nodes.count) nodes: killed node\(victim.id): nodedown after \(fmt(sample.swift, 3)) s (Swift), \(fmt(sample.c, 3)) s (C); daemons settled \(fmt(sample.settled, 2)) s; rejoined in \(fmt(sample.rejoin, 2)) s")
                samples.append(sample)
            }
        } catch {
            await Self.kill(Array(peers.values))
            watcher.stop()
            await group.close()
            throw error
        }
        for peer in peers.values {
            peer.closeInput()
            _ = await peer.waitForExit()
        }
        watcher.stop()
        try await group.leave()
        return (samples, repeated)
    }
}

/// Notes when the first member that left with reason nodedown arrives on a Swift member's
/// membership changes (the time is taken as the watching task receives the change).
final class NodeDownWatcher: Sendable {
    private let seen = Mutex<(at: UInt64, node: UInt32)?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ changes: CPGEventSequence<CPGMembershipChange>) {
        let task = Task { [self] in
            do {
                for try await change in changes {
                    guard let down = change.left.first(where: { $0.reason == .nodeDown }) else { continue }
                    let now = nowNanoseconds()
                    self.seen.withLock { if $0 == nil { $0 = (now, down.member.nodeID) } }
                }
            } catch {
                log("(g) the Swift member's membership changes ended: \(error)")
            }
        }
        self.task.withLock { $0 = task }
    }

    func reset() {
        self.seen.withLock { $0 = nil }
    }

    /// Waits (polling every millisecond) for the nodedown change; its time and node.
    func wait(seconds: Double) async throws -> (at: UInt64, node: UInt32) {
        let deadline = nowNanoseconds() + UInt64(seconds * 1e9)
        while true {
            if let value = self.seen.withLock({ $0 }) { return value }
            guard nowNanoseconds() < deadline else { throw BenchError("no nodedown within \(fmt(seconds, 0)) s (Swift)") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func stop() {
        self.task.withLock { $0?.cancel() }
    }
}
