import CPG
import CPGTesting
import Foundation
import Testing

/// `cpgctl bench` and `cpgctl send --json` against the shared local daemon.
@Suite("cpgctl bench", .timeLimit(.minutes(1)))
struct CPGCtlBenchTests {
    @Test("bench --json reports throughput with every own message back, and ordered latency percentiles")
    func benchJSON() async throws {
        let result = try await cpgctl(
            "bench", uniqueGroup(), "--count", "300", "--size", "64", "--latency-count", "25", "--json", "--timeout", CPGCtlTests.toolTimeout
        )
        #expect(result.termination == .exited(0), "\(result.standardError)")
        #expect(result.lines.count == 1)
        let report = try jsonObject(result.standardOutput)
        #expect(report["size"] as? Int == 64)
        #expect(report["members"] as? Int == 1)
        let throughput = try #require(report["throughput"] as? [String: Any])
        #expect(throughput["messages"] as? Int == 300)
        #expect(throughput["bytes"] as? Int == 300 * 64)
        #expect(throughput["own_delivered"] as? Int == 300)
        #expect(throughput["others_delivered"] as? Int == 0)
        let seconds = try #require(throughput["seconds"] as? Double)
        let rate = try #require(throughput["msgs_per_s"] as? Double)
        #expect(seconds > 0)
        // The output rounds seconds to 6 decimals, msgs/s to 1 and MB/s to 6: recomputing a rate
        // from the rounded seconds can be off by the rate times half a microsecond over seconds.
        let secondsRounding = 0.5e-6 / seconds
        #expect(abs(rate - 300 / seconds) <= 0.05 + rate * secondsRounding * 1.01)
        let megabytes = try #require(throughput["mb_per_s"] as? Double)
        #expect(abs(megabytes - 300 * 64 / seconds / 1e6) <= 0.5e-6 + megabytes * secondsRounding * 1.01)

        let latency = try #require(report["latency"] as? [String: Any])
        #expect(latency["samples"] as? Int == 25)
        let (low, p50, p99, high) = try (
            #require(latency["min_ms"] as? Double), #require(latency["p50_ms"] as? Double),
            #require(latency["p99_ms"] as? Double), #require(latency["max_ms"] as? Double)
        )
        #expect(0 < low && low <= p50 && p50 <= p99 && p99 <= high)
        // Nearest rank: with 25 samples the 99th percentile is the largest.
        #expect(p99 == high)
        let mean = try #require(latency["mean_ms"] as? Double)
        #expect(low <= mean && mean <= high)
    }

    @Test("bench with a listener: waits for it, the listener gets every message, others' messages are counted apart")
    func benchWithListener() async throws {
        let group = uniqueGroup()
        // 200 throughput messages and 10 round trips from bench, then the listener's own 1.
        let listener = try await startCPGCtl("listen", group, "--json", "--count", "210", "--timeout", CPGCtlTests.toolTimeout)
        defer { listener.terminate() }
        _ = try await waitForOwnJoin(listener)
        let result = try await cpgctl(
            "bench", group, "--count", "200", "--latency-count", "10", "--wait-members", "2", "--timeout", CPGCtlTests.toolTimeout
        )
        #expect(result.termination == .exited(0), "\(result.standardError)")
        #expect(result.lines.count == 3)
        #expect(result.lines.first == "bench on group \(group): 2 members, messages of 100 bytes")
        #expect(result.lines.dropFirst().first?.hasPrefix("throughput: 200 messages (20000 bytes) in ") == true)
        #expect(result.lines.dropFirst().first?.hasSuffix("; own messages delivered back: 200 of 200") == true)
        #expect(result.lines.last?.hasPrefix("latency: 10 sendConfirmed round trips: p50 ") == true)

        let listened = await listener.finish()
        #expect(listened.termination == .exited(0), "\(listened.standardError)")
        let messages = try listened.lines.map(jsonObject).filter { $0["event"] as? String == "message" }
        #expect(messages.count == 210)
        #expect(messages.allSatisfy { $0["size"] as? Int == 100 })
    }

    @Test("bench refuses to measure nothing, and a negative count, before it joins")
    func benchValidation() async throws {
        let nothing = try await cpgctl("bench", uniqueGroup(), "--count", "0", "--latency-count", "0")
        #expect(nothing.termination != .exited(0))
        #expect(nothing.standardError.contains("nothing to measure"))
        let negative = try await cpgctl("bench", uniqueGroup(), "--count=-1")
        #expect(negative.termination != .exited(0))
        #expect(negative.standardError.contains("--count must not be negative"))
    }

    @Test("bench --count 0 only times round trips; its throughput is null")
    func latencyOnly() async throws {
        let result = try await cpgctl("bench", uniqueGroup(), "--count", "0", "--latency-count", "3", "--json", "--timeout", CPGCtlTests.toolTimeout)
        #expect(result.termination == .exited(0), "\(result.standardError)")
        let report = try jsonObject(result.standardOutput)
        #expect(report["throughput"] is NSNull)
        #expect((report["latency"] as? [String: Any])?["samples"] as? Int == 3)
    }

    @Test("send --json reports what it sent")
    func sendJSON() async throws {
        let result = try await cpgctl("send", uniqueGroup(), "--count", "5", "--size", "10", "--json", "--timeout", CPGCtlTests.toolTimeout)
        #expect(result.termination == .exited(0), "\(result.standardError)")
        let report = try jsonObject(result.standardOutput)
        #expect(report["messages"] as? Int == 5)
        #expect(report["bytes"] as? Int == 50)
        #expect((report["seconds"] as? Double ?? 0) > 0)
        #expect((report["msgs_per_s"] as? Double ?? 0) > 0)
    }
}
