/// Whether a send may call `cpg_mcast_joined` directly on its caller's thread, and the count of
/// own messages corosync accepted: the state the group's actor shares with the nonisolated fast
/// path of ``CPGGroup/send(_:)-([UInt8])``.
///
/// The group keeps it behind the one lock that also serialises every request-channel call of
/// libcpg (sends, queries, leave, finalize). The actor opens the gate while nothing is queued,
/// no fragmented send is in flight and the group is joined, and closes it as soon as one of
/// those stops holding; a fast send that meets `CS_ERR_TRY_AGAIN` closes it too, so later sends
/// queue behind it instead of overtaking it.
///
/// A pure value: `Handle` is whatever sends (a `LibCPGHandle` in production).
struct SendGate<Handle> {
    /// The handle sends use while the gate is open; `nil` once the group stops.
    private(set) var handle: Handle?
    /// Whether a send may go straight to corosync.
    private(set) var isOpen = false
    /// How many own messages corosync accepted: the own-message index of the last one.
    private(set) var acceptedOwnMessages: UInt64 = 0

    /// The outcome of a direct send.
    enum FastSendOutcome: Equatable {
        /// Accepted, with its own-message index.
        case accepted(UInt64)
        /// Corosync pushed back: the gate is closed now; queue the send.
        case tryAgain
        /// Corosync refused the send for another reason; nothing was sent.
        case failed
    }

    init(handle: Handle?, open: Bool) {
        self.handle = handle
        self.isOpen = open && handle != nil
    }

    /// The actor's view: `open` says whether its queue is empty, no fragmented send is in flight
    /// and the group is joined; `handle` is its current handle.
    mutating func update(handle: Handle?, open: Bool) {
        self.handle = handle
        self.isOpen = open && handle != nil
    }

    /// The handle a direct send may use now, or `nil` when the send must go through the queue.
    var fastPathHandle: Handle? {
        self.isOpen ? self.handle : nil
    }

    /// A direct send returned; `accepted` is `CS_OK`, `tryAgain` is `CS_ERR_TRY_AGAIN`.
    mutating func fastSendFinished(accepted: Bool, tryAgain: Bool) -> FastSendOutcome {
        if accepted {
            self.acceptedOwnMessages += 1
            return .accepted(self.acceptedOwnMessages)
        }
        if tryAgain {
            self.isOpen = false
            return .tryAgain
        }
        return .failed
    }

    /// Corosync accepted a message sent by the actor (or a fragmented send is about to start):
    /// answers its own-message index.
    mutating func ownMessageAccepted() -> UInt64 {
        self.acceptedOwnMessages += 1
        return self.acceptedOwnMessages
    }
}
