import CPG
import CPGTesting
import Foundation
import Testing

/// Swift members (one ``CPGGroup`` per node, all in this process, each through its node's network
/// namespace) and plain-C members (`cpg-c-peer`, one process per node) in one group on a real
/// cluster, sending concurrently from every node while faults hit; every member's history goes
/// through ``VirtualSynchronyChecker``, and what corosync reports for each fault is pinned down.
///
/// Needs root (a run without it fails rather than skips). The tests run one at a time: the
/// cluster's timings assume the machine is not shared with another cluster.
@Suite("Virtual synchrony on a real cluster", .serialized)
struct ClusterFaultTests {
    @Test(
        "kill a daemon: the others see its members leave with nodedown, its Swift member sees connectionLost; restarted, its members come back as new joins",
        .timeLimit(.minutes(2))
    )
    func killAndRestartDaemon() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let group = GroupOnCluster(cluster, "kill")
            let (swift, c) = try await group.joinEverywhere(cSend: 300, cSize: 64)
            let initialRing = try await swift[0].nextRingChange(after: 0)
            #expect(initialRing.members == [1, 2, 3])
            var senders = swift.map { $0.startSending(prefix: "\($0.label)-") }
            for sender in swift {
                try await swift[0].waitForMessages(from: sender.member, count: 20)
            }

            // Kill node 3's daemon while everyone sends.
            group.mark()
            try await cluster.killDaemon(cluster.node(3))
            let survivors: [any GroupMember] = [swift[0], c[0], swift[1], c[1]]
            var killRing = initialRing
            for member in survivors {
                let change: CPGMembershipChange
                (change, killRing) = try await member.viewChange(after: group.since(member), ringBefore: [1, 2, 3], ringAfter: [1, 2])
                #expect(Set(change.members) == Set(survivors.map(\.member)), "\(member.label)")
                #expect(change.joined.isEmpty, "\(member.label)")
                #expect(Set(change.left) == memberChanges([swift[2], c[2]], .nodeDown), "\(member.label)")
                #expect(killRing.ringID.nodeID == 1, "\(member.label)")
                #expect(killRing.ringID.sequence > initialRing.ringID.sequence, "\(member.label)")
            }
            try await group.expectSettled("killing node 3's daemon")
            // On node 3, every sequence of the Swift member ends with connectionLost, after the
            // events it had; its sender's send fails the same way; the C member exits on its error.
            #expect(await swift[2].recorder.ended().errorCode == .connectionLost)
            #expect(await swift[2].expectStreamsAgree().errorCode == .connectionLost)
            let (_, killedSenderError) = await senders[2].stop()
            #expect((killedSenderError as? CPGError)?.code == .connectionLost, "\(String(describing: killedSenderError))")
            await c[2].expectDaemonLost()
            await swift[2].group.close()
            // The survivors go on delivering each other's messages.
            for member in survivors {
                try await member.waitForMessages(from: swift[0].member, count: 20, after: group.since(member))
                try await member.waitForMessages(from: swift[1].member, count: 20, after: group.since(member))
            }

