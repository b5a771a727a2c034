/// Where a group's membership and connection stand: joined, leaving, left, closed or failed.
///
/// A pure value: one mutating method per event, each returning what the group must do.
struct GroupLifecycle: Sendable {
    enum State: Sendable, Equatable {
        case joined
        case leaving
        case left
        case closed
        case failed(CPGError)
    }

    /// What to do when the user asks to leave.
    enum LeaveAction: Equatable {
        /// Call `cpg_leave`, then report ``leaveAccepted()``.
        case requestLeave
        /// A leave is already under way: wait for it.
        case waitForLeave
        /// Nothing to leave any more.
        case done
    }

    /// What to do when the group must stop.
    enum TeardownAction: Equatable {
        /// Stop reading, finalize the handle, end the streams (with the error, if any) and fail
        /// what still waits with `pendingError`.
        case teardown(streamError: CPGError?, pendingError: CPGError)
        /// Already stopped.
        case none
    }

    private(set) var state = State.joined

    /// The error for a call that needs a joined group, or nil if the group is joined.
    var errorForJoinedCall: CPGError? {
        switch self.state {
        case .joined: nil
        case .leaving, .left: CPGError(.notJoined, "the group was left")
        case .closed: CPGError(.closed, "the group was closed")
        case .failed(let error): error
        }
    }

    /// Whether the group still reads events from corosync.
    var isReading: Bool {
        switch self.state {
        case .joined, .leaving: true
        case .left, .closed, .failed: false
        }
    }

    mutating func leaveRequested() -> LeaveAction {
        switch self.state {
        case .joined: .requestLeave
        case .leaving: .waitForLeave
        case .left, .closed, .failed: .done
        }
    }

    /// Corosync accepted the leave; our own leave is now on its way back.
    mutating func leaveAccepted() {
        if case .joined = self.state { self.state = .leaving }
    }

    /// Our own departure was delivered: the membership ends here.
    mutating func ownLeaveDelivered() -> TeardownAction {
        switch self.state {
        case .joined, .leaving:
            self.state = .left
            return .teardown(streamError: nil, pendingError: CPGError(.notJoined, "the group was left"))
        case .left, .closed, .failed:
            return .none
        }
    }

    mutating func closeRequested() -> TeardownAction {
        switch self.state {
        case .joined, .leaving:
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

    mutating func connectionLost(_ error: CPGError) -> TeardownAction {
        switch self.state {
        case .joined, .leaving:
            self.state = .failed(error)
            return .teardown(streamError: error, pendingError: error)
        case .left, .closed, .failed:
            return .none
        }
    }
}
