import Logging

/// A typed view of a ``CPGGroup``: send values of `Message`, receive them decoded, in the same
/// total order and with the same membership changes as the group's own ``CPGGroup/events``.
///
/// ```swift
/// enum Command: Codable, Sendable {
///     case set(key: String, value: String)
///     case delete(key: String)
/// }
///
/// let channel = try await CPGChannel<Command>.join("config")   // JSON, the default coder
/// let events = channel.events
/// try await channel.send(.set(key: "mode", value: "active"))
/// for try await event in events {
///     switch event {
///     case .message(let delivered): apply(delivered.value, from: delivered.sender)
///     case .undecodable(let failure): logger.warning("\(failure)")   // and go on
///     case .membership(let change): print("members:", change.members)
///     case .ring, .disconnected, .reconnected: break
///     }
/// }
/// ```
///
/// A channel is a small value: the group it wraps and a ``CPGMessageCoder``. ``send(_:)``
/// encodes with the coder and sends the bytes through the group; ``events`` and ``messages``
/// decode each delivered payload. A payload that does not decode (garbage, a message of another
/// version, raw bytes sent through ``group``) becomes a ``CPGMessageDecodingError`` at the
/// message's place in the order, and the sequence goes on.
///
/// Everything else is the group's: ``group`` is the underlying ``CPGGroup`` for membership
/// queries, raw sends, metrics and leaving. Copies of a channel share the one group.
public struct CPGChannel<Message: Sendable>: Sendable {
    /// The group the channel sends through and receives from.
    public let group: CPGGroup
    /// The coder that encodes sent messages and decodes delivered payloads.
    public let coder: any CPGMessageCoder<Message>

    /// Wraps a group that is already joined.
    ///
    /// - Parameters:
    ///   - group: The joined group; the channel shares it with anyone else who holds it.
    ///   - coder: How messages become bytes and back; every member must use a compatible one.
    public init(group: CPGGroup, coder: some CPGMessageCoder<Message>) {
        self.group = group
        self.coder = coder
    }

    /// Joins a group and wraps it in a channel.
    ///
    /// - Parameters:
    ///   - name: The group's name.
    ///   - coder: How messages become bytes and back.
    ///   - configuration: How the underlying group behaves.
    ///   - logger: Where the group logs.
    /// - Returns: A channel over the newly joined group.
    /// - Throws: What ``CPGGroup/join(_:configuration:logger:)-(CPGGroupName,_,_)`` throws.
    public static func join(
        _ name: CPGGroupName,
        coder: some CPGMessageCoder<Message>,
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger
    ) async throws(CPGError) -> CPGChannel {
        let group = try await CPGGroup.join(name, configuration: configuration, logger: logger)
        return CPGChannel(group: group, coder: coder)
    }

    /// Joins a group by name (its UTF-8 bytes, no NUL terminator) and wraps it in a channel.
    ///
    /// - Parameters:
    ///   - name: The group's name.
    ///   - coder: How messages become bytes and back.
    ///   - configuration: How the underlying group behaves.
    ///   - logger: Where the group logs.
    /// - Returns: A channel over the newly joined group.
    /// - Throws: What ``CPGGroup/join(_:configuration:logger:)-(String,_,_)`` throws.
    public static func join(
        _ name: String,
        coder: some CPGMessageCoder<Message>,
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger
    ) async throws(CPGError) -> CPGChannel {
        try await self.join(CPGGroupName(name), coder: coder, configuration: configuration, logger: logger)
    }

    /// This process as a member of the group.
    public var localMember: CPGMember { self.group.localMember }

    // MARK: Sending

    /// Encodes a message and sends it to every member, in the group's total order.
    ///
    /// Returns when corosync has accepted the message, as ``CPGGroup/send(_:)-([UInt8])``
    /// does; messages sent one after another from one task are delivered in that order.
    ///
    /// - Parameter message: The message.
    /// - Throws: The coder's error when the message does not encode (nothing is sent), and
    ///   everything ``CPGGroup/send(_:)-([UInt8])`` throws.
    public nonisolated(nonsending) func send(_ message: Message) async throws {
        let payload = try self.coder.encode(message)
        try await self.group.send(payload)
    }

