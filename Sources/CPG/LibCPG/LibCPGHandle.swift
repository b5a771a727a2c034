import CLibCPG
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of a libcpg handle: every libcpg call of the package goes through here, and each
/// C status becomes a ``CPGStatus`` or a thrown ``CPGError``.
///
/// The handle is finalized exactly once, by ``finalize()`` or at the latest by `deinit`.
// @unchecked Sendable: `handle` and `sink` are immutable references, and libcpg guards every call
// with its own handle-database lock. Request-channel calls (sends, queries, leave) and
// `finalize()` are made under the owning group's send lock (`CPGGroup.sendGate`), which
// serialises them and so also `isFinalized` and the notification check's state; the one exception is a blocking fragmented send,
// which runs without that lock while the group holds every other request back and defers any
// finalize until it returned. `dispatchOne()` runs only on the group's serial queue (libcpg keeps
// the dispatch channel apart from the request channel, as corosync's own cpgbench relies on), and
// `sink` is only touched inside it. Before a handle is published to a group, only the connecting
// thread uses it.
final class LibCPGHandle: @unchecked Sendable {
    let handle: cpg_handle_t
    let sink: CallbackSink
    private var isFinalized = false
    /// Accepted sends left before ``multicastUnlessBacklogged(_:)`` looks at the socket again.
    private var sendsUntilNotificationCheck = 0
    /// The connection's socket (`cpg_fd_get`) and half its send buffer, once looked up.
    private var notificationSocket: (fd: Int32, limit: Int)?

    private init(handle: cpg_handle_t, sink: CallbackSink) {
        self.handle = handle
        self.sink = sink
    }

    deinit {
        self.finalize()
    }

    /// Connects to corosync (`cpg_model_initialize`, model v1 with totem configuration changes
    /// and the initial ring).
    ///
    /// - Parameter networkNamespace: a path such as `/run/netns/NAME`: the connection is made from
    ///   a thread that entered that network namespace, and so reaches that namespace's corosync.
    static func connect(networkNamespace: String? = nil) throws(CPGError) -> LibCPGHandle {
        guard let networkNamespace else { return try self.connectHere() }
        return try inNetworkNamespace(networkNamespace) { () throws(CPGError) in try self.connectHere() }
    }

    private static func connectHere() throws(CPGError) -> LibCPGHandle {
        let sink = CallbackSink()
        var model = CallbackSink.modelData()
        var handle: cpg_handle_t = 0
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let status = HandleDatabaseLock.withLock {
            withUnsafeMutablePointer(to: &model) { pointer in
                pointer.withMemoryRebound(to: cpg_model_data_t.self, capacity: 1) { modelData in
                    CPGStatus(cpg_model_initialize(&handle, CPG_MODEL_V1, modelData, context))
                }
            }
        }
        switch status {
        case .ok:
            return LibCPGHandle(handle: handle, sink: sink)
        case .library:
            throw CPGError(
                .unreachable,
                "corosync is not reachable: connecting to its CPG IPC socket failed (is corosync running?)",
                status: status
            )
        default:
            throw CPGError.call("cpg_model_initialize", status)
        }
    }

    /// Finalizes the handle (`cpg_finalize`) once; later calls do nothing.
    func finalize() {
        guard !self.isFinalized else { return }
        self.isFinalized = true
        _ = HandleDatabaseLock.withLock { cpg_finalize(self.handle) }
    }

    /// Who is at the other end of the IPC connection, by `SO_PEERCRED` on its socket.
    func daemonCredentials() throws(CPGError) -> CPGDaemonCredentials {
        let fd = try self.fileDescriptor()
        var credentials = swift_cpg_peer_credentials()
        guard swift_cpg_peer_credentials(fd, &credentials) == 0 else {
            throw CPGError(.untrustedDaemon, "cannot read the credentials of corosync's IPC connection: errno \(errno)")
        }
        return CPGDaemonCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }

