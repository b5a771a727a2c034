import CPG
import Foundation
import Glibc
import Testing

/// A group name no other test (or earlier run) uses.
func uniqueGroupName(_ label: String = #function) -> CPGGroupName {
    let clean = label.prefix(40).filter { $0.isLetter || $0.isNumber }
    return try! CPGGroupName("swift-cpg-channel-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
}

extension AsyncSequence {
    /// The first `count` elements (fewer if the sequence ends).
    func first(_ count: Int) async throws -> [Element] {
        var result: [Element] = []
        guard count > 0 else { return result }
        for try await element in self {
            result.append(element)
            if result.count == count { break }
        }
        return result
    }
}

extension CPGChannelEvent {
    /// The event itself when it is a message, decoded or not.
    var deliveredMessage: CPGChannelEvent? {
        switch self {
        case .message, .undecodable: self
        case .membership, .ring, .disconnected, .reconnected: nil
        }
    }
}

extension CPGChannelSequence.AsyncIterator {
    /// Skips to the next decoded message; `nil` if the sequence ends first. Records any
    /// undecodable message as an issue.
    mutating func nextMessage<Message>() async throws -> CPGDecodedMessage<Message>?
    where Element == CPGChannelEvent<Message> {
        while let event = try await self.next() {
            switch event {
            case .message(let message): return message
            case .undecodable(let failure): Issue.record("unexpected: \(failure)")
            case .membership, .ring, .disconnected, .reconnected: continue
            }
        }
        return nil
    }
}

extension Result where Failure == CPGMessageDecodingError {
    /// The delivery index, decoded or not.
    func deliveryIndex<Message>() -> UInt64 where Success == CPGDecodedMessage<Message> {
        switch self {
        case .success(let message): message.deliveryIndex
        case .failure(let failure): failure.deliveryIndex
        }
    }
}

/// A coder of its own: a 4-byte big-endian `Int32`, refusing negative numbers.
struct Int32Coder: CPGMessageCoder {
    struct Negative: Error {}
    struct WrongSize: Error, Equatable {
        var count: Int
    }

    func encode(_ message: Int32) throws -> [UInt8] {
        guard message >= 0 else { throw Negative() }
        return withUnsafeBytes(of: message.bigEndian) { Array($0) }
    }

    func decode(_ payload: [UInt8]) throws -> Int32 {
        guard payload.count == 4 else { throw WrongSize(count: payload.count) }
        return payload.reduce(0) { $0 << 8 | Int32($1) }
    }
}

/// An executable of this package, built next to the test binary (`swift build --build-tests`).
enum BuiltProduct {
    /// The directory the running test executable is in.
    static let directory: URL = {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    }()

    /// The path of the executable `name`.
    ///
    /// - Throws: when it was not built.
    static func path(_ name: String) throws -> String {
        let path = self.directory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw NotBuilt(name: name, directory: self.directory.path)
        }
        return path
    }

    struct NotBuilt: Error, CustomStringConvertible {
        var name: String
        var directory: String
        var description: String { "\(self.name) is not built in \(self.directory); run swift build --build-tests" }
    }
}
