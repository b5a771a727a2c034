/// One event of a group, in the order `cpg_dispatch` produced it.
///
/// The order of messages relative to membership changes is the guarantee CPG gives: every member
/// that passes from one view to the next delivers the same messages in between, in the same order.
public enum CPGEvent: Hashable, Sendable {
    /// A message delivered in total order.
    case message(CPGMessage)
    /// The group's membership changed.
    case membership(CPGMembershipChange)
    /// The totem ring changed.
    case ring(CPGRingChange)
    /// The connection to corosync was lost and a supervised reconnect began
    /// (only with ``CPGConfiguration/reconnect``). This member's view has ended.
    case disconnected(CPGError)
    /// The supervised reconnect succeeded: the group is joined again. The membership change that
    /// follows is the new view; state derived from the old one must be resynchronised.
    case reconnected
}

extension CPGEvent {
    /// The event's kind, as a filter of event sequences sees it.
    var kind: CPGEventKinds {
        switch self {
        case .message: .messages
        case .membership: .membership
        case .ring: .ring
        case .disconnected, .reconnected: .connection
        }
    }

    /// An estimate of the memory the buffered event holds, for the byte limit of the buffer.
    var approximateByteCount: Int {
        switch self {
        case .message(let message): Self.approximateByteCount(messagePayload: message.payload.count)
        case .membership(let change): 192 + 16 * (change.members.count + change.joined.count + change.left.count)
        case .ring(let change): 64 + 4 * change.members.count
        case .disconnected, .reconnected: 64
        }
    }

    /// The estimate for a message with a payload of `count` bytes.
    static func approximateByteCount(messagePayload count: Int) -> Int { 64 + count }
}
