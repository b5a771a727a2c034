/// Where a group's membership and connection stand: joining, joined, leaving, left, closed or
/// failed.
///
/// A pure value: one mutating method per event, each returning what the group must do.
struct GroupLifecycle: Sendable {
    enum State: Sendable, Equatable {
        /// Corosync accepted `cpg_join`; this member's own join has not been delivered yet.
        /// Only `CPGGroup.join` sees this state: it returns once the join is delivered.
        case joining
        case joined
        case leaving
        case left
        case closed
        case failed(CPGError)
        /// The connection was lost and a supervised reconnect is under way.
        case reconnecting(CPGError)
        /// A supervised reconnect's `cpg_join` was accepted; this member's own join has not been
        /// delivered yet. Corosync answers `cpg_leave` with `CS_ERR_BUSY` until it has, and
        /// libcpg repeats the request at once while it does: a leave waits for the join first.
        case rejoining
    }

    /// What to do when the user asks to leave.
    enum LeaveAction: Equatable {
        /// Call `cpg_leave`, then report ``leaveAccepted()``.
        case requestLeave
        /// A leave is already under way: wait for it.
        case waitForLeave
        /// A reconnect's join is still on its way: wait for it to be delivered (or for the group
        /// to end, or to lose the connection again), then ask again.
        case waitForRejoin
        /// Nothing to leave any more.
        case done
    }

    /// What the delivery of this member's own join means.
    enum OwnJoinAction: Equatable {
        /// The first join: the caller of `join` may return.
        case joinCompleted
        /// The join of a supervised reconnect: a leave waiting for it may go on.
        case rejoinCompleted
        /// Not a join anybody waits for (the group was already joined, or has ended).
        case none
    }

    /// What to do when the group must stop.
    enum TeardownAction: Equatable {
        /// Stop reading, finalize the handle, end the streams (with the error, if any) and fail
        /// what still waits with `pendingError`.
        case teardown(streamError: CPGError?, pendingError: CPGError)
        /// Stop reading, finalize the old handle, announce the disconnection and reconnect.
        case reconnect(CPGError)
        /// Already stopped.
        case none
    }

    private(set) var state = State.joining

    /// The error for a call that needs a joined group, or nil if the group is joined.
    var errorForJoinedCall: CPGError? {
        switch self.state {
        case .joining, .joined, .rejoining: nil
        case .leaving, .left: CPGError(.notJoined, "the group was left")
        case .closed: CPGError(.closed, "the group was closed")
        case .failed(let error): error
        case .reconnecting: nil
        }
    }

    /// How the group ended: `nil` while it has not; `.some(nil)` after a leave or close; the
    /// error after a failure.
    var ending: CPGError?? {
        switch self.state {
        case .joining, .joined, .leaving, .reconnecting, .rejoining: nil
        case .left, .closed: .some(nil)
        case .failed(let error): .some(error)
        }
    }

    /// Whether a supervised reconnect is under way.
    var isReconnecting: Bool {
        if case .reconnecting = self.state { return true }
        return false
    }

    /// Whether sends may go to corosync: while joining, joined or rejoining (not while leaving,
    /// reconnecting, or after the end).
    var acceptsSends: Bool {
        switch self.state {
        case .joining, .joined, .rejoining: true
        case .leaving, .left, .closed, .failed, .reconnecting: false
        }
    }

    /// Whether reading stops at the event buffer's limits (backpressure). Only a joined group's
    /// does: one still joining reads on until its own join (only ring changes come before it),
    /// and one leaving reads on until its own leave, whatever its consumers do.
    var readsWithinBufferLimits: Bool {
        self.state == .joined
    }

    /// Whether the group still reads events from corosync.
    var isReading: Bool {
        switch self.state {
        case .joining, .joined, .leaving, .rejoining: true
        case .left, .closed, .failed, .reconnecting: false
        }
    }

    /// This member's own join was delivered (the first membership change that lists it as
    /// joined): the group is joined, and whoever waited for that may go on.
    mutating func ownJoinDelivered() -> OwnJoinAction {
        switch self.state {
        case .joining:
            self.state = .joined
            return .joinCompleted
        case .rejoining:
            self.state = .joined
            return .rejoinCompleted
        case .joined, .leaving, .left, .closed, .failed, .reconnecting:
            return .none
        }
    }

    mutating func leaveRequested() -> LeaveAction {
        switch self.state {
        case .joining, .joined: .requestLeave
        case .rejoining: .waitForRejoin
        case .leaving: .waitForLeave
        case .left, .closed, .failed, .reconnecting: .done
        }
    }

    /// Corosync accepted the leave; our own leave is now on its way back.
    mutating func leaveAccepted() {
        switch self.state {
        case .joining, .joined: self.state = .leaving
        case .leaving, .left, .closed, .failed, .reconnecting, .rejoining: break
        }
    }

    /// Our own departure was delivered: the membership ends here.
    mutating func ownLeaveDelivered() -> TeardownAction {
        switch self.state {
        case .joining, .joined, .leaving, .rejoining:
            self.state = .left
            return .teardown(streamError: nil, pendingError: CPGError(.notJoined, "the group was left"))
        case .left, .closed, .failed, .reconnecting:
            return .none
        }
    }

    mutating func closeRequested() -> TeardownAction {
        switch self.state {
        case .joining, .joined, .leaving, .reconnecting, .rejoining:
            self.state = .closed
            return .teardown(streamError: nil, pendingError: CPGError(.closed, "the group was closed"))
        case .left:
            // The handle is finalized already; record that the group is closed for good.
            self.state = .closed
            return .none
        case .closed, .failed:
            return .none
        }
    }

    /// The connection is gone. With `canReconnect`, a joined (or rejoining) group reconnects
    /// instead of ending; a group still joining ends, and its join throws the error.
    mutating func connectionLost(_ error: CPGError, canReconnect: Bool = false) -> TeardownAction {
        switch self.state {
        case .joined where canReconnect, .rejoining where canReconnect:
            self.state = .reconnecting(error)
            return .reconnect(error)
        case .joining, .joined, .leaving, .rejoining:
            self.state = .failed(error)
            return .teardown(streamError: error, pendingError: error)
        case .left, .closed, .failed, .reconnecting:
            return .none
        }
    }

    /// A reconnect attempt's `cpg_join` was accepted: the group rejoins, and is joined once its
    /// own join is delivered (``ownJoinDelivered()``). False if the group was closed meanwhile.
    mutating func reconnected() -> Bool {
        guard case .reconnecting = self.state else { return false }
        self.state = .rejoining
        return true
    }

    /// The reconnect gave up.
    mutating func reconnectFailed(_ error: CPGError) -> TeardownAction {
        guard case .reconnecting = self.state else { return .none }
        self.state = .failed(error)
        return .teardown(streamError: error, pendingError: error)
    }
}
