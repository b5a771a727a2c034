import CPG
import CPGTesting
import Testing

/// The checker on hand-made histories: no daemon needed.
@Suite("VirtualSynchronyChecker")
struct VirtualSynchronyCheckerTests {
    let a = CPGMember(nodeID: 1, pid: 10)
    let b = CPGMember(nodeID: 2, pid: 20)
    let c = CPGMember(nodeID: 3, pid: 30)

    /// A view entry.
    func view(_ members: CPGMember...) -> MemberHistory.Entry {
        .view(members: members)
    }

    /// A message entry with a text payload.
    func message(_ sender: CPGMember, _ text: String) -> MemberHistory.Entry {
        .message(sender: sender, payload: Array(text.utf8))
    }

    func payloads(_ texts: String...) -> [[UInt8]] {
        texts.map { Array($0.utf8) }
    }

    // MARK: Histories that pass

    @Test("three members, a partition that heals, a leave: every property holds")
    func partitionHealAndLeave() {
        let (a, b, c) = (self.a, self.b, self.c)
        // All three, then c is cut off (each side delivers its own messages), the sides merge, c leaves.
        let historyA = MemberHistory(member: a, label: "a", entries: [
            view(a), message(a, "a0"),
            view(a, b), message(b, "b0"), message(a, "a1"),
            view(a, b, c), message(c, "c0"), message(a, "a2"),
            view(a, b), message(a, "a3"), message(b, "b1"),
            view(a, b, c), message(c, "c2"),
            view(a, b), message(a, "a4"),
            view(b), // a leaves
        ], sent: payloads("a0", "a1", "a2", "a3", "a4"))
        let historyB = MemberHistory(member: b, label: "b", entries: [
            view(a, b), message(b, "b0"), message(a, "a1"),
            view(a, b, c), message(c, "c0"), message(a, "a2"),
            view(a, b), message(a, "a3"), message(b, "b1"),
            view(a, b, c), message(c, "c2"),
            view(a, b), message(a, "a4"),
            view(b),
        ], sent: payloads("b0", "b1"))
        let historyC = MemberHistory(member: c, label: "c", entries: [
            view(a, b, c), message(c, "c0"), message(a, "a2"),
            view(c), message(c, "c1"),
            view(a, b, c), message(c, "c2"),
            view(a, b), // c leaves
        ], sent: payloads("c0", "c1", "c2"))
        let report = VirtualSynchronyChecker.check([historyA, historyB, historyC])
        #expect(report.isValid, "\(report)")
        #expect(report.statistics.histories == 3)
        #expect(report.statistics.distinctMessages == 10)
        #expect(report.statistics.deliveries == 9 + 8 + 4)
        #expect(report.statistics.orderedPairs == 3)
        // a and b pass together through every view change they share: {a,b}→{a,b,c}→{a,b}→{a,b,c}→{a,b}→{b}
        // (5 transitions, the last one being a's departure); a/c and b/c: {a,b,c}→{a,b} at c's departure (1 each).
        #expect(report.statistics.sharedTransitions == 5 + 1 + 1)
        #expect(report.statistics.selfDeliveries == 5 + 2 + 3)
    }

    @Test("the two sides of a partition may deliver different messages in the last view they shared")
    func partitionSidesMayDiffer() {
        let (a, b) = (self.a, self.b)
        let historyA = MemberHistory(member: a, entries: [view(a, b), message(a, "a0"), message(a, "a1"), view(a)], sent: payloads("a0", "a1"))
        let historyB = MemberHistory(member: b, entries: [view(a, b), message(a, "a0"), view(b)], sent: [])
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        // a goes on to {a}, b to {b}: they do not pass together, so nothing is compared.
        #expect(report.isValid, "\(report)")
        #expect(report.statistics.sharedTransitions == 0)
    }

