/// Who answers on this client's IPC connection: the process id, user id and group id of the
/// corosync daemon, as the kernel reports them (`SO_PEERCRED`), not as the daemon claims.
public struct CPGDaemonCredentials: Hashable, Sendable {
    /// The daemon's process id (in the client's pid namespace).
    public var pid: Int32
    /// The daemon's user id.
    public var uid: UInt32
    /// The daemon's group id.
    public var gid: UInt32

    /// Creates credentials.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}
