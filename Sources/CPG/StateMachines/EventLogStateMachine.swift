import DequeModule

/// The bounded, ordered log of a group's events and the cursors of the subscriptions reading it.
///
/// One log holds every event once, in `cpg_dispatch` order; each subscription reads it through
/// its own cursor and skips the kinds it does not want, so every subscription sees its events in
/// exactly the dispatch order. An event stays until every live subscription has passed it; while
/// no subscription is live, events stay for the next one. When the log reaches its limits the
/// producer (the group, reading corosync's fd) must pause, and it is told to resume when the
/// log has drained to half its limits. Nothing is ever dropped.
///
/// A pure value: one mutating method per event, each returning what the caller must do.
/// `Waiter` is whatever resumes a suspended consumer (a continuation in production).
///
/// Noncopyable, because its entries are a `UniqueDeque`: appending to it consumes the event,
/// where `Deque.append` copies the event it is given (a retain, and a release of the original).
struct EventLogStateMachine<Waiter>: ~Copyable {
    /// How much the log may hold before the producer pauses.
    struct Limits: Hashable {
        var events: Int
        var bytes: Int
    }

    typealias SubscriberID = Int

    /// What a consumer gets.
    enum Next {
        /// The next event for this subscription.
        case event(CPGEvent)
        /// The log has ended: finished normally (`nil`) or with an error.
        case end(CPGError?)
    }

    /// The outcome of a poll for the next event.
    enum PollAction {
        /// An event or the end is ready; `resumeProducer` says the producer may read again.
        case ready(Next, resumeProducer: Bool)
        /// Nothing yet: call ``suspend(_:waiter:)``. Skipping unwanted events may still have freed
        /// room, so the producer may have to resume.
        case empty(resumeProducer: Bool)
    }

    /// The outcome of suspending a consumer.
    enum SuspendAction {
        /// Stay suspended until an append or the end resumes the waiter.
        case suspended(resumeProducer: Bool)
        /// Something arrived in between: resume the waiter now.
        case resume(Waiter, Next, resumeProducer: Bool)
        /// Another task already waits on this subscription: fail this waiter, keep that one.
        case alreadyWaiting(Waiter)
    }

    /// Waiters to resume after an append.
    enum Wakeups {
        case none
        case one(Waiter, CPGEvent)
        case many([(Waiter, CPGEvent)])
    }

    /// The outcome of an append.
    struct AppendAction {
        var wakeups: Wakeups
        /// The log is at its limits: stop reading until told to resume.
        var pauseProducer: Bool
    }

    /// The outcome of removing a subscription.
    struct UnsubscribeAction {
        /// A waiter that was suspended: resume it with the end.
        var waiter: Waiter?
        var resumeProducer: Bool
    }

    private struct Subscriber {
        let id: SubscriberID
        var cursor: UInt64
        let kinds: CPGEventKinds
        var waiter: Waiter?
    }

    private enum Terminal {
        case open
        case ended(CPGError?)
    }

    let limits: Limits
    private var entries = UniqueDeque<CPGEvent>()
    /// The sequence number of `entries.first`.
    private var firstSequence: UInt64 = 0
    private var bytes = 0
    /// The live subscriptions, in subscription order (so by ascending ID). An array, not a
    /// dictionary: a binary search over a group's few subscriptions costs less than hashing on
    /// every poll.
    private var subscribers: [Subscriber] = []
    /// How many subscribers are suspended (so appends skip the scan while none is).
    private var waitingCount = 0
    private var nextSubscriberID: SubscriberID = 0
    private var terminal = Terminal.open
    /// Whether the producer was told to pause and not yet told to resume.
    private(set) var producerPaused = false
    /// The most events the log ever held at once.
    private(set) var peakCount = 0

    init(limits: Limits) {
        precondition(limits.events > 0 && limits.bytes > 0, "event buffer limits must be positive")
        self.limits = limits
    }

    private var endSequence: UInt64 { self.firstSequence + UInt64(self.entries.count) }

    /// How many events the log holds.
    var count: Int { self.entries.count }
    /// The estimated bytes the log holds.
    var byteCount: Int { self.bytes }
    /// How many subscriptions are live.
    var subscriberCount: Int { self.subscribers.count }
    /// Whether the log has ended.
    var isEnded: Bool {
        if case .ended = self.terminal { return true }
        return false
    }

