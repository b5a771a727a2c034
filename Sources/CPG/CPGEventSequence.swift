/// An ordered sequence of a group's events, or of one kind of them.
///
/// A sequence subscribes when it is created (``CPGGroup/events``, ``CPGGroup/messages``, …) and
/// starts with the oldest event the group still holds: everything since join if no subscription
/// has read anything yet. Create the sequences you need before you start the tasks that iterate
/// them, and they start together. Each sequence value is one subscription, read by one task at a
/// time: iterating it again (after a `break`, or with `first(where:)`) goes on where the last
/// iteration stopped. A second task that waits for its next event while another already does
/// gets ``CPGError/Code/concurrentIteration``; give each task a sequence of its own.
///
/// The group holds a bounded buffer. While any live subscription lags behind and the buffer is
/// full, the group stops reading from corosync until that subscription catches up: no event is
/// dropped and memory stays bounded. Drop a sequence you no longer iterate, or the group stalls
/// with it; a consumer whose task is cancelled ends its subscription (its iteration returns nil).
///
/// Iterated inside an actor (a service's state machine, say), the iterator runs on that actor's
/// executor: taking an event that is ready does not leave the actor, and neither does
/// ``CPGGroup/send(_:)-([UInt8])`` from the same loop.
///
/// The sequence ends when the group is left or closed, or throws ``CPGError`` when the
/// connection to corosync is lost.
public struct CPGEventSequence<Element: Sendable>: AsyncSequence, Sendable {
    /// Iteration throws only ``CPGError`` (a cancelled consumer ends with `nil`, not an error).
    public typealias Failure = CPGError

    @usableFromInline let subscription: EventSubscription
    @usableFromInline let extract: @Sendable (consuming CPGEvent) -> Element?

    init(_ subscription: EventSubscription, extract: @escaping @Sendable (consuming CPGEvent) -> Element?) {
        self.subscription = subscription
        self.extract = extract
    }

    /// Creates the iterator.
    @inlinable
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(subscription: self.subscription, extract: self.extract)
    }

    /// Iterates a ``CPGEventSequence``.
    ///
    /// Its methods are inlinable so that each consumer's module specializes them for its element
    /// type: the generic versions look up type metadata at run time for every event. It holds no
    /// events of its own: each one stays in the group's log until an iterator returns it.
    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let subscription: EventSubscription
        @usableFromInline let extract: @Sendable (consuming CPGEvent) -> Element?

        @usableFromInline
        init(subscription: EventSubscription, extract: @escaping @Sendable (consuming CPGEvent) -> Element?) {
            self.subscription = subscription
            self.extract = extract
        }

        /// The next event, `nil` at the end, or the error that ended the group.
        @inlinable
        public mutating func next() async throws(CPGError) -> Element? {
            try await self.next(isolation: nil)
        }

        /// The next event, `nil` at the end, or the error that ended the group.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(CPGError) -> Element? {
            while let event = try await self.subscription.next(isolation: actor) {
                if let element = self.extract(event) { return element }
            }
            return nil
        }
    }
}
