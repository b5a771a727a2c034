@testable import CPG
import Testing

extension GroupLifecycle {
    /// A group whose own join has been delivered.
    static func joined() -> GroupLifecycle {
        var lifecycle = GroupLifecycle()
        _ = lifecycle.ownJoinDelivered()
        return lifecycle
    }
}

@Suite("GroupLifecycle")
struct GroupLifecycleTests {
    @Test("join: joining until the own join is delivered, once; joining reads past the buffer's limits")
    func joinFlow() {
        var lifecycle = GroupLifecycle()
        #expect(lifecycle.state == .joining)
        #expect(lifecycle.isReading)
        #expect(lifecycle.acceptsSends)
        #expect(!lifecycle.readsWithinBufferLimits)
        #expect(lifecycle.errorForJoinedCall == nil)
        #expect(lifecycle.ending == nil)
        let first = lifecycle.ownJoinDelivered()
        #expect(first == .joinCompleted)
        #expect(lifecycle.state == .joined)
        #expect(lifecycle.acceptsSends)
        #expect(lifecycle.readsWithinBufferLimits)
        // A later change that lists this member as joined (after a reconnect) is no join to wait for.
        let second = lifecycle.ownJoinDelivered()
        #expect(second == .none)
    }

    @Test("a group still joining fails on a lost connection even with reconnect, and closes on cancellation")
    func joiningEnds() {
        let error = CPGError(.connectionLost, "gone", status: .library)
        var lost = GroupLifecycle()
        #expect(lost.connectionLost(error, canReconnect: true) == .teardown(streamError: error, pendingError: error))
        #expect(lost.state == .failed(error))
        let joinedAfterFailure = lost.ownJoinDelivered()
        #expect(joinedAfterFailure == .none)

        var cancelled = GroupLifecycle()
        guard case .teardown(nil, let pending) = cancelled.closeRequested() else {
            Issue.record("expected a teardown")
            return
        }
        #expect(pending.code == .closed)
        #expect(cancelled.state == .closed)
        let joinedAfterClose = cancelled.ownJoinDelivered()
        #expect(joinedAfterClose == .none)
    }

    @Test("leave: request, accept, own leave delivered, then nothing more")
    func leaveFlow() {
        var lifecycle = GroupLifecycle.joined()
        #expect(lifecycle.errorForJoinedCall == nil)
        #expect(lifecycle.leaveRequested() == .requestLeave)
        lifecycle.leaveAccepted()
        #expect(lifecycle.state == .leaving)
        #expect(lifecycle.isReading)
        #expect(!lifecycle.acceptsSends)
        #expect(!lifecycle.readsWithinBufferLimits)
        #expect(lifecycle.errorForJoinedCall?.code == .notJoined)
        #expect(lifecycle.leaveRequested() == .waitForLeave)
        guard case .teardown(nil, let pending) = lifecycle.ownLeaveDelivered() else {
            Issue.record("expected a teardown")
            return
        }
        #expect(pending.code == .notJoined)
        #expect(!lifecycle.isReading)
        #expect(lifecycle.leaveRequested() == .done)
        #expect(lifecycle.closeRequested() == .none)
        #expect(lifecycle.errorForJoinedCall?.code == .closed)
    }

    @Test("close is idempotent")
    func closeTwice() {
        var lifecycle = GroupLifecycle.joined()
        guard case .teardown(nil, let pending) = lifecycle.closeRequested() else {
            Issue.record("expected a teardown")
            return
        }
        #expect(pending.code == .closed)
        #expect(lifecycle.closeRequested() == .none)
        #expect(lifecycle.leaveRequested() == .done)
    }

    @Test("a lost connection ends the streams with the error, once")
    func connectionLost() {
        var lifecycle = GroupLifecycle.joined()
        let error = CPGError(.connectionLost, "gone", status: .library)
        #expect(lifecycle.connectionLost(error) == .teardown(streamError: error, pendingError: error))
        #expect(lifecycle.connectionLost(error) == .none)
        #expect(lifecycle.closeRequested() == .none)
        #expect(lifecycle.errorForJoinedCall == error)
    }
}

@Suite("CPGStatus and CPGError")
struct StatusTests {
    @Test("ending: none while joined, leaving or reconnecting; nil after leave or close; the error after a failure")
    func ending() {
        var left = GroupLifecycle.joined()
        #expect(left.ending == nil)
        _ = left.leaveRequested()
        left.leaveAccepted()
        #expect(left.ending == nil)
        _ = left.ownLeaveDelivered()
        #expect(left.ending == .some(nil))

        var closed = GroupLifecycle.joined()
        _ = closed.closeRequested()
        #expect(closed.ending == .some(nil))

        var failed = GroupLifecycle.joined()
        let lost = CPGError(.connectionLost, "gone")
        _ = failed.connectionLost(lost)
        #expect(failed.ending == .some(lost))

        var reconnecting = GroupLifecycle.joined()
        _ = reconnecting.connectionLost(lost, canReconnect: true)
        #expect(reconnecting.isReconnecting)
        #expect(reconnecting.ending == nil)
    }

    @Test("every cs_error_t has its C name")
    func names() {
        #expect(CPGStatus.allKnown.count == 30)
        for status in CPGStatus.allKnown {
            #expect(status.name.hasPrefix("CS_"))
        }
        #expect(CPGStatus.tryAgain.description == "CS_ERR_TRY_AGAIN (6)")
        #expect(CPGStatus(rawValue: 999).name == "cs_error_t(999)")
        #expect(Set(CPGStatus.allKnown.map(\.name)).count == 30)
    }

