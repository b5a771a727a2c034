/// Whether a consumer that found nothing buffered may read on demand (see
/// `CPGGroup.readOnDemand()`): not while a request-channel call may hold the group's queue, and
/// not while events are large.
///
/// A pure value: the group keeps it behind a lock, updates it around request-channel calls and
/// after every read, and consumers ask it before they enter the queue.
struct ReadOnDemandPolicy {
    /// Above this average event size a batch counts as large.
    static let largeEventBytes = 8192

    /// Request-channel calls in flight (they may wait for corosync with the queue held).
    var requestCalls = 0
    /// Whether the last batch averaged large events: then the copy dominates, not the wakeups,
    /// and the source's thread reading in parallel with the consumer is faster (measured: at
    /// 64 KiB reading on the consumer's thread let libqb's event ring fill and corosync stall).
    var largeEvents = false

    /// Whether a consumer may enter the queue to read now.
    var allowsReadOnDemand: Bool { self.requestCalls == 0 && !self.largeEvents }

    /// A request-channel call starts.
    mutating func requestStarted() {
        self.requestCalls += 1
    }

    /// A request-channel call returned.
    mutating func requestEnded() {
        self.requestCalls -= 1
    }

    /// A read appended `count` events holding `bytes` bytes.
    mutating func batchRead(count: Int, bytes: Int) {
        guard count > 0 else { return }
        self.largeEvents = bytes / count > Self.largeEventBytes
    }
}
