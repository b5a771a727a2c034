import Dispatch

/// The send queue behind ``CPGGroup/send(_:)-([UInt8])``: validation, flow-control retries,
/// fragmented sends off the actor, and confirmations of own deliveries.
extension CPGGroup {
    /// The outcome of ``trySendDirectly(_:)``.
    enum DirectSend {
        /// Corosync accepted the message.
        case accepted
        /// The message must go through the actor's queue; `flowControlled` says corosync just
        /// answered `CS_ERR_TRY_AGAIN` to it.
        case queue(flowControlled: Bool)
        /// A message above the atomic size took the request channel: send it in fragments with
        /// ``sendFragmentedDirectly(_:handle:ownIndex:)``.
        case fragmented(handle: LibCPGHandle, ownIndex: UInt64)
    }

    /// The fast path of a send: if the gate is open (nothing queued, no fragmented send in flight,
    /// joined), calls `cpg_mcast_joined` on the caller's thread under the send lock, with no
    /// actor hop and no continuation; a message above the atomic size takes the request channel
    /// instead, for a fragmented send off the actor. Validation and cancellation are checked
    /// first, as on the queued path.
    nonisolated func trySendDirectly(_ payload: SendPayload) throws -> DirectSend {
        let byteCount = payload.byteCount
        try Self.validateShape(payload, byteCount: byteCount, configuration: self.configuration)
        try Task.checkCancellation()
        if byteCount > self.maxAtomicMessageSize {
            guard let claim = self.sendGate.withLock({ $0.claimLargeSend() }) else { return .queue(flowControlled: false) }
            return .fragmented(handle: claim.handle, ownIndex: claim.ownIndex)
        }
        let outcome: SendGate<LibCPGHandle>.FastSendOutcome?
        let status: CPGStatus
        (outcome, status) = self.sendGate.withLock { gate in
            guard let handle = gate.unretainedFastPathHandle else { return (nil, .ok) }
            // The closures capture the unmanaged pointer, a plain value; only the innermost call
            // turns it back into a reference, so nothing retains it.
            let status = payload.withIOVecs { vectors in
                handle._withUnsafeGuaranteedRef { $0.multicastUnlessBacklogged(vectors) }
            }
            return (gate.fastSendFinished(accepted: status == .ok, tryAgain: status == .tryAgain), status)
        }
        switch outcome {
        case nil:
            return .queue(flowControlled: false)
        case .accepted:
            self.metrics.messagesSent.increment()
            self.metrics.bytesSent.increment(by: Int64(byteCount))
            return .accepted
        case .tryAgain:
            return .queue(flowControlled: true)
        case .failed:
            // A dead connection that the reader has not noticed yet: with a policy that waits,
            // the actor queues the send for after the reconnect.
            if status == .library, self.waitsWhileDisconnected { return .queue(flowControlled: false) }
            throw Self.sendError(status)
        }
    }

    /// Whether sends wait for a reconnect rather than fail while corosync is gone.
    nonisolated var waitsWhileDisconnected: Bool {
        self.configuration.reconnect?.sendsWhileDisconnected == .wait
    }