    /// A new subscription; it starts at the oldest event the log holds.
    mutating func subscribe(kinds: CPGEventKinds) -> SubscriberID {
        let id = self.nextSubscriberID
        self.nextSubscriberID += 1
        self.subscribers.append(Subscriber(id: id, cursor: self.firstSequence, kinds: kinds, waiter: nil))
        return id
    }

    /// How much the producer may append before the log is full: at least one event (a full log
    /// takes no more, but the producer may always dispatch the event that makes it full).
    var room: (events: Int, bytes: Int) {
        self.room(limitsTimes: 1)
    }

    /// How much the producer may append before the log holds `factor` times its limits (a
    /// confirmed send's overdraft; see `CPGGroup.readsPastLimitsForConfirmations()`): at least
    /// one event.
    func room(limitsTimes factor: Int) -> (events: Int, bytes: Int) {
        let ceiling = self.ceiling(factor)
        return (max(1, ceiling.events - self.entries.count), max(1, ceiling.bytes - self.bytes))
    }

    /// Whether the log holds `factor` times its limits or more.
    func holds(limitsTimes factor: Int) -> Bool {
        let ceiling = self.ceiling(factor)
        return self.entries.count >= ceiling.events || self.bytes >= ceiling.bytes
    }

    /// The limits times `factor`, saturating (a limit may be `Int.max`).
    private func ceiling(_ factor: Int) -> Limits {
        let events = self.limits.events.multipliedReportingOverflow(by: factor)
        let bytes = self.limits.bytes.multipliedReportingOverflow(by: factor)
        return Limits(events: events.overflow ? .max : events.partialValue, bytes: bytes.overflow ? .max : bytes.partialValue)
    }

    /// The producer has an event.
    mutating func append(_ event: CPGEvent) -> AppendAction {
        guard case .open = self.terminal else {
            return AppendAction(wakeups: .none, pauseProducer: false)
        }
        var wakeups = Wakeups.none
        self.store(event, wakeups: &wakeups)
        return self.finishAppend(wakeups)
    }

    /// The producer has several events, in order: one call for a whole dispatch batch, with at
    /// most one wakeup per suspended subscriber (the rest of the batch it polls without waiting).
    /// The events are moved out of `events` (`popFirst`) into the log, which takes them without
    /// a copy; `events` is empty afterwards.
    mutating func append(draining events: inout UniqueDeque<CPGEvent>) -> AppendAction {
        guard case .open = self.terminal else {
            events.removeAll()
            return AppendAction(wakeups: .none, pauseProducer: false)
        }
        var wakeups = Wakeups.none
        while let event = events.popFirst() { self.store(event, wakeups: &wakeups) }
        return self.finishAppend(wakeups)
    }

    /// Appends one event and hands it to the suspended subscribers waiting for it.
    private mutating func store(_ event: consuming CPGEvent, wakeups: inout Wakeups) {
        let sequence = self.endSequence
        self.bytes += event.approximateByteCount
        guard self.waitingCount > 0 else {
            self.entries.append(event)
            return
        }
        let kind = event.kind
        for slot in self.subscribers.indices
        where self.subscribers[slot].waiter != nil && self.subscribers[slot].cursor == sequence {
            // A suspended subscriber has read everything before this event: it takes the event
            // or, if it does not want this kind, skips it.
            self.subscribers[slot].cursor = sequence + 1
            guard self.subscribers[slot].kinds.contains(kind), let waiter = self.subscribers[slot].waiter else { continue }
            self.subscribers[slot].waiter = nil
            self.waitingCount -= 1
            switch wakeups {
            case .none: wakeups = .one(waiter, copy event)
            case .one(let first, let firstEvent): wakeups = .many([(first, firstEvent), (waiter, copy event)])
            case .many(var list):
                list.append((waiter, copy event))
                wakeups = .many(list)
            }
        }
        self.entries.append(event)
    }

    private mutating func finishAppend(_ wakeups: Wakeups) -> AppendAction {
        self.trim()
        self.peakCount = max(self.peakCount, self.entries.count)
        let full = self.holds(limitsTimes: 1)
        if full { self.producerPaused = true }
        return AppendAction(wakeups: wakeups, pauseProducer: full)
    }