    /// Refuses a connection whose peer does not run as one of `trustedUIDs`, as Pacemaker does:
    /// anything else answering on corosync's socket is not corosync.
    func verifyDaemon(trustedUIDs: Set<UInt32>) throws(CPGError) -> CPGDaemonCredentials {
        let credentials = try self.daemonCredentials()
        guard trustedUIDs.contains(credentials.uid) else {
            throw CPGError(
                .untrustedDaemon,
                "the process answering on corosync's CPG socket (pid \(credentials.pid)) runs as uid \(credentials.uid), which is not trusted (trusted: \(trustedUIDs.sorted()))"
            )
        }
        return credentials
    }

    /// The file descriptor that becomes readable when events wait (`cpg_fd_get`).
    func fileDescriptor() throws(CPGError) -> Int32 {
        var fd: Int32 = -1
        try check("cpg_fd_get", cpg_fd_get(self.handle, &fd))
        return fd
    }

    /// The largest message corosync sends in one piece (`cpg_max_atomic_msgsize_get`).
    func maxAtomicMessageSize() throws(CPGError) -> Int {
        var size: UInt32 = 0
        try check("cpg_max_atomic_msgsize_get", cpg_max_atomic_msgsize_get(self.handle, &size))
        return Int(size)
    }

    /// This node's id (`cpg_local_get`).
    func localNodeID() throws(CPGError) -> UInt32 {
        var nodeID: UInt32 = 0
        try check("cpg_local_get", cpg_local_get(self.handle, &nodeID))
        return nodeID
    }

    /// Joins a group (`cpg_join`); answers the raw status so the caller can retry `CS_ERR_TRY_AGAIN`.
    func join(_ group: CPGGroupName) -> CPGStatus {
        (try? group.withCName { CPGStatus(cpg_join(self.handle, $0)) }) ?? .invalidParameter
    }

    /// Leaves a group (`cpg_leave`); answers the raw status.
    func leave(_ group: CPGGroupName) -> CPGStatus {
        (try? group.withCName { CPGStatus(cpg_leave(self.handle, $0)) }) ?? .invalidParameter
    }

    /// The members of a group (`cpg_membership_get`). The daemon's reply can hold 384 entries
    /// (`PROCESSOR_COUNT_MAX`), not `CPG_MEMBERS_MAX`, and libcpg copies them all: the buffer is
    /// sized for the reply.
    func membership(_ group: CPGGroupName) throws(CPGError) -> [CPGMember] {
        var list = [cpg_address](repeating: cpg_address(), count: 384)
        var count: Int32 = Int32(list.count)
        try group.withCName { (name) throws(CPGError) in
            var name = name.pointee
            try check("cpg_membership_get", cpg_membership_get(self.handle, &name, &list, &count))
        }
        return list.prefix(Int(count)).map { CPGMember(nodeID: $0.nodeid, pid: $0.pid) }
    }

    /// Whether corosync asks senders to hold back (`cpg_flow_control_state_get`). Corosync 3
    /// always answers "disabled": flow control shows as `CS_ERR_TRY_AGAIN` from sends instead.
    func flowControlEnabled() throws(CPGError) -> Bool {
        var state = CPG_FLOW_CONTROL_DISABLED
        try check("cpg_flow_control_state_get", cpg_flow_control_state_get(self.handle, &state))
        return state == CPG_FLOW_CONTROL_ENABLED
    }

    /// Sends one message made of `buffers` (`cpg_mcast_joined`, `CPG_TYPE_AGREED`).
    ///
    /// Returns the raw status: `CS_OK` (accepted), `CS_ERR_TRY_AGAIN` (flow control) or a failure.
    /// Above the atomic size libcpg fragments the message and blocks, sleeping between retries.
    func multicast(_ buffers: UnsafeBufferPointer<iovec>) -> CPGStatus {
        CPGStatus(cpg_mcast_joined(self.handle, CPG_TYPE_AGREED, buffers.baseAddress, UInt32(buffers.count)))
    }

