import Foundation
import Synchronization

/// A child process of the test whose stdout is read line by line.
///
/// Test support only: the lines are kept in memory (a child prints a bounded number of them).
final class PeerProcess: Sendable {
    private let process: Process
    private let state = Mutex<(lines: [String], partial: [UInt8], waiters: [(Int, CheckedContinuation<String?, Never>)], ended: Bool)>(([], [], [], false))

    /// The directory of the built products (next to the test bundle).
    static let productsDirectory: URL = {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent()
    }()

    /// Starts a product built by `swift build` (for example `cpg-c-peer`).
    init(product: String, _ arguments: [String]) throws {
        self.process = Process()
        self.process.executableURL = Self.productsDirectory.appendingPathComponent(product)
        self.process.arguments = arguments
        let output = Pipe()
        self.process.standardOutput = output
        self.process.standardError = FileHandle.standardError
        try self.process.run()
        // A blocking reader on a thread of its own: a readabilityHandler sometimes never saw the
        // end of the output when the child printed its last lines and exited at once.
        let reader = output.fileHandleForReading
        DispatchQueue(label: "PeerProcess.read").async { [weak self] in
            while true {
                let data = reader.availableData
                guard let self else { return }
                self.received(Array(data))
                if data.isEmpty { return }
            }
        }
    }

    private func received(_ bytes: [UInt8]) {
        let resumed: [(CheckedContinuation<String?, Never>, String?)] = self.state.withLock { state in
            if bytes.isEmpty {
                state.ended = true
            } else {
                state.partial += bytes
                while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                    state.lines.append(String(decoding: state.partial[..<newline], as: UTF8.self))
                    state.partial.removeSubrange(...newline)
                }
            }
            var ready: [(CheckedContinuation<String?, Never>, String?)] = []
            state.waiters.removeAll { index, continuation in
                if index < state.lines.count {
                    ready.append((continuation, state.lines[index]))
                    return true
                }
                if state.ended {
                    ready.append((continuation, nil))
                    return true
                }
                return false
            }
            return ready
        }
        for (continuation, line) in resumed { continuation.resume(returning: line) }
    }

    /// The line at `index` (0-based) once printed, or nil if the output ended first.
    func line(_ index: Int) async -> String? {
        await withCheckedContinuation { continuation in
            let ready: String?? = self.state.withLock { state in
                if index < state.lines.count { return .some(state.lines[index]) }
                if state.ended { return .some(nil) }
                state.waiters.append((index, continuation))
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Reads lines from `start` until one satisfies `predicate`; answers its index and text.
    func firstLine(from start: Int = 0, where predicate: (String) -> Bool) async -> (Int, String)? {
        var index = start
        while let line = await self.line(index) {
            if predicate(line) { return (index, line) }
            index += 1
        }
        return nil
    }

    /// Every line printed, once the output has ended.
    func allLines() async -> [String] {
        var lines: [String] = []
        while let line = await self.line(lines.count) { lines.append(line) }
        return lines
    }

    var pid: Int32 { self.process.processIdentifier }

    func kill(_ signal: Int32) {
        Foundation.kill(self.process.processIdentifier, signal)
    }

    /// Waits for the process to exit (off the cooperative pool) and answers its status.
    func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            // A serial queue of its own gets a thread of its own: blocking the few threads of the
            // global queue starves Foundation's pipe and termination handling.
            DispatchQueue(label: "PeerProcess.wait").async {
                self.process.waitUntilExit()
                continuation.resume(returning: self.process.terminationStatus)
            }
        }
    }
}

/// Parses a `cpg-c-peer` message line's payload.
func peerMessagePayload(_ line: String) -> (nodeID: UInt32, pid: UInt32, payload: [UInt8])? {
    guard line.hasPrefix("message ") else { return nil }
    var fields: [Substring: Substring] = [:]
    for field in line.split(separator: " ").dropFirst() {
        let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    guard let node = fields["nodeid"].flatMap({ UInt32($0) }), let pid = fields["pid"].flatMap({ UInt32($0) }),
        let hex = fields["data"]
    else { return nil }
    var payload: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        payload.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return (node, pid, payload)
}
