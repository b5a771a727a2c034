import CPG
import CPGBaseline
import CoreMetrics
import Synchronization

/// What the local corosync spent over a run: its CPU time, and how its totem protocol carried
/// the run's messages (token rotations, multicast packets).
///
/// Corosync shares the machine's cores with the client, and its cost per message depends on the
/// client: a sender that keeps corosync's queue full lets every token rotation carry more
/// messages. The C helper (`cpg_baseline_daemon_counters`) counts for both sides, while a daemon
/// is watched (`cpg_baseline_watch_daemon`).
struct DaemonCost: Sendable {
    var cpuSeconds: Double
    var tokenRotations: Int
    var packets: Int

    /// The daemon fields of C stats; `nil` when no daemon was watched.
    init?(_ stats: cpg_baseline_stats) {
        guard stats.token_rotations > 0 || stats.daemon_cpu_seconds > 0 else { return nil }
        self.cpuSeconds = stats.daemon_cpu_seconds
        self.tokenRotations = Int(stats.token_rotations)
        self.packets = Int(stats.packets_sent)
    }

    /// Watches the corosync of this namespace for `body`'s runs.
    static func watchingLocalDaemon<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async rethrows -> T {
        cpg_baseline_watch_daemon(corosyncPIDsInThisNamespace().first ?? 0)
        defer { cpg_baseline_watch_daemon(0) }
        return try await body()
    }

    /// Counts a span on the Swift side: ``begin()`` at its start, ``end()`` at its end.
    struct Span {
        private var stats = cpg_baseline_stats()

        static func begin() -> Span {
            var span = Span()
            cpg_baseline_daemon_counters(&span.stats, -1)
            return span
        }

        mutating func end() -> DaemonCost? {
            cpg_baseline_daemon_counters(&self.stats, 1)
            return DaemonCost(self.stats)
        }
    }
}

/// A metrics factory that counts one thing: the sends that waited for corosync's flow control
/// (``CPGMetricLabel/flowControlWaits``). Everything else goes nowhere, as with the default.
final class PushBackCounter: MetricsFactory {
    private let counter = CountingHandler()

    /// Sends that waited so far.
    var count: Int { Int(self.counter.value.load(ordering: .relaxed)) }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        label == CPGMetricLabel.flowControlWaits ? self.counter : NOOPMetricsHandler.instance
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        label == CPGMetricLabel.flowControlWaitDuration ? self.waits : NOOPMetricsHandler.instance
    }

    /// How long the sends that waited waited, in all and at most (nanoseconds).
    var waited: (total: Int64, longest: Int64) {
        (self.waits.total.load(ordering: .relaxed), self.waits.longest.load(ordering: .relaxed))
    }

    private let waits = WaitTimer()

    private final class WaitTimer: TimerHandler {
        let total = Atomic<Int64>(0)
        let longest = Atomic<Int64>(0)

        func recordNanoseconds(_ duration: Int64) {
            self.total.wrappingAdd(duration, ordering: .relaxed)
            self.longest.max(duration, ordering: .relaxed)
        }
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    private final class CountingHandler: CounterHandler {
        let value = Atomic<Int64>(0)

        func increment(by amount: Int64) {
            self.value.wrappingAdd(amount, ordering: .relaxed)
        }

        func reset() {
            self.value.store(0, ordering: .relaxed)
        }
    }
}
