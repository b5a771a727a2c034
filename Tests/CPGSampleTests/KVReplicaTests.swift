import CPG
import ReplicatedKV
import Testing

/// A simulated group: one total order, delivered to every member of the current view.
///
/// Messages the replicas send are appended to the order; a message still pending when the view
/// changes is delivered in the new view (as corosync does with a message that raced a join),
/// unless its sender is gone.
struct SimulatedGroup {
    var replicas: [CPGMember: KVReplica]
    private(set) var members: [CPGMember] = []
    private(set) var pending: [(message: KVMessage, sender: CPGMember)] = []
    /// Every output of every replica, in order.
    private(set) var outputs: [(member: CPGMember, output: KVReplica.Output)] = []

    init(_ replicas: [KVReplica]) {
        self.replicas = Dictionary(uniqueKeysWithValues: replicas.map { ($0.localMember, $0) })
    }

    /// Installs a view; `joined(m)` is what member `m`'s membership change lists as joined.
    mutating func changeView(to members: [CPGMember], joined: (CPGMember) -> [CPGMember]) {
        self.members = members
        self.pending.removeAll { !members.contains($0.sender) }
        for member in members {
            self.record(self.replicas[member]!.membershipChanged(members: members, joined: joined(member)), of: member)
        }
    }

    /// A client of `member` sends an update.
    mutating func send(_ update: KVUpdate, from member: CPGMember) {
        self.pending.append((.update(update), member))
    }

    /// Puts a message into the order as if `sender` had sent it.
    mutating func inject(_ message: KVMessage, from sender: CPGMember) {
        self.pending.append((message, sender))
    }

    /// Delivers the next message to every member of the view; `false` if none is pending.
    @discardableResult
    mutating func deliverNext() -> Bool {
        guard !self.pending.isEmpty else { return false }
        let (message, sender) = self.pending.removeFirst()
        for member in self.members {
            self.record(self.replicas[member]!.delivered(message, from: sender), of: member)
        }
        return true
    }

    /// Delivers until nothing is pending.
    mutating func deliverAll() {
        while self.deliverNext() {}
    }

    private mutating func record(_ outputs: [KVReplica.Output], of member: CPGMember) {
        for output in outputs {
            self.outputs.append((member, output))
            if case .send(let message) = output { self.pending.append((message, member)) }
        }
    }

    /// The member lost its connection to corosync.
    mutating func disconnect(_ member: CPGMember) {
        self.record(self.replicas[member]!.disconnected(), of: member)
    }

    subscript(member: CPGMember) -> KVReplica { self.replicas[member]! }
}

let a = CPGMember(nodeID: 1, pid: 100)
let b = CPGMember(nodeID: 1, pid: 200)
let c = CPGMember(nodeID: 2, pid: 50)

@Suite("The key-value store's state transfer, as a pure state machine")
struct KVReplicaTests {
    @Test("the first member of a new group starts empty and serves")
    func firstMember() {
        var group = SimulatedGroup([KVReplica(localMember: a)])
        #expect(group[a].phase == .waitingForView)
        group.changeView(to: [a]) { _ in [a] }
        #expect(group[a].phase == .collectingStatuses(received: 0, expected: 1))
        #expect(group.pending.map(\.message) == [.status(view: KVViewID([a]), hasState: false)])
        group.deliverAll()
        #expect(group[a].isServing)
        #expect(group[a].entries.isEmpty)
        #expect(group[a].lastSource == nil)
        group.send(.set(key: "k", value: "v"), from: a)
        group.deliverAll()
        #expect(group[a].entries == ["k": "v"])
    }

    @Test("a joiner gets the state; updates before the cut are in the snapshot, updates after it are buffered")
    func joinTransfersState() {
        var group = SimulatedGroup([KVReplica(localMember: a), KVReplica(localMember: b)])
        group.changeView(to: [a]) { _ in [a] }
        group.deliverAll()
        group.send(.set(key: "x", value: "1"), from: a)
        group.deliverAll()

        group.changeView(to: [a, b]) { _ in [b] }
        #expect(!group[a].isServing && !group[b].isServing)
        // Two statuses are pending; an update goes in between them (before the cut) and
        // another after them (after the cut, before the snapshot).
        group.deliverNext()
        group.send(.set(key: "before-cut", value: "yes"), from: b)
        group.deliverNext()  // the second status: the cut
        group.deliverNext()  // the update
        #expect(group[a].phase == .awaitingSnapshot(source: a))
        #expect(group[b].phase == .awaitingSnapshot(source: a))
        group.send(.delete(key: "x"), from: b)
        group.deliverAll()  // a's snapshot, then the delete

        for member in [a, b] {
            #expect(group[member].isServing)
            #expect(group[member].entries == ["before-cut": "yes"])
            #expect(group[member].lastSource == a)
        }
    }

