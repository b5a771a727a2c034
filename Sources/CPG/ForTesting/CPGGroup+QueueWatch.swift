extension CPGGroup {
    /// What tests learn about one watched payload: queued behind flow control, or accepted at once.
    struct QueueWatch {
        var queued: Bool?
        var waiter: CheckedContinuation<Bool, Never>?
    }

    /// Starts watching whether the next send of `payload` is queued (for tests).
    func watchQueueing(of payload: [UInt8]) {
        self.queueWatches[payload] = QueueWatch()
        self.syncSendGate()  // watched sends take the actor's path, where they are reported
    }

    /// Whether the watched send of `payload` was queued behind flow control (true) or accepted
    /// at once (false); waits until that send has reached the group.
    func queueing(of payload: [UInt8]) async -> Bool {
        if let queued = self.queueWatches[payload]?.queued {
            self.queueWatches[payload] = nil
            self.syncSendGate()
            return queued
        }
        let queued = await withCheckedContinuation { self.queueWatches[payload]?.waiter = $0 }
        self.queueWatches[payload] = nil
        self.syncSendGate()
        return queued
    }

    /// Called by ``send(_:)`` for watched payloads.
    func reportQueueing(_ payload: SendPayload, queued: Bool) {
        guard case .single(let bytes) = payload, var watch = self.queueWatches[bytes], watch.queued == nil else { return }
        if let waiter = watch.waiter {
            watch.waiter = nil
            waiter.resume(returning: queued)
        }
        watch.queued = queued
        self.queueWatches[bytes] = watch
    }

    /// Returns once sends have met `CS_ERR_TRY_AGAIN` more than `count` times in all (for tests).
    func waitForFlowControl(after count: Int = 0) async {
        while self.flowControlRetries <= count {
            await withCheckedContinuation { self.flowControlWaiters.append($0) }
        }
    }

    /// Returns once the group has stopped reading because its buffer is full (for tests).
    func waitUntilReadingPaused() async {
        guard self.source == nil || self.sourceResumed else { return }
        await withCheckedContinuation { self.pauseWaiters.append($0) }
    }
}
