import Dispatch

/// The send queue behind ``CPGGroup/send(_:)-([UInt8])``: validation, flow-control retries,
/// fragmented sends off the actor, and confirmations of own deliveries.
extension CPGGroup {
    /// Validates, sends or queues, and (for confirmed sends) waits for the delivery.
    /// Returns the delivery index for confirmed sends, the own-message index otherwise.
    func submit(_ payload: SendPayload, confirm: Bool) async throws -> UInt64 {
        try self.validate(payload)
        try Task.checkCancellation()
        let id = self.nextSendID
        self.nextSendID += 1
        if case .reconnecting(let error) = self.lifecycle.state, self.configuration.reconnect?.sendsWhileDisconnected == .fail {
            throw error
        }
        if self.sendQueue.isEmpty, !self.largeSendInFlight, !self.lifecycle.isReconnecting {
            if payload.byteCount > self.maxAtomicMessageSize {
                // The confirmation is registered before libcpg starts: the message can be
                // delivered back before its blocking send returns.
                return try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        self.startLargeSend(payload, continuation, confirmID: confirm ? id : nil)
                    }
                } onCancel: {
                    self.queueForSource.async {
                        self.assumeIsolated { $0.cancelSend(id) }
                    }
                }
            }
            switch self.attempt(payload) {
            case .accepted(let ownIndex):
                if !self.queueWatches.isEmpty { self.reportQueueing(payload, queued: false) }
                return confirm ? try await self.awaitConfirmation(id: id, ownIndex: ownIndex) : ownIndex
            case .failed(let error):
                throw error
            case .tryAgain:
                break
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                self.sendQueue.append(PendingSend(id: id, payload: payload, confirm: confirm, continuation: continuation))
                self.metrics.flowControlWaits.increment()
                if !self.queueWatches.isEmpty { self.reportQueueing(payload, queued: true) }
                if self.sendQueue.count == 1 { self.drainSendQueue() }
            }
        } onCancel: {
            self.queueForSource.async {
                self.assumeIsolated { $0.cancelSend(id) }
            }
        }
    }

    private func validate(_ payload: SendPayload) throws(CPGError) {
        if let error = self.lifecycle.errorForJoinedCall { throw error }
        if case .multiple(let buffers) = payload, buffers.count > Self.maximumBufferCount {
            throw CPGError(
                .tooManyBuffers,
                "a message has \(buffers.count) buffers; libcpg takes at most \(Self.maximumBufferCount)"
            )
        }
        let limit = self.configuration.maximumMessageSize
        if payload.byteCount > limit {
            throw CPGError(
                .messageTooLarge,
                "a message of \(payload.byteCount) bytes is over the maximum message size of \(limit) bytes"
            )
        }
    }

    /// Waits, cancellably, for the own message with `ownIndex` to be delivered.
    private func awaitConfirmation(id: UInt64, ownIndex: UInt64) async throws -> UInt64 {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if let error = self.lifecycle.errorForJoinedCall, self.handle == nil {
                    continuation.resume(throwing: error)
                    return
                }
                guard ownIndex > self.lastDeliveredOwnIndex else {
                    // Registered in the same actor turn as the acceptance, so this cannot happen;
                    // fail rather than wait for a delivery that already went by.
                    continuation.resume(throwing: CPGError(.corosync, "the message was delivered before its confirmation was registered"))
                    return
                }
                self.confirmations.append(Confirmation(id: id, ownIndex: ownIndex, continuation: continuation))
            }
        } onCancel: {
            self.queueForSource.async {
                self.assumeIsolated { $0.cancelSend(id) }
            }
        }
    }

    private enum Attempt {
        case accepted(UInt64)
        case tryAgain
        case failed(CPGError)
    }

    /// One non-blocking `cpg_mcast_joined` of an atomic-size message.
    private func attempt(_ payload: SendPayload) -> Attempt {
        guard let handle = self.handle else { return .failed(CPGError(.closed, "the group was closed")) }
        let status = payload.withIOVecs { handle.multicast($0) }
        switch status {
        case .ok:
            self.acceptedOwnMessages += 1
            self.retryDelayMicroseconds = 100
            self.metrics.messagesSent.increment()
            self.metrics.bytesSent.increment(by: Int64(payload.byteCount))
            return .accepted(self.acceptedOwnMessages)
        case .tryAgain:
            self.flowControlRetries += 1
            if !self.flowControlWaiters.isEmpty {
                let waiters = self.flowControlWaiters
                self.flowControlWaiters.removeAll()
                for waiter in waiters { waiter.resume() }
            }
            return .tryAgain
        case .library:
            return .failed(CPGError(.connectionLost, "the connection to corosync was lost (cpg_mcast_joined failed)", status: status))
        default:
            return .failed(CPGError.call("cpg_mcast_joined", status))
        }
    }

    /// Sends queued messages in order until corosync pushes back or the queue is empty.
    func drainSendQueue() {
        while let first = self.sendQueue.first, !self.largeSendInFlight, !self.lifecycle.isReconnecting {
            if let error = self.lifecycle.errorForJoinedCall {
                self.failQueuedSends(error)
                return
            }
            if first.payload.byteCount > self.maxAtomicMessageSize {
                self.sendQueue.removeFirst()
                self.startLargeSend(first.payload, first.continuation, confirmID: first.confirm ? first.id : nil)
                return
            }
            switch self.attempt(first.payload) {
            case .accepted(let ownIndex):
                self.sendQueue.removeFirst()
                let waited = ContinuousClock.now - first.enqueuedAt
                self.metrics.flowControlWaitDuration.recordNanoseconds(
                    waited.components.seconds * 1_000_000_000 + waited.components.attoseconds / 1_000_000_000
                )
                if first.confirm {
                    self.confirmations.append(Confirmation(id: first.id, ownIndex: ownIndex, continuation: first.continuation))
                } else {
                    first.continuation.resume(returning: ownIndex)
                }
            case .tryAgain:
                self.scheduleRetry()
                return
            case .failed(let error):
                self.sendQueue.removeFirst()
                first.continuation.resume(throwing: error)
            }
        }
    }

    /// Corosync gives no signal when flow control lifts: retry after a short, growing delay
    /// (100 µs doubling up to 2 ms), and whenever events were dispatched. The task stays
    /// suspended in between.
    private func scheduleRetry() {
        guard !self.retryScheduled else { return }
        self.retryScheduled = true
        let delay = self.retryDelayMicroseconds
        self.retryDelayMicroseconds = min(delay * 2, 2000)
        self.queueForSource.asyncAfter(deadline: .now() + .microseconds(delay)) { [weak self] in
            self?.assumeIsolated { group in
                group.retryScheduled = false
                group.drainSendQueue()
            }
        }
    }

    /// Starts a fragmented send on a thread of its own; `continuation` gets the own-message
    /// index, or (with `confirmID`) the delivery index once delivered.
    private func startLargeSend(
        _ payload: SendPayload,
        _ continuation: CheckedContinuation<UInt64, any Error>,
        confirmID: UInt64? = nil
    ) {
        guard let handle = self.handle else {
            continuation.resume(throwing: CPGError(.closed, "the group was closed"))
            return
        }
        self.largeSendInFlight = true
        // The index is taken before sending: the message may be delivered back before libcpg's
        // blocking call returns.
        self.acceptedOwnMessages += 1
        let ownIndex = self.acceptedOwnMessages
        if let confirmID {
            self.confirmations.append(Confirmation(id: confirmID, ownIndex: ownIndex, continuation: continuation))
        }
        // A serial queue of its own (overcommit on Linux): libcpg blocks and sleeps in there, and
        // must not take one of the global queues' few threads.
        DispatchQueue(label: "swift-cpg.fragmented-send").async { [weak self] in
            let status = payload.withIOVecs { handle.multicast($0) }
            guard let self else { return }
            self.queueForSource.async {
                self.assumeIsolated { group in
                    group.largeSendFinished(status: status, ownIndex: ownIndex, byteCount: payload.byteCount, continuation: confirmID == nil ? continuation : nil)
                }
            }
        }
    }

    private func largeSendFinished(
        status: CPGStatus,
        ownIndex: UInt64,
        byteCount: Int,
        continuation: CheckedContinuation<UInt64, any Error>?
    ) {
        self.largeSendInFlight = false
        if status == .ok {
            self.metrics.messagesSent.increment()
            self.metrics.bytesSent.increment(by: Int64(byteCount))
            continuation?.resume(returning: ownIndex)
        } else {
            // A failed fragmented send is never delivered: receivers drop incomplete messages.
            self.failedOwnIndices.insert(ownIndex)
            let error = CPGError(
                status == .library ? .connectionLost : .partialSend,
                "sending a \(byteCount)-byte message in fragments failed; receivers discard the incomplete message",
                status: status
            )
            if let continuation {
                continuation.resume(throwing: error)
            } else if let index = self.confirmations.firstIndex(where: { $0.ownIndex == ownIndex }) {
                self.confirmations.remove(at: index).continuation.resume(throwing: error)
            }
        }
        if let handle = self.deferredFinalization {
            self.deferredFinalization = nil
            handle.finalize()
        }
        let waiters = self.requestChannelWaiters
        self.requestChannelWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        self.drainSendQueue()
    }

    /// An own message came back: resolve the confirmation waiting for it.
    func ownMessageDelivered(_ message: CPGMessage) {
        var index = self.lastDeliveredOwnIndex + 1
        while self.failedOwnIndices.remove(index) != nil { index += 1 }
        self.lastDeliveredOwnIndex = index
        while let first = self.confirmations.first, first.ownIndex <= index {
            self.confirmations.removeFirst()
            if first.ownIndex == index {
                first.continuation.resume(returning: message.deliveryIndex)
            } else {
                first.continuation.resume(
                    throwing: CPGError(.corosync, "an own message was not delivered back in order")
                )
            }
        }
    }

    /// A sending task was cancelled: drop its message if corosync has not accepted it yet, or
    /// stop waiting for its delivery.
    private func cancelSend(_ id: UInt64) {
        if let index = self.sendQueue.firstIndex(where: { $0.id == id }) {
            self.sendQueue.remove(at: index).continuation.resume(throwing: CancellationError())
        } else if let index = self.confirmations.firstIndex(where: { $0.id == id }) {
            self.confirmations.remove(at: index).continuation.resume(
                throwing: CPGError(
                    .confirmationCancelled,
                    "cancelled while waiting for the delivery; corosync had accepted the message, which is still delivered"
                )
            )
        }
    }

    func failQueuedSends(_ error: CPGError) {
        let pending = self.sendQueue
        self.sendQueue.removeAll()
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
