import Dispatch

extension CPGGroup {
    /// How many events one firing of the source dispatches before yielding the queue.
    private static let dispatchBatch = 64

    /// How many bytes of events one firing reads before yielding the queue: one of corosync's
    /// event rings (`IPC_DISPATCH_SIZE`). When corosync refills the ring as fast as the reader
    /// empties it, a batch of large messages could otherwise hold tens of megabytes before the
    /// first of them reaches a consumer; the consumer then frees each payload later, and glibc
    /// hands the backlog's memory back and faults it in again. Measured with 1 MiB messages: a
    /// quarter to a third less CPU per message, sending or receiving; 64 KiB about the same.
    private static let dispatchBatchBytes = 1 << 20

    /// Creates the DispatchSource on the handle's fd, on the actor's queue, and starts it.
    func startReading() {
        guard let handle = self.handle, self.source == nil else { return }
        let fd: Int32
        do {
            fd = try handle.fileDescriptor()
        } catch {
            self.connectionLost(error)
            return
        }
        self.readerFD = fd
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: self.queueForSource)
        source.setEventHandler { [weak self] in
            // The source fires on the actor's queue: enter the actor without a task hop.
            self?.enterIsolated { $0.readAndLinger() }
        }
        source.setCancelHandler { [weak self] in
            // The fd stops being watched only now, so only now may the handle be finalized.
            guard let self else {
                handle.finalize()
                return
            }
            self.enterIsolated { $0.finalizeOrDefer(handle) }
        }
        self.source = source
        self.log.onResumeProducer { [weak self] in
            guard let self else { return }
            self.executor.async {
                self.enterIsolated { $0.resumeReading() }
            }
        }
        self.resumeReading()
    }

    /// The actor's queue: the source and every hop back into the actor run on it.
    nonisolated var queueForSource: DispatchQueue {
        self.executor.queue
    }

    /// Resumes the source if the group reads and the buffer has room (or a leave is under way,
    /// or `pastLimits`: a confirmed send waits, see ``readsPastLimitsForConfirmations()``).
    func resumeReading(pastLimits: Bool = false) {
        guard let source = self.source, !self.sourceResumed, self.lifecycle.isReading else { return }
        if !pastLimits, self.log.producerPaused, self.lifecycle.readsWithinBufferLimits { return }
        self.sourceResumed = true
        source.resume()
        // Events that arrived while paused may wait in the ring with no byte left on the socket.
        self.scheduleRead()
    }

    private func pauseReading() {
        guard let source = self.source, self.sourceResumed else { return }
        self.sourceResumed = false
        source.suspend()
        if !self.pauseWaiters.isEmpty {
            let waiters = self.pauseWaiters
            self.pauseWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Reads, then, with a ``CPGConfiguration/readerLinger``, waits on the fd on this thread
    /// for the next event and reads it, as a C client's dispatch thread does, until nothing came
    /// for the linger or other work needs the queue. Only then does the DispatchSource take over
    /// again: re-arming it costs libdispatch's event thread a wakeup, and the next firing
    /// another one for it and one for this queue's thread.
    func readAndLinger() {
        var drained = self.readReady()
        guard let wakeup = self.executor.wakeup, let fd = self.readerFD else { return }
        let linger = self.configuration.readerLinger
        while drained, self.sourceResumed, self.lifecycle.isReading, self.handle != nil {
            switch wakeup.wait(fd: fd, timeout: linger) {
            case .readable:
                drained = self.readReady()
            case .queueWork:
                // Let the work run, then come back to the fd behind it.
                self.scheduleRead()
                return
            case .timedOut:
                return
            }
        }
    }

    /// The fd is readable: dispatch events one at a time until none waits, the buffer would be
    /// full, or the batch is done (64 events or a ring's worth of bytes; the rest is read right
    /// after the queue's other work). The events go to the log in one append per firing, so a
    /// consumer that waits is woken once per batch, not once per event. Answers whether
    /// libcpg's ring is empty now.
    @discardableResult
    func readReady() -> Bool {
        var deliveredMessages = 0
        var deliveredBytes = 0
        var membershipChanges = 0
        // While joined, stop before the buffer would overflow its limits; while joining or
        // leaving, read on.
        let room: (events: Int, bytes: Int)
        if !self.lifecycle.readsWithinBufferLimits {
            room = (Int.max, Int.max)
        } else if self.confirmations.isEmpty {
            room = self.log.room
        } else {
            room = self.log.room(limitsTimes: Self.confirmationOverdraft)
        }
        var batchBytes = 0
        var failure: CPGError?
        var ownLeave = false
        var ownJoin = false
        var drained = false
        guard let handle = self.handle else { return false }
        // The callbacks append to the sink's deque and the batch goes to the log from there: no
        // second collection, and one copy of each event fewer.
        let sink = handle.sink
        var nudge = self.deliveryNudge
        dispatching: for _ in 0..<Self.dispatchBatch {
            guard self.lifecycle.isReading else { break }
            let first = sink.summaries.count
            let status = handle.dispatchOne()
            if status == .tryAgain {
                drained = true
                if nudge.ringEmptied() == .nudge { self.nudgeCorosync() }
                break
            }
            guard status == .ok else {
                failure = CPGError.dispatchFailed(status)
                break
            }
            guard sink.summaries.count > first else {
                // Every model v1 callback makes an event: a dispatch without one consumed a
                // piece of a fragmented message, which libcpg keeps until the last piece.
                nudge.fragmentRead()
                continue
            }
            // Messages are read through their summaries, which copy nothing that is counted.
            for slot in first..<sink.summaries.count {
                let summary = sink.summaries[slot]
                if let message = summary.message {
                    deliveredMessages += 1
                    deliveredBytes += message.payloadBytes
                    if message.sender == self.localMember {
                        self.ownMessageDelivered(deliveryIndex: message.deliveryIndex)
                        // Corosync took this message's request off the IPC ring before it
                        // ordered it: a send it pushed back may fit now. Retry at once rather
                        // than after the rest of the batch.
                        if !self.sendQueue.isEmpty { self.drainSendQueue() }
                    }
                } else if let change = self.noteDispatched(sink.events[slot]) {
                    membershipChanges += 1
                    if change.joined.contains(where: { $0.member == self.localMember }) { ownJoin = true }
                    if change.left.contains(where: { $0.member == self.localMember }) { ownLeave = true }
                }
                batchBytes += summary.bytes
                nudge.eventRead(bytes: summary.bytes)
            }
            if ownLeave { break }
            if sink.summaries.count >= room.events || batchBytes >= room.bytes { break dispatching }
            if batchBytes >= Self.dispatchBatchBytes { break dispatching }
        }
        self.deliveryNudge = nudge
        guard !sink.events.isEmpty || failure != nil else {
            // A whole batch of fragments: the rest of the message may wait in the ring with no
            // byte left on the socket to wake the source.
            if !drained, self.lifecycle.isReading { self.scheduleRead() }
            return drained
        }
        defer {
            // Events may still wait in libqb's ring: read on until cpg_dispatch says it is empty
            // (the socket's readiness alone does not say so), after the queue's other work.
            if !drained { self.scheduleRead() }
        }
        let hadEvents = !sink.events.isEmpty
        // Takes the events into the log: the sink's deque is empty afterwards.
        let pause = hadEvents ? self.log.append(draining: &sink.events) : false
        sink.endBatch()
        if hadEvents {
            self.metrics.messagesDelivered.increment(by: Int64(deliveredMessages))
            self.metrics.bytesDelivered.increment(by: Int64(deliveredBytes))
            if membershipChanges > 0 { self.metrics.membershipChanges.increment(by: Int64(membershipChanges)) }
            self.metrics.bufferedEvents.record(self.log.count)
        }
        if ownJoin {
            switch self.lifecycle.ownJoinDelivered() {
            case .joinCompleted:
                // The change is in the log now: `join` may return, and members() lists this member.
                let waiters = self.joinWaiters
                self.joinWaiters.removeAll()
                for waiter in waiters { waiter.resume() }
            case .rejoinCompleted:
                self.resumeRejoinWaiters()
            case .none:
                break
            }
        }
        if ownLeave {
            self.teardown(self.lifecycle.ownLeaveDelivered())
            return drained
        }
        if let failure {
            self.connectionLost(failure)
            return drained
        }
        if pause, self.lifecycle.readsWithinBufferLimits, !self.readsPastLimitsForConfirmations() {
            self.pauseReading()
        }
        if !self.sendQueue.isEmpty {
            // Corosync moved (on one node, its push-back follows this client's unread events):
            // a good moment to retry.
            self.drainSendQueue()
        }
        return drained
    }

    /// How far past its limits the buffer may fill while a confirmed send waits: twice them.
    static let confirmationOverdraft = 2

    /// Whether reading goes on past the buffer's limits because a confirmed send waits.
    ///
    /// A confirmation waits for this member's own delivery, which corosync queues behind every
    /// event this member has not read yet, and the waiting task may be the very consumer that
    /// would read them: pausing at the limits would stall both for good. So while a confirmation
    /// waits the group reads on, up to ``confirmationOverdraft`` times its limits; there it gives
    /// the confirmations up (``CPGError/Code/confirmationBlocked``; the messages are still
    /// delivered) and answers `false`: pause.
    func readsPastLimitsForConfirmations() -> Bool {
        guard !self.confirmations.isEmpty else { return false }
        if !self.log.holds(limitsTimes: Self.confirmationOverdraft) { return true }
        self.failConfirmations(
            CPGError(
                .confirmationBlocked,
                "the event buffer reached twice its limits while this confirmed send waited for its delivery, which corosync queues behind events no consumer has read; the message is still delivered (if the waiting task is the consumer, confirm from another task)"
            )
        )
        return false
    }

    /// A confirmation was registered: if reading is paused at the buffer's limits, its delivery
    /// may wait behind events nobody may read yet. Read on (or give it up at the ceiling).
    func confirmationRegistered() {
        guard self.source != nil, !self.sourceResumed, self.log.producerPaused, self.lifecycle.readsWithinBufferLimits else { return }
        if self.readsPastLimitsForConfirmations() { self.resumeReading(pastLimits: true) }
    }

    /// Sends corosync a request it answers at once (`cpg_local_get`), so that its main loop wakes
    /// and writes the events it queued for this client into the ring just emptied, instead of
    /// after libqb's 50 ms job timeout (see ``DeliveryNudge``). Skipped while a fragmented send
    /// holds the request channel: its own requests wake corosync.
    private func nudgeCorosync() {
        guard let handle = self.handle else { return }
        let nudged: Void? = self.withFreeRequestChannel {
            // A failure here means the connection failed; the next dispatch reports it.
            _ = try? handle.localNodeID()
        }
        if nudged != nil { self.corosyncNudges += 1 }
    }

    /// Runs ``readReady()`` again soon on the actor's queue, once, if the source is still on.
    func scheduleRead() {
        guard !self.readScheduled, self.sourceResumed else { return }
        self.readScheduled = true
        self.executor.async { [weak self] in
            self?.enterIsolated { group in
                group.readScheduled = false
                if group.sourceResumed { group.readAndLinger() }
            }
        }
    }

    /// Stops for good: the source is cancelled (its handler finalizes the handle), the streams
    /// end, and everything that still waits is failed or released.
    func teardown(_ action: GroupLifecycle.TeardownAction) {
        switch action {
        case .none:
            return
        case .reconnect(let error):
            self.beginReconnect(error)
            return
        case .teardown:
            break
        }
        guard case .teardown(let streamError, let pendingError) = action else { return }
        self.stopReading()
        if let membership = self.membership {
            self.membership = nil
            ProcessMemberships.release(membership)
        }
        self.log.finish(streamError)
        self.failQueuedSends(pendingError)
        self.failConfirmations(pendingError)
        let leaveWaiters = self.leaveWaiters
        self.leaveWaiters.removeAll()
        for waiter in leaveWaiters { waiter.resume() }
        // A join still waiting ends too: it throws what ended the group.
        let joinWaiters = self.joinWaiters
        self.joinWaiters.removeAll()
        for waiter in joinWaiters { waiter.resume() }
        self.resumeRejoinWaiters()
        let endWaiters = self.endWaiters
        self.endWaiters.removeAll()
        for waiter in endWaiters { waiter.resume(returning: streamError) }
        if let streamError {
            self.logger.info("CPG group stopped", metadata: ["cpg.error": "\(streamError)"])
        }
    }

    /// The connection is gone: end, or reconnect if the configuration asks for it.
    func connectionLost(_ error: CPGError) {
        self.teardown(self.lifecycle.connectionLost(error, canReconnect: self.configuration.reconnect != nil))
    }

    /// Cancels the source (its cancel handler finalizes the handle, later if a fragmented send
    /// still uses it) and forgets the handle.
    func stopReading() {
        if let source = self.source {
            if !self.sourceResumed {
                self.sourceResumed = true
                source.resume()
            }
            source.cancel()
            self.source = nil
            self.sourceResumed = false
        } else if let handle = self.handle {
            self.finalizeOrDefer(handle)
        }
        self.handle = nil
        self.readerFD = nil
        self.syncSendGate()
    }

    /// Finalizes `handle`, unless a fragmented send still uses it: then no send may take it any
    /// more, and it is finalized once that send has returned.
    func finalizeOrDefer(_ handle: LibCPGHandle) {
        // Once the gate has let go of the handle under the lock, no direct send can take it,
        // and none holds it: cpg_finalize (which waits for corosync's answer) runs outside.
        let deferred = self.sendGate.withLock { gate in
            if gate.handle === handle { gate.update(handle: nil, open: false) }
            return gate.waitForLargeSend()
        }
        if deferred {
            self.deferredFinalizations.append(handle)
        } else {
            handle.finalize()
        }
        self.handlesReleased += 1
        if !self.handleReleaseWaiters.isEmpty {
            let waiters = self.handleReleaseWaiters
            self.handleReleaseWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Runs `body` (a libcpg request that waits for corosync's answer) unless a fragmented send
    /// holds the request channel; answers `nil` then. A send through the open gate may start
    /// one at any time, so only this check under the lock counts; ``awaitRequestChannel()``
    /// before it makes a `nil` unlikely, not impossible.
    ///
    /// `body` runs outside the send lock, with the channel marked as taken: direct sends go to
    /// the actor's queue meanwhile, where they suspend, instead of blocking their threads on
    /// the lock while corosync answers (a stopped daemon never does). `finishing` runs under the
    /// lock with the answer, before the channel is free again.
    func withFreeRequestChannel<T, E: Error>(
        _ body: () throws(E) -> T,
        finishing: (T, inout SendGate<LibCPGHandle>) -> Void = { _, _ in }
    ) throws(E) -> T? {
        guard self.sendGate.withLock({ $0.startRequest() }) else { return nil }
        let result: T
        do {
            result = try body()
        } catch {
            self.sendGate.withLock { $0.requestFinished() }
            throw error
        }
        self.sendGate.withLock { gate in
            finishing(result, &gate)
            gate.requestFinished()
        }
        return result
    }

    /// Whether a fragmented send holds the request channel; it may have started without the
    /// actor, so the gate knows. Only a hint: whoever calls libcpg checks again under the lock.
    nonisolated var largeSendInFlight: Bool {
        self.sendGate.withLock { $0.largeSendInFlight }
    }

    /// Whether a fragmented send holds the request channel; if so, its end comes to the actor
    /// (`largeSendEnded()`), which resumes the request channel's waiters and drains the queue.
    func waitsForLargeSend() -> Bool {
        self.sendGate.withLock { $0.waitForLargeSend() }
    }

    /// Waits while a fragmented send uses the request channel.
    func awaitRequestChannel() async {
        while self.waitsForLargeSend() {
            await withCheckedContinuation { continuation in
                // Checked again: the task may hop before this runs (see `CPGGroup.leave()`).
                if self.waitsForLargeSend() {
                    self.requestChannelWaiters.append(continuation)
                } else {
                    continuation.resume()
                }
            }
        }
    }

    /// Logs a dispatched event that is not a message; answers the change if it is a membership
    /// change.
    ///
    /// Kept out of ``readReady()``'s loop: inlined there, the logger's storage was checked for
    /// exclusive access once per message (a thread-local lookup), not once per change.
    @inline(never)
    private func noteDispatched(_ event: CPGEvent) -> CPGMembershipChange? {
        switch event {
        case .membership(let change):
            self.logger.info(
                "CPG membership changed",
                metadata: [
                    "cpg.members": "\(change.members)",
                    "cpg.joined": "\(change.joined)",
                    "cpg.left": "\(change.left)",
                ]
            )
            return change
        case .ring(let change):
            self.logger.debug("totem ring changed", metadata: ["cpg.ring": "\(change.ringID)"])
            return nil
        case .message, .disconnected, .reconnected:
            return nil  // messages have a summary; the others the group puts in itself
        }
    }
}