            // Restart it: the survivors see the ring grow back at once, its members only when
            // they join again, as new joins (reason join, not nodeup).
            group.mark()
            try await cluster.startDaemon(cluster.node(3))
            var restartRing = killRing
            for member in survivors {
                restartRing = try await member.nextRingChange(after: group.since(member))
                #expect(restartRing.members == [1, 2, 3], "\(member.label)")
                #expect(restartRing.ringID.nodeID == 1, "\(member.label)")
                #expect(restartRing.ringID.sequence > killRing.ringID.sequence, "\(member.label)")
            }
            let swift3 = try await group.joinSwift(on: cluster.node(3), label: "swift@node3#2")
            #expect(swift3.member == swift[2].member, "the same process on the same node: the same nodeid:pid")
            let c3 = try await group.startC(on: cluster.node(3), label: "c@node3#2", send: 100, size: 64, waitMembers: 6)
            let everyone = survivors + [swift3, c3]
            for member in everyone {
                try await member.waitForView(everyone.map(\.member), from: group.since(member))
            }
            for member in survivors {
                #expect(member.changeKinds(since: group.since(member)) == ["ring", "membership", "membership"], "\(member.label)")
                let changes = member.membershipChanges(from: group.since(member))
                #expect(changes.map(\.joined) == [[CPGMemberChange(member: swift3.member, reason: .join)], [CPGMemberChange(member: c3.member, reason: .join)]], "\(member.label)")
                #expect(changes.allSatisfy { $0.left.isEmpty }, "\(member.label)")
            }
            try await group.expectSettled("restarting node 3's daemon and rejoining")
            // The rejoined member starts with its own join and the current ring (in either order).
            let first = swift3.membershipChanges()[0]
            #expect(first.joined == [CPGMemberChange(member: swift3.member, reason: .join)])
            #expect(Set(first.members) == Set(survivors.map(\.member) + [swift3.member]))
            #expect(swift3.ringChanges().first == restartRing)

