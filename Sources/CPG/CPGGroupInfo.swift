/// A group as corosync lists it cluster-wide: its name and its members on every node.
public struct CPGGroupInfo: Hashable, Sendable {
    /// The group's name.
    public var name: CPGGroupName
    /// The group's members, in corosync's order.
    public var members: [CPGMember]

    /// Creates a group description.
    public init(name: CPGGroupName, members: [CPGMember]) {
        self.name = name
        self.members = members
    }
}
