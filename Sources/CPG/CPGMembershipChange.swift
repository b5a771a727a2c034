/// A change of a group's membership (libcpg's configuration change callback): the new view.
///
/// Every member of the group sees the same sequence of views, and the same messages between
/// two views (virtual synchrony).
public struct CPGMembershipChange: Hashable, Sendable {
    /// The group whose membership changed.
    public var group: CPGGroupName
    /// The members of the new view, in corosync's order.
    public var members: [CPGMember]
    /// Members that joined with this change.
    public var joined: [CPGMemberChange]
    /// Members that left with this change.
    public var left: [CPGMemberChange]

    /// Creates a membership change.
    public init(group: CPGGroupName, members: [CPGMember], joined: [CPGMemberChange], left: [CPGMemberChange]) {
        self.group = group
        self.members = members
        self.joined = joined
        self.left = left
    }
}