    /// Encodes a message, sends it, and returns once it has been delivered back to this member.
    ///
    /// - Parameter message: The message.
    /// - Returns: The message's ``CPGMessage/deliveryIndex`` in this member's delivery order: the
    ///   same index its ``CPGDecodedMessage/deliveryIndex`` shows in ``events``.
    /// - Throws: The coder's error when the message does not encode (nothing is sent), and
    ///   everything ``CPGGroup/sendConfirmed(_:)`` throws.
    public func sendConfirmed(_ message: Message) async throws -> UInt64 {
        let payload = try self.coder.encode(message)
        return try await self.group.sendConfirmed(payload)
    }

    // MARK: Receiving

    /// Every event of the group, in order, with messages decoded.
    ///
    /// Each access is a new subscription of the underlying group, with the same rules as
    /// ``CPGGroup/events``: it starts at the oldest event the group still holds, is iterated
    /// once, and holds the group back while it lags behind a full buffer. Decoding runs in the
    /// iterating task, once per subscription.
    public var events: CPGChannelSequence<CPGChannelEvent<Message>> {
        let coder = self.coder
        return CPGChannelSequence(self.group.events) { event in
            switch event {
            case .message(let message):
                switch Self.decode(message, with: coder) {
                case .success(let decoded): .message(decoded)
                case .failure(let failure): .undecodable(failure)
                }
            case .membership(let change): .membership(change)
            case .ring(let change): .ring(change)
            case .disconnected(let error): .disconnected(error)
            case .reconnected: .reconnected
            }
        }
    }

    /// The messages delivered to this member, in total order: each one decoded, or the
    /// ``CPGMessageDecodingError`` that says why it does not decode.
    ///
    /// A subscription like ``events``, that skips every event but messages.
    public var messages: CPGChannelSequence<Result<CPGDecodedMessage<Message>, CPGMessageDecodingError>> {
        let coder = self.coder
        return CPGChannelSequence(self.group.events) { event in
            guard case .message(let message) = event else { return nil }
            return Self.decode(message, with: coder)
        }
    }

    /// Decodes one delivered message with `coder`.
    private static func decode(
        _ message: CPGMessage,
        with coder: any CPGMessageCoder<Message>
    ) -> Result<CPGDecodedMessage<Message>, CPGMessageDecodingError> {
        do {
            let value = try coder.decode(message.payload)
            return .success(CPGDecodedMessage(sender: message.sender, value: value, deliveryIndex: message.deliveryIndex))
        } catch {
            return .failure(CPGMessageDecodingError(message: message, underlyingError: error))
        }
    }

    // MARK: Membership and leaving

    /// The group's current members; see ``CPGGroup/members()``.
    ///
    /// - Returns: The members on every node, as this node's corosync knows them.
    /// - Throws: What ``CPGGroup/members()`` throws.
    public func members() async throws(CPGError) -> [CPGMember] {
        try await self.group.members()
    }

    /// Leaves the group; see ``CPGGroup/leave()``. The event sequences end after this member's
    /// own departure.
    ///
    /// - Throws: What ``CPGGroup/leave()`` throws.
    public func leave() async throws(CPGError) {
        try await self.group.leave()
    }

    /// Closes the connection without leaving; see ``CPGGroup/close()``.
    public func close() async {
        await self.group.close()
    }
}

extension CPGChannel where Message: Codable {
    /// Wraps a joined group in a channel that encodes messages as JSON
    /// (``CPGJSONMessageCoder``).
    ///
    /// - Parameter group: The joined group.
    public init(group: CPGGroup) {
        self.init(group: group, coder: CPGJSONMessageCoder<Message>())
    }

    /// Joins a group and wraps it in a channel that encodes messages as JSON
    /// (``CPGJSONMessageCoder``).
    ///
    /// - Parameters:
    ///   - name: The group's name.
    ///   - configuration: How the underlying group behaves.
    ///   - logger: Where the group logs.
    /// - Returns: A channel over the newly joined group.
    /// - Throws: What ``CPGGroup/join(_:configuration:logger:)-(CPGGroupName,_,_)`` throws.
    public static func join(
        _ name: CPGGroupName,
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger
    ) async throws(CPGError) -> CPGChannel {
        try await self.join(name, coder: CPGJSONMessageCoder<Message>(), configuration: configuration, logger: logger)
    }

