/// The groups this process is a member of through this library, on each corosync it talks to.
///
/// Corosync keys members by node id and pid, so a process can be a member of a group once. It
/// also answers `CS_ERR_EXIST` for a while after a membership ended with `cpg_finalize`: until the
/// departure has gone round the ring. Knowing which memberships are live here lets a second join
/// fail at once with ``CPGError/Code/alreadyJoined``, and a join after ``CPGGroup/close()`` wait
/// out the daemon's stale entry instead of failing.
enum ProcessMemberships {
    /// A membership: which daemon (by network namespace; `nil` is this one) and which group.
    struct Key: Hashable, Sendable {
        let networkNamespace: String?
        let group: [UInt8]
    }

    private static let live = LockedValue(Set<Key>())

    /// Records a new membership; false if this process holds that membership already.
    static func claim(_ key: Key) -> Bool {
        self.live.withLock { $0.insert(key).inserted }
    }

    /// Forgets a membership that ended (or never began).
    static func release(_ key: Key) {
        _ = self.live.withLock { $0.remove(key) }
    }
}
