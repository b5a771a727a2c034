import Foundation
import Glibc

/// Where a child's standard output or standard error goes.
enum OutputTarget: Sendable {
    /// Discarded (`/dev/null`).
    case null
    /// Appended to the file at this path (created if needed).
    case file(String)
    /// Sent through a socket pair to this process; read with ``PipeReader``.
    case capture
}

/// A child process started with `posix_spawnp`, and the thread that waits for it.
///
/// The process is reaped by a dedicated thread. Signals are only sent while
/// the process has not been reaped, so a signal can never hit an unrelated
/// process that reused the pid.
final class SpawnedProcess: Sendable {
    /// The child's pid.
    let pid: pid_t
    /// The command line it was started with.
    let arguments: [String]
    /// Our end of the child's standard output, if it was captured.
    let standardOutput: Int32?
    /// Our end of the child's standard error, if it was captured.
    let standardError: Int32?

    private let reaped = Locked(false)
    private let termination = OneShot<ProcessTermination>()

    private init(pid: pid_t, arguments: [String], standardOutput: Int32?, standardError: Int32?) {
        self.pid = pid
        self.arguments = arguments
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// Spawns `arguments` (looked up on `PATH`) with standard input from `/dev/null`.
    ///
    /// The child gets default signal dispositions, an empty signal mask and a
    /// process group of its own.
    static func spawn(
        _ arguments: [String],
        standardOutput: OutputTarget,
        standardError: OutputTarget
    ) async throws -> SpawnedProcess {
        precondition(!arguments.isEmpty, "a command needs at least a program name")
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let spawned = try await SpawnThread.shared.perform {
            try posixSpawn(arguments, environment: environment, standardOutput: standardOutput, standardError: standardError)
        }
        let process = SpawnedProcess(
            pid: spawned.pid, arguments: arguments,
            standardOutput: spawned.standardOutput, standardError: spawned.standardError)
        process.startReaper()
        return process
    }

    /// Waits until the process has ended and been reaped.
    var terminated: ProcessTermination {
        get async { await termination.value }
    }

    /// How the process ended, or `nil` while it runs.
    var currentTermination: ProcessTermination? {
        termination.current
    }

    /// Sends `signal` to the process (or to its whole process group) unless it was reaped already.
    ///
    /// - Returns: `true` if the signal was sent.
    @discardableResult
    func send(_ signal: Int32, toGroup: Bool = false) -> Bool {
        reaped.withLock { reaped in
            guard !reaped else { return false }
            return kill(toGroup ? -pid : pid, signal) == 0
        }
    }

    private func startReaper() {
        let thread = Thread { [self] in
            // Wait without reaping first, so that `send` can never signal a recycled pid.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
            let status: Int32 = reaped.withLock { reaped in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                reaped = true
                return status
            }
            termination.fulfill(ProcessTermination(waitStatus: status))
        }
        thread.name = "CPGTesting.reaper.\(pid)"
        thread.start()
    }

    private struct Spawned: Sendable {
        var pid: pid_t
        var standardOutput: Int32?
        var standardError: Int32?
    }

    /// Runs on the spawn thread.
    private static func posixSpawn(
        _ arguments: [String],
        environment: [String],
        standardOutput: OutputTarget,
        standardError: OutputTarget
    ) throws -> Spawned {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var ourEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer { childEnds.forEach { _ = close($0) } }

        func route(_ target: OutputTarget, to descriptor: Int32) throws -> Int32? {
            switch target {
            case .null:
                posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
                return nil
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                return nil
            case .capture:
                // SOCK_CLOEXEC: no other child can inherit these ends by accident.
                var pair: [Int32] = [-1, -1]
                let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                guard socketpair(AF_UNIX, type, 0, &pair) == 0 else {
                    throw ShellError.launchFailed(arguments: arguments, errno: errno)
                }
                ourEnds.append(pair[0])
                childEnds.append(pair[1])
                shutdown(pair[0], Int32(SHUT_WR))
                // dup2 clears close-on-exec on the child's copy.
                posix_spawn_file_actions_adddup2(&actions, pair[1], descriptor)
                return pair[0]
            }
        }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let out: Int32?
        let err: Int32?
        do {
            out = try route(standardOutput, to: 1)
            err = try route(standardError, to: 2)
        } catch {
            ourEnds.forEach { _ = close($0) }
            throw error
        }

        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            ourEnds.forEach { _ = close($0) }
            throw ShellError.launchFailed(arguments: arguments, errno: result)
        }
        return Spawned(pid: pid, standardOutput: out, standardError: err)
    }
}
