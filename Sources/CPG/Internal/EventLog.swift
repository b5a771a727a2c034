import DequeModule

/// The shared storage of a group's event log: the state machine behind a lock, with every
/// continuation resumed outside the lock.
///
/// The group appends from its queue; consumers read from any task. When the state machine says
/// the producer may resume, ``EventLog`` calls the group's resume hook.
final class EventLog: Sendable {
    typealias Waiter = UnsafeContinuation<CPGEvent?, any Error>
    typealias StateMachine = EventLogStateMachine<Waiter>

    private let state: LockedValue<StateMachine>
    private let hooks: LockedValue<Hooks>

    /// The producer's hooks, in a struct rather than as a bare closure in the lock: see
    /// ``LockedValue`` for why a function type must not be its value.
    private struct Hooks {
        var resumeProducer: (@Sendable () -> Void)?
    }

    init(limits: StateMachine.Limits) {
        self.state = LockedValue(StateMachine(limits: limits))
        self.hooks = LockedValue(Hooks())
    }

    /// Sets what to call when a paused producer may read again.
    func onResumeProducer(_ hook: @escaping @Sendable () -> Void) {
        self.hooks.withLock { $0.resumeProducer = hook }
    }

    /// A new subscription, starting at the oldest event the log holds.
    func subscribe(kinds: CPGEventKinds) -> EventSubscription {
        EventSubscription(log: self, id: self.state.withLock { $0.subscribe(kinds: kinds) })
    }

    /// Appends an event; answers whether the producer must pause.
    func append(_ event: CPGEvent) -> Bool {
        let action = self.state.withLock { $0.append(event) }
        switch action.wakeups {
        case .none: break
        case .one(let waiter, let event): waiter.resume(returning: event)
        case .many(let list): for (waiter, event) in list { waiter.resume(returning: event) }
        }
        return action.pauseProducer
    }

    /// Takes a batch of events into the log in order, with one lock and at most one wakeup per
    /// suspended subscription; `events` is empty afterwards. Answers whether the producer must
    /// pause.
    func append(draining events: inout UniqueDeque<CPGEvent>) -> Bool {
        let action = self.state.withLock { $0.append(draining: &events) }
        switch action.wakeups {
        case .none: break
        case .one(let waiter, let event): waiter.resume(returning: event)
        case .many(let list): for (waiter, event) in list { waiter.resume(returning: event) }
        }
        return action.pauseProducer
    }

    /// How much the producer may append before the log is full (see
    /// ``EventLogStateMachine/room``).
    var room: (events: Int, bytes: Int) { self.state.withLock { $0.room } }

    /// How much the producer may append before the log holds `factor` times its limits.
    func room(limitsTimes factor: Int) -> (events: Int, bytes: Int) { self.state.withLock { $0.room(limitsTimes: factor) } }

    /// Whether the log holds `factor` times its limits or more.
    func holds(limitsTimes factor: Int) -> Bool { self.state.withLock { $0.holds(limitsTimes: factor) } }

    /// How many events the log holds now.
    var count: Int { self.state.withLock { $0.count } }

    /// The most events the log held at once (for tests and benchmarks).
    var peakCount: Int { self.state.withLock { $0.peakCount } }

    /// Whether the producer is paused and waiting for room.
    var producerPaused: Bool { self.state.withLock { $0.producerPaused } }

    /// Ends the log: consumers read what it holds, then end with `error` (or normally).
    func finish(_ error: CPGError?) {
        let waiters = self.state.withLock { $0.finish(error) }
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    func unsubscribe(_ id: StateMachine.SubscriberID) {
        let action = self.state.withLock { $0.unsubscribe(id) }
        action.waiter?.resume(returning: nil)
        if action.resumeProducer { self.resumeProducer() }
    }

    /// The next event of subscription `id`, on the caller's executor throughout.
    ///
    /// Takes the caller's isolation as a parameter rather than being `nonisolated(nonsending)`:
    /// the closure given to `withTaskCancellationHandler` inherits an isolated parameter it
    /// captures, but not a `nonisolated(nonsending)` context, and would run on the global pool.
    /// A consumer isolated to an actor (the group's or its own) then hopped to the pool and
    /// back for every suspension, two thread wakeups more per batch of events.
    ///
    /// Inlined into ``EventSubscription/next(isolation:)``, its only caller, so that the two
    /// share one check of the caller's executor on entry (`swift_task_switch`) per event.
    @inline(__always)
    func next(
        _ id: StateMachine.SubscriberID,
        isolation: isolated (any Actor)? = #isolation
    ) async throws(CPGError) -> CPGEvent? {
        // Fast path: an event is ready, no continuation needed.
        switch self.state.withLock({ $0.poll(id) }) {
        case .ready(let next, let resume):
            if resume { self.resumeProducer() }
            return try Self.unwrap(next)
        case .empty(let resume):
            if resume { self.resumeProducer() }
        }
        do {
            return try await withTaskCancellationHandler {
                _ = isolation  // captured, so that this closure runs isolated to it
                return try await withUnsafeThrowingContinuation(isolation: isolation) { (continuation: Waiter) in
                    self.suspend(id, continuation)
                }
            } onCancel: {
                // A cancelled consumer ends its subscription: it returns nil and holds nothing back.
                self.unsubscribe(id)
            }
        } catch {
            // Only CPGError is ever resumed into a waiter (see `finish` and `suspend`).
            throw error as! CPGError
        }
    }

    private func suspend(_ id: StateMachine.SubscriberID, _ waiter: Waiter) {
        let action = self.state.withLock { $0.suspend(id, waiter: waiter) }
        switch action {
        case .suspended(let resume):
            if resume { self.resumeProducer() }
        case .resume(let waiter, let next, let resume):
            if resume { self.resumeProducer() }
            switch next {
            case .event(let event): waiter.resume(returning: event)
            case .end(nil): waiter.resume(returning: nil)
            case .end(let error?): waiter.resume(throwing: error)
            }
        case .alreadyWaiting(let waiter):
            waiter.resume(
                throwing: CPGError(
                    .concurrentIteration,
                    "another task already waits for the next event of this sequence (its iterators share one subscription); give each task a sequence of its own"
                )
            )
        }
    }

    private func resumeProducer() {
        self.hooks.withLock { $0.resumeProducer }?()
    }

    private static func unwrap(_ next: StateMachine.Next) throws(CPGError) -> CPGEvent? {
        switch next {
        case .event(let event): return event
        case .end(nil): return nil
        case .end(let error?): throw error
        }
    }
}

/// One subscription to an ``EventLog``; dropping it (with every iterator of it) unsubscribes.
@usableFromInline
final class EventSubscription: Sendable {
    let log: EventLog
    let id: EventLog.StateMachine.SubscriberID

    init(log: EventLog, id: EventLog.StateMachine.SubscriberID) {
        self.log = log
        self.id = id
    }

    deinit {
        self.log.unsubscribe(self.id)
    }

    /// Runs on the caller's executor (`isolation`): an iterator inside an actor does not hop
    /// off it and back for every event.
    @usableFromInline
    func next(isolation: isolated (any Actor)? = #isolation) async throws(CPGError) -> CPGEvent? {
        try await self.log.next(self.id, isolation: isolation)
    }
}
