#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Turns a ``CPGChannel``'s messages into bytes and back.
///
/// A channel encodes every message it sends with ``encode(_:)`` and decodes every payload it
/// delivers with ``decode(_:)``. Every member of a group must use the same coder (or coders
/// that agree on the format): the bytes are all a receiver gets.
///
/// ``CPGJSONMessageCoder`` is the default for `Codable` messages. Write your own for another
/// format (Protocol Buffers, a hand-made binary layout, a versioned envelope):
///
/// ```swift
/// struct TextCoder: CPGMessageCoder {
///     struct NotUTF8: Error {}
///     func encode(_ message: String) throws -> [UInt8] { Array(message.utf8) }
///     func decode(_ payload: [UInt8]) throws -> String {
///         guard let text = String(validating: payload, as: UTF8.self) else { throw NotUTF8() }
///         return text
///     }
/// }
/// let channel = try await CPGChannel.join("chat", coder: TextCoder())
/// ```
///
/// A coder is called from whatever task sends or iterates, possibly from several at once, so it
/// must be `Sendable` and must not rely on mutable shared state.
public protocol CPGMessageCoder<Message>: Sendable {
    /// The type of the messages this coder encodes and decodes.
    associatedtype Message: Sendable

    /// Encodes a message into the payload sent to the group.
    ///
    /// - Parameter message: The message to send.
    /// - Returns: The bytes every member receives.
    /// - Throws: Any error that says why the message cannot be encoded; the channel then sends
    ///   nothing and rethrows it.
    func encode(_ message: Message) throws -> [UInt8]

    /// Decodes a delivered payload into a message.
    ///
    /// - Parameter payload: The bytes exactly as the sender sent them.
    /// - Returns: The message.
    /// - Throws: Any error that says why the bytes are not a message; the channel then delivers
    ///   a ``CPGMessageDecodingError`` in the message's place and goes on.
    func decode(_ payload: [UInt8]) throws -> Message
}

/// The default coder of a ``CPGChannel`` whose messages are `Codable`: JSON, through Foundation's
/// `JSONEncoder` and `JSONDecoder`.
///
/// JSON is easy to read in a packet capture and to produce from other languages, and it
/// tolerates added optional fields, which helps a rolling upgrade. It is neither the smallest
/// nor the fastest format: plug in your own ``CPGMessageCoder`` when that matters.
public struct CPGJSONMessageCoder<Message: Codable & Sendable>: CPGMessageCoder {
    private let makeEncoder: @Sendable () -> JSONEncoder
    private let makeDecoder: @Sendable () -> JSONDecoder

    /// Creates a coder with Foundation's default JSON settings.
    public init() {
        self.makeEncoder = { JSONEncoder() }
        self.makeDecoder = { JSONDecoder() }
    }

    /// Creates a coder with custom JSON settings (date and key strategies, output formatting).
    ///
    /// The closures run for every message, so each encode and decode gets an encoder or decoder
    /// of its own and no configured instance is shared between tasks.
    ///
    /// - Parameters:
    ///   - makeEncoder: Makes the `JSONEncoder` for one message.
    ///   - makeDecoder: Makes the `JSONDecoder` for one payload.
    public init(
        makeEncoder: @escaping @Sendable () -> JSONEncoder,
        makeDecoder: @escaping @Sendable () -> JSONDecoder
    ) {
        self.makeEncoder = makeEncoder
        self.makeDecoder = makeDecoder
    }

    /// Encodes the message as JSON.
    ///
    /// - Throws: `EncodingError` when the message cannot be represented in JSON.
    public func encode(_ message: Message) throws -> [UInt8] {
        Array(try self.makeEncoder().encode(message))
    }

    /// Decodes a JSON payload.
    ///
    /// - Throws: `DecodingError` when the bytes are not JSON, or not JSON of `Message`'s shape.
    public func decode(_ payload: [UInt8]) throws -> Message {
        try self.makeDecoder().decode(Message.self, from: Data(payload))
    }
}

/// A delivered message whose payload the channel's coder could not decode.
///
/// A ``CPGChannel`` delivers it in the message's place (``CPGChannelEvent/undecodable(_:)``)
/// and goes on with the next event: one member that sends garbage, or a newer version's
/// message an older member does not understand, does not end anyone's event sequence. The
/// message still has its place in the total order; every member that uses the same coder
/// meets the same failure at the same place.
///
/// It is an `Error`, so a consumer that cannot go on without every message can simply throw it.
public struct CPGMessageDecodingError: Error, Sendable, CustomStringConvertible {
    /// The message as delivered: its sender, its raw bytes and its delivery index.
    public var message: CPGMessage
    /// The error the coder threw.
    public var underlyingError: any Error

    /// Creates a decoding failure.
    ///
    /// - Parameters:
    ///   - message: The delivered message that did not decode.
    ///   - underlyingError: What the coder threw.
    public init(message: CPGMessage, underlyingError: any Error) {
        self.message = message
        self.underlyingError = underlyingError
    }

    /// The member that sent the message.
    public var sender: CPGMember { self.message.sender }

    /// The message's bytes, exactly as sent.
    public var payload: [UInt8] { self.message.payload }

    /// The message's position in this member's delivery order.
    public var deliveryIndex: UInt64 { self.message.deliveryIndex }

    /// For example: `message 7 from 1:4242 (3 bytes: ff 00 7b) does not decode: <the coder's error>`.
    /// At most the first 32 bytes are shown.
    public var description: String {
        let shown = self.payload.prefix(32).map { byte in
            (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
        }
        let bytes = shown.joined(separator: " ") + (self.payload.count > 32 ? " …" : "")
        let noun = self.payload.count == 1 ? "byte" : "bytes"
        return "message \(self.deliveryIndex) from \(self.sender) (\(self.payload.count) \(noun)"
            + (self.payload.isEmpty ? "" : ": \(bytes)") + ") does not decode: \(self.underlyingError)"
    }
}