    /// Sends one message of at most the atomic size like ``multicast(_:)``, but answers
    /// `CS_ERR_TRY_AGAIN` itself, without calling libcpg, while corosync lags behind in reading
    /// this connection's request notifications.
    ///
    /// With shared-memory IPC (corosync's), libqb follows every request it puts in the ring with
    /// one byte on the connection's socket, and when that socket's buffer is full (corosync busy
    /// or stopped, about 280 unread requests) it retries `send()` in a loop until there is room:
    /// a spinning core, with the send lock held. So this looks at the bytes still queued on the
    /// socket (`TIOCOUTQ`) now and then, and pushes back once they exceed half its buffer: the
    /// group then waits as it does for corosync's own flow control. How many sends go between
    /// two looks depends on how far the socket is from that half
    /// (``sendsBeforeNextCheck(queued:limit:)``). Only the send lock's holder calls this (see the
    /// type's comment).
    func multicastUnlessBacklogged(_ buffers: UnsafeBufferPointer<iovec>) -> CPGStatus {
        if self.sendsUntilNotificationCheck <= 0 {
            guard let sends = self.sendsBeforeNotificationCheck() else { return .tryAgain }
            self.sendsUntilNotificationCheck = sends
        }
        let status = self.multicast(buffers)
        if status == .ok { self.sendsUntilNotificationCheck -= 1 }
        return status
    }