    /// Joins a group by name and wraps it in a channel that encodes messages as JSON
    /// (``CPGJSONMessageCoder``).
    ///
    /// - Parameters:
    ///   - name: The group's name (its UTF-8 bytes, no NUL terminator).
    ///   - configuration: How the underlying group behaves.
    ///   - logger: Where the group logs.
    /// - Returns: A channel over the newly joined group.
    /// - Throws: What ``CPGGroup/join(_:configuration:logger:)-(String,_,_)`` throws.
    public static func join(
        _ name: String,
        configuration: CPGConfiguration = CPGConfiguration(),
        logger: Logger = CPGGroup.silentLogger
    ) async throws(CPGError) -> CPGChannel {
        try await self.join(
            CPGGroupName(name),
            coder: CPGJSONMessageCoder<Message>(),
            configuration: configuration,
            logger: logger
        )
    }
}

/// One event of a ``CPGChannel``: a decoded message, a message that did not decode, or one of
/// the group's other events passed through (see ``CPGEvent``).
public enum CPGChannelEvent<Message: Sendable>: Sendable {
    /// A message delivered in total order and decoded.
    case message(CPGDecodedMessage<Message>)
    /// A message delivered in total order whose payload the coder could not decode; the channel
    /// goes on with the next event.
    case undecodable(CPGMessageDecodingError)
    /// The group's membership changed.
    case membership(CPGMembershipChange)
    /// The totem ring changed.
    case ring(CPGRingChange)
    /// The connection to corosync was lost and a supervised reconnect began (only with
    /// ``CPGConfiguration/reconnect``); see ``CPGEvent/disconnected(_:)``.
    case disconnected(CPGError)
    /// The supervised reconnect succeeded; the membership change that follows is the new view.
    /// See ``CPGEvent/reconnected``.
    case reconnected
}

/// A message delivered through a ``CPGChannel``, decoded.
public struct CPGDecodedMessage<Message: Sendable>: Sendable {
    /// The member that sent it.
    public var sender: CPGMember
    /// The decoded message.
    public var value: Message
    /// The message's position in this member's delivery order (see ``CPGMessage/deliveryIndex``).
    public var deliveryIndex: UInt64

    /// Creates a decoded message.
    ///
    /// - Parameters:
    ///   - sender: The member that sent it.
    ///   - value: The decoded message.
    ///   - deliveryIndex: Its position in this member's delivery order.
    public init(sender: CPGMember, value: Message, deliveryIndex: UInt64) {
        self.sender = sender
        self.value = value
        self.deliveryIndex = deliveryIndex
    }
}

extension CPGDecodedMessage: Equatable where Message: Equatable {}
extension CPGDecodedMessage: Hashable where Message: Hashable {}

/// An ordered sequence of a ``CPGChannel``'s events or messages: one subscription of the
/// underlying group (see ``CPGEventSequence``), with each payload decoded.
///
/// Iterate it once. It ends when the group is left or closed, and throws ``CPGError`` when the
/// connection to corosync is lost; a payload that does not decode does not end it.
public struct CPGChannelSequence<Element: Sendable>: AsyncSequence, Sendable {
    /// The error that ends the sequence: the group's.
    public typealias Failure = CPGError

    let base: CPGEventSequence<CPGEvent>
    let transform: @Sendable (CPGEvent) -> Element?

    init(_ base: CPGEventSequence<CPGEvent>, transform: @escaping @Sendable (CPGEvent) -> Element?) {
        self.base = base
        self.transform = transform
    }

    /// Creates the iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.base.makeAsyncIterator(), transform: self.transform)
    }

    /// Iterates a ``CPGChannelSequence``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: CPGEventSequence<CPGEvent>.AsyncIterator
        let transform: @Sendable (CPGEvent) -> Element?

        /// The next element, `nil` at the end, or the error that ended the group.
        public mutating func next() async throws(CPGError) -> Element? {
            while let event = try await self.base.next() {
                if let element = self.transform(event) { return element }
            }
            return nil
        }

        /// The next element, `nil` at the end, or the error that ended the group.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(CPGError) -> Element? {
            while let event = try await self.base.next(isolation: actor) {
                if let element = self.transform(event) { return element }
            }
            return nil
        }
    }
}
