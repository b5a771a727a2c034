import CPG

/// What one member of a group delivered, in the order it delivered it: the input of
/// ``VirtualSynchronyChecker``.
///
/// A history holds the member's views (from its membership changes) and messages, in the order
/// `cpg_dispatch` produced them, and optionally the messages the member sent. Ring changes do not
/// take part in the checks and are left out.
///
/// The first entry is the member's first view, which lists the member itself. A view that does
/// not list the member is its *departure* (the membership change that shows its own leave) and
/// ends the history. A history that ends without a departure was *cut short*: the process, its
/// connection or its daemon went away, or recording stopped.
///
/// Messages are identified by their sender and payload: every sender must use payloads it never
/// used before in the same group (for instance a per-sender counter in the payload). A process
/// that joins the same group again (the same `CPGMember`, after its daemon restarted or after a
/// leave) is a new *incarnation*: give it a history of its own, after the earlier one. A group
/// that reconnects by itself (`CPGConfiguration.reconnect`) keeps one history: its
/// ``Entry/disconnected`` entries separate the incarnations.
///
/// ```swift
/// var history = MemberHistory(member: group.localMember, label: "swift@node1", sent: [])
/// for try await event in events {
///     history.record(event)
/// }
/// ```
public struct MemberHistory: Sendable, Hashable {
    /// One delivery: a new view or a message.
    public enum Entry: Sendable, Hashable {
        /// A membership change: the members of the new view (in any order).
        case view(members: [CPGMember])
        /// A message and the member that sent it.
        case message(sender: CPGMember, payload: [UInt8])
        /// The connection to corosync was lost (`CPGEvent.disconnected(_:)`, with
        /// `CPGConfiguration.reconnect`): the member's view ended here, cut short. What
        /// follows, from the view after the reconnect, is its next incarnation.
        case disconnected
    }

    /// The member whose history this is.
    public var member: CPGMember
    /// A name for reports, such as `swift@node1` (the member's `nodeid:pid` is always shown too).
    public var label: String?
    /// The deliveries, in order.
    public var entries: [Entry]
    /// The payloads this member asked corosync to send, in the order it sent them (for a group
    /// that reconnects by itself, over all its incarnations), or `nil` if unknown (then the checks
    /// that need it skip this history).
    ///
    /// List a message here before calling `send`: a send that failed because the daemon died may
    /// still have reached the other nodes. Take it out again if the send failed in a way that
    /// guarantees nobody delivers it, such as `CPGError.Code.partialSend` (receivers discard an
    /// incomplete message) or `messageTooLarge` (nothing was sent).
    public var sent: [[UInt8]]?

    /// Creates a history.
    ///
    /// - Parameters:
    ///   - member: The member whose history this is.
    ///   - label: A name for reports.
    ///   - entries: The deliveries so far, in order.
    ///   - sent: The payloads this member sent, in order, or `nil` if unknown.
    public init(member: CPGMember, label: String? = nil, entries: [Entry] = [], sent: [[UInt8]]? = nil) {
        self.member = member
        self.label = label
        self.entries = entries
        self.sent = sent
    }

    /// Creates a history from the events of a `CPGGroup` (or of a parsed ``CPeerOutput``);
    /// ring changes are left out.
    ///
    /// - Parameters:
    ///   - member: The member whose events these are (`CPGGroup.localMember`).
    ///   - label: A name for reports.
    ///   - events: The events, in the order the group delivered them.
    ///   - sent: The payloads this member sent, in order, or `nil` if unknown.
    public init(member: CPGMember, label: String? = nil, events: some Sequence<CPGEvent>, sent: [[UInt8]]? = nil) {
        self.init(member: member, label: label, sent: sent)
        for event in events {
            self.record(event)
        }
    }

    /// Appends the entry for one event: a view for a membership change, a message for a message,
    /// ``Entry/disconnected`` for a lost connection under supervised reconnect; ring changes and
    /// `reconnected` are left out (a reconnect is followed by the new view's membership change).
    public mutating func record(_ event: CPGEvent) {
        switch event {
        case .membership(let change):
            self.entries.append(.view(members: change.members))
        case .message(let message):
            self.entries.append(.message(sender: message.sender, payload: message.payload))
        case .disconnected:
            self.entries.append(.disconnected)
        case .ring, .reconnected:
            break
        }
    }

    /// Whether the history ends with the member's own departure (a view without it).
    public var endsWithDeparture: Bool {
        guard case .view(let members) = self.entries.last else { return false }
        return !members.contains(self.member)
    }

    /// The label and the member, for reports: `swift@node1 (1:4242)`, or `1:4242`.
    public var name: String {
        if let label = self.label {
            return "\(label) (\(self.member))"
        }
        return "\(self.member)"
    }
}
