/// When the group's reader should wake corosync after emptying the event ring (see
/// `CPGGroup.nudgeCorosync()`).
///
/// Corosync writes a client's events into a shared ring of 1 MiB (`IPC_DISPATCH_SIZE`). When
/// an event does not fit, corosync queues it and the rest behind it, and retries from a job of
/// its libqb main loop. A libqb loop with nothing but jobs to run sleeps in `epoll_wait` for up
/// to 50 ms between rounds (its guard against jobs that keep re-adding themselves), and a client
/// that empties the ring wakes nothing there. So once corosync queues, a client gets one ring of
/// events per 50 ms unless other traffic wakes corosync: a stream of large messages (only one
/// fits at a time, a fragmented one in two pieces) drops from hundreds of messages per second
/// to about 20. Any request wakes the loop. The reader sends one after a read that emptied the
/// ring, when a message fragment or a good part of a ring has passed since the last one.
///
/// A pure value: one mutating method per event.
struct DeliveryNudge: Sendable, Equatable {
    /// The bytes of events read since the last nudge that make the next emptied ring worth one:
    /// a quarter of corosync's event ring, so that a stream of small messages costs one request
    /// per several hundred of them.
    static let defaultThreshold = (1 << 20) / 4

    let threshold: Int
    private(set) var bytesSinceNudge = 0
    private(set) var fragmentSinceNudge = false

    init(threshold: Int = Self.defaultThreshold) {
        self.threshold = threshold
    }

    /// What the reader does once the ring is empty.
    enum Action: Equatable {
        case none
        /// Send corosync a request, so that its loop runs the deliveries it queued.
        case nudge
    }

    /// A dispatch delivered an event of about `bytes` bytes.
    mutating func eventRead(bytes: Int) {
        self.bytesSinceNudge += bytes
    }

    /// A dispatch consumed a piece of a fragmented message (libcpg keeps it until the last).
    mutating func fragmentRead() {
        self.fragmentSinceNudge = true
    }

    /// The ring is empty (`cpg_dispatch` answered `CS_ERR_TRY_AGAIN`).
    mutating func ringEmptied() -> Action {
        guard self.fragmentSinceNudge || self.bytesSinceNudge >= self.threshold else { return .none }
        self.bytesSinceNudge = 0
        self.fragmentSinceNudge = false
        return .nudge
    }
}
