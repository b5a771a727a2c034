import Dispatch

extension CPGGroup {
    /// The connection broke and the configuration asks for supervised reconnect: announce it in
    /// the ordered stream, drop the old handle, and try to connect and rejoin with backoff.
    func beginReconnect(_ error: CPGError) {
        guard let policy = self.configuration.reconnect else { return }
        let delivered = self.handle?.sink.deliveredMessages ?? 0
        self.stopReading()
        self.logger.info("lost corosync, reconnecting", metadata: ["cpg.error": "\(error)"])
        // The announcement is not bounded by the buffer limit: it is one event, and the
        // consumer must see it before anything of the next membership.
        _ = self.log.append(.disconnected(error))
        // Whether corosync delivered messages still waiting for their confirmation is unknown.
        self.failConfirmations(error)
        if policy.sendsWhileDisconnected == .fail { self.failQueuedSends(error) }
        // A leave waiting for a rejoin's own join decides again: it closes now.
        self.resumeRejoinWaiters()
        Task { await self.reconnectLoop(policy: policy, error: error, delivered: delivered) }
    }

    private func reconnectLoop(policy: CPGReconnectPolicy, error: CPGError, delivered: UInt64) async {
        let clock = ContinuousClock()
        let deadline = policy.giveUpAfter.map { clock.now.advanced(by: $0) }
        var delay = policy.initialDelay
        while self.lifecycle.isReconnecting {
            let attempt: Result<JoinAttempt, CPGError> = await withCheckedContinuation { continuation in
                self.executor.async {
                    let configuration = self.configuration
                    continuation.resume(returning: Result { () throws(CPGError) in try Self.connectAndJoin(self.name, configuration) })
                }
            }
            if case .success(.joined(let handle, _, _)) = attempt {
                guard self.lifecycle.reconnected() else {
                    handle.finalize()  // closed meanwhile
                    return
                }
                handle.sink.deliveredMessages = delivered
                self.handle = handle
                // Own messages accepted before the break are no longer awaited.
                self.lastDeliveredOwnIndex = self.sendGate.withLock { $0.acceptedOwnMessages }
                self.failedOwnIndices.removeAll()
                self.reconnects += 1
                self.metrics.reconnects.increment()
                _ = self.log.append(.reconnected)
                self.logger.info("reconnected to corosync and rejoined")
                self.startReading()
                self.drainSendQueue()
                return
            }
            if let deadline, clock.now >= deadline {
                self.teardown(self.lifecycle.reconnectFailed(error))
                return
            }
            try? await Task.sleep(for: delay)  // backoff between attempts, not synchronisation
            delay = min(delay * 2, policy.maximumDelay)
        }
    }
}