    @Test("a member whose daemon died, and its next incarnation (the same nodeid:pid) after the restart")
    func crashAndRejoin() {
        let (a, b, c) = (self.a, self.b, self.c)
        let historyA = MemberHistory(member: a, entries: [
            view(a, b, c), message(c, "c0"), message(a, "a0"),
            view(a, b), message(a, "a1"),
            view(a, b, c), message(c, "c-again-0"), message(a, "a2"),
        ], sent: payloads("a0", "a1", "a2"))
        let historyB = MemberHistory(member: b, entries: [
            view(a, b, c), message(c, "c0"), message(a, "a0"),
            view(a, b), message(a, "a1"),
            view(a, b, c), message(c, "c-again-0"), message(a, "a2"),
        ], sent: [])
        // c's daemon died: its history is cut short, and c1 (sent, never delivered anywhere) is lost.
        let firstC = MemberHistory(member: c, entries: [view(a, b, c), message(c, "c0")], sent: payloads("c0", "c1"))
        let secondC = MemberHistory(member: c, entries: [view(a, b, c), message(c, "c-again-0"), message(a, "a2")], sent: payloads("c-again-0"))
        let report = VirtualSynchronyChecker.check([historyA, historyB, firstC, secondC])
        #expect(report.isValid, "\(report)")
    }

    @Test("a group that reconnects by itself keeps one history; its disconnection separates two incarnations")
    func reconnectingGroup() throws {
        let (a, b) = (self.a, self.b)
        let group = try CPGGroupName("g")
        // a's daemon restarted under it: a1 was in flight and is lost; b saw a go and come back.
        let events: [CPGEvent] = [
            .membership(CPGMembershipChange(group: group, members: [a, b], joined: [CPGMemberChange(member: a, reason: .join)], left: [])),
            .message(CPGMessage(sender: a, payload: Array("a0".utf8), deliveryIndex: 1)),
            .disconnected(CPGError(.connectionLost, "lost")),
            .reconnected,
            .membership(CPGMembershipChange(group: group, members: [a, b], joined: [CPGMemberChange(member: a, reason: .join)], left: [])),
            .message(CPGMessage(sender: b, payload: Array("b0".utf8), deliveryIndex: 1)),
            .message(CPGMessage(sender: a, payload: Array("a2".utf8), deliveryIndex: 2)),
        ]
        let historyA = MemberHistory(member: a, label: "a", events: events, sent: payloads("a0", "a1", "a2"))
        #expect(historyA.entries == [view(a, b), message(a, "a0"), .disconnected, view(a, b), message(b, "b0"), message(a, "a2")])
        let historyB = MemberHistory(member: b, label: "b", entries: [
            view(a, b), message(a, "a0"), view(b), view(a, b), message(b, "b0"), message(a, "a2"),
        ], sent: payloads("b0"))
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.isValid, "\(report)")

        // Without the disconnection, a seems to stay in {a, b} while b saw it go: a violation.
        let merged = MemberHistory(member: a, label: "a", entries: historyA.entries.filter { $0 != .disconnected }, sent: historyA.sent)
        let broken = VirtualSynchronyChecker.check([merged, historyB])
        #expect(Set(broken.violations.map(\.property)) == [.viewAgreement, .selfDelivery], "\(broken)")

