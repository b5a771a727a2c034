import CPG

/// One member's copy of the store and its part in the state-transfer protocol, as a pure value:
/// feed it the group's events in delivery order, do what it answers.
///
/// The protocol (the README tells it at length):
///
/// 1. Updates are applied in delivery order by every member that holds a valid state.
/// 2. A membership change starts a *round*, unless it only removes members and this member is
///    serving (then every remaining member is serving with the same state: virtual synchrony).
///    In a round every member sends `status(view, hasState)`.
/// 3. When the status of every member of the view has been delivered (the *cut*), every member
///    knows the *source*: the lowest `(nodeID, pid)` among those with a valid state. The source
///    sends its state as it is at the cut; everyone buffers the updates delivered after the cut.
///    If no member has a state, every member starts with an empty store instead.
/// 4. When the snapshot is delivered, every member installs it, applies the buffered updates in
///    order, and serves.
///
/// A new membership change during a round abandons it (after a member with a valid state
/// applied the updates it had buffered) and starts the next one. A member that loses its
/// connection to corosync drops its state and, reconnected, starts over as a joiner.
public struct KVReplica: Sendable {
    /// What the caller must do, or may want to know, after an event.
    public enum Output: Hashable, Sendable {
        /// Send this message to the group.
        case send(KVMessage)
        /// A membership change started a state-transfer round for this view.
        case roundStarted(KVViewID)
        /// A membership change needed no round: the member keeps serving.
        case viewChanged(KVViewID)
        /// An update was applied to this member's state.
        case applied(KVUpdate, from: CPGMember)
        /// The round ended: the state of `source` (or an empty one when `source` is `nil`,
        /// because no member had a state) is installed and the member serves.
        case installed(source: CPGMember?)
        /// The connection to corosync was lost: the state was dropped, the member waits for a
        /// new view and will get the state again like a joiner.
        case stateDropped
    }

    /// Where the member is in the protocol.
    public enum Phase: Hashable, Sendable {
        /// Before the first membership change.
        case waitingForView
        /// Collecting the statuses of the round: `received` of `expected` so far.
        case collectingStatuses(received: Int, expected: Int)
        /// Past the cut, waiting for the snapshot of `source`; updates are buffered.
        case awaitingSnapshot(source: CPGMember)
        /// Holding the agreed state and applying updates as they are delivered.
        case serving
    }

    private struct Round: Sendable {
        var view: KVViewID
        var members: Set<CPGMember>
        var statuses: [CPGMember: Bool] = [:]
        var source: CPGMember?
        var buffered: [(update: KVUpdate, sender: CPGMember)] = []
    }

    /// This process as a member.
    public let localMember: CPGMember
    /// The state: valid when ``hasState`` is `true`.
    public private(set) var entries: [String: String] = [:]
    /// Whether ``entries`` is a valid copy: `true` from the first completed round on.
    public private(set) var hasState = false
    /// The current view's members, ascending.
    public private(set) var members: [CPGMember] = []
    /// How many rounds this member completed.
    public private(set) var completedRounds = 0
    /// Whose state the last completed round installed (`nil` when it started empty).
    public private(set) var lastSource: CPGMember?

    private var round: Round?

    /// A member that has seen no event yet.
    ///
    /// - Parameter localMember: This process as a member of the group.
    public init(localMember: CPGMember) {
        self.localMember = localMember
    }

    /// Where the member is in the protocol.
    public var phase: Phase {
        if let round = self.round {
            if let source = round.source { return .awaitingSnapshot(source: source) }
            return .collectingStatuses(received: round.statuses.count, expected: round.members.count)
        }
        return self.hasState ? .serving : .waitingForView
    }

    /// Whether the member serves: it holds the agreed state and no round is under way.
    public var isServing: Bool { self.phase == .serving }

