/// A member that joined or left, with the reason corosync gave.
public struct CPGMemberChange: Hashable, Sendable, CustomStringConvertible {
    /// The member that joined or left.
    public var member: CPGMember
    /// Why it joined or left.
    public var reason: CPGChangeReason

    /// Creates a change record.
    public init(member: CPGMember, reason: CPGChangeReason) {
        self.member = member
        self.reason = reason
    }

    /// `nodeid:pid(reason)`.
    public var description: String { "\(self.member)(\(self.reason))" }
}