    @Test("after a partition heals, the state of the lowest member wins on both sides")
    func mergeLowestWins() {
        // One group of a and c, then a partition: {a} and {c}, each serving on its own.
        var together = SimulatedGroup([KVReplica(localMember: a), KVReplica(localMember: c)])
        together.changeView(to: [a]) { _ in [a] }
        together.deliverAll()
        together.changeView(to: [a, c]) { _ in [c] }
        together.deliverAll()
        var left = SimulatedGroup([together[a]])
        var right = SimulatedGroup([together[c]])
        left.changeView(to: [a]) { _ in [] }
        right.changeView(to: [c]) { _ in [] }
        #expect(left[a].isServing && right[c].isServing, "only departures: no round, still serving")
        left.send(.set(key: "k", value: "left"), from: a)
        right.send(.set(key: "k", value: "right"), from: c)
        right.send(.set(key: "only-right", value: "1"), from: c)
        left.deliverAll()
        right.deliverAll()

        var merged = SimulatedGroup([left[a], right[c]])
        merged.changeView(to: [a, c]) { $0 == a ? [c] : [a] }
        merged.deliverAll()
        #expect(merged[a].entries == ["k": "left"])
        #expect(merged[c].entries == ["k": "left"])
        #expect(merged[c].lastSource == a)
    }

    @Test("a membership change during a round abandons it; the next round converges, stale messages are ignored")
    func interruptedRound() {
        var group = SimulatedGroup([KVReplica(localMember: a), KVReplica(localMember: b), KVReplica(localMember: c)])
        group.changeView(to: [a]) { _ in [a] }
        group.deliverAll()
        group.send(.set(key: "k", value: "0"), from: a)
        group.deliverAll()

        // b joins; the round gets past its cut, then c joins before a's snapshot is delivered.
        group.changeView(to: [a, b]) { _ in [b] }
        group.deliverNext()
        group.deliverNext()
        group.send(.set(key: "after-cut", value: "1"), from: b)
        #expect(group.pending.map(\.message).first == .snapshot(view: KVViewID([a, b]), entries: ["k": "0"]))
        group.changeView(to: [a, b, c]) { _ in [c] }
        group.deliverAll()  // the stale snapshot, the update, three statuses, the new snapshot

        for member in [a, b, c] {
            #expect(group[member].isServing)
            #expect(group[member].entries == ["k": "0", "after-cut": "1"])
            #expect(group[member].completedRounds >= 1)
        }
        // A status or snapshot of an older view changes nothing.
        group.inject(.status(view: KVViewID([a, b]), hasState: true), from: b)
        group.inject(.snapshot(view: KVViewID([a, b]), entries: [:]), from: a)
        group.deliverAll()
        #expect([a, b, c].allSatisfy { group[$0].isServing && group[$0].entries == ["k": "0", "after-cut": "1"] })
    }

    @Test("a departure while serving starts no round; one during a round restarts it")
    func departures() {
        var group = SimulatedGroup([KVReplica(localMember: a), KVReplica(localMember: b), KVReplica(localMember: c)])
        group.changeView(to: [a]) { _ in [a] }
        group.deliverAll()
        group.changeView(to: [a, b, c]) { _ in [b, c] }
        group.deliverAll()
        group.changeView(to: [b, c]) { _ in [] }
        #expect(group[b].isServing && group[c].isServing)
        #expect(group.pending.isEmpty)

        // c leaves while b's round for a newcomer waits for statuses: b is back to a round of one.
        var next = SimulatedGroup([group[b], group[c], KVReplica(localMember: a)])
        next.changeView(to: [a, b, c]) { _ in [a] }
        next.changeView(to: [a, b]) { _ in [] }
        next.deliverAll()
        #expect(next[a].isServing && next[b].isServing)
        #expect(next[a].lastSource == b, "a has no state of its own, so b's is installed")
    }

    @Test("a member that lost corosync drops its state and, back, takes the state of those who stayed")
    func reconnectedMemberResyncs() {
        var group = SimulatedGroup([KVReplica(localMember: a), KVReplica(localMember: b)])
        group.changeView(to: [a]) { _ in [a] }
        group.deliverAll()
        group.changeView(to: [a, b]) { _ in [b] }
        group.send(.set(key: "k", value: "1"), from: a)
        group.deliverAll()
        #expect(group[a].entries == ["k": "1"] && group[b].entries == ["k": "1"])

        // a's daemon goes away; b sees a leave and goes on serving alone.
        group.disconnect(a)
        #expect(!group[a].hasState && group[a].entries.isEmpty)
        group.changeView(to: [b]) { _ in [] }
        group.send(.set(key: "k", value: "2"), from: b)
        group.deliverAll()

        // a is back: although it is the lowest member, b's state wins, since a has none.
        group.changeView(to: [a, b]) { _ in [a] }
        group.deliverAll()
        #expect(group[a].entries == ["k": "2"])
        #expect(group[a].lastSource == b)
        #expect(group[b].entries == ["k": "2"])
    }
}
