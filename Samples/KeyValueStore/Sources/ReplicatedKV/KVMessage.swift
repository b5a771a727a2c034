import CPG

/// A change to the store. Every member applies the same updates in the same (total) order.
///
/// Updates are blind writes: applying one needs no knowledge of the sender's state, so any
/// member may send one at any time, even one that is still waiting for its state.
public enum KVUpdate: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Sets `key` to `value`.
    case set(key: String, value: String)
    /// Removes `key` (nothing happens if it is absent).
    case delete(key: String)

    /// Applies the update to a map.
    ///
    /// - Parameter entries: The map to change.
    public func apply(to entries: inout [String: String]) {
        switch self {
        case .set(let key, let value): entries[key] = value
        case .delete(let key): entries[key] = nil
        }
    }

    /// `set key=value` or `delete key`.
    public var description: String {
        switch self {
        case .set(let key, let value): "set \(key)=\(value)"
        case .delete(let key): "delete \(key)"
        }
    }
}

/// Identifies a view (one membership of the group) in protocol messages: its members, sorted.
///
/// A status or snapshot sent in one view and delivered after a later membership change carries
/// the old view's id, so receivers can tell it is stale and ignore it.
public struct KVViewID: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The members as `nodeID << 32 | pid`, ascending.
    public var members: [UInt64]

    /// The id of the view with these members.
    ///
    /// - Parameter members: The view's members, in any order.
    public init(_ members: [CPGMember]) {
        self.members = members.sorted().map { UInt64($0.nodeID) << 32 | UInt64($0.pid) }
    }

    /// The members, as `nodeid:pid` separated by spaces.
    public var description: String {
        self.members.map { "\($0 >> 32):\($0 & 0xFFFF_FFFF)" }.joined(separator: " ")
    }
}

/// What the members of a store send each other (JSON, through a ``CPG/CPGChannel``).
public enum KVMessage: Codable, Hashable, Sendable {
    /// A client's change, applied by everyone in delivery order.
    case update(KVUpdate)
    /// A member's answer to a membership change: whether it holds a valid copy of the state.
    case status(view: KVViewID, hasState: Bool)
    /// The state that every member of `view` installs: sent by the lowest member that holds
    /// a valid copy, right after the last status of the round was delivered to it.
    case snapshot(view: KVViewID, entries: [String: String])
}