            senders.append(swift3.startSending(prefix: "swift@node3#2-"))
            group.mark()
            for member in everyone {
                try await member.waitForMessages(from: swift3.member, count: 20, after: group.since(member))
                try await member.waitForMessages(from: c3.member, count: 100)
            }
            try await self.finish(group, senders: [senders[0], senders[1], senders[3]], c: [c[0], c[1], c3])
        }
    }

    @Test(
        "partition a node: each side sees the other's members leave with nodedown and goes on alone; heal: they merge with nodeup",
        .timeLimit(.minutes(2))
    )
    func partitionAndHeal() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let group = GroupOnCluster(cluster, "partition")
            let (swift, c) = try await group.joinEverywhere(cSend: 300, cSize: 64)
            let initialRing = try await swift[0].nextRingChange(after: 0)
            let senders = swift.map { $0.startSending(prefix: "\($0.label)-") }
            for sender in swift {
                try await swift[0].waitForMessages(from: sender.member, count: 20)
            }

            group.mark()
            try await cluster.partition(cluster.node(3))
            let majority: [any GroupMember] = [swift[0], c[0], swift[1], c[1]]
            let minority: [any GroupMember] = [swift[2], c[2]]
            var majorityRing = initialRing
            var minorityRing = initialRing
            let sides: [([any GroupMember], [any GroupMember], [UInt32])] = [(majority, minority, [1, 2]), (minority, majority, [3])]
            for (side, other, nodes) in sides {
                for member in side {
                    let (change, ring) = try await member.viewChange(after: group.since(member), ringBefore: [1, 2, 3], ringAfter: nodes)
                    #expect(Set(change.members) == Set(side.map(\.member)), "\(member.label)")
                    #expect(change.joined.isEmpty, "\(member.label)")
                    #expect(Set(change.left) == memberChanges(other, .nodeDown), "\(member.label)")
                    #expect(ring.ringID.nodeID == nodes[0], "\(member.label): the lowest node id forms the ring")
                    #expect(ring.ringID.sequence > initialRing.ringID.sequence, "\(member.label)")
                    if nodes == [3] { minorityRing = ring } else { majorityRing = ring }
                }
            }
            try await group.expectSettled("cutting node 3 off")
            // Both sides keep serving their own senders (the minority has no quorum; CPG does not care).
            for member in majority {
                try await member.waitForMessages(from: swift[0].member, count: 20, after: group.since(member))
            }
            for member in minority {
                try await member.waitForMessages(from: swift[2].member, count: 20, after: group.since(member))
            }

            group.mark()
            try await cluster.heal(cluster.node(3))
            let everyone = majority + minority
            for (side, other, nodes) in [(majority, minority, [UInt32]([1, 2])), (minority, majority, [3])] {
                for member in side {
                    let (change, ring) = try await member.viewChange(after: group.since(member), ringBefore: nodes, ringAfter: [1, 2, 3])
                    #expect(Set(change.members) == Set(everyone.map(\.member)), "\(member.label)")
                    #expect(Set(change.joined) == memberChanges(other, .nodeUp), "\(member.label)")
                    #expect(change.left.isEmpty, "\(member.label)")
                    #expect(ring.ringID.nodeID == 1, "\(member.label)")
                    #expect(ring.ringID.sequence > max(majorityRing.ringID.sequence, minorityRing.ringID.sequence), "\(member.label)")
                }
            }
            try await group.expectSettled("healing node 3")
            group.mark()
            for member in everyone {
                for sender in swift {
                    try await member.waitForMessages(from: sender.member, count: 20, after: group.since(member))
                }
            }
            try await self.finish(group, senders: senders, c: c)
        }
    }

    @Test(
        "pause a daemon (SIGSTOP): the others see its members leave with nodedown; resumed, its members see everyone else leave, then all merge with nodeup",
        .timeLimit(.minutes(2))
    )
    func pauseAndResumeDaemon() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let group = GroupOnCluster(cluster, "pause")
            let (swift, c) = try await group.joinEverywhere(cSend: 300, cSize: 64)
            let initialRing = try await swift[0].nextRingChange(after: 0)
            let senders = swift.map { $0.startSending(prefix: "\($0.label)-") }
            for sender in swift {
                try await swift[0].waitForMessages(from: sender.member, count: 20)
            }

            group.mark()
            try await cluster.pauseDaemon(cluster.node(2))
            let others: [any GroupMember] = [swift[0], c[0], swift[2], c[2]]
            let paused: [any GroupMember] = [swift[1], c[1]]
            var pauseRing = initialRing
            for member in others {
                let change: CPGMembershipChange
                (change, pauseRing) = try await member.viewChange(after: group.since(member), ringBefore: [1, 2, 3], ringAfter: [1, 3])
                #expect(Set(change.members) == Set(others.map(\.member)), "\(member.label)")
                #expect(change.joined.isEmpty, "\(member.label)")
                #expect(Set(change.left) == memberChanges(paused, .nodeDown), "\(member.label)")
                #expect(pauseRing.ringID.nodeID == 1, "\(member.label)")
                #expect(pauseRing.ringID.sequence > initialRing.ringID.sequence, "\(member.label)")
                try await member.waitForMessages(from: swift[0].member, count: 20, after: group.since(member))
            }
            try await group.expectSettled("pausing node 2's daemon")

            group.mark()
            try await cluster.resumeDaemon(cluster.node(2))
            let everyone = others + paused
            for member in others {
                let (change, ring) = try await member.viewChange(after: group.since(member), ringBefore: [1, 3], ringAfter: [1, 2, 3])
                #expect(Set(change.members) == Set(everyone.map(\.member)), "\(member.label)")
                #expect(Set(change.joined) == memberChanges(paused, .nodeUp), "\(member.label)")
                #expect(change.left.isEmpty, "\(member.label)")
                #expect(ring.ringID.sequence > pauseRing.ringID.sequence, "\(member.label)")
            }
            // The paused node's members learn of the split only now: since the pause they see
            // the others leave (nodedown), then come back (nodeup), then the merged ring. Between
            // the two, its daemon may form rings of node 2 alone (none, one or two were seen),
            // depending on how soon the merge follows the resume.
            for member in paused {
                let mark = group.since(member)
                try await member.waitForView(everyone.map(\.member), from: mark)
                try await member.recorder.first(from: mark, "the merged ring") { event in
                    if case .ring(let ring) = event { return ring.members == [1, 2, 3] }
                    return false
                }
                let changes = member.membershipChanges(from: mark)
                #expect(changes.map { Set($0.members) } == [Set(paused.map(\.member)), Set(everyone.map(\.member))], "\(member.label)")
                #expect(changes.map { Set($0.left) } == [memberChanges(others, .nodeDown), []], "\(member.label)")
                #expect(changes.map { Set($0.joined) } == [[], memberChanges(others, .nodeUp)], "\(member.label)")
                let rings = member.ringChanges(from: mark)
                let alone = rings.dropLast()
                #expect(alone.allSatisfy { $0.members == [2] && $0.ringID.nodeID == 2 }, "\(member.label): \(rings)")
                #expect(rings.last?.ringID.nodeID == 1, "\(member.label): \(rings)")
                #expect(zip(rings, rings.dropFirst()).allSatisfy { $0.ringID.sequence < $1.ringID.sequence }, "\(member.label): \(rings)")
                #expect(rings.last?.ringID.sequence ?? 0 > pauseRing.ringID.sequence, "\(member.label)")
                let kinds = ["membership"] + Array(repeating: "ring", count: alone.count) + ["membership", "ring"]
                #expect(member.changeKinds(since: mark) == kinds, "\(member.label)")
            }
            try await group.expectSettled("resuming node 2's daemon")
            group.mark()
            for member in everyone {
                for sender in swift {
                    try await member.waitForMessages(from: sender.member, count: 20, after: group.since(member))
                }
            }
            try await self.finish(group, senders: senders, c: c)
        }
    }

    @Test(
        "processes go: a killed C member (procdown), a closed Swift member (procdown), members that leave (leave); the ring never changes",
        .timeLimit(.minutes(2))
    )
    func processesGo() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let group = GroupOnCluster(cluster, "procdown")
            let (swift, c) = try await group.joinEverywhere(cSend: 300, cSize: 64)
            let senders = swift.map { $0.startSending(prefix: "\($0.label)-") }
            for sender in swift {
                try await swift[0].waitForMessages(from: sender.member, count: 20)
            }

            // SIGKILL a C member in the middle of its burst: procdown everywhere, no ring change.
            group.mark()
            c[1].process.kill()
            #expect(await c[1].process.waitForExit() == .signaled(SIGKILL))
            var remaining: [any GroupMember] = [swift[0], c[0], swift[1], swift[2], c[2]]
            for member in remaining {
                let change = try await member.nextMembershipChange(after: group.since(member))
                #expect(Set(change.members) == Set(remaining.map(\.member)), "\(member.label)")
                #expect(change.left == [CPGMemberChange(member: c[1].member, reason: .processDown)], "\(member.label)")
                #expect(change.joined.isEmpty, "\(member.label)")
            }
            try await group.expectSettled("killing a C member")

            // close() without leave: procdown too; its streams end normally after what was buffered.
            let (closedSent, closedError) = await senders[2].stop()
            #expect(closedError == nil && closedSent > 0)
            group.mark()
            await swift[2].group.close()
            #expect(await swift[2].recorder.ended() == .finished)
            #expect(await swift[2].expectStreamsAgree() == .finished)
            #expect(!swift[2].history().endsWithDeparture, "a closed member does not see its own departure")
            remaining.removeAll { $0.label == swift[2].label }
            for member in remaining {
                let change = try await member.nextMembershipChange(after: group.since(member))
                #expect(Set(change.members) == Set(remaining.map(\.member)), "\(member.label)")
                #expect(change.left == [CPGMemberChange(member: swift[2].member, reason: .processDown)], "\(member.label)")
            }
            try await group.expectSettled("closing a Swift member")

            // The rest keep delivering; then they leave one by one (reason leave).
            group.mark()
            for member in remaining {
                try await member.waitForMessages(from: swift[0].member, count: 20, after: group.since(member))
                try await member.waitForMessages(from: swift[1].member, count: 20, after: group.since(member))
            }
            try await self.finish(group, senders: [senders[0], senders[1]], c: [c[0], c[2]])
            for member in group.members {
                #expect(member.ringChanges().count == 1, "\(member.label): only the ring at join")
            }
        }
    }

    @Test(
        "a daemon killed in the middle of a heavy send: 1 KB messages as fast as corosync takes them from every node, fragmented ones from the Swift members",
        .timeLimit(.minutes(2))
    )
    func killDuringHeavySend() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            let group = GroupOnCluster(cluster, "heavy")
            let count = 400
            let (swift, c) = try await group.joinEverywhere(cSend: count, cSize: 1000)
            let large = swift[0].group.maxAtomicMessageSize + 100_000
            // Unconfirmed sends, as fast as corosync takes them, every 200th one fragmented; the
            // victim on node 2 sends until its daemon is gone.
            let sending = swift.map { member in
                Task {
                    await member.send(
                        count: member.node.id == 2 ? nil : count, prefix: "\(member.label)-", size: 1000, largeEvery: 200, largeSize: large
                    )
                }
            }
            try await swift[0].waitForMessages(from: swift[1].member, count: count / 2)
            group.mark()
            try await cluster.killDaemon(cluster.node(2))
            let survivors: [any GroupMember] = [swift[0], c[0], swift[2], c[2]]
            for member in survivors {
                let (change, _) = try await member.viewChange(after: group.since(member), ringBefore: [1, 2, 3], ringAfter: [1, 3])
                #expect(Set(change.members) == Set(survivors.map(\.member)), "\(member.label)")
                #expect(Set(change.left) == memberChanges([swift[1], c[1]], .nodeDown), "\(member.label)")
                #expect(change.joined.isEmpty, "\(member.label)")
            }
            try await group.expectSettled("killing node 2's daemon in the middle of the sends")
            #expect(await swift[1].recorder.ended().errorCode == .connectionLost)
            #expect(await swift[1].expectStreamsAgree().errorCode == .connectionLost)
            let (victimError, _) = await sending[1].value
            #expect((victimError as? CPGError)?.code == .connectionLost, "\(String(describing: victimError))")
            await c[1].expectDaemonLost()
            await swift[1].group.close()

            // The survivors' sends all go through, and every survivor delivers all of them.
            for task in [sending[0], sending[2]] {
                let (error, partialSends) = await task.value
                #expect(error == nil, "\(String(describing: error))")
                print("CPGClusterTests: fragmented sends that failed with partialSend and were sent again: \(partialSends)")
            }
            for member in survivors {
                for sender in survivors {
                    try await member.waitForMessages(from: sender.member, count: count)
                }
            }
            try await self.finish(group, senders: [], c: [c[0], c[2]])
        }
    }

    @Test(
        "five nodes: split 3+2 and merge while all send, then kill a daemon",
        .timeLimit(.minutes(2))
    )
    func fiveNodes() async throws {
        try await LocalCluster.withCluster(nodes: 5) { cluster in
            let group = GroupOnCluster(cluster, "five")
            let (swift, c) = try await group.joinEverywhere(cSend: 100, cSize: 64)
            let initialRing = try await swift[0].nextRingChange(after: 0)
            #expect(initialRing.members == [1, 2, 3, 4, 5])
            let senders = swift.map { $0.startSending(prefix: "\($0.label)-") }
            for sender in swift {
                try await swift[0].waitForMessages(from: sender.member, count: 10)
            }
            let nodes = cluster.nodes
            let sideA: [any GroupMember] = Array(swift[0..<3]) + Array(c[0..<3])
            let sideB: [any GroupMember] = Array(swift[3..<5]) + Array(c[3..<5])

            group.mark()
            try await cluster.split(into: [Array(nodes[0..<3]), Array(nodes[3..<5])])
            var splitRing = initialRing.ringID
            let sides: [([any GroupMember], [any GroupMember], [UInt32])] = [(sideA, sideB, [1, 2, 3]), (sideB, sideA, [4, 5])]
            for (side, other, ringNodes) in sides {
                for member in side {
                    let (change, ring) = try await member.viewChange(after: group.since(member), ringBefore: [1, 2, 3, 4, 5], ringAfter: ringNodes)
                    #expect(Set(change.members) == Set(side.map(\.member)), "\(member.label)")
                    #expect(Set(change.left) == memberChanges(other, .nodeDown), "\(member.label)")
                    #expect(change.joined.isEmpty, "\(member.label)")
                    #expect(ring.ringID.nodeID == ringNodes[0], "\(member.label)")
                    #expect(ring.ringID.sequence > initialRing.ringID.sequence, "\(member.label)")
                    splitRing = max(splitRing, ring.ringID)
                }
            }
            try await group.expectSettled("splitting 3+2")
            for (side, sender) in [(sideA, swift[0]), (sideB, swift[3])] {
                for member in side {
                    try await member.waitForMessages(from: sender.member, count: 10, after: group.since(member))
                }
            }

            group.mark()
            try await cluster.healAll()
            let everyone = sideA + sideB
            var mergedRing = initialRing
            for (side, other, ringNodes) in [(sideA, sideB, [UInt32]([1, 2, 3])), (sideB, sideA, [4, 5])] {
                for member in side {
                    let (change, ring) = try await member.viewChange(after: group.since(member), ringBefore: ringNodes, ringAfter: [1, 2, 3, 4, 5])
                    #expect(Set(change.members) == Set(everyone.map(\.member)), "\(member.label)")
                    #expect(Set(change.joined) == memberChanges(other, .nodeUp), "\(member.label)")
                    #expect(change.left.isEmpty, "\(member.label)")
                    mergedRing = ring
                    #expect(mergedRing.ringID.nodeID == 1, "\(member.label)")
                    #expect(mergedRing.ringID.sequence > splitRing.sequence, "\(member.label)")
                }
            }

            try await group.expectSettled("merging 3+2")

            group.mark()
            try await cluster.killDaemon(cluster.node(5))
            let survivors = everyone.filter { $0.node.id != 5 }
            for member in survivors {
                let (change, ring) = try await member.viewChange(after: group.since(member), ringBefore: [1, 2, 3, 4, 5], ringAfter: [1, 2, 3, 4])
                #expect(Set(change.members) == Set(survivors.map(\.member)), "\(member.label)")
                #expect(Set(change.left) == memberChanges([swift[4], c[4]], .nodeDown), "\(member.label)")
                #expect(ring.ringID.sequence > mergedRing.ringID.sequence, "\(member.label)")
            }
            try await group.expectSettled("killing node 5's daemon")
            #expect(await swift[4].recorder.ended().errorCode == .connectionLost)
            #expect(await swift[4].expectStreamsAgree().errorCode == .connectionLost)
            let (_, killedSenderError) = await senders[4].stop()
            #expect((killedSenderError as? CPGError)?.code == .connectionLost)
            await c[4].expectDaemonLost()
            await swift[4].group.close()
            group.mark()
            for member in survivors {
                for sender in swift[0..<4] {
                    try await member.waitForMessages(from: sender.member, count: 10, after: group.since(member))
                }
            }
            try await self.finish(group, senders: Array(senders[0..<4]), c: Array(c[0..<4]))
        }
    }

    // MARK: Helpers

    /// Stops the senders (none may have failed), waits until each C member delivered all it
    /// sent, makes every live member leave, and checks every history.
    private func finish(
        _ group: GroupOnCluster,
        senders: [Sender],
        c: [CMember],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for sender in senders {
            let (sent, error) = await sender.stop()
            #expect(error == nil, "\(String(describing: error))", sourceLocation: sourceLocation)
            #expect(sent > 0, sourceLocation: sourceLocation)
        }
        for member in c {
            try await member.waitForMessages(from: member.member, count: member.payloads.count)
        }
        try await group.leaveAll(sourceLocation: sourceLocation)
        group.checkVirtualSynchrony(sourceLocation: sourceLocation)
    }
}
