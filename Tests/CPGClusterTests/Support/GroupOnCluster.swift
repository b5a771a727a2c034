import CPG
import CPGTesting
import Foundation
import Synchronization
import Testing

/// The group under test on a ``LocalCluster``: every member that ever joined it (each
/// incarnation once, in join order), the marks the test takes between faults, and the final check.
///
/// Used from the test's own task only.
final class GroupOnCluster {
    let cluster: LocalCluster
    let name: String
    private(set) var members: [any GroupMember] = []
    private var marks: [String: Int] = [:]

    init(_ cluster: LocalCluster, _ label: String) {
        self.cluster = cluster
        self.name = uniqueGroupName(label)
    }

    /// Joins a Swift member on `node`.
    func joinSwift(on node: ClusterNode, label: String? = nil) async throws -> SwiftMember {
        let member = try await SwiftMember.join(self.name, on: node, label: label)
        self.members.append(member)
        return member
    }

    /// Starts a C member on `node` that sends `count` messages once it has seen `waitMembers` members.
    func startC(
        on node: ClusterNode,
        label: String? = nil,
        send count: Int = 0,
        size: Int = 0,
        waitMembers: Int = 0
    ) async throws -> CMember {
        let label = label ?? "c@\(node.name)"
        let member = try await CMember.start(
            self.name, on: node, in: self.cluster, label: label, send: count, prefix: "\(label)-", size: size, waitMembers: waitMembers
        )
        self.members.append(member)
        return member
    }

    /// Joins a Swift member and starts a C member on every node (the C members send `cSend`
    /// messages of `cSize` bytes once all are in), then waits until every member installed the
    /// view of all of them.
    func joinEverywhere(cSend: Int = 0, cSize: Int = 0) async throws -> (swift: [SwiftMember], c: [CMember]) {
        var swift: [SwiftMember] = []
        var c: [CMember] = []
        let total = 2 * self.cluster.nodes.count
        for node in self.cluster.nodes {
            swift.append(try await self.joinSwift(on: node))
            c.append(try await self.startC(on: node, send: cSend, size: cSize, waitMembers: total))
        }
        let everyone: [any GroupMember] = swift + c
        for member in everyone {
            try await member.waitForView(everyone.map(\.member))
        }
        return (swift, c)
    }

    /// Notes how many events each member has delivered: "since the mark" starts there.
    func mark() {
        for member in self.members {
            self.marks[member.label] = member.eventCount
        }
    }

    /// Where `member`'s events since the last ``mark()`` start (0 if it joined after).
    func since(_ member: any GroupMember) -> Int {
        self.marks[member.label] ?? 0
    }

    /// After a fault's changes were delivered: every live Swift member whose daemon runs gets
    /// from `members()` (asked of its daemon) the last view it delivered; prints what each
    /// member saw since the mark, for the log.
    func expectSettled(_ fault: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var seen: Set<String> = []
        for member in self.live {
            let since = self.since(member)
            let kinds = member.changeKinds(since: since)
            let rings = member.ringChanges(from: since).map { "\($0.ringID) \($0.members)" }
            let reasons = member.membershipChanges(from: since).map { change in
                (change.left.map { "-\($0)" } + change.joined.map { "+\($0)" }).joined(separator: " ")
            }
            seen.insert("node \(member.node.id): \(kinds) rings \(rings) changes \(reasons)")
            // Only where the daemon runs: a paused one would hold the query until it resumes.
            guard let swift = member as? SwiftMember, let last = member.membershipChanges().last,
                await self.cluster.state(of: member.node) == .running
            else { continue }
            let answered = try await swift.group.members()
            #expect(Set(answered) == Set(last.members), "\(member.label): members() after \(fault)", sourceLocation: sourceLocation)
        }
        print("CPGClusterTests: \(self.name) after \(fault):\n  " + seen.sorted().joined(separator: "\n  "))
    }

    /// Every member's history, for the checker.
    func histories() -> [MemberHistory] {
        self.members.map { $0.history() }
    }

    /// Runs the checker on every history; the report must be clean, and must have compared
    /// something (messages, shared view changes, own deliveries).
    @discardableResult
    func checkVirtualSynchrony(sourceLocation: SourceLocation = #_sourceLocation) -> VirtualSynchronyReport {
        let report = VirtualSynchronyChecker.check(self.histories())
        #expect(report.isValid, "\(report)", sourceLocation: sourceLocation)
        #expect(report.statistics.orderedPairs > 0, "\(report)", sourceLocation: sourceLocation)
        #expect(report.statistics.sharedTransitions > 0, "\(report)", sourceLocation: sourceLocation)
        #expect(report.statistics.selfDeliveries > 0, "\(report)", sourceLocation: sourceLocation)
        print("CPGClusterTests: \(self.name): \(report)")
        return report
    }

    /// The members still in the group: events still coming, and for a C member, its process
    /// still running.
    var live: [any GroupMember] {
        self.members.filter { member in
            member.recorder.end == nil && (member as? CMember)?.process.termination == nil
        }
    }

