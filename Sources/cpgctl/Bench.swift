import ArgumentParser
import CPG
import Foundation

/// `cpgctl bench GROUP`: joins, measures throughput (pipelined sends) and latency (confirmed
/// sends one at a time), leaves and reports both.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a group's throughput and round-trip latency.",
        discussion: """
            Joins GROUP and runs two phases. Throughput: --count messages of --size bytes, \
            pipelined (each handed to corosync as soon as it accepted the previous one), timed \
            until every one was delivered back to this member; reports msg/s, MB/s (10^6 bytes) \
            and how many of its own messages came back. Latency: --latency-count messages sent \
            one at a time with sendConfirmed, each timed from the call until its delivery back \
            here (the cluster ordered it); reports the 50th and 99th percentiles (nearest rank), \
            minimum, maximum and mean. Other members' messages are counted, not timed. Start \
            listeners first (cpgctl listen GROUP) and use --wait-members to measure a group with \
            several members or nodes. --json prints one object: \
            {"group":"g","size":100,"members":1,"throughput":{"messages":1000,"bytes":100000,\
            "seconds":0.5,"msgs_per_s":2000.0,"mb_per_s":0.2,"own_delivered":1000,\
            "others_delivered":0},"latency":{"samples":100,"p50_ms":0.4,"p99_ms":1.2,\
            "min_ms":0.3,"max_ms":1.5,"mean_ms":0.45}} (a skipped phase is null).
            """
    )

    @OptionGroup var group: GroupArgument
    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("How many messages the throughput phase sends (0 skips it).", valueName: "n"))
    var count = 1000

    @Option(help: ArgumentHelp("The size of every message in bytes (a repeating a-z pattern).", valueName: "bytes"))
    var size = 100

    @Option(
        name: .customLong("latency-count"),
        help: ArgumentHelp("How many confirmed round trips the latency phase times (0 skips it).", valueName: "n")
    )
    var latencyCount = 100

    @Option(
        name: .customLong("wait-members"),
        help: ArgumentHelp("Before measuring, wait until the group has at least this many members.", valueName: "m")
    )
    var waitMembers: Int?

    @Option(help: ArgumentHelp("Give up after this many seconds (leaving the group, exit status 1).", valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if self.count < 0 { throw ValidationError("--count must not be negative") }
        if self.latencyCount < 0 { throw ValidationError("--latency-count must not be negative") }
        if self.count == 0, self.latencyCount == 0 { throw ValidationError("--count and --latency-count are both 0: nothing to measure") }
        if self.size < 0 { throw ValidationError("--size must not be negative") }
        if let members = self.waitMembers, members < 1 { throw ValidationError("--wait-members must be at least 1") }
        if let timeout = self.timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let name = try self.group.name()
        var pattern = Array("abcdefghijklmnopqrstuvwxyz".utf8)
        while pattern.count < self.size { pattern.append(contentsOf: pattern) }
        let payload = Array(pattern.prefix(self.size))
        let report = try await GroupStopper.run(timeout: self.timeout) { stopper in
            let group = try await CPGGroup.join(name, configuration: self.connection.configuration)
            // One subscription for the whole run: a second, unread one would hold the group up.
            var events = group.events.makeAsyncIterator()
            stopper.attach(group)
            do {
                if let wanted = self.waitMembers {
                    try await Send.waitForMembers(wanted, in: group, events: &events, stopper: stopper)
                }
                var report = BenchReport(group: self.group.group, size: self.size, members: try await group.members().count)
                if self.count > 0 {
                    report.throughput = try await Self.throughput(self.count, payload, group, &events, stopper)
                }
                if self.latencyCount > 0 {
                    report.latency = try await Self.latency(self.latencyCount, payload, group, &events, stopper)
                }
                try await group.leave()
                return report
            } catch {
                try? await group.leave()
                throw error
            }
        }
        try Output.line(self.json ? report.json : report.text)
    }

    /// Sends `count` messages pipelined and reads events until all came back.
    private static func throughput(
        _ count: Int,
        _ payload: [UInt8],
        _ group: CPGGroup,
        _ events: inout CPGEventSequence<CPGEvent>.AsyncIterator,
        _ stopper: GroupStopper
    ) async throws -> BenchReport.Throughput {
        var own = 0
        var others = 0
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                do {
                    for _ in 0..<count { try await group.send(payload) }
                } catch {
                    // Ends the event stream, so the loop below stops waiting.
                    try? await group.leave()
                    throw error
                }
            }
            while own < count, let event = try await events.next() {
                if case .message(let message) = event {
                    if message.sender == group.localMember { own += 1 } else { others += 1 }
                }
            }
            do {
                try await tasks.waitForAll()
            } catch {
                if stopper.reason == nil { throw error }
            }
        }
        let elapsed = start.duration(to: clock.now)
        guard own == count else {
            let reason = stopper.reason?.description ?? "the group ended"
            throw CommandFailure("\(reason) with \(own) of \(count) messages delivered back")
        }
        return BenchReport.Throughput(
            messages: count,
            bytes: count * payload.count,
            seconds: elapsed.seconds,
            ownDelivered: own,
            othersDelivered: others
        )
    }

    /// Times `count` confirmed sends one after another. After each, reads the events up to that
    /// message, so that the subscription never holds the group up.
    private static func latency(
        _ count: Int,
        _ payload: [UInt8],
        _ group: CPGGroup,
        _ events: inout CPGEventSequence<CPGEvent>.AsyncIterator,
        _ stopper: GroupStopper
    ) async throws -> BenchReport.Latency {
        let clock = ContinuousClock()
        var samples: [Duration] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = clock.now
            let index: UInt64
            do {
                index = try await group.sendConfirmed(payload)
            } catch {
                if let reason = stopper.reason {
                    throw CommandFailure("\(reason) with \(samples.count) of \(count) round trips timed")
                }
                throw error
            }
            samples.append(start.duration(to: clock.now))
            while true {
                guard let event = try await events.next() else {
                    let reason = stopper.reason?.description ?? "the group ended"
                    throw CommandFailure("\(reason) with \(samples.count) of \(count) round trips timed")
                }
                if case .message(let message) = event, message.deliveryIndex == index { break }
            }
        }
        return BenchReport.Latency(samples: samples)
    }
}
