/// Whether a send may call `cpg_mcast_joined` directly on its caller's thread, and the count of
/// own messages corosync accepted: the state the group's actor shares with the nonisolated fast
/// path of ``CPGGroup/send(_:)-([UInt8])``.
///
/// The group keeps it behind the one lock that serialises the direct sends with the actor's use
/// of the request channel (sends, queries, leave, finalize). The actor opens the gate while nothing is queued
/// and the group is joined, and closes it as soon as one of those stops holding; a fast send
/// that meets `CS_ERR_TRY_AGAIN` closes it too, so later sends queue behind it instead of
/// overtaking it.
///
/// A fragmented send (above the atomic size) runs without the lock, since libcpg blocks and
/// sleeps in it, so the gate also records that one is in flight: nothing else may use the
/// request channel meanwhile, and whoever holds the lock checks ``largeSendInFlight`` before
/// calling libcpg. The actor's requests that wait for corosync's answer run without the lock
/// too, marked by ``requestInFlight``. A send through the open gate starts one without entering the actor
/// (``claimLargeSend()``); the actor hears of its end only if it asked to
/// (``waitForLargeSend()``) or the send failed.
///
/// A pure value: `Handle` is whatever sends (a `LibCPGHandle` in production).
struct SendGate<Handle> {
    /// The handle sends use while the gate is open; `nil` once the group stops.
    private(set) var handle: Handle?
    /// Whether the actor lets sends go straight to corosync (while no fragmented send runs).
    private(set) var isOpen = false
    /// How many own messages corosync accepted: the own-message index of the last one.
    private(set) var acceptedOwnMessages: UInt64 = 0
    /// A fragmented send holds the request channel.
    private(set) var largeSendInFlight = false
    /// The send id of the fragmented send in flight, and whether its task was cancelled: if
    /// libcpg gives up on it under flow control, the actor sends it again unless it was.
    private(set) var largeSendID: UInt64?
    private(set) var largeSendCancelled = false
    /// The actor has work that waits for the fragmented send in flight to end.
    private(set) var actorWaitsForLargeSend = false
    /// The actor waits for corosync's answer to a request (a query, a leave) outside the lock:
    /// direct sends go to its queue meanwhile instead of blocking their threads on the lock
    /// for as long as corosync takes to answer (forever, while the daemon is stopped).
    private(set) var requestInFlight = false

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

    /// The actor's view: `open` says whether its queue is empty and the group is joined;
    /// `handle` is its current handle.
    mutating func update(handle: Handle?, open: Bool) {
        self.handle = handle
        self.isOpen = open && handle != nil
    }

    /// The handle a direct send may use now, or `nil` when the send must go through the queue.
    var fastPathHandle: Handle? {
        self.fastPathOpen ? self.handle : nil
    }

    /// Whether a direct send may go now: the actor opened the gate, and neither a fragmented
    /// send nor one of the actor's requests holds the request channel.
    private var fastPathOpen: Bool {
        self.isOpen && !self.largeSendInFlight && !self.requestInFlight
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

    /// Corosync accepted a message sent by the actor: answers its own-message index.
    mutating func ownMessageAccepted() -> UInt64 {
        self.acceptedOwnMessages += 1
        return self.acceptedOwnMessages
    }

    /// A send through the open gate takes the request channel for a fragmented send: answers
    /// the handle and the message's own-message index (taken before sending, since the message
    /// may be delivered back before libcpg returns), or `nil` if the send must go to the actor.
    mutating func claimLargeSend() -> (handle: Handle, ownIndex: UInt64)? {
        guard let handle = self.fastPathHandle else { return nil }
        let ownIndex = self.ownMessageAccepted()
        self.largeSendStarted(id: Self.directSendID(ownIndex: ownIndex))
        return (handle, ownIndex)
    }

    /// The send id of a fragmented send that started through the open gate: its first
    /// own-message index with the top bit set, apart from the ids the actor counts from 0.
    static func directSendID(ownIndex: UInt64) -> UInt64 {
        ownIndex | (1 << 63)
    }

    /// The actor takes the request channel for the fragmented send `id`, open gate or not:
    /// answers the own-message index, or `nil` if a fragmented send is in flight already (the
    /// actor then hears when it ends).
    mutating func startLargeSendForActor(id: UInt64) -> UInt64? {
        if self.waitForLargeSend() { return nil }
        self.largeSendStarted(id: id)
        return self.ownMessageAccepted()
    }

    private mutating func largeSendStarted(id: UInt64) {
        self.largeSendInFlight = true
        self.largeSendID = id
        self.largeSendCancelled = false
    }

    /// The task of send `id` was cancelled: if it is the fragmented send in flight, it is not
    /// sent again should libcpg give up on it.
    mutating func cancelLargeSend(id: UInt64) {
        if self.largeSendInFlight, self.largeSendID == id { self.largeSendCancelled = true }
    }

    /// The actor has work for the request channel: answers whether a fragmented send holds it,
    /// and if so, has its end reported to the actor.
    mutating func waitForLargeSend() -> Bool {
        guard self.largeSendInFlight else { return false }
        self.actorWaitsForLargeSend = true
        return true
    }

    /// libcpg returned from a fragmented send. A successful one frees the request channel at
    /// once. A failed one keeps it, and the direct path closed, until the actor has recorded the
    /// failure (``largeSendFailureRecorded()``): the own-message indices after it depend on that.
    /// Answers whether the actor must hear of the end.
    mutating func largeSendReturned(succeeded: Bool) -> Bool {
        guard succeeded else { return true }
        self.largeSendInFlight = false
        self.largeSendID = nil
        defer { self.actorWaitsForLargeSend = false }
        return self.actorWaitsForLargeSend
    }

    /// The actor takes the request channel for a call that waits for corosync's answer: answers
    /// `false` if a fragmented send holds it (whose end is then reported to the actor).
    mutating func startRequest() -> Bool {
        if self.waitForLargeSend() { return false }
        self.requestInFlight = true
        return true
    }

    /// The actor's request has its answer: the request channel is free again.
    mutating func requestFinished() {
        self.requestInFlight = false
    }

    /// The actor recorded a failed fragmented send: the request channel is free again.
    mutating func largeSendFailureRecorded() {
        self.largeSendInFlight = false
        self.largeSendID = nil
        self.actorWaitsForLargeSend = false
    }
}

extension SendGate where Handle: AnyObject {
    /// ``fastPathHandle`` without a retain, for the one libcpg call of a direct send.
    ///
    /// Valid only inside the `withLock` that read it: the gate holds the strong reference and
    /// changes only under that lock, so the object outlives the call.
    var unretainedFastPathHandle: Unmanaged<Handle>? {
        guard self.fastPathOpen, let handle = self.handle else { return nil }
        return Unmanaged.passUnretained(handle)
    }
}
