import Foundation

/// Runs short commands to completion, with a time limit, capturing their output.
///
/// Nothing goes through `/bin/sh`: the first element of the argument list is
/// the program (looked up on `PATH`), the rest are its arguments, passed as is.
public enum Shell {
    /// Runs a command and returns what it printed, whatever its exit status.
    ///
    /// If the calling task is cancelled, the command is killed and
    /// `CancellationError` is thrown.
    ///
    /// - Parameters:
    ///   - arguments: The program and its arguments.
    ///   - timeout: How long the command may run; then it is killed with `SIGKILL`.
    /// - Throws: ``ShellError/launchFailed(arguments:errno:)``,
    ///   ``ShellError/timedOut(arguments:after:)`` or `CancellationError`.
    public static func run(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> ShellResult {
        let process = try await SpawnedProcess.spawn(arguments, standardOutput: .capture, standardError: .capture)
        let output = Locked<(out: [UInt8], err: [UInt8])>(([], []))
        let drained = OneShot<Void>()
        PipeReader.start(
            standardOutput: process.standardOutput,
            standardError: process.standardError,
            name: "CPGTesting.shell.\(process.pid)",
            onChunk: { stream, bytes in
                output.withLock { output in
                    switch stream {
                    case .standardOutput: output.out += bytes
                    case .standardError: output.err += bytes
                    }
                }
            },
            onEnd: { drained.fulfill(()) }
        )

        enum Outcome: Sendable {
            case finished(ProcessTermination)
            case timedOut
            case cancelled
        }
        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask { .finished(await process.terminated) }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            if case .finished = first {
                group.cancelAll()
            } else {
                // The waiting child task only ends once the process is gone.
                process.send(SIGKILL, toGroup: true)
                process.send(SIGKILL)
            }
            return first
        }
        await drained.value

        switch outcome {
        case .finished(let termination):
            let (out, err) = output.withLock { ($0.out, $0.err) }
            return ShellResult(
                arguments: arguments,
                termination: termination,
                standardOutput: String(decoding: out, as: UTF8.self),
                standardError: String(decoding: err, as: UTF8.self))
        case .timedOut:
            throw ShellError.timedOut(arguments: arguments, after: timeout)
        case .cancelled:
            throw CancellationError()
        }
    }

    /// Runs a command and returns what it printed; throws unless it exited with status 0.
    ///
    /// - Throws: everything ``run(_:timeout:)`` throws, and ``ShellError/failed(_:)``.
    @discardableResult
    public static func check(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> ShellResult {
        let result = try await run(arguments, timeout: timeout)
        guard result.succeeded else {
            throw ShellError.failed(result)
        }
        return result
    }
}
