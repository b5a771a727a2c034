@testable import CPG
import Logging
import MetricsTestKit
import Synchronization
import Testing

@Suite("Metrics and logging", .timeLimit(.minutes(1)))
struct MetricsAndLoggingTests {
    @Test("sent and delivered messages and bytes, membership changes and flow-control waits are counted")
    func metrics() async throws {
        let metrics = TestMetrics()
        var configuration = CPGConfiguration()
        configuration.metricsFactory = metrics
        configuration.eventBufferCount = 64
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name, configuration: configuration)
        let messages = group.messages
        let dimensions = [("cpg.group", name.description)]
        // Nobody reads at first, so corosync pushes back and sends wait.
        let stop = Flag()
        let sending = Task {
            var sent = 0
            while !stop.isSet {
                try await group.send([UInt8](repeating: 9, count: 65536))
                sent += 1
            }
            return sent
        }
        await group.waitForFlowControl()
        stop.set()
        let consumer = Task { try await messages.first(1).count }
        let sent = try await sending.value
        _ = try await consumer.value
        _ = try await messages.first(sent - 1)
        let total = Int64(sent)
        #expect(metrics.counterTotal(label: CPGMetricLabel.messagesSent, dimensions: dimensions) == total)
        #expect(metrics.counterTotal(label: CPGMetricLabel.bytesSent, dimensions: dimensions) == total * 65536)
        #expect(metrics.counterTotal(label: CPGMetricLabel.messagesDelivered, dimensions: dimensions) == total)
        #expect(metrics.counterTotal(label: CPGMetricLabel.bytesDelivered, dimensions: dimensions) == total * 65536)
        #expect(metrics.counterTotal(label: CPGMetricLabel.membershipChanges, dimensions: dimensions) == 1)
        #expect(metrics.counterTotal(label: CPGMetricLabel.flowControlWaits, dimensions: dimensions) > 0)
        let waits = try metrics.expectTimer(CPGMetricLabel.flowControlWaitDuration, dimensions)
        #expect(!waits.values.isEmpty)
        let depth = try metrics.expectGauge(CPGMetricLabel.bufferedEvents, dimensions)
        #expect(depth.values.contains { $0 > 0 })
        #expect(depth.values.allSatisfy { $0 <= 64 })
        await group.close()
    }

    @Test("membership changes are logged at info with the group and node id as metadata")
    func logging() async throws {
        let records = RecordingLogHandler.Records()
        let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name, logger: logger)
        _ = try await group.membershipChanges.first(1)
        await group.close()
        let entries = records.entries
        let change = try #require(entries.first { $0.message.contains("membership") })
        #expect(change.level == .info)
        #expect(change.metadata["cpg.group"] == "\(name)")
        #expect(change.metadata["cpg.nodeid"] == "\(group.localNodeID)")
        #expect(entries.allSatisfy { $0.level <= .info })
    }
}

/// A log handler that keeps what it is given.
struct RecordingLogHandler: LogHandler {
    final class Records: Sendable {
        struct Entry: Sendable {
            let level: Logger.Level
            let message: String
            let metadata: [String: String]
        }
        private struct State {
            var entries: [Entry] = []
            var waiters: [(text: String, continuation: CheckedContinuation<Void, Never>)] = []
        }

        private let storage = Mutex(State())
        var entries: [Entry] { self.storage.withLock { $0.entries } }

        func append(_ entry: Entry) {
            let ready = self.storage.withLock { state in
                state.entries.append(entry)
                let ready = state.waiters.filter { entry.message.contains($0.text) }
                state.waiters.removeAll { entry.message.contains($0.text) }
                return ready
            }
            for waiter in ready { waiter.continuation.resume() }
        }

        /// Returns once an entry whose message contains `text` has been logged.
        func entry(containing text: String) async {
            await withCheckedContinuation { continuation in
                let logged = self.storage.withLock { state in
                    if state.entries.contains(where: { $0.message.contains(text) }) { return true }
                    state.waiters.append((text, continuation))
                    return false
                }
                if logged { continuation.resume() }
            }
        }
    }

    let records: Records
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        self.records.append(.init(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }
}
