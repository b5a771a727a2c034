import CPG
import Logging

/// A replicated key-value store: one member of a CPG group, holding a copy of the map that
/// every member changes through the same ordered updates.
///
/// ```swift
/// let store = try await KVStore.open(group: "settings")
/// await store.waitUntilServing()          // the state was transferred from the others
/// try await store.set("mode", to: "active")
/// print(await store.value(forKey: "mode") ?? "-")   // "active": read your writes
/// await store.close()
/// ```
///
/// The store reads the group's events in a task of its own and feeds them to a ``KVReplica``;
/// the protocol messages the replica asks for are sent by another task, one after another, so
/// that reading never waits on corosync's flow control.
public actor KVStore {
    /// What a store reports to its observer (see ``open(group:configuration:logger:observer:)``).
    public enum Change: Hashable, Sendable {
        /// A membership change started a state-transfer round; the store does not serve.
        case syncing(members: [CPGMember])
        /// A membership change needed no round (only departures): the store keeps serving.
        case membersChanged([CPGMember])
        /// The round ended: the state of `source` (`nil`: started empty) is installed; the
        /// store serves.
        case serving(source: CPGMember?, entries: [String: String])
        /// An update was applied.
        case applied(KVUpdate, from: CPGMember)
        /// The connection to corosync was lost (with ``CPG/CPGConfiguration/reconnect`` set): the
        /// state is dropped until the store is reconnected and has received it again.
        case disconnected
        /// The store stopped: closed, or its connection to corosync was lost (`error`).
        case stopped(error: String?)
    }

    /// A point-in-time view of the store, for ``waitUntil(_:)``.
    public struct Status: Hashable, Sendable {
        /// The current view's members, ascending.
        public var members: [CPGMember]
        /// Whether the store serves (holds the agreed state, no round under way).
        public var isServing: Bool
        /// The map (a valid copy only while ``isServing``).
        public var entries: [String: String]
        /// How many state-transfer rounds this member completed.
        public var completedRounds: Int
        /// Whose state the last round installed (`nil`: started empty).
        public var lastSource: CPGMember?
        /// Whether the store stopped.
        public var isStopped: Bool
    }

    /// This process as a member of the group.
    public nonisolated let localMember: CPGMember
    /// The channel the store talks through.
    public nonisolated let channel: CPGChannel<KVMessage>

    private var replica: KVReplica
    private let logger: Logger
    private let outgoing: AsyncStream<KVMessage>.Continuation
    private var reader: Task<Void, Never>?
    private var sender: Task<Void, Never>?
    private var stopped = false
    /// The delivery index of the last message handled.
    private var handledIndex: UInt64 = 0
    private var indexWaiters: [(index: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var statusWaiters: [(predicate: @Sendable (Status) -> Bool, continuation: CheckedContinuation<Status, Never>)] = []
    private let observer: (@Sendable (Change) -> Void)?

    private init(channel: CPGChannel<KVMessage>, logger: Logger, observer: (@Sendable (Change) -> Void)?) {
        self.channel = channel
        self.observer = observer
        self.localMember = channel.localMember
        self.replica = KVReplica(localMember: channel.localMember)
        self.logger = logger
        let (stream, continuation) = AsyncStream<KVMessage>.makeStream()
        self.outgoing = continuation
        let channel = self.channel
        self.sender = Task { [logger] in
            for await message in stream {
                do {
                    try await channel.send(message)
                } catch {
                    // Lost with the connection: the next view (after a reconnect) starts a new round.
                    logger.warning("could not send a protocol message", metadata: ["kv.error": "\(error)"])
                }
            }
        }
    }

    /// Joins the store's group and starts taking part in it.
    ///
    /// The store serves once the state was transferred (see ``waitUntilServing()``); before,
    /// ``set(_:to:)`` and ``delete(_:)`` work (their updates are applied in order once the state
    /// arrives) but reads see no valid state.
    ///
    /// - Parameters:
    ///   - group: The group whose members share the store.
    ///   - configuration: The group's configuration (for instance a network namespace).
    ///   - logger: Where the store and its group log.
    ///   - observer: Called with every change of the store, in order, on the store's actor (keep
    ///     it short): from the first round on, so it sees everything.
    /// - Returns: The store.
    /// - Throws: What ``CPG/CPGGroup/join(_:configuration:logger:)-(String,_,_)`` throws.
    public static func open(
        group: String = "cpg-kv",
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger,
        observer: (@Sendable (Change) -> Void)? = nil
    ) async throws(CPGError) -> KVStore {
        let channel = try await CPGChannel<KVMessage>.join(group, configuration: configuration, logger: logger)
        let store = KVStore(channel: channel, logger: logger, observer: observer)
        await store.startReading()
        return store
    }

    private func startReading() {
        // Subscribed here, before anything can be missed: the sequence starts at our own join.
        let events = self.channel.events
        self.reader = Task { [weak self] in
            do {
                for try await event in events {
                    guard let self else { return }
                    await self.handle(event)
                }
                await self?.stop(error: nil)
            } catch {
                await self?.stop(error: error)
            }
        }
    }

    // MARK: Reading

    /// The value of `key`, or `nil`; meaningful while the store serves.
    ///
    /// - Parameter key: The key.
    /// - Returns: Its value in this member's copy.
    public func value(forKey key: String) -> String? {
        self.replica.entries[key]
    }

    /// This member's copy of the whole map; meaningful while the store serves.
    public var entries: [String: String] { self.replica.entries }

    /// Whether the store holds the agreed state and no round is under way.
    public var isServing: Bool { self.replica.isServing && !self.stopped }

    /// The store's current status.
    public var status: Status {
        Status(
            members: self.replica.members,
            isServing: self.isServing,
            entries: self.replica.entries,
            completedRounds: self.replica.completedRounds,
            lastSource: self.replica.lastSource,
            isStopped: self.stopped
        )
    }

    // MARK: Writing

    /// Sets a key on every member and returns once this member has handled the update: its
    /// own reads then see it (if it serves).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The new value.
    /// - Throws: What ``CPG/CPGChannel/sendConfirmed(_:)`` throws.
    public func set(_ key: String, to value: String) async throws {
        try await self.submit(.set(key: key, value: value))
    }

    /// Removes a key on every member and returns once this member has handled the update.
    ///
    /// - Parameter key: The key.
    /// - Throws: What ``CPG/CPGChannel/sendConfirmed(_:)`` throws.
    public func delete(_ key: String) async throws {
        try await self.submit(.delete(key: key))
    }

    private func submit(_ update: KVUpdate) async throws {
        let index = try await self.channel.sendConfirmed(.update(update))
        // Delivered to the group's buffer; wait until the reader has handled it too.
        if index > self.handledIndex, !self.stopped {
            await withCheckedContinuation { self.indexWaiters.append((index, $0)) }
        }
    }

    // MARK: Waiting and watching

    /// Returns once the store serves (or has stopped).
    public func waitUntilServing() async {
        _ = await self.waitUntil { $0.isServing || $0.isStopped }
    }

    /// Returns the first status (the current one included) that satisfies `predicate`, or the
    /// final status if the store stops first.
    ///
    /// - Parameter predicate: The condition, checked after every event the store handles.
    /// - Returns: The status that satisfied it (or the final one).
    @discardableResult
    public func waitUntil(_ predicate: @escaping @Sendable (Status) -> Bool) async -> Status {
        let status = self.status
        if predicate(status) { return status }
        return await withCheckedContinuation { self.statusWaiters.append((predicate, $0)) }
    }

    /// Leaves the group and stops. Idempotent.
    public func close() async {
        try? await self.channel.leave()
        await self.channel.close()
        self.stop(error: nil)
    }

    // MARK: Events

    private func handle(_ event: CPGChannelEvent<KVMessage>) {
        let outputs: [KVReplica.Output]
        switch event {
        case .message(let message):
            outputs = self.replica.delivered(message.value, from: message.sender)
            self.handledIndex = message.deliveryIndex
        case .undecodable(let failure):
            self.logger.warning("ignoring a message that is not the store's", metadata: ["kv.failure": "\(failure)"])
            self.handledIndex = failure.deliveryIndex
            outputs = []
        case .membership(let change):
            outputs = self.replica.membershipChanged(members: change.members, joined: change.joined.map(\.member))
        case .disconnected(let error):
            self.logger.warning("lost corosync; dropping the state until reconnected", metadata: ["kv.error": "\(error)"])
            outputs = self.replica.disconnected()
        case .ring, .reconnected:
            outputs = []
        }
        for output in outputs {
            switch output {
            case .send(let message):
                self.outgoing.yield(message)
            case .roundStarted:
                self.logger.info("state transfer round started", metadata: ["kv.members": "\(self.replica.members)"])
                self.publish(.syncing(members: self.replica.members))
            case .viewChanged:
                self.publish(.membersChanged(self.replica.members))
            case .applied(let update, let sender):
                self.publish(.applied(update, from: sender))
            case .installed(let source):
                self.logger.info("serving", metadata: ["kv.source": "\(source.map(\.description) ?? "empty")"])
                self.publish(.serving(source: source, entries: self.replica.entries))
            case .stateDropped:
                self.publish(.disconnected)
            }
        }
        self.resumeWaiters()
    }

    private func publish(_ change: Change) {
        self.observer?(change)
    }

    private func resumeWaiters() {
        let handled = self.handledIndex
        let ready = self.indexWaiters.filter { $0.index <= handled || self.stopped }
        self.indexWaiters.removeAll { $0.index <= handled || self.stopped }
        for waiter in ready { waiter.continuation.resume() }

        guard !self.statusWaiters.isEmpty else { return }
        let status = self.status
        var waiting: [(predicate: @Sendable (Status) -> Bool, continuation: CheckedContinuation<Status, Never>)] = []
        for waiter in self.statusWaiters {
            if waiter.predicate(status) {
                waiter.continuation.resume(returning: status)
            } else {
                waiting.append(waiter)
            }
        }
        self.statusWaiters = waiting
    }

    private func stop(error: (any Error)?) {
        guard !self.stopped else { return }
        self.stopped = true
        self.outgoing.finish()
        self.reader?.cancel()
        self.publish(.stopped(error: error.map { "\($0)" }))
        self.resumeWaiters()
        // Waiters whose condition a stopped store can never meet get its final status.
        let status = self.status
        for waiter in self.statusWaiters { waiter.continuation.resume(returning: status) }
        self.statusWaiters.removeAll()
    }
}
