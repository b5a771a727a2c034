import Foundation

/// What `cpgctl bench` measured, as text or JSON.
struct BenchReport {
    /// The throughput phase's result.
    struct Throughput {
        var messages: Int
        var bytes: Int
        var seconds: Double
        var ownDelivered: Int
        var othersDelivered: Int

        var messagesPerSecond: Double { Double(self.messages) / max(self.seconds, 1e-9) }
        var megabytesPerSecond: Double { Double(self.bytes) / max(self.seconds, 1e-9) / 1e6 }
    }

    /// The latency phase's round trips, in milliseconds, sorted.
    struct Latency {
        var milliseconds: [Double]

        init(samples: [Duration]) {
            self.milliseconds = samples.map { $0.seconds * 1e3 }.sorted()
        }

        /// The `percent` percentile by nearest rank: the smallest sample with at least `percent`
        /// per cent of the samples at or below it.
        func percentile(_ percent: Double) -> Double {
            let rank = Int((percent / 100 * Double(self.milliseconds.count)).rounded(.up))
            return self.milliseconds[min(max(rank, 1), self.milliseconds.count) - 1]
        }

        var mean: Double { self.milliseconds.reduce(0, +) / Double(self.milliseconds.count) }
    }

    var group: String
    var size: Int
    var members: Int
    var throughput: Throughput?
    var latency: Latency?

    /// Three lines for people.
    var text: String {
        var lines = ["bench on group \(self.group): \(self.members) member\(self.members == 1 ? "" : "s"), messages of \(self.size) bytes"]
        if let throughput {
            lines.append(
                String(
                    format: "throughput: %d messages (%d bytes) in %.3f s: %.0f msg/s, %.3f MB/s; own messages delivered back: %d of %d",
                    throughput.messages,
                    throughput.bytes,
                    throughput.seconds,
                    throughput.messagesPerSecond,
                    throughput.megabytesPerSecond,
                    throughput.ownDelivered,
                    throughput.messages
                ) + (throughput.othersDelivered > 0 ? "; \(throughput.othersDelivered) from other members" : "")
            )
        }
        if let latency {
            lines.append(
                String(
                    format: "latency: %d sendConfirmed round trips: p50 %.3f ms, p99 %.3f ms (min %.3f ms, max %.3f ms, mean %.3f ms)",
                    latency.milliseconds.count,
                    latency.percentile(50),
                    latency.percentile(99),
                    latency.milliseconds.first!,
                    latency.milliseconds.last!,
                    latency.mean
                )
            )
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object; a skipped phase is `null`.
    var json: String {
        let throughput = self.throughput.map {
            #"{"messages":\#($0.messages),"bytes":\#($0.bytes),"seconds":\#(JSON.number($0.seconds, digits: 6)),"#
                + #""msgs_per_s":\#(JSON.number($0.messagesPerSecond, digits: 1)),"mb_per_s":\#(JSON.number($0.megabytesPerSecond, digits: 6)),"#
                + #""own_delivered":\#($0.ownDelivered),"others_delivered":\#($0.othersDelivered)}"#
        } ?? "null"
        let latency = self.latency.map {
            #"{"samples":\#($0.milliseconds.count),"p50_ms":\#(JSON.number($0.percentile(50), digits: 6)),"#
                + #""p99_ms":\#(JSON.number($0.percentile(99), digits: 6)),"min_ms":\#(JSON.number($0.milliseconds.first!, digits: 6)),"#
                + #""max_ms":\#(JSON.number($0.milliseconds.last!, digits: 6)),"mean_ms":\#(JSON.number($0.mean, digits: 6))}"#
        } ?? "null"
        return #"{"group":\#(JSON.string(self.group)),"size":\#(self.size),"members":\#(self.members),"#
            + #""throughput":\#(throughput),"latency":\#(latency)}"#
    }
}