    /// A consumer asks for its next event without waiting.
    mutating func poll(_ id: SubscriberID) -> PollAction {
        // One lookup per poll: the subscriber is read and moved on in place.
        guard let slot = self.slot(of: id) else {
            return .ready(.end(nil), resumeProducer: false)
        }
        let start = self.subscribers[slot].cursor
        let kinds = self.subscribers[slot].kinds
        var found: CPGEvent?
        let resume: Bool
        if self.subscribers.count == 1, start == self.firstSequence {
            // The only subscription: every event it passes leaves the log, so it takes each one
            // out instead of copying it (a retain now and a release when it is trimmed).
            while let event = self.entries.popFirst() {
                self.bytes -= event.approximateByteCount
                self.firstSequence += 1
                if kinds.contains(event.kind) {
                    found = event
                    break
                }
            }
            self.subscribers[slot].cursor = self.firstSequence
            resume = self.trimAndCheckResume(trimming: false)
        } else {
            let end = self.endSequence
            var cursor = start
            while cursor < end {
                let event = self.entries[Int(cursor - self.firstSequence)]
                cursor += 1
                if kinds.contains(event.kind) {
                    found = event
                    break
                }
            }
            self.subscribers[slot].cursor = cursor
            // Only a subscriber that held the oldest entry can free entries by moving on.
            resume = self.trimAndCheckResume(trimming: start == self.firstSequence && cursor != start)
        }
        if let found {
            return .ready(.event(found), resumeProducer: resume)
        }
        if case .ended(let error) = self.terminal {
            return .ready(.end(error), resumeProducer: resume)
        }
        return .empty(resumeProducer: resume)
    }

    /// A consumer found nothing and suspends with `waiter`.
    mutating func suspend(_ id: SubscriberID, waiter: Waiter) -> SuspendAction {
        switch self.poll(id) {
        case .ready(let next, let resume):
            return .resume(waiter, next, resumeProducer: resume)
        case .empty(let resume):
            if let slot = self.slot(of: id) {
                // Storing over it would lose the other task's waiter: it would never resume.
                if self.subscribers[slot].waiter != nil { return .alreadyWaiting(waiter) }
                self.waitingCount += 1
                self.subscribers[slot].waiter = waiter
            }
            return .suspended(resumeProducer: resume)
        }
    }

    /// A subscription ends (its consumer stopped, was cancelled, or was dropped).
    mutating func unsubscribe(_ id: SubscriberID) -> UnsubscribeAction {
        guard let slot = self.slot(of: id) else {
            return UnsubscribeAction(waiter: nil, resumeProducer: false)
        }
        let subscriber = self.subscribers.remove(at: slot)
        if subscriber.waiter != nil { self.waitingCount -= 1 }
        return UnsubscribeAction(waiter: subscriber.waiter, resumeProducer: self.trimAndCheckResume())
    }

    /// The producer ends the log; suspended consumers are resumed with the end. Consumers still
    /// behind read what the log holds first.
    mutating func finish(_ error: CPGError?) -> [Waiter] {
        guard case .open = self.terminal else { return [] }
        self.terminal = .ended(error)
        self.producerPaused = false
        var waiters: [Waiter] = []
        for slot in self.subscribers.indices {
            if let waiter = self.subscribers[slot].waiter {
                waiters.append(waiter)
                self.subscribers[slot].waiter = nil
                self.waitingCount -= 1
            }
        }
        return waiters
    }

    /// Where subscription `id` is: a binary search, as IDs only grow and the array keeps
    /// subscription order.
    private func slot(of id: SubscriberID) -> Int? {
        var low = 0
        var high = self.subscribers.count
        while low < high {
            let middle = (low + high) / 2
            let found = self.subscribers[middle].id
            if found == id { return middle }
            if found < id { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    /// Drops the events every live subscription has passed.
    private mutating func trim() {
        guard !self.subscribers.isEmpty else { return }
        var minimum = self.endSequence
        for subscriber in self.subscribers where subscriber.cursor < minimum {
            minimum = subscriber.cursor
        }
        while self.firstSequence < minimum {
            let event = self.entries.removeFirst()
            self.bytes -= event.approximateByteCount
            self.firstSequence += 1
        }
    }

    private mutating func trimAndCheckResume(trimming: Bool = true) -> Bool {
        if trimming { self.trim() }
        guard self.producerPaused,
            self.entries.count <= self.limits.events / 2,
            self.bytes <= self.limits.bytes / 2
        else { return false }
        self.producerPaused = false
        return true
    }
}
