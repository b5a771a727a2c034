import Dispatch

extension CPGGroup {
    /// The most buffers one scatter-gather send may have: libcpg copies them into a 64-entry
    /// array on its stack next to its own header, so more would overflow it.
    public static let maximumBufferCount = 63

    /// The largest message any configuration lets through, 4 GiB − 1 bytes: libcpg carries a
    /// message's length in 32 bits (`msglen`), and every receiving libcpg would copy the
    /// fragments of a longer message past the end of the buffer it allocated for it.
    /// ``CPGConfiguration/maximumMessageSize`` above this acts as this.
    public static let largestMessageSize = Int(UInt32.max)

    /// Sends a message to every member of the group, in the group's total order
    /// (`cpg_mcast_joined` with `CPG_TYPE_AGREED`).
    ///
    /// Returns when corosync has **accepted** the message: `cpg_mcast_joined` answered `CS_OK`.
    /// From then on it will be delivered to every member in the current view, this one included,
    /// unless this node's corosync fails first. While corosync applies flow control
    /// (`CS_ERR_TRY_AGAIN`) the call suspends without blocking a thread and retries; each task's
    /// messages keep their order (sends from different tasks are ordered as corosync accepts
    /// them).
    ///
    /// Messages above ``maxAtomicMessageSize`` are fragmented by libcpg, which blocks and sleeps
    /// between retries: that runs on a thread of its own, never on the cooperative pool, and
    /// holds other sends and queries of this group back until it ends. When libcpg gives up
    /// under flow control (after about a second), the group sends the message again whole.
    ///
    /// - Throws: `CancellationError` if the task is cancelled before corosync accepted the message
    ///   (it is then never sent; a fragmented send's attempt, once libcpg has started it, runs
    ///   to its end, but one that corosync's flow control held up is not attempted again);
    ///   ``CPGError`` with ``CPGError/Code/messageTooLarge`` above
    ///   ``CPGConfiguration/maximumMessageSize``, ``CPGError/Code/notJoined`` after leave,
    ///   ``CPGError/Code/closed`` after close, ``CPGError/Code/partialSend`` when a fragmented send
    ///   failed midway for another reason than flow control, ``CPGError/Code/connectionLost``
    ///   when corosync is gone.
    ///
    /// It runs on the caller's executor (`nonisolated(nonsending)`): from an actor, it does not
    /// leave the actor. While nothing is queued, the call is made on the caller's thread without
    /// entering the group's actor: `cpg_mcast_joined` of an atomic-size message answers at once
    /// while corosync runs (only a stopped daemon whose socket buffer is full makes libqb wait
    /// in `send()`). The call suspends only to queue behind flow control or a fragmented send.
    /// A larger message also skips the actor while nothing is queued: the call suspends until
    /// libcpg's fragmented send, on the group's own thread, has returned.
    public nonisolated(nonsending) func send(_ payload: [UInt8]) async throws {
        try await self.sendUnconfirmed(.single(payload))
    }

    /// Sends a string's UTF-8 bytes; see ``send(_:)-([UInt8])``.
    public nonisolated(nonsending) func send(_ text: String) async throws {
        try await self.sendUnconfirmed(.single(Array(text.utf8)))
    }

    /// Sends one message gathered from several buffers (scatter-gather, at most
    /// ``maximumBufferCount``); receivers get the concatenation. See ``send(_:)-([UInt8])``.
    ///
    /// - Throws: ``CPGError/Code/tooManyBuffers`` above ``maximumBufferCount``, and everything
    ///   ``send(_:)-([UInt8])`` throws.
    public nonisolated(nonsending) func send(buffers: [[UInt8]]) async throws {
        try await self.sendUnconfirmed(.multiple(buffers))
    }

    /// The fast path, then (if corosync pushed back or something is queued) the actor's queue.
    private nonisolated(nonsending) func sendUnconfirmed(_ payload: SendPayload) async throws {
        switch try self.trySendDirectly(payload) {
        case .accepted:
            return
        case .queue(let flowControlled):
            _ = try await self.submit(payload, confirm: false, flowControlled: flowControlled)
        case .fragmented(let handle, let ownIndex):
            try await self.sendFragmentedDirectly(payload, handle: handle, ownIndex: ownIndex)
        }
    }

    /// Sends a message and returns only when it has been delivered back to this member: the
    /// cluster has ordered it, and every member of the view delivers it at the same place in the
    /// order. Returns the message's ``CPGMessage/deliveryIndex`` in this member's delivery order.
    ///
    /// Delivery needs the group to read: corosync queues this member's own message behind every
    /// event the member has not read yet. While a confirmation waits, the group reads past its
    /// event buffer's limits, up to twice them, so that a consumer may confirm from inside its
    /// own loop (the events it has not read would otherwise hold its confirmation back while it
    /// waits for that confirmation instead of reading them). If the buffer reaches twice its
    /// limits first, the confirmation ends with ``CPGError/Code/confirmationBlocked`` and the
    /// group pauses reading as usual; the message is still delivered, at its place in the order.
    ///
    /// - Throws: what ``send(_:)-([UInt8])`` throws; if the task is cancelled after corosync
    ///   accepted the message, ``CPGError/Code/confirmationCancelled``; if the buffer filled to
    ///   twice its limits first, ``CPGError/Code/confirmationBlocked`` (in both cases the message
    ///   is still delivered).
    public func sendConfirmed(_ payload: [UInt8]) async throws -> UInt64 {
        try await self.submit(.single(payload), confirm: true)
    }

    /// Sends one scatter-gather message and waits for its delivery; see ``sendConfirmed(_:)``.
    public func sendConfirmed(buffers: [[UInt8]]) async throws -> UInt64 {
        try await self.submit(.multiple(buffers), confirm: true)
    }
}