    /// Validates, sends or queues, and (for confirmed sends) waits for the delivery.
    /// Returns the delivery index for confirmed sends, the own-message index otherwise.
    /// `flowControlled`: the fast path just met `CS_ERR_TRY_AGAIN` with this message.
    func submit(_ payload: SendPayload, confirm: Bool, flowControlled: Bool = false) async throws -> UInt64 {
        if flowControlled { self.recordFlowControl() }
        try self.validate(payload)
        try Task.checkCancellation()
        let id = self.nextSendID
        self.nextSendID += 1
        if let error = self.errorForNewSend { throw error }
        // An unconfirmed atomic send that corosync takes at once needs no continuation. A send
        // corosync just pushed back is queued (and counted as waiting) like any other.
        var tryNow = !flowControlled
        if tryNow, !confirm, self.canSendNow, payload.byteCount <= self.maxAtomicMessageSize {
            switch self.attempt(payload) {
            case .accepted(let ownIndex):
                self.acceptedAtOnce(payload)
                return ownIndex
            case .failed(let error):
                throw error
            case .tryAgain, .waitForLargeSend, .disconnected:
                tryNow = false
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { [tryNow] continuation in
                // The task may hop before this closure runs (see `CPGGroup.leave()`), and its
                // cancellation handler's `cancelSend` may have run meanwhile and found nothing:
                // a cancelled send must not queue.
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                self.sendOrQueue(PendingSend(id: id, payload: payload, confirm: confirm, continuation: continuation), tryNow: tryNow)
            }
        } onCancel: {
            self.executor.async {
                self.enterIsolated { $0.cancelSend(id) }
            }
        }
    }

    /// Sends now if nothing is ahead (`tryNow`) and corosync takes it, else queues. A confirmed
    /// send's confirmation is registered in the actor turn that sees corosync accept the message
    /// (a fragmented one's before libcpg starts): its delivery may come right after.
    ///
    /// It runs in the continuation's closure, so it checks the state again: the task may hop
    /// before the closure runs (see `CPGGroup.leave()`), and a group that ended meanwhile takes
    /// no more sends.
    private func sendOrQueue(_ send: PendingSend, tryNow: Bool) {
        if let error = self.errorForNewSend {
            send.continuation.resume(throwing: error)
            return
        }
        guard tryNow, self.canSendNow else {
            self.queue(send)
            return
        }
        if send.payload.byteCount > self.maxAtomicMessageSize {
            if !self.startLargeSend(send) { self.queue(send) }
            return
        }
        switch self.attempt(send.payload) {
        case .accepted(let ownIndex):
            self.acceptedAtOnce(send.payload)
            self.accepted(send, ownIndex: ownIndex)
        case .failed(let error):
            send.continuation.resume(throwing: error)
        case .tryAgain, .waitForLargeSend, .disconnected:
            self.queue(send)
        }
    }

    /// Whether a send may go to corosync now: nothing queued ahead of it, no fragmented send in
    /// flight (a hint: the send checks again under the lock), no reconnect under way.
    private var canSendNow: Bool {
        self.sendQueue.isEmpty && !self.largeSendInFlight && !self.lifecycle.isReconnecting
    }

    /// Corosync took a send that did not queue.
    private func acceptedAtOnce(_ payload: SendPayload) {
        // A fast send's push-back may have closed the gate; this acceptance may reopen it.
        self.syncSendGate()
        if !self.queueWatches.isEmpty { self.reportQueueing(payload, queued: false) }
    }

    /// Corosync accepted `send`: resume its sender, or (confirmed) wait for the delivery.
    private func accepted(_ send: PendingSend, ownIndex: UInt64) {
        if send.confirm {
            self.confirmations.append(Confirmation(id: send.id, ownIndex: ownIndex, continuation: send.continuation))
            self.confirmationRegistered()
        } else {
            send.continuation.resume(returning: ownIndex)
        }
    }

    /// Why a send may not start or queue now: the group is not joined, or it reconnects and the
    /// policy fails sends meanwhile.
    private var errorForNewSend: CPGError? {
        if let error = self.lifecycle.errorForJoinedCall { return error }
        if case .reconnecting(let error) = self.lifecycle.state, self.configuration.reconnect?.sendsWhileDisconnected == .fail {
            return error
        }
        return nil
    }

    /// Puts a send in the queue, and sends from the queue if it was empty.
    private func queue(_ send: PendingSend) {
        self.sendQueue.append(send)
        self.syncSendGate()
        self.metrics.flowControlWaits.increment()
        if !self.queueWatches.isEmpty { self.reportQueueing(send.payload, queued: true) }
        if self.sendQueue.count == 1 { self.drainSendQueue() }
    }

    /// Tells the send gate what the actor knows: sends may go straight to corosync only while
    /// nothing is queued, the group is joined and no test watches the queue (and, as the gate
    /// itself knows, no fragmented send is in flight).
    func syncSendGate() {
        let handle = self.handle
        let open = self.sendQueue.isEmpty && self.lifecycle.acceptsSends && self.queueWatches.isEmpty
        self.sendGate.withLock { $0.update(handle: handle, open: open) }
    }

    /// Finalizes `handle` once the gate has let go of it under the send lock: no direct send
    /// uses it then, and cpg_finalize (which waits for corosync's answer) runs outside the lock.
    nonisolated func finalizeUnderSendLock(_ handle: LibCPGHandle) {
        self.sendGate.withLock { gate in
            if gate.handle === handle { gate.update(handle: nil, open: false) }
        }
        handle.finalize()
    }

    /// Corosync answered a send with `CS_ERR_TRY_AGAIN`: count it, and wake tests waiting for it.
    private func recordFlowControl() {
        self.flowControlRetries += 1
        if !self.flowControlWaiters.isEmpty {
            let waiters = self.flowControlWaiters
            self.flowControlWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// The checks that need no actor state: the buffer count and the size limit.
    private nonisolated static func validateShape(
        _ payload: SendPayload,
        byteCount: Int,
        configuration: CPGConfiguration
    ) throws(CPGError) {
        if case .multiple(let buffers) = payload, buffers.count > Self.maximumBufferCount {
            throw CPGError(
                .tooManyBuffers,
                "a message has \(buffers.count) buffers; libcpg takes at most \(Self.maximumBufferCount)"
            )
        }
        let limit = min(configuration.maximumMessageSize, Self.largestMessageSize)
        if byteCount > limit {
            throw CPGError(
                .messageTooLarge,
                "a message of \(byteCount) bytes is over the maximum message size of \(limit) bytes"
            )
        }
    }

    /// The error for a failed `cpg_mcast_joined` (neither `CS_OK` nor `CS_ERR_TRY_AGAIN`).
    private nonisolated static func sendError(_ status: CPGStatus) -> CPGError {
        if status == .library {
            return CPGError(.connectionLost, "the connection to corosync was lost (cpg_mcast_joined failed)", status: status)
        }
        return CPGError.call("cpg_mcast_joined", status)
    }

    private func validate(_ payload: SendPayload) throws(CPGError) {
        if let error = self.lifecycle.errorForJoinedCall { throw error }
        try Self.validateShape(payload, byteCount: payload.byteCount, configuration: self.configuration)
    }

    private enum Attempt {
        case accepted(UInt64)
        case tryAgain
        /// The connection is gone (`CS_ERR_LIBRARY`) and the reconnect policy waits: keep the
        /// send queued. The reader reports the loss once it has read what corosync delivered
        /// before it, and the reconnect drains the queue.
        case disconnected
        case failed(CPGError)
        /// A fragmented send holds the request channel; its end comes to the actor.
        case waitForLargeSend
    }

    /// One non-blocking `cpg_mcast_joined` of an atomic-size message, under the send lock.
    private func attempt(_ payload: SendPayload) -> Attempt {
        guard let handle = self.handle else { return .failed(CPGError(.closed, "the group was closed")) }
        let (status, ownIndex) = self.sendGate.withLock { gate -> (CPGStatus?, UInt64) in
            // A send through the open gate may have started a fragmented one.
            if gate.waitForLargeSend() { return (nil, 0) }
            let status = payload.withIOVecs { handle.multicastUnlessBacklogged($0) }
            return (status, status == .ok ? gate.ownMessageAccepted() : 0)
        }
        guard let status else { return .waitForLargeSend }
        switch status {
        case .ok:
            self.retryDelayMicroseconds = 100
            self.metrics.messagesSent.increment()
            self.metrics.bytesSent.increment(by: Int64(payload.byteCount))
            return .accepted(ownIndex)
        case .tryAgain:
            self.recordFlowControl()
            return .tryAgain
        case .library where self.waitsWhileDisconnected:
            return .disconnected
        default:
            return .failed(Self.sendError(status))
        }
    }

    /// Sends queued messages in order until corosync pushes back or the queue is empty.
    func drainSendQueue() {
        defer { self.syncSendGate() }
        while let first = self.sendQueue.first, !self.lifecycle.isReconnecting {
            if let error = self.lifecycle.errorForJoinedCall {
                self.failQueuedSends(error)
                return
            }
            if first.payload.byteCount > self.maxAtomicMessageSize {
                // If another fragmented send holds the channel, its end drains the queue again.
                guard self.startLargeSend(first) else { return }
                self.sendQueue.removeFirst()
                continue
            }
            switch self.attempt(first.payload) {
            case .accepted(let ownIndex):
                self.sendQueue.removeFirst()
                let waited = ContinuousClock.now - first.enqueuedAt
                self.metrics.flowControlWaitDuration.recordNanoseconds(
                    waited.components.seconds * 1_000_000_000 + waited.components.attoseconds / 1_000_000_000
                )
                self.accepted(first, ownIndex: ownIndex)
            case .tryAgain, .disconnected:
                // Disconnected: the timer keeps trying until the reader has seen the loss (then
                // the loop above stops until the reconnect drains the queue).
                self.scheduleRetry()
                return
            case .waitForLargeSend:
                return
            case .failed(let error):
                self.sendQueue.removeFirst()
                first.continuation.resume(throwing: error)
            }
        }
    }

    /// The longest wait between two timed retries of a pushed-back send.
    ///
    /// The timer is only the fallback: corosync moving shows as dispatched events, and each
    /// dispatch retries at once. A retry costs a timer and a thread wakeup or two (about 100 µs of
    /// CPU on a small VM), so a sender that stays pushed back (a stopped daemon) costs about
    /// 1 % of a core at 10 ms; at 2 ms it was 4 to 6 %.
    static let maximumRetryDelayMicroseconds = 10_000

    /// Corosync gives no signal when flow control lifts: retry after a short, growing delay
    /// (100 µs doubling up to ``maximumRetryDelayMicroseconds``), and whenever events were
    /// dispatched. The task stays suspended in between.
    private func scheduleRetry() {
        guard !self.retryScheduled else { return }
        self.retryScheduled = true
        let delay = self.retryDelayMicroseconds
        self.retryDelayMicroseconds = min(delay * 2, Self.maximumRetryDelayMicroseconds)
        self.executor.asyncAfter(.microseconds(delay)) { [weak self] in
            self?.enterIsolated { group in
                group.retryScheduled = false
                group.drainSendQueue()
            }
        }
    }

    /// Starts a fragmented send of `send` from the actor, or fails it at once if the group is
    /// closed; answers `false` (and leaves `send` alone) if another fragmented send holds the
    /// channel, whose end drains the queue again. A confirmed send's confirmation is registered
    /// before libcpg starts: the message may be delivered back before libcpg returns.
    private func startLargeSend(_ send: PendingSend) -> Bool {
        guard let handle = self.handle else {
            send.continuation.resume(throwing: CPGError(.closed, "the group was closed"))
            return true
        }
        guard let ownIndex = self.sendGate.withLock({ $0.startLargeSendForActor(id: send.id) }) else { return false }
        if send.confirm {
            self.confirmations.append(Confirmation(id: send.id, ownIndex: ownIndex, continuation: send.continuation))
            self.confirmationRegistered()
        }
        self.runLargeSend(send.payload, handle: handle, ownIndex: ownIndex, id: send.id, continuation: send.confirm ? nil : send.continuation)
        return true
    }

    /// Sends a message that took the request channel through the open gate in fragments, and
    /// returns when libcpg has: no actor hop unless the actor waits for the channel or the send
    /// failed. Once libcpg has started an attempt it runs to its end; cancellation stops the
    /// attempts after it (see ``largeSendFailed(status:handle:ownIndex:id:payload:continuation:)``).
    nonisolated func sendFragmentedDirectly(_ payload: SendPayload, handle: LibCPGHandle, ownIndex: UInt64) async throws {
        let id = SendGate<LibCPGHandle>.directSendID(ownIndex: ownIndex)
        _ = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                self.runLargeSend(payload, handle: handle, ownIndex: ownIndex, id: id, continuation: continuation)
            }
        } onCancel: {
            self.executor.async {
                self.enterIsolated { $0.cancelSend(id) }
            }
        }
    }

    /// Runs libcpg's blocking fragmented send (it sleeps between its own retries) on the group's
    /// fragmented-send queue. `continuation` gets the own-message index; `nil` for a confirmed
    /// send, which its delivery resolves. The closure holds the group: its handle stays
    /// unfinalized until libcpg returns.
    private nonisolated func runLargeSend(
        _ payload: SendPayload,
        handle: LibCPGHandle,
        ownIndex: UInt64,
        id: UInt64,
        continuation: CheckedContinuation<UInt64, any Error>?
    ) {
        self.fragmentedSendQueue.async {
            let status = payload.withIOVecs { handle.multicast($0) }
            let succeeded = status == .ok
            let tellActor = self.sendGate.withLock { $0.largeSendReturned(succeeded: succeeded) }
            guard succeeded else {
                self.executor.async {
                    self.enterIsolated { group in
                        group.largeSendFailed(
                            status: status,
                            handle: handle,
                            ownIndex: ownIndex,
                            id: id,
                            payload: payload,
                            continuation: continuation
                        )
                    }
                }
                return
            }
            self.metrics.messagesSent.increment()
            self.metrics.bytesSent.increment(by: Int64(payload.byteCount))
            continuation?.resume(returning: ownIndex)
            if tellActor {
                self.executor.async {
                    self.enterIsolated { $0.largeSendEnded() }
                }
            }
        }
    }

    /// A fragmented send the actor waited for has ended: finalize the handles that waited for
    /// it (no send can take them any more), resume the request channel's waiters and send what
    /// queued behind it.
    private func largeSendEnded() {
        let handles = self.deferredFinalizations
        self.deferredFinalizations.removeAll()
        for handle in handles { self.finalizeUnderSendLock(handle) }
        let waiters = self.requestChannelWaiters
        self.requestChannelWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        self.drainSendQueue()
    }

    /// A fragmented send failed midway. Its own-message index is recorded as never delivered
    /// (receivers drop the incomplete message) before the request channel is free again.
    ///
    /// libcpg retries a pushed-back fragment itself, 10 ms apart, and gives up after 100 tries
    /// with `CS_ERR_TRY_AGAIN`. Then nothing of the message is delivered (its last fragment
    /// never went out, and receivers drop an incomplete message when the next one from this
    /// sender starts), so the send goes back to the head of the queue and is sent again as a
    /// new message: it waits out flow control like an atomic send. Not if its task was
    /// cancelled (it throws `CancellationError`), nor once the group no longer takes sends on
    /// this handle: then it throws ``CPGError/Code/partialSend``.
    private func largeSendFailed(
        status: CPGStatus,
        handle: LibCPGHandle,
        ownIndex: UInt64,
        id: UInt64,
        payload: SendPayload,
        continuation: CheckedContinuation<UInt64, any Error>?
    ) {
        // An index at or below the last delivered one is a send on a connection lost since (a
        // reconnect skipped its index already); kept, it would never be removed again.
        if ownIndex > self.lastDeliveredOwnIndex { self.failedOwnIndices.insert(ownIndex) }
        let cancelled = self.sendGate.withLock { $0.largeSendCancelled }
        // A confirmed send's continuation waits in its confirmation (gone if it was cancelled).
        var waiting = continuation
        if waiting == nil, let index = self.confirmations.firstIndex(where: { $0.ownIndex == ownIndex }) {
            waiting = self.confirmations.remove(at: index).continuation
        }
        if status == .tryAgain, !cancelled, let waiting, self.handle === handle, self.errorForNewSend == nil {
            self.sendQueue.insert(PendingSend(id: id, payload: payload, confirm: continuation == nil, continuation: waiting), at: 0)
            self.recordFlowControl()
            self.metrics.flowControlWaits.increment()
            self.syncSendGate()  // closed: the queue is not empty
            self.sendGate.withLock { $0.largeSendFailureRecorded() }
            self.largeSendEnded()  // sends it again from the queue
            return
        }
        self.sendGate.withLock { $0.largeSendFailureRecorded() }
        let error: any Error
        if status == .tryAgain, cancelled {
            error = CancellationError()
        } else {
            error = CPGError(
                status == .library ? .connectionLost : .partialSend,
                "sending a \(payload.byteCount)-byte message in fragments failed; receivers discard the incomplete message, so it may be sent again",
                status: status
            )
        }
        waiting?.resume(throwing: error)
        self.largeSendEnded()
    }

    /// An own message came back with `deliveryIndex`: resolve the confirmation waiting for it.
    func ownMessageDelivered(deliveryIndex: UInt64) {
        var index = self.lastDeliveredOwnIndex + 1
        // Checked first: hashing the index for every own message costs more than this test.
        if !self.failedOwnIndices.isEmpty {
            while self.failedOwnIndices.remove(index) != nil { index += 1 }
        }
        self.lastDeliveredOwnIndex = index
        guard !self.confirmations.isEmpty else { return }
        while let first = self.confirmations.first, first.ownIndex <= index {
            self.confirmations.removeFirst()
            if first.ownIndex == index {
                first.continuation.resume(returning: deliveryIndex)
            } else {
                first.continuation.resume(
                    throwing: CPGError(.corosync, "an own message was not delivered back in order")
                )
            }
        }
    }

    /// A sending task was cancelled: drop its message if corosync has not accepted it yet, or
    /// stop waiting for its delivery.
    func cancelSend(_ id: UInt64) {
        // A fragmented send in flight is not sent again should libcpg give up on it.
        self.sendGate.withLock { $0.cancelLargeSend(id: id) }
        if let index = self.sendQueue.firstIndex(where: { $0.id == id }) {
            self.sendQueue.remove(at: index).continuation.resume(throwing: CancellationError())
            if self.sendQueue.isEmpty { self.syncSendGate() }
        } else if let index = self.confirmations.firstIndex(where: { $0.id == id }) {
            self.confirmations.remove(at: index).continuation.resume(
                throwing: CPGError(
                    .confirmationCancelled,
                    "cancelled while waiting for the delivery; corosync had accepted the message, which is still delivered"
                )
            )
        }
    }

    /// Ends every wait for a confirmation with `error` (the messages themselves may still be
    /// delivered).
    func failConfirmations(_ error: any Error) {
        let waiting = self.confirmations
        self.confirmations.removeAll()
        for confirmation in waiting { confirmation.continuation.resume(throwing: error) }
    }

    func failQueuedSends(_ error: CPGError) {
        let pending = self.sendQueue
        self.sendQueue.removeAll()
        self.syncSendGate()
        for send in pending { send.continuation.resume(throwing: error) }
    }

}

/// A message waiting for corosync to accept it.
struct PendingSend {
    let id: UInt64
    let payload: SendPayload
    let confirm: Bool
    let continuation: CheckedContinuation<UInt64, any Error>
    let enqueuedAt = ContinuousClock.now
}

/// A confirmed send waiting for its own delivery.
struct Confirmation {
    let id: UInt64
    let ownIndex: UInt64
    let continuation: CheckedContinuation<UInt64, any Error>
}