    /// Makes every live member leave, one at a time (Swift: `leave()`; C: SIGTERM, which leaves
    /// and exits 0), each once the group has taken the previous leave in; checks that each
    /// leaver's events end normally.
    func leaveAll(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        while let leaver = self.live.first {
            let rest = self.live.dropFirst()
            let marks = rest.map(\.eventCount)
            if let swift = leaver as? SwiftMember {
                try await swift.group.leave()
                #expect(await swift.recorder.ended() == .finished, "\(swift.label)", sourceLocation: sourceLocation)
                #expect(await swift.expectStreamsAgree(sourceLocation: sourceLocation) == .finished, sourceLocation: sourceLocation)
            } else if let c = leaver as? CMember {
                let termination = await c.leave()
                #expect(termination == .exited(0), "\(c.label): \(c.process.standardError)", sourceLocation: sourceLocation)
                _ = await c.recorder.ended()
            }
            if leaver is SwiftMember {
                // leave() returns once the own departure was delivered (cpg-c-peer finalizes
                // right after cpg_leave, without dispatching it: its history is cut short).
                let departed = leaver.history().endsWithDeparture
                #expect(departed, "\(leaver.label) saw its own leave", sourceLocation: sourceLocation)
            }
            for (member, mark) in zip(rest, marks) {
                let change = try await member.nextMembershipChange(after: mark)
                #expect(change.left == [CPGMemberChange(member: leaver.member, reason: .leave)], "\(member.label)", sourceLocation: sourceLocation)
                #expect(change.joined.isEmpty, sourceLocation: sourceLocation)
            }
        }
    }
}

extension GroupMember {
    /// The first membership change after event `mark`.
    func nextMembershipChange(after mark: Int) async throws -> CPGMembershipChange {
        let index = try await self.recorder.first(from: mark, "a membership change") { event in
            if case .membership = event { return true }
            return false
        }
        guard case .membership(let change) = self.recorder.events[index] else { fatalError("not a membership change") }
        return change
    }

    /// The first ring change after event `mark`.
    func nextRingChange(after mark: Int) async throws -> CPGRingChange {
        let index = try await self.recorder.first(from: mark, "a ring change") { event in
            if case .ring = event { return true }
            return false
        }
        guard case .ring(let change) = self.recorder.events[index] else { fatalError("not a ring change") }
        return change
    }

    /// Waits for the view change of a partition or a merge after event `mark`, then checks what
    /// came with it: one membership change, then the ring of nodes `after`.
    ///
    /// Besides those, corosync may deliver rings that re-form a side alone: the same nodes
    /// (`before` until the membership change, `after` from then on) under a new ring id, with no
    /// membership change. A node cut off does this while its healed link does not yet carry the
    /// merge (seen once in CI: node 3 of a partition delivered ring `3.15 [3]` and only then the
    /// merge), as ``ClusterFaultTests`` saw for a paused daemon too. Every ring has a higher
    /// sequence than the one before it. Returns the membership change and the ring after it.
    func viewChange(
        after mark: Int,
        ringBefore before: [UInt32],
        ringAfter after: [UInt32],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (CPGMembershipChange, CPGRingChange) {
        let changeIndex = try await self.recorder.first(from: mark, "a membership change") { event in
            if case .membership = event { return true }
            return false
        }
        let ringIndex = try await self.recorder.first(from: changeIndex + 1, "the ring \(after)") { event in
            if case .ring(let ring) = event { return ring.members == after }
            return false
        }
        let events = self.recorder.events
        guard case .membership(let change) = events[changeIndex], case .ring(let ring) = events[ringIndex] else {
            fatalError("not the events waited for")
        }
        var kinds: [String] = []
        var rings: [CPGRingChange] = []
        for (index, event) in events.enumerated().dropFirst(mark) {
            switch event {
            case .membership:
                kinds.append("membership")
            case .ring(let other):
                rings.append(other)
                if index == ringIndex {
                    kinds.append("ring")
                } else {
                    let alone = index < changeIndex ? before : after
                    #expect(other.members == alone, "\(self.label): a ring besides \(after) re-forms \(alone): \(other)", sourceLocation: sourceLocation)
                }
            case .disconnected: kinds.append("disconnected")
            case .reconnected: kinds.append("reconnected")
            case .message: break
            }
        }
        #expect(kinds == ["membership", "ring"], "\(self.label): rings \(rings)", sourceLocation: sourceLocation)
        #expect(zip(rings, rings.dropFirst()).allSatisfy { $0.ringID.sequence < $1.ringID.sequence }, "\(self.label): \(rings)", sourceLocation: sourceLocation)
        return (change, ring)
    }

    /// The membership and ring changes since event `mark`, in order, as short text:
    /// `membership`/`ring`, for checking the order corosync delivers them in.
    func changeKinds(since mark: Int) -> [String] {
        self.recorder.events.dropFirst(mark).compactMap {
            switch $0 {
            case .message: nil
            case .membership: "membership"
            case .ring: "ring"
            case .disconnected: "disconnected"
            case .reconnected: "reconnected"
            }
        }
    }

    /// Waits until `count` messages (from anyone) were delivered after event `mark`.
    func waitForMessages(count: Int, after mark: Int = 0) async throws {
        let counter = Atomic<Int>(0)
        try await self.recorder.first(from: mark, "\(count) messages") { event in
            guard case .message = event else { return false }
            return counter.add(1, ordering: .relaxed).newValue >= count
        }
    }

    /// Waits until `count` messages from `sender` were delivered after event `mark`.
    func waitForMessages(from sender: CPGMember, count: Int, after mark: Int = 0) async throws {
        let counter = Atomic<Int>(0)
        try await self.recorder.first(from: mark, "\(count) messages from \(sender)") { event in
            guard case .message(let message) = event, message.sender == sender else { return false }
            return counter.add(1, ordering: .relaxed).newValue >= count
        }
    }
}

/// `left`/`joined` entries for `members`, all with `reason`.
func memberChanges(_ members: [any GroupMember], _ reason: CPGChangeReason) -> Set<CPGMemberChange> {
    Set(members.map { CPGMemberChange(member: $0.member, reason: reason) })
}
