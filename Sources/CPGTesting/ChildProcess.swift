import Foundation
import Glibc

/// A long-running child process whose standard output is read line by line.
///
/// Get one from ``LocalCluster/run(_:onNode:)`` (a process inside a node's
/// network namespace) or from ``ChildProcess/spawn(_:)`` (a process in the
/// current namespace). Read what it prints with ``lines``, send it signals
/// with ``signal(_:)``, ``terminate()`` and ``kill()``, and wait for it with
/// ``waitForExit()``.
///
/// ```swift
/// let peer = try await cluster.run(["cpg-c-peer", "demo"], onNode: cluster.nodes[0])
/// for await line in peer.lines where line.hasPrefix("ready") { break }
/// peer.kill()
/// let termination = await peer.waitForExit()   // .signaled(SIGKILL)
/// ```
public final class ChildProcess: Sendable {
    /// The command line the process was started with.
    public let arguments: [String]

    /// The standard output of the process, one element per line, without the line end.
    ///
    /// The sequence ends when the process (and every process that inherited its
    /// standard output) has closed it. Lines are buffered without limit until
    /// read. It is meant to be iterated by one task at a time.
    public let lines: AsyncStream<String>

    private let process: SpawnedProcess
    private let errorText = Locked<[UInt8]>([])
    private static let errorTextLimit = 65_536

    /// The process id.
    public var processID: Int32 {
        process.pid
    }

    /// The last 64 KiB the process wrote to standard error so far.
    public var standardError: String {
        String(decoding: errorText.withLock { $0 }, as: UTF8.self)
    }

    /// How the process ended, or `nil` while it is running.
    public var termination: ProcessTermination? {
        process.currentTermination
    }

    init(process: SpawnedProcess) {
        self.arguments = process.arguments
        self.process = process
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .unbounded)
        self.lines = stream
        let pending = Locked<[UInt8]>([])
        let errorText = self.errorText
        PipeReader.start(
            standardOutput: process.standardOutput,
            standardError: process.standardError,
            name: "CPGTesting.child.\(process.pid)",
            onChunk: { stream, bytes in
                switch stream {
                case .standardOutput:
                    let complete: [String] = pending.withLock { pending in
                        pending += bytes
                        var lines: [String] = []
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                            pending.removeSubrange(...newline)
                        }
                        return lines
                    }
                    for line in complete {
                        continuation.yield(line)
                    }
                case .standardError:
                    errorText.withLock { text in
                        text += bytes
                        if text.count > Self.errorTextLimit {
                            text.removeFirst(text.count - Self.errorTextLimit)
                        }
                    }
                }
            },
            onEnd: {
                let rest = pending.withLock { pending in
                    defer { pending.removeAll() }
                    return pending
                }
                if !rest.isEmpty {
                    continuation.yield(String(decoding: rest, as: UTF8.self))
                }
                continuation.finish()
            }
        )
    }

    /// Starts a process in the current network namespace.
    ///
    /// Its standard input is `/dev/null`; standard output is readable through
    /// ``lines``, standard error through ``standardError``. The process gets a
    /// process group of its own.
    ///
    /// - Parameter arguments: The program (looked up on `PATH`) and its arguments.
    /// - Throws: ``ShellError/launchFailed(arguments:errno:)``.
    public static func spawn(_ arguments: [String]) async throws -> ChildProcess {
        let process = try await SpawnedProcess.spawn(arguments, standardOutput: .capture, standardError: .capture)
        return ChildProcess(process: process)
    }

    /// Sends a signal to the process, unless it has ended already.
    ///
    /// - Returns: `true` if the signal was sent.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        process.send(signal)
    }

    /// Sends `SIGTERM`.
    public func terminate() {
        process.send(SIGTERM)
    }

    /// Sends `SIGKILL` to the process and to every process in its process group.
    public func kill() {
        process.send(SIGKILL, toGroup: true)
        process.send(SIGKILL)
    }

    /// Waits until the process has ended, and tells how.
    ///
    /// Waiting is not cancellable; cancel by killing the process.
    public func waitForExit() async -> ProcessTermination {
        await process.terminated
    }
}