    @Test("a failed cpg_dispatch ends the connection and says why, for every status")
    func dispatchFailures() {
        let lost = CPGError.dispatchFailed(.library)
        let memory = CPGError.dispatchFailed(.noMemory)
        let other = CPGError.dispatchFailed(.timeout)
        for error in [lost, memory, other] {
            #expect(error.code == .connectionLost)
            #expect(error.description.contains("no silent gap"))
        }
        #expect(lost.description.contains("connection to corosync was lost"))
        #expect(memory.description.contains("could not allocate") && memory.status == .noMemory)
        #expect(other.status == .timeout)
    }

    @Test("group names: 1 to 128 bytes, NUL distinct")
    func groupNames() throws {
        #expect(throws: CPGError.self) { try CPGGroupName("") }
        #expect(throws: CPGError.self) { try CPGGroupName(String(repeating: "x", count: 129)) }
        let longest = try CPGGroupName(String(repeating: "x", count: 128))
        #expect(longest.bytes.count == 128)
        let plain = try CPGGroupName("name")
        let terminated = try CPGGroupName("name", includingNULTerminator: true)
        #expect(plain != terminated)
        #expect(terminated.description == "name\\x00")
        do {
            _ = try CPGGroupName(String(repeating: "x", count: 129))
        } catch {
            #expect(error.code == .invalidGroupName)
            #expect(error.description.contains("128"))
        }
    }
}

@Suite("GroupLifecycle with supervised reconnect")
struct GroupLifecycleReconnectTests {
    @Test("a joined group reconnects instead of ending; sends wait, queries fail")
    func reconnects() {
        var lifecycle = GroupLifecycle.joined()
        let error = CPGError(.connectionLost, "gone", status: .library)
        #expect(lifecycle.connectionLost(error, canReconnect: true) == .reconnect(error))
        #expect(lifecycle.isReconnecting)
        #expect(!lifecycle.isReading)
        #expect(lifecycle.errorForJoinedCall == nil)
        #expect(lifecycle.connectionLost(error, canReconnect: true) == .none)
        let first = lifecycle.reconnected()
        #expect(first)
        #expect(lifecycle.state == .rejoining)
        let second = lifecycle.reconnected()
        #expect(!second)
        #expect(lifecycle.ownJoinDelivered() == .rejoinCompleted)
        #expect(lifecycle.state == .joined)
        #expect(lifecycle.ownJoinDelivered() == .none)
    }

    @Test("rejoining: sends go on and reading ignores the limits until the own join; a leave waits for it (corosync answers BUSY)")
    func rejoining() {
        let error = CPGError(.connectionLost, "gone", status: .library)
        var lifecycle = GroupLifecycle.joined()
        _ = lifecycle.connectionLost(error, canReconnect: true)
        _ = lifecycle.reconnected()
        #expect(lifecycle.state == .rejoining)
        #expect(lifecycle.acceptsSends)
        #expect(lifecycle.isReading)
        #expect(!lifecycle.isReconnecting)
        #expect(!lifecycle.readsWithinBufferLimits)
        #expect(lifecycle.errorForJoinedCall == nil)
        #expect(lifecycle.ending == nil)
        // The leave must not reach corosync before the join has gone round the ring.
        #expect(lifecycle.leaveRequested() == .waitForRejoin)
        lifecycle.leaveAccepted()
        #expect(lifecycle.state == .rejoining)
        #expect(lifecycle.ownJoinDelivered() == .rejoinCompleted)
        #expect(lifecycle.leaveRequested() == .requestLeave)

        // Losing the connection again while rejoining reconnects again.
        var again = GroupLifecycle.joined()
        _ = again.connectionLost(error, canReconnect: true)
        _ = again.reconnected()
        #expect(again.connectionLost(error, canReconnect: true) == .reconnect(error))
        #expect(again.isReconnecting)
        #expect(again.leaveRequested() == .done)

        // Without reconnect, or closed, it ends like a joined group.
        var failing = GroupLifecycle.joined()
        _ = failing.connectionLost(error, canReconnect: true)
        _ = failing.reconnected()
        #expect(failing.connectionLost(error, canReconnect: false) == .teardown(streamError: error, pendingError: error))
        var closing = GroupLifecycle.joined()
        _ = closing.connectionLost(error, canReconnect: true)
        _ = closing.reconnected()
        guard case .teardown(nil, _) = closing.closeRequested() else {
            Issue.record("expected a teardown")
            return
        }
        #expect(closing.ownJoinDelivered() == .none)
    }

    @Test("closing while reconnecting stops; giving up ends with the error; a leaving group does not reconnect")
    func stops() {
        let error = CPGError(.connectionLost, "gone", status: .library)
        var closing = GroupLifecycle.joined()
        _ = closing.connectionLost(error, canReconnect: true)
        guard case .teardown(nil, _) = closing.closeRequested() else {
            Issue.record("expected a teardown")
            return
        }
        let reconnectedAfterClose = closing.reconnected()
        #expect(!reconnectedAfterClose)

        var giving = GroupLifecycle.joined()
        _ = giving.connectionLost(error, canReconnect: true)
        #expect(giving.reconnectFailed(error) == .teardown(streamError: error, pendingError: error))
        #expect(giving.state == .failed(error))

        var leaving = GroupLifecycle.joined()
        #expect(leaving.leaveRequested() == .requestLeave)
        leaving.leaveAccepted()
        #expect(leaving.connectionLost(error, canReconnect: true) == .teardown(streamError: error, pendingError: error))
    }
}
