import Dispatch

/// Reading on demand: a consumer that finds nothing buffered reads what already waits in
/// libqb's ring itself, before it suspends.
///
/// The DispatchSource stays the driver: it fires whenever the fd is readable and nobody reads.
/// But a busy group would otherwise pay, for every batch, a wakeup of libdispatch's event thread,
/// one of the thread that runs the group's queue, and one of the consumer's thread. A consumer
/// that reads by itself enters the group's queue with `sync`, which on an idle serial queue runs
/// the block on the calling thread: the same `readReady()`, in the same order, with no wakeup.
extension CPGGroup {
    /// Marks the queues of groups, so that code already running on one never waits for a group
    /// queue synchronously.
    static let groupQueueKey = DispatchSpecificKey<Bool>()

    /// How many bytes of events a consumer reads on demand before it leaves the rest to the
    /// source: reading large messages on the consumer's thread would serialise copying with
    /// consuming, and libqb's 1 MiB event ring would fill (corosync then queues in its outq and
    /// the pipeline stalls).
    static let onDemandByteBudget = 65536

    /// Installs the hook the event log calls when a consumer finds its subscription empty.
    func installReadOnDemand() {
        self.log.onReadOnDemand { [weak self] in
            self?.readOnDemand() ?? false
        }
    }

    /// Reads what waits in libqb's ring now, on the caller's thread, inside the group's queue.
    /// Answers whether events were appended to the log.
    ///
    /// It does not wait for the queue when that could mean waiting for corosync: from a thread
    /// that runs a group queue, or while a request-channel call (one that waits for corosync's
    /// answer, such as `cpg_membership_get`) is in flight. Nor does it read large events (see
    /// ``ReadOnDemandPolicy``). Then the source reads, as always.
    nonisolated func readOnDemand() -> Bool {
        guard DispatchQueue.getSpecific(key: Self.groupQueueKey) == nil,
            self.readOnDemandPolicy.withLock({ $0.allowsReadOnDemand })
        else { return false }
        return self.queueForSource.sync {
            self.assumeIsolated { group in
                // Only while the source reads: not while paused for room, not after the end.
                guard group.sourceResumed, group.lifecycle.isReading else { return false }
                return group.readReady(byteBudget: Self.onDemandByteBudget)
            }
        }
    }

    /// Runs a request-channel call of libcpg under the send lock, counted in
    /// ``readOnDemandPolicy`` so that consumers do not wait for the queue meanwhile.
    nonisolated func requestCall<T, E: Error>(_ body: (inout SendGate<LibCPGHandle>) throws(E) -> T) throws(E) -> T {
        self.readOnDemandPolicy.withLock { $0.requestStarted() }
        defer { self.readOnDemandPolicy.withLock { $0.requestEnded() } }
        return try self.sendGate.withLock(body)
    }
}