    /// Handles a membership change of the group.
    ///
    /// - Parameters:
    ///   - members: The new view's members.
    ///   - joined: The members the change added (this member's own join, other joins, or the
    ///     other side of a healed partition).
    /// - Returns: What to do: possibly a status to send.
    public mutating func membershipChanged(members: [CPGMember], joined: [CPGMember]) -> [Output] {
        let sorted = members.sorted()
        guard sorted.contains(self.localMember) else {
            // Our own leave: the channel ends after it.
            self.members = sorted
            return []
        }
        let view = KVViewID(sorted)
        let wasServing = self.isServing
        var outputs: [Output] = []
        if let round = self.round, round.source != nil, self.hasState {
            // The round is abandoned past its cut: our state is valid, so the updates delivered
            // since the cut still apply to it, in order.
            for (update, sender) in round.buffered {
                update.apply(to: &self.entries)
                outputs.append(.applied(update, from: sender))
            }
        }
        self.members = sorted
        if joined.isEmpty, wasServing {
            // Only departures, and we were serving: every remaining member was in our previous
            // view and delivered the same messages there, so it serves with the same state.
            self.round = nil
            return outputs + [.viewChanged(view)]
        }
        self.round = Round(view: view, members: Set(sorted))
        return outputs + [.roundStarted(view), .send(.status(view: view, hasState: self.hasState))]
    }

    /// Handles the loss of the connection to corosync (a supervised reconnect began).
    ///
    /// The member's view has ended and the others may go on without it: its copy can miss
    /// updates from now on, so it drops it and, once reconnected, gets the state like a joiner
    /// (its own join starts a round). If every member lost its connection, nobody has a state
    /// left and the store starts empty, as it does when every member stops.
    ///
    /// - Returns: What happened.
    public mutating func disconnected() -> [Output] {
        self.round = nil
        self.members = []
        self.entries = [:]
        self.hasState = false
        return [.stateDropped]
    }

    /// Handles a message delivered in the group's total order.
    ///
    /// - Parameters:
    ///   - message: The decoded message.
    ///   - sender: The member that sent it.
    /// - Returns: What to do and what happened.
    public mutating func delivered(_ message: KVMessage, from sender: CPGMember) -> [Output] {
        switch message {
        case .update(let update):
            return self.update(update, from: sender)
        case .status(let view, let senderHasState):
            return self.status(view: view, hasState: senderHasState, from: sender)
        case .snapshot(let view, let entries):
            return self.snapshot(view: view, entries: entries, from: sender)
        }
    }

    private mutating func update(_ update: KVUpdate, from sender: CPGMember) -> [Output] {
        if var round = self.round, round.source != nil {
            // Past the cut: the snapshot will not contain it. Apply it after installing.
            round.buffered.append((update, sender))
            self.round = round
            return []
        }
        // Before the cut, or serving. Without a valid state the update is dropped: the
        // snapshot taken at the cut will contain it.
        guard self.hasState else { return [] }
        update.apply(to: &self.entries)
        return [.applied(update, from: sender)]
    }

    private mutating func status(view: KVViewID, hasState: Bool, from sender: CPGMember) -> [Output] {
        guard var round = self.round, round.view == view, round.source == nil, round.members.contains(sender) else {
            return []  // stale: sent in another view
        }
        round.statuses[sender] = hasState
        guard round.statuses.count == round.members.count else {
            self.round = round
            return []
        }
        // The cut: every member delivered the same statuses, so every member picks the same source.
        guard let source = round.statuses.filter(\.value).keys.min() else {
            // Nobody holds a state (the group is new): everyone starts empty, now.
            self.round = nil
            self.entries = [:]
            return self.install(source: nil)
        }
        round.source = source
        self.round = round
        return source == self.localMember ? [.send(.snapshot(view: view, entries: self.entries))] : []
    }

    private mutating func snapshot(view: KVViewID, entries: [String: String], from sender: CPGMember) -> [Output] {
        guard let round = self.round, round.view == view, round.source == sender else {
            return []  // stale, or not from this round's source
        }
        self.round = nil
        self.entries = entries
        var outputs = self.install(source: sender)
        for (update, updateSender) in round.buffered {
            update.apply(to: &self.entries)
            outputs.append(.applied(update, from: updateSender))
        }
        return outputs
    }

    private mutating func install(source: CPGMember?) -> [Output] {
        self.hasState = true
        self.completedRounds += 1
        self.lastSource = source
        return [.installed(source: source)]
    }
}