        // Within one incarnation, a lost message of its own is still a gap.
        let gap = MemberHistory(member: a, label: "a", entries: [
            view(a, b), message(a, "a0"), .disconnected, view(a, b), message(a, "a2"), message(a, "a4"),
        ], sent: payloads("a0", "a1", "a2", "a3", "a4"))
        let gapReport = VirtualSynchronyChecker.check([gap])
        #expect(gapReport.violations.map(\.property) == [.selfDelivery], "\(gapReport)")
        #expect(gapReport.violations.first?.explanation
            == #"a (1:10) incarnation 2 delivered its own messages out of send order: after "a2" from 1:10 it delivered "a4" from 1:10 where "a3" from 1:10 was due"#)
    }

    @Test("histories made from CPGEvents and from cpg-c-peer output")
    func historiesFromEventsAndPeerOutput() throws {
        let group = try CPGGroupName("g")
        let lines = [
            "ready nodeid=2 pid=20",
            "membership members=1:10,2:20 joined=2:20:1 left=",
            "ring nodeid=1 seq=12 members=1,2",
            "message nodeid=1 pid=10 size=2 data=6130",
            "message nodeid=2 pid=20 size=2 data=6330",
            "membership members=1:10 joined= left=2:20:2",
            "garbage",
        ]
        let output = CPeerOutput(lines: lines, group: group)
        #expect(output.member == b)
        #expect(output.unparsedLines == ["garbage"])
        #expect(output.events.count == 5)
        #expect(output.events[0] == .membership(CPGMembershipChange(
            group: group, members: [a, b], joined: [CPGMemberChange(member: b, reason: .join)], left: [])))
        #expect(output.events[1] == .ring(CPGRingChange(ringID: CPGRingID(nodeID: 1, sequence: 12), members: [1, 2])))
        #expect(output.events[2] == .message(CPGMessage(sender: a, payload: Array("a0".utf8), deliveryIndex: 1)))
        #expect(output.events[3] == .message(CPGMessage(sender: b, payload: Array("c0".utf8), deliveryIndex: 2)))
        #expect(output.events[4] == .membership(CPGMembershipChange(
            group: group, members: [a], joined: [], left: [CPGMemberChange(member: b, reason: .leave)])))
        let peer = try #require(output.history(label: "c", sent: CPeerOutput.payloads(prefix: "c", count: 1)))
        #expect(peer.entries == [view(a, b), message(a, "a0"), message(b, "c0"), view(a)])
        #expect(peer.endsWithDeparture)

        let swift = MemberHistory(member: a, label: "swift", events: [
            .membership(CPGMembershipChange(group: group, members: [a], joined: [CPGMemberChange(member: a, reason: .join)], left: [])),
            .ring(CPGRingChange(ringID: CPGRingID(nodeID: 1, sequence: 12), members: [1, 2])),
        ] + Array(output.events.dropLast()), sent: payloads("a0"))
        #expect(swift.entries == [view(a), view(a, b), message(a, "a0"), message(b, "c0")])
        #expect(!swift.endsWithDeparture)
        #expect(swift.name == "swift (1:10)")
        let report = VirtualSynchronyChecker.check([swift, peer])
        #expect(report.isValid, "\(report)")

        #expect(CPeerOutput.payloads(prefix: "x", count: 2, size: 4) == payloads("x0..", "x1.."))
        #expect(CPeerOutput(lines: ["message nodeid=1 pid=10 size=3 data=6130"], group: group).events.isEmpty, "size must match")
    }

    // MARK: Violations, one property at a time

    @Test("(a) total order: two members deliver two messages in opposite orders")
    func totalOrderViolation() {
        let (a, b) = (self.a, self.b)
        let historyA = MemberHistory(member: a, label: "a", entries: [view(a, b), message(a, "x"), message(b, "y")], sent: payloads("x"))
        let historyB = MemberHistory(member: b, label: "b", entries: [view(a, b), message(b, "y"), message(a, "x")], sent: payloads("y"))
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.totalOrder], "\(report)")
        let violation = report.violations[0]
        #expect(violation.members == [a, b])
        #expect(violation.explanation == #"a (1:10) delivered "x" from 1:10 before "y" from 2:20, but b (2:20) delivered them the other way round"#)
    }

    @Test("(b) virtual synchrony: two members pass from one view to the same next one with different messages")
    func virtualSynchronyViolation() {
        let (a, b, c) = (self.a, self.b, self.c)
        // b delivers x only after the view change: the order of common messages is the same, the sets per view are not.
        let historyA = MemberHistory(member: a, label: "a", entries: [view(a, b, c), message(a, "x"), view(a, b), message(a, "y")], sent: payloads("x", "y"))
        let historyB = MemberHistory(member: b, label: "b", entries: [view(a, b, c), view(a, b), message(a, "x"), message(a, "y")], sent: [])
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.virtualSynchrony], "\(report)")
        #expect(report.violations[0].explanation
            == #"a (1:10) and b (2:20) both passed from the view {1:10, 2:20, 3:30} to {1:10, 2:20}, but in the first only a (1:10) delivered ["x" from 1:10] and only b (2:20) delivered nothing"#)
        #expect(report.violations(of: .totalOrder).isEmpty)
    }

    @Test("(b) virtual synchrony: a member that leaves must deliver what the others deliver before its leave")
    func departureCountsAsPassing() {
        let (a, b) = (self.a, self.b)
        let historyA = MemberHistory(member: a, entries: [view(a, b), message(b, "y"), view(b)], sent: [])
        let historyB = MemberHistory(member: b, entries: [view(a, b), message(b, "y"), message(b, "z"), view(b)], sent: payloads("y", "z"))
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.virtualSynchrony], "\(report)")
        #expect(report.violations[0].members == [a, b])
    }

    @Test("(c) no duplicates: a member delivers a message twice")
    func duplicateViolation() {
        let a = self.a
        let history = MemberHistory(member: a, label: "a", entries: [view(a), message(a, "x"), message(a, "x")], sent: payloads("x"))
        let report = VirtualSynchronyChecker.check([history])
        #expect(report.violations.map(\.property) == [.noDuplicates], "\(report)")
        #expect(report.violations[0].explanation == #"a (1:10) delivered 1 message(s) again, such as "x" from 1:10"#)
    }

    @Test("(c) no creation: a message its sender never sent, and one from a process without a history")
    func creationViolation() {
        let (a, b, c) = (self.a, self.b, self.c)
        let historyA = MemberHistory(member: a, entries: [view(a, b, c), message(b, "forged"), message(c, "ghost")], sent: [])
        let historyB = MemberHistory(member: b, entries: [view(a, b, c), message(b, "forged"), message(c, "ghost")], sent: [])
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.noCreation, .noCreation], "\(report)")
        #expect(report.violations[0].explanation.hasSuffix("its sender, which never sent it"))
        #expect(report.violations[0].members == [a, b])
        #expect(report.violations[1].explanation.hasSuffix("a process that has no history"))
        // With what b sent unknown, its message is not judged.
        let unknown = MemberHistory(member: b, entries: historyB.entries, sent: nil)
        #expect(VirtualSynchronyChecker.check([historyA, unknown]).violations(of: .noCreation).count == 1)
    }

    @Test("sender in view: a message delivered in a view that does not list its sender")
    func senderInViewViolation() {
        let (a, b) = (self.a, self.b)
        let historyA = MemberHistory(member: a, entries: [view(a, b), view(a), message(b, "late")], sent: [])
        let historyB = MemberHistory(member: b, entries: [view(a, b), message(b, "late")], sent: payloads("late"))
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.senderInView], "\(report)")
    }

    @Test("(d) self delivery: a sender that leaves without delivering its message, and one out of send order")
    func selfDeliveryViolations() {
        let a = self.a
        let left = MemberHistory(member: a, label: "a", entries: [view(a), message(a, "a0"), view()], sent: payloads("a0", "a1"))
        let report = VirtualSynchronyChecker.check([left])
        #expect(report.violations.map(\.property) == [.selfDelivery], "\(report)")
        #expect(report.violations[0].explanation == #"a (1:10) left the group without delivering 1 of its own 2 messages, first "a1" from 1:10"#)

        // Cut short (its daemon died): the last message may be missing, not one in the middle.
        let cutShort = MemberHistory(member: a, entries: [view(a), message(a, "a0")], sent: payloads("a0", "a1"))
        #expect(VirtualSynchronyChecker.check([cutShort]).isValid)
        let gap = MemberHistory(member: a, entries: [view(a), message(a, "a1")], sent: payloads("a0", "a1"))
        #expect(VirtualSynchronyChecker.check([gap]).violations.map(\.property) == [.selfDelivery])
    }

    @Test("(d) self delivery: a later incarnation delivers a message of an earlier one")
    func messageOfEarlierIncarnation() {
        let a = self.a
        let first = MemberHistory(member: a, entries: [view(a), message(a, "old")], sent: payloads("old", "late"))
        let second = MemberHistory(member: a, entries: [view(a), message(a, "late")], sent: [])
        let report = VirtualSynchronyChecker.check([first, second])
        #expect(report.violations.map(\.property) == [.selfDelivery], "\(report)")
    }

    @Test("(e) view agreement: two members install different views at the same point")
    func viewAgreementViolation() {
        let (a, b, c) = (self.a, self.b, self.c)
        let historyA = MemberHistory(member: a, label: "a", entries: [view(a, b), view(a, b, c)], sent: [])
        let historyB = MemberHistory(member: b, label: "b", entries: [view(a, b), view(a, b, CPGMember(nodeID: 4, pid: 40))], sent: [])
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.viewAgreement], "\(report)")
        #expect(report.violations[0].explanation
            == "a (1:10) installed {1:10, 2:20, 3:30} where b (2:20) installed {1:10, 2:20, 4:40}, after the view {1:10, 2:20}")
    }

    @Test("(e) view agreement: a member installs a view with another that the other never installs")
    func viewAgreementMissingView() {
        let (a, b, c) = (self.a, self.b, self.c)
        // b went from {a,b} to {a,b,c} with a, then left; a never installed {a,b,c}.
        let historyA = MemberHistory(member: a, label: "a", entries: [view(a, b), view(a)], sent: [])
        let historyB = MemberHistory(member: b, label: "b", entries: [view(a, b), view(a, b, c), view(a, c)], sent: [])
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.viewAgreement], "\(report)")
        #expect(report.violations[0].explanation
            == "after the view {1:10, 2:20}, b (2:20) installed {1:10, 2:20, 3:30}, which lists 1:10, but a (1:10) installed {1:10}")

        // a sees b come back, b's history never does.
        let again = MemberHistory(member: a, label: "a", entries: [view(a, b), view(a), view(a, b)], sent: [])
        let once = MemberHistory(member: b, label: "b", entries: [view(a, b), view(b)], sent: [])
        let second = VirtualSynchronyChecker.check([again, once])
        #expect(second.violations.map(\.property) == [.viewAgreement], "\(second)")
    }

    @Test("well-formed: a message before the first view, entries after the departure, a member listed twice")
    func malformedHistories() {
        let (a, b) = (self.a, self.b)
        let early = MemberHistory(member: a, entries: [message(a, "x"), view(a)], sent: [])
        let afterDeparture = MemberHistory(member: b, entries: [view(b), view(), message(b, "y")], sent: [])
        let report = VirtualSynchronyChecker.check([early, afterDeparture])
        #expect(report.violations.map(\.property) == [.wellFormed, .wellFormed], "\(report)")

        let twice = MemberHistory(member: a, entries: [view(a, a)], sent: payloads("p", "p"))
        #expect(VirtualSynchronyChecker.check([twice]).violations.map(\.property) == [.wellFormed, .wellFormed])
        let foreignStart = MemberHistory(member: a, entries: [view(b)], sent: [])
        #expect(VirtualSynchronyChecker.check([foreignStart]).violations.map(\.property) == [.wellFormed])
    }

    @Test("violations come grouped by property, in the order the checker lists the properties")
    func violationsGroupedByProperty() {
        let (a, b, c) = (self.a, self.b, self.c)
        let (d, e) = (CPGMember(nodeID: 4, pid: 40), CPGMember(nodeID: 5, pid: 50))
        // Found first: b delivers x a view late (virtual synchrony); then the two disagree on a view.
        let historyA = MemberHistory(member: a, entries: [view(a, b, c), message(a, "x"), view(a, b), view(a, b, d)], sent: payloads("x"))
        let historyB = MemberHistory(member: b, entries: [view(a, b, c), view(a, b), message(a, "x"), view(a, b, e)], sent: [])
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(report.violations.map(\.property) == [.viewAgreement, .virtualSynchrony], "\(report)")
        #expect(report.violations(of: .virtualSynchrony).count == 1)
    }

    @Test("the report names every violation, and says how much it compared")
    func reportDescription() {
        let (a, b) = (self.a, self.b)
        let historyA = MemberHistory(member: a, label: "a", entries: [view(a, b), message(a, "x"), message(b, "y")], sent: payloads("x"))
        let historyB = MemberHistory(member: b, label: "b", entries: [view(a, b), message(b, "y"), message(a, "x")], sent: payloads("y"))
        let report = VirtualSynchronyChecker.check([historyA, historyB])
        #expect(!report.isValid)
        #expect("\(report)".hasPrefix("2 histories, 2 view installations, 4 deliveries of 2 messages, 1 pairs ordered"))
        #expect("\(report)".hasSuffix("1 violation\n  [total order] a (1:10) delivered \"x\" from 1:10 before \"y\" from 2:20, but b (2:20) delivered them the other way round"))
        #expect("\(VirtualSynchronyChecker.check([]))".hasSuffix("no violation"))
    }
}
