import CPG
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why a command stopped before its work was done.
enum StopReason: Sendable, Equatable, CustomStringConvertible {
    case signal(Int32)
    case timeout(Double)

    var description: String {
        switch self {
        case .signal(SIGINT): "interrupted by SIGINT"
        case .signal(SIGTERM): "terminated by SIGTERM"
        case .signal(let number): "stopped by signal \(number)"
        case .timeout(let seconds): "timed out after \(seconds) s"
        }
    }
}

/// Leaves a joined group from outside the loop that reads its events: on SIGINT or SIGTERM, or
/// when a timeout passes. The loop then reads up to its own leave, sees the end of the stream and
/// finishes as usual, so every exit path leaves the group.
///
/// A stop that comes before the group is attached leaves it as soon as it is. A second signal
/// exits at once with status 130, for a leave that does not come back.
final class GroupStopper: Sendable {
    private struct State {
        var group: CPGGroup?
        var reason: StopReason?
    }

    private let state = Mutex(State())

    /// Why the group was left, if it was stopped.
    var reason: StopReason? {
        self.state.withLock { $0.reason }
    }

    /// Runs `body` with a stopper that watches SIGINT and SIGTERM and, given a timeout, the
    /// clock; the watching ends when `body` returns.
    static func run<Result>(
        timeout seconds: Double?,
        _ body: (GroupStopper) async throws -> Result
    ) async throws -> Result {
        let stopper = GroupStopper()
        let signals = SignalWatch([SIGINT, SIGTERM]) { stopper.stop(.signal($0)) }
        defer { signals.cancel() }
        let timer = seconds.map { seconds in
            Task {
                try await Task.sleep(for: Duration(commandLineSeconds: seconds))
                stopper.stop(.timeout(seconds))
            }
        }
        defer { timer?.cancel() }
        return try await body(stopper)
    }

    /// The group to leave on a stop; leaves it at once if a stop came already.
    func attach(_ group: CPGGroup) {
        let stopped = self.state.withLock { state in
            state.group = group
            return state.reason != nil
        }
        if stopped { Self.leave(group) }
    }

    /// Stops: leaves the attached group, if any. A second signal exits the process.
    func stop(_ reason: StopReason) {
        let (first, group) = self.state.withLock { state -> (Bool, CPGGroup?) in
            guard state.reason == nil else { return (false, nil) }
            state.reason = reason
            return (true, state.group)
        }
        if !first {
            if case .signal = reason { exit(130) }
            return
        }
        if let group { Self.leave(group) }
    }

    private static func leave(_ group: CPGGroup) {
        Task { try? await group.leave() }
    }
}

/// Signal sources for a set of signals, whose default action is switched off while they watch.
private final class SignalWatch {
    private let signals: [Int32]
    private var sources: [any DispatchSourceSignal] = []

    init(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            self.sources.append(source)
        }
    }

    /// Stops watching and restores the signals' default actions.
    func cancel() {
        for source in self.sources { source.cancel() }
        self.sources.removeAll()
        for number in self.signals { signal(number, SIG_DFL) }
    }
}
