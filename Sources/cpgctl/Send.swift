import ArgumentParser
import CPG
import Foundation

/// `cpgctl send GROUP`: joins, sends messages as fast as corosync takes them, waits until every
/// one was delivered back, leaves and reports the throughput.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a group, send messages, wait for their delivery and report the throughput.",
        discussion: """
            The messages are pipelined: each is handed to corosync as soon as it accepts the \
            previous one, and the command counts its own messages as they are delivered back. It \
            exits once all of them were delivered, then prints \
            "sent N messages (B bytes) in S s: X msg/s, Y MB/s", or with --json \
            {"messages":N,"bytes":B,"seconds":S,"msgs_per_s":X,"mb_per_s":Y}. For latency \
            percentiles as well, see `cpgctl bench`.
            """
    )

    @OptionGroup var group: GroupArgument
    @OptionGroup var connection: ConnectionOptions

    @Option(help: "How many messages to send, pipelined.")
    var count = 1

    @Option(help: ArgumentHelp("Send messages of this many bytes, a repeating a-z pattern (instead of --message).", valueName: "bytes"))
    var size: Int?

    @Option(help: ArgumentHelp("Send this text's UTF-8 bytes in every message (default: \"hello\").", valueName: "text"))
    var message: String?

    @Option(
        name: .customLong("wait-members"),
        help: ArgumentHelp("Before sending, wait until the group has at least this many members.", valueName: "m")
    )
    var waitMembers: Int?

    @Option(help: ArgumentHelp("Give up after this many seconds: leave the group and exit with status 1.", valueName: "seconds"))
    var timeout: Double?

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    func validate() throws {
        if self.count < 1 { throw ValidationError("--count must be at least 1") }
        if let size = self.size, size < 0 { throw ValidationError("--size must not be negative") }
        if self.size != nil, self.message != nil { throw ValidationError("give --size or --message, not both") }
        if let members = self.waitMembers, members < 1 { throw ValidationError("--wait-members must be at least 1") }
        if let timeout = self.timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    /// The payload of every message.
    var payload: [UInt8] {
        if let size = self.size {
            // Doubling copies: a 16 MiB pattern in a few memcpys, even in a debug build.
            var pattern = Array("abcdefghijklmnopqrstuvwxyz".utf8)
            while pattern.count < size { pattern.append(contentsOf: pattern) }
            return Array(pattern.prefix(size))
        }
        return Array((self.message ?? "hello").utf8)
    }

    func run() async throws {
        let name = try self.group.name()
        let payload = self.payload
        try await GroupStopper.run(timeout: self.timeout) { stopper in
            let group = try await CPGGroup.join(name, configuration: self.connection.configuration)
            // One subscription for the whole run: a second, unread one would hold the group up.
            var events = group.events.makeAsyncIterator()
            stopper.attach(group)
            do {
                if let wanted = self.waitMembers {
                    try await Self.waitForMembers(wanted, in: group, events: &events, stopper: stopper)
                }
                let clock = ContinuousClock()
                let start = clock.now
                try await Self.send(self.count, copiesOf: payload, to: group, events: &events, stopper: stopper)
                let elapsed = start.duration(to: clock.now)
                try await group.leave()
                let bytes = self.count * payload.count
                try Output.line(
                    self.json
                        ? Self.jsonSummary(count: self.count, bytes: bytes, elapsed: elapsed)
                        : Self.summary(count: self.count, bytes: bytes, elapsed: elapsed)
                )
            } catch {
                try? await group.leave()
                throw error
            }
        }
    }

    /// Reads events until a membership change shows at least `wanted` members.
    static func waitForMembers(
        _ wanted: Int,
        in group: CPGGroup,
        events: inout CPGEventSequence<CPGEvent>.AsyncIterator,
        stopper: GroupStopper
    ) async throws {
        var current = 0
        while current < wanted {
            guard let event = try await events.next() else {
                let reason = stopper.reason?.description ?? "the group ended"
                throw CommandFailure("\(reason) while waiting for \(wanted) members (\(current) so far)")
            }
            // Our own leave (after a stop) is no view to report.
            if case .membership(let change) = event, !change.left.contains(where: { $0.member == group.localMember }) {
                current = change.members.count
            }
        }
    }

    /// Sends `count` messages, each as soon as corosync accepted the one before, and returns
    /// once all of them were delivered back to this member.
    private static func send(
        _ count: Int,
        copiesOf payload: [UInt8],
        to group: CPGGroup,
        events: inout CPGEventSequence<CPGEvent>.AsyncIterator,
        stopper: GroupStopper
    ) async throws {
        var delivered = 0
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
            while delivered < count, let event = try await events.next() {
                if case .message(let message) = event, message.sender == group.localMember {
                    delivered += 1
                }
            }
            do {
                try await tasks.waitForAll()
            } catch {
                // A stop left the group under the sender's feet: reported below.
                if stopper.reason == nil { throw error }
            }
        }
        guard delivered == count else {
            let reason = stopper.reason?.description ?? "the group ended"
            throw CommandFailure("\(reason) with \(delivered) of \(count) messages delivered")
        }
    }

    /// `sent N messages (B bytes) in S s: X msg/s, Y MB/s` (1 MB = 10⁶ bytes).
    static func summary(count: Int, bytes: Int, elapsed: Duration) -> String {
        let (seconds, attoseconds) = elapsed.components
        let total = max(Double(seconds) + Double(attoseconds) / 1e18, 1e-9)
        return String(
            format: "sent %d messages (%d bytes) in %.3f s: %.0f msg/s, %.3f MB/s",
            count,
            bytes,
            total,
            Double(count) / total,
            Double(bytes) / total / 1e6
        )
    }

    /// The summary as JSON: `{"messages":N,"bytes":B,"seconds":S,"msgs_per_s":X,"mb_per_s":Y}`.
    static func jsonSummary(count: Int, bytes: Int, elapsed: Duration) -> String {
        let seconds = max(elapsed.seconds, 1e-9)
        return #"{"messages":\#(count),"bytes":\#(bytes),"seconds":\#(JSON.number(seconds, digits: 6)),"#
            + #""msgs_per_s":\#(JSON.number(Double(count) / seconds, digits: 1)),"mb_per_s":\#(JSON.number(Double(bytes) / seconds / 1e6, digits: 6))}"#
    }
}