    /// Asks for a send buffer of `bytes` on the connection's socket, the one on which libqb
    /// puts a byte for every request (see ``CPGConfiguration/notificationBufferBytes``); never
    /// makes it smaller. The kernel doubles the value and caps it at `net.core.wmem_max`, unless
    /// the process may go past that cap (`CAP_NET_ADMIN`: `SO_SNDBUFFORCE`, as systemd-journald
    /// does for its sockets). Called once, before the handle sends anything.
    func requestNotificationBuffer(bytes: Int) {
        guard bytes > 0, let (fd, current) = self.connectionSocket() else { return }
        // What getsockopt reports is already doubled.
        guard current < (bytes > Int.max / 2 ? Int.max : bytes * 2) else { return }
        var value = Int32(clamping: bytes)
        let size = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &value, size) != 0 {
            // Not privileged: as much as wmem_max allows. A failure leaves the default.
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, size)
        }
    }

    /// The connection socket's send buffer as the kernel reports it (for tests), or nil.
    func notificationBufferBytes() -> Int? {
        self.connectionSocket()?.sendBufferBytes
    }

    /// The connection's socket (`cpg_fd_get`) and its send buffer (`SO_SNDBUF`, as the kernel
    /// reports it), or nil if either lookup fails.
    private func connectionSocket() -> (fd: Int32, sendBufferBytes: Int)? {
        var fd: Int32 = -1
        guard cpg_fd_get(self.handle, &fd) == CS_OK, fd >= 0 else { return nil }
        var bytes: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, &length) == 0 else { return nil }
        return (fd, Int(bytes))
    }

    /// The fewest accepted sends between two looks at the notification socket: far fewer than
    /// the half of its buffer that stays free, so libqb never finds it full in between.
    static let notificationCheckInterval = 16

    /// The most socket memory one notification is counted at when spacing the looks: the kernel
    /// charges about 760 bytes for each of libqb's one-byte writes on x86-64 (280 of them fill
    /// the default 208 KiB), so this leaves room to spare.
    static let notificationBytesBound = 2048

    /// How many accepted sends may go before the next look at the notification socket, with
    /// `queued` bytes of it unread against a push-back `limit`: half of what still fits below
    /// the limit, counting ``notificationBytesBound`` per notification, and at least
    /// ``notificationCheckInterval``. With the 2 MiB socket buffer a group asks for by default
    /// and corosync keeping up, that is one look per 256 sends instead of one per 16.
    static func sendsBeforeNextCheck(queued: Int, limit: Int) -> Int {
        max(Self.notificationCheckInterval, (limit - queued) / Self.notificationBytesBound / 2)
    }

    /// Looks at the request socket: `nil` when more than half its send buffer waits for corosync
    /// to read it, else how many sends may go before the next look.
    private func sendsBeforeNotificationCheck() -> Int? {
        if self.notificationSocket == nil {
            guard let (fd, bufferBytes) = self.connectionSocket(), bufferBytes > 0 else {
                return Self.notificationCheckInterval
            }
            self.notificationSocket = (fd, bufferBytes / 2)
        }
        guard let (fd, limit) = self.notificationSocket else { return Self.notificationCheckInterval }
        var queued: Int32 = 0
        // For a Unix stream socket TIOCOUTQ (SIOCOUTQ) counts the memory of the unread
        // buffers, in the units of SO_SNDBUF.
        guard withUnsafeMutablePointer(to: &queued, { ioctl(fd, UInt(TIOCOUTQ), $0) }) == 0 else {
            return Self.notificationCheckInterval
        }
        guard Int(queued) <= limit else { return nil }
        return Self.sendsBeforeNextCheck(queued: Int(queued), limit: limit)
    }

    /// Dispatches at most one event without blocking (`cpg_dispatch(CS_DISPATCH_ONE_NONBLOCKING)`).
    ///
    /// The event (if any) lands in ``sink``. `CS_ERR_TRY_AGAIN` means nothing was waiting.
    func dispatchOne() -> CPGStatus {
        CPGStatus(cpg_dispatch(self.handle, CS_DISPATCH_ONE_NONBLOCKING))
    }

    /// Walks corosync's table of groups and members (`cpg_iteration_*`).
    func iterate(_ scope: LibCPGIterationScope) throws(CPGError) -> [(group: CPGGroupName, member: CPGMember)] {
        var iteration: cpg_iteration_handle_t = 0
        try HandleDatabaseLock.withLock { () throws(CPGError) in
            switch scope {
            case .all:
                try check("cpg_iteration_initialize", cpg_iteration_initialize(self.handle, CPG_ITERATION_ALL, nil, &iteration))
            case .namesOnly:
                try check("cpg_iteration_initialize", cpg_iteration_initialize(self.handle, CPG_ITERATION_NAME_ONLY, nil, &iteration))
            case .group(let group):
                try group.withCName { (name) throws(CPGError) in
                    try check("cpg_iteration_initialize", cpg_iteration_initialize(self.handle, CPG_ITERATION_ONE_GROUP, name, &iteration))
                }
            }
        }
        defer { _ = HandleDatabaseLock.withLock { cpg_iteration_finalize(iteration) } }
        var rows: [(group: CPGGroupName, member: CPGMember)] = []
        while true {
            var description = cpg_iteration_description_t()
            let status = CPGStatus(cpg_iteration_next(iteration, &description))
            if status == .noSections { break }
            try check("cpg_iteration_next", status)
            let group = withUnsafePointer(to: &description.group) { CPGGroupName(copying: $0) }
            rows.append((group, CPGMember(nodeID: description.nodeid, pid: description.pid)))
        }
        return rows
    }
}

/// What a `cpg_iteration_initialize` walks.
enum LibCPGIterationScope {
    /// Every group with every member (`CPG_ITERATION_ALL`).
    case all
    /// Every group's name once (`CPG_ITERATION_NAME_ONLY`).
    case namesOnly
    /// One group's members (`CPG_ITERATION_ONE_GROUP`).
    case group(CPGGroupName)
}

extension CPGStatus {
    init(_ error: cs_error_t) {
        self.init(rawValue: error.rawValue)
    }
}

/// Throws the error for `function` unless `status` is `CS_OK`.
private func check(_ function: String, _ status: cs_error_t) throws(CPGError) {
    try check(function, CPGStatus(status))
}

private func check(_ function: String, _ status: CPGStatus) throws(CPGError) {
    guard status == .ok else { throw CPGError.call(function, status) }
}
