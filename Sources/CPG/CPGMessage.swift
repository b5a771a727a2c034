/// A message delivered to this member, in the group's total order.
public struct CPGMessage: Hashable, Sendable {
    /// The member that sent it.
    public var sender: CPGMember
    /// The bytes exactly as sent (libcpg reassembles messages above the atomic size).
    public var payload: [UInt8]
    /// The position of this message in this member's delivery order: 1 for the first message
    /// delivered after join, then 2, 3, … . Members that deliver the same messages number them
    /// the same way only if they joined at the same point; the order itself is the same everywhere.
    public var deliveryIndex: UInt64

    /// Creates a message value.
    public init(sender: CPGMember, payload: [UInt8], deliveryIndex: UInt64) {
        self.sender = sender
        self.payload = payload
        self.deliveryIndex = deliveryIndex
    }
}
