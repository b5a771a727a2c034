import Dispatch
import DequeModule
import Logging
import CoreMetrics

#if canImport(Glibc)
import Glibc
#endif

/// A membership of one closed process group: an actor that owns one libcpg handle.
///
/// ```swift
/// let group = try await CPGGroup.join("orders", logger: logger)
/// Task { for try await event in group.events { print(event) } }
/// try await group.send(Array("hello".utf8))
/// let members = try await group.members()
/// try await group.leave()
/// ```
///
/// The group reads corosync's events from a DispatchSource on the handle's file descriptor, on
/// the actor's own serial queue, and hands them to its event sequences in exactly the order
/// `cpg_dispatch` produced them. A process can be a member of a group once: a second join of
/// the same group from the same process fails with ``CPGError/Code/alreadyJoined``, whichever
/// handle it uses (corosync keys members by node id and pid).
///
/// libcpg's `cpg_context_get`/`cpg_context_set` have no counterpart: keep your state in your
/// own types, next to the group.
public actor CPGGroup {
    /// The group's name.
    public nonisolated let name: CPGGroupName
    /// The configuration the group was joined with.
    public nonisolated let configuration: CPGConfiguration
    /// This process as a member: this node's id and this process's pid.
    public nonisolated let localMember: CPGMember
    /// The largest message corosync sends in one piece (`cpg_max_atomic_msgsize_get`); larger
    /// ones are fragmented by libcpg.
    public nonisolated let maxAtomicMessageSize: Int

    /// This node's corosync node id (`cpg_local_get`).
    public nonisolated var localNodeID: UInt32 { self.localMember.nodeID }

    /// Who answers on the current connection, as the kernel reports it (`SO_PEERCRED`); checked
    /// against ``CPGConfiguration/trustedDaemonUIDs`` at every connect. `nil` once closed.
    public var daemon: CPGDaemonCredentials? {
        try? self.handle?.daemonCredentials()
    }

    nonisolated let log: EventLog
    /// What sending shares with the nonisolated fast path of `send`; its lock also serialises
    /// every request-channel call of libcpg (sends, queries, leave, finalize).
    nonisolated let sendGate: LockedValue<SendGate<LibCPGHandle>>
    nonisolated let executor: DispatchQueueExecutor
    let logger: Logger
    let metrics: GroupMetrics

    /// Where the group is in its life (a pure state machine). Read before every `cpg_dispatch`,
    /// so unchecked exclusivity: only the actor's queue touches it, and its mutating methods call
    /// nothing that could reach it again.
    @exclusivity(unchecked) var lifecycle = GroupLifecycle()
    /// The handle; `nil` once finalized.
    var handle: LibCPGHandle?
    var source: (any DispatchSourceRead)?
    /// Whether the source is resumed (it starts suspended; resume and suspend must balance).
    var sourceResumed = false
    /// The fd the source watches (`cpg_fd_get`), for a reader that lingers on it.
    var readerFD: Int32?
    /// Whether a ``readReady()`` is scheduled on the queue besides the source's firings.
    var readScheduled = false
    /// When an emptied event ring calls for waking corosync (see ``DeliveryNudge``).
    var deliveryNudge = DeliveryNudge()
    /// How many times the reader woke corosync (for tests).
    var corosyncNudges = 0

    // Sending.
    /// Sends waiting for corosync, in order (unchecked exclusivity: see `confirmations`).
    @exclusivity(unchecked) var sendQueue: Deque<PendingSend> = []
    var nextSendID: UInt64 = 0
    var retryScheduled = false
    var retryDelayMicroseconds = 100
    /// How many times a send met `CS_ERR_TRY_AGAIN` (for tests and metrics).
    var flowControlRetries = 0
    /// Payloads tests watch (see `ForTesting/`); empty in production.
    var queueWatches: [[UInt8]: QueueWatch] = [:]
    var flowControlWaiters: [CheckedContinuation<Void, Never>] = []
    var pauseWaiters: [CheckedContinuation<Void, Never>] = []
    /// Where fragmented sends run: libcpg blocks and sleeps in them, so never on the actor's queue
    /// or the cooperative pool (a serial queue of its own is overcommit on Linux).
    nonisolated let fragmentedSendQueue = DispatchQueue(label: "swift-cpg.fragmented-send")
    var requestChannelWaiters: [CheckedContinuation<Void, Never>] = []
    /// Handles to finalize once the fragmented send that still uses one of them has returned
    /// (reconnects may replace more than one meanwhile).
    var deferredFinalizations: [LibCPGHandle] = []
    /// How many handles the group let go of, finalized or deferred (for tests), and who waits.
    var handlesReleased = 0
    var handleReleaseWaiters: [CheckedContinuation<Void, Never>] = []
    /// How many supervised reconnects succeeded.
    var reconnects = 0
    /// This process's membership, released when the group ends for good (`nil` once released).
    var membership: ProcessMemberships.Key?

    // Own deliveries, for confirmed sends (the count of accepted ones is in `sendGate`).
    //
    // These three and `sendQueue` are read for every delivered message, so they skip Swift's
    // dynamic exclusivity checks (a thread-local lookup each): they are isolated to the actor,
    // so only its queue touches them, and no access to them spans a call that could reach
    // another (a continuation is resumed after its entry is taken out).
    @exclusivity(unchecked) var lastDeliveredOwnIndex: UInt64 = 0
    @exclusivity(unchecked) var failedOwnIndices: Set<UInt64> = []
    @exclusivity(unchecked) var confirmations: Deque<Confirmation> = []
    var leaveWaiters: [CheckedContinuation<Void, Never>] = []
    /// `join` waiting for this member's own join to be delivered.
    var joinWaiters: [CheckedContinuation<Void, Never>] = []
    /// Calls of `leave()` waiting for a supervised reconnect's own join.
    var rejoinWaiters: [CheckedContinuation<Void, Never>] = []
    /// Callers of `run()` waiting for the group to end; resumed with the error that ended it.
    var endWaiters: [CheckedContinuation<CPGError?, Never>] = []

    /// The actor runs on the queue its DispatchSource fires on.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.executor.asUnownedSerialExecutor()
    }

    private init(
        name: CPGGroupName,
        configuration: CPGConfiguration,
        logger: Logger,
        handle: LibCPGHandle,
        localMember: CPGMember,
        maxAtomicMessageSize: Int,
        executor: DispatchQueueExecutor,
        membership: ProcessMemberships.Key
    ) {
        self.membership = membership
        self.name = name
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: CPGLogKey.group] = "\(name)"
        logger[metadataKey: CPGLogKey.nodeID] = "\(localMember.nodeID)"
        self.logger = logger
        self.metrics = GroupMetrics(group: name, factory: configuration.metricsFactory ?? MetricsSystem.factory)
        self.handle = handle
        self.sendGate = LockedValue(SendGate(handle: handle, open: true))
        self.localMember = localMember
        self.maxAtomicMessageSize = maxAtomicMessageSize
        self.executor = executor
        self.log = EventLog(
            limits: .init(events: max(1, configuration.eventBufferCount), bytes: max(1, configuration.eventBufferBytes))
        )
    }

    isolated deinit {
        // The last reference is gone without close(): stop reading and finalize in the source's
        // cancel handler, then end the streams. A suspended source must be resumed to cancel.
        if let source = self.source {
            if !self.sourceResumed { source.resume() }
            source.cancel()
        } else if let handle = self.handle {
            self.sendGate.withLock { _ in handle.finalize() }
        }
        self.log.finish(nil)
        if let membership = self.membership { ProcessMemberships.release(membership) }
    }

    /// Joins a group by name (its UTF-8 bytes, no NUL terminator); see
    /// ``join(_:configuration:logger:)-(CPGGroupName,_,_)``.
    ///
    /// - Throws: ``CPGError`` with ``CPGError/Code/invalidGroupName`` for an empty or over-long
    ///   name, and what the other `join` throws.
    public static func join(
        _ name: String,
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger
    ) async throws(CPGError) -> CPGGroup {
        try await self.join(CPGGroupName(name), configuration: configuration, logger: logger)
    }

    /// Joins a group: connects to corosync (`cpg_model_initialize`, model v1 with ring changes
    /// and the initial ring), joins (`cpg_join`), starts reading events, and returns once this
    /// member's own join has been delivered.
    ///
    /// Corosync answers `cpg_join` before the join has gone round the ring, and lists the member
    /// (``members()``, ``CPGCluster``) only once it has. This call waits for that: when it
    /// returns, the group's first membership change (the one that lists this process as joined)
    /// is buffered and ``members()`` includes ``localMember``. That takes a token rotation, or
    /// longer while the ring re-forms (up to corosync's token timeout plus consensus).
    ///
    /// The first two events of every group are that membership change and the ring the cluster
    /// runs on, in either order (corosync sends both at join).
    ///
    /// - Throws: ``CPGError`` with ``CPGError/Code/unreachable`` when no corosync answers,
    ///   ``CPGError/Code/alreadyJoined`` when this process is a member already,
    ///   ``CPGError/Code/accessDenied`` when corosync refuses this user,
    ///   ``CPGError/Code/cancelled`` when the task is cancelled before the join was delivered
    ///   (the connection is then closed and corosync removes the membership),
    ///   ``CPGError/Code/connectionLost`` when corosync goes away first (with or without
    ///   ``CPGConfiguration/reconnect``, which supervises a group once joined).
    public static func join(
        _ name: CPGGroupName,
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger
    ) async throws(CPGError) -> CPGGroup {
        if Task.isCancelled { throw Self.joinCancelledError }
        let membership = ProcessMemberships.Key(networkNamespace: configuration.networkNamespace, group: name.bytes)
        guard ProcessMemberships.claim(membership) else {
            throw Self.alreadyJoinedError(name)
        }
        let queue = DispatchQueue(label: "swift-cpg.group")
        let executor = DispatchQueueExecutor(
            queue: queue,
            wakeup: configuration.readerLinger > .zero ? ReaderWakeup() : nil
        )
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.joinRetryTimeout)
        var delay = Duration.milliseconds(5)
        while true {
            // Blocking IPC, on the group's own queue rather than the cooperative pool.
            let attempt: Result<JoinAttempt, CPGError> = await withCheckedContinuation { continuation in
                queue.async {
                    continuation.resume(returning: Result { () throws(CPGError) in try Self.connectAndJoin(name, configuration) })
                }
            }
            switch attempt {
            case .failure(let error):
                ProcessMemberships.release(membership)
                throw error
            case .success(.joined(let handle, let member, let atomic)):
                let group = CPGGroup(
                    name: name,
                    configuration: configuration,
                    logger: logger,
                    handle: handle,
                    localMember: member,
                    maxAtomicMessageSize: atomic,
                    executor: executor,
                    membership: membership
                )
                await group.startReading()
                group.logger.debug("corosync accepted cpg_join; waiting for this member's own join to be delivered")
                try await group.awaitOwnJoin()
                group.logger.debug("joined CPG group")
                return group
            case .success(.refused(let status)):
                guard clock.now < deadline else {
                    ProcessMemberships.release(membership)
                    if status == .exist { throw Self.alreadyJoinedError(name) }
                    throw CPGError(
                        .corosync,
                        "corosync kept answering try-again (to cpg_model_initialize or cpg_join) for \(configuration.joinRetryTimeout)",
                        status: .tryAgain
                    )
                }
                try? await Task.sleep(for: delay)  // backoff between attempts, not synchronisation
                delay = min(delay * 2, .milliseconds(200))
                if Task.isCancelled {
                    ProcessMemberships.release(membership)
                    throw Self.joinCancelledError
                }
            }
        }
    }

    /// What a join throws when its task is cancelled.
    static let joinCancelledError = CPGError(.cancelled, "the join was cancelled; this process is not a member (its connection was closed)")

    /// Waits until this member's own join has been delivered: the first membership change that
    /// lists it as joined is in the log, and corosync lists it as a member. If the task is
    /// cancelled first, closes the group (corosync removes the membership) and throws
    /// ``CPGError/Code/cancelled``; if the connection is lost first, throws that error.
    ///
    /// Until then the group reads on whatever its buffer holds: only ring changes can come
    /// before a member's own join.
    func awaitOwnJoin() async throws(CPGError) {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Checked inside the closure, as every wait of the group (see `waitForOwnLeave`).
                if self.lifecycle.state == .joining {
                    self.joinWaiters.append(continuation)
                } else {
                    continuation.resume()
                }
            }
        } onCancel: {
            self.executor.async {
                self.enterIsolated { group in
                    if group.lifecycle.state == .joining { group.close() }
                }
            }
        }
        switch self.lifecycle.state {
        case .joining:
            // Waiters are resumed only after the state has moved on.
            assertionFailure("a join waiter was resumed before the join was delivered or the group ended")
        case .joined, .leaving, .left, .reconnecting, .rejoining:
            return
        case .closed:
            // Only the cancellation handler closes a group that is still joining.
            throw Self.joinCancelledError
        case .failed(let error):
            throw error
        }
    }

    private static func alreadyJoinedError(_ name: CPGGroupName) -> CPGError {
        CPGError(
            .alreadyJoined,
            "this process is already a member of group \(name) (a process joins a group once)",
            status: .exist
        )
    }

    /// What one connect-and-join attempt came to.
    enum JoinAttempt {
        case joined(LibCPGHandle, CPGMember, Int)
        /// Corosync answered `CS_ERR_TRY_AGAIN` (to the connection while it starts up, or to
        /// the join), or `CS_ERR_EXIST` for a membership of this process that is still being
        /// removed: worth another attempt.
        case refused(CPGStatus)
    }

    /// One connect-and-join attempt.
    static func connectAndJoin(
        _ name: CPGGroupName,
        _ configuration: CPGConfiguration
    ) throws(CPGError) -> JoinAttempt {
        let handle: LibCPGHandle
        do {
            handle = try LibCPGHandle.connect(networkNamespace: configuration.networkNamespace)
        } catch where error.status == .tryAgain {
            // Corosync is starting up (or shutting down) and takes no IPC connections yet.
            return .refused(.tryAgain)
        }
        _ = try handle.verifyDaemon(trustedUIDs: configuration.trustedDaemonUIDs)
        if let bytes = configuration.notificationBufferBytes { handle.requestNotificationBuffer(bytes: bytes) }
        let nodeID = try handle.localNodeID()
        let atomic = try handle.maxAtomicMessageSize()
        switch handle.join(name) {
        case .ok:
            return .joined(handle, CPGMember(nodeID: nodeID, pid: UInt32(getpid())), atomic)
        case .tryAgain:
            // This process's previous membership is still being removed (after a leave).
            handle.finalize()
            return .refused(.tryAgain)
        case .exist:
            // No live membership of this process holds the group (``ProcessMemberships``), so
            // this is one that ended with cpg_finalize and that corosync has not removed yet.
            handle.finalize()
            return .refused(.exist)
        case let status:
            handle.finalize()
            throw CPGError.call("cpg_join", status)
        }
    }

    /// A logger that discards everything: the default when the caller passes none.
    public static let silentLogger = Logger(label: "swift-cpg", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: Events

    /// Every event of the group, in order: messages, membership changes and ring changes.
    ///
    /// Each access is a new subscription; see ``CPGEventSequence`` for where it starts and how
    /// backpressure works.
    public nonisolated var events: CPGEventSequence<CPGEvent> {
        CPGEventSequence(self.log.subscribe(kinds: .all)) { $0 }
    }

    /// The messages delivered to this member, in total order.
    public nonisolated var messages: CPGEventSequence<CPGMessage> {
        CPGEventSequence(self.log.subscribe(kinds: .messages)) {
            // Consumed, so the payload moves out of the event rather than being copied.
            if case .message(let message) = consume $0 { return message }
            return nil
        }
    }

    /// The group's membership changes, in order.
    public nonisolated var membershipChanges: CPGEventSequence<CPGMembershipChange> {
        CPGEventSequence(self.log.subscribe(kinds: .membership)) {
            if case .membership(let change) = consume $0 { return change }
            return nil
        }
    }

    /// The totem ring changes, in order; the first describes the ring at join.
    public nonisolated var ringChanges: CPGEventSequence<CPGRingChange> {
        CPGEventSequence(self.log.subscribe(kinds: .ring)) {
            if case .ring(let change) = consume $0 { return change }
            return nil
        }
    }

    // MARK: Queries

    /// The group's current members on every node, as this node's corosync knows them
    /// (`cpg_membership_get`).
    ///
    /// Once ``join(_:configuration:logger:)-(CPGGroupName,_,_)`` has returned, this member is
    /// listed: join waits until its own join has gone round the ring. After a supervised
    /// reconnect, it is listed again from the membership change that follows ``CPGEvent/reconnected``.
    ///
    /// - Throws: ``CPGError/Code/notJoined`` after leave, ``CPGError/Code/closed`` after close.
    public func members() async throws(CPGError) -> [CPGMember] {
        while true {
            await self.awaitRequestChannel()
            if let error = self.lifecycle.errorForJoinedCall { throw error }
            if case .reconnecting(let error) = self.lifecycle.state { throw error }
            guard let handle = self.handle else { throw CPGError(.closed, "the group was closed") }
            // A send may have started a fragmented one since: then wait again.
            let members = try self.withFreeRequestChannel { () throws(CPGError) in try handle.membership(self.name) }
            if let members { return members }
        }
    }

    /// Whether corosync asks senders to hold back (`cpg_flow_control_state_get`).
    ///
    /// Corosync 3 always answers `false`: it signals flow control by answering sends with
    /// `CS_ERR_TRY_AGAIN`, which ``send(_:)-([UInt8])`` waits out by itself.
    public func flowControlEnabled() async throws(CPGError) -> Bool {
        if let error = self.lifecycle.errorForJoinedCall { throw error }
        guard let handle = self.handle else { throw CPGError(.closed, "the group was closed") }
        return try self.sendGate.withLock { (_) throws(CPGError) in try handle.flowControlEnabled() }
    }

    // MARK: Leaving and closing

    /// Leaves the group (`cpg_leave`) and returns once this member's own departure has been
    /// delivered; the event sequences then end after the membership change that shows it.
    ///
    /// Calling it again, or after ``close()``, does nothing. While the leave is under way the
    /// group keeps reading even if its buffer is full, so a stalled consumer cannot hold it up.
    /// Pending sends fail with ``CPGError/Code/notJoined``.
    public func leave() async throws(CPGError) {
        // Each wait below may see the group change: decide again after it.
        while true {
            if self.lifecycle.isReconnecting {
                // Not a member while disconnected: leaving means stopping.
                self.close()
                return
            }
            switch self.lifecycle.leaveRequested() {
            case .done:
                return
            case .waitForLeave:
                await self.waitForOwnLeave()
                return
            case .waitForRejoin:
                await self.waitForRejoin()
                continue
            case .requestLeave:
                break
            }
            guard let status = await self.requestLeave() else {
                // Another call made the leave, or the group ended, lost its connection or
                // started to rejoin meanwhile.
                if self.handle == nil, self.lifecycle.leaveRequested() == .requestLeave { return }
                continue
            }
            guard status == .ok else { throw CPGError.call("cpg_leave", status) }
            self.lifecycle.leaveAccepted()
            self.failQueuedSends(CPGError(.notJoined, "the group was left"))
            self.logger.debug("left CPG group, waiting for own leave")
            self.resumeReading()
            await self.waitForOwnLeave()
            return
        }
    }

    /// Waits until a supervised reconnect's own join is delivered, or the group ends or loses
    /// its connection again.
    private func waitForRejoin() async {
        await withCheckedContinuation { continuation in
            if self.lifecycle.state == .rejoining {
                self.rejoinWaiters.append(continuation)
            } else {
                continuation.resume()
            }
        }
    }

    /// Resumes what waits for a reconnect's own join: it was delivered, or it will not be.
    func resumeRejoinWaiters() {
        guard !self.rejoinWaiters.isEmpty else { return }
        let waiters = self.rejoinWaiters
        self.rejoinWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// `cpg_leave`, once no fragmented send holds the request channel; `nil` when the leave is
    /// not this call's to make now (another call made it, or the group ended, lost its
    /// connection or rejoins meanwhile).
    private func requestLeave() async -> CPGStatus? {
        while true {
            await self.awaitRequestChannel()
            guard self.lifecycle.leaveRequested() == .requestLeave, let handle = self.handle else { return nil }
            // The gate closes before the request channel is free again: no send reaches corosync
            // after the leave. A send may have started a fragmented one since the wait: then
            // wait again.
            let status = self.withFreeRequestChannel {
                handle.leave(self.name)
            } finishing: { status, gate in
                if status == .ok { gate.update(handle: handle, open: false) }
            }
            if let status { return status }
        }
    }

    /// Waits until the group has ended after a leave.
    ///
    /// The state is checked inside the continuation's closure, not only before: a task that
    /// prefers a task executor of its own (not the group's queue) may be enqueued once more on
    /// entering `withCheckedContinuation`, and the group may read its own leave meanwhile. So
    /// does every other wait of the group.
    private func waitForOwnLeave() async {
        await withCheckedContinuation { continuation in
            if self.lifecycle.ending != nil {
                continuation.resume()
            } else {
                self.leaveWaiters.append(continuation)
            }
        }
    }

    /// Closes the connection (`cpg_finalize`) without waiting for a leave: the other members see
    /// this process go with reason `procdown`. Events already buffered are still delivered, then
    /// the sequences end; pending sends fail with ``CPGError/Code/closed``. Idempotent.
    public func close() {
        self.teardown(self.lifecycle.closeRequested())
    }
}

/// The metadata keys the group logs with.
enum CPGLogKey {
    static let group = "cpg.group"
    static let nodeID = "cpg.nodeid"
}
