@testable import CPG
import CPGTesting
import Foundation
import Synchronization
import Testing

/// Random programs of join, send, confirmed send, cancelled send, concurrent bursts, stream
/// abandonment, cancelled consumers, leave, close, dropping the last reference and calls after
/// the end, run against the real daemon while a plain-C member in another process records what
/// the group delivered. Each program is made from a seed; a failure names it, and
/// `CPG_PROPERTY_SEED=N swift test --filter RandomizedLifecycle` runs just that one again.
@Suite("Random lifecycles on the real daemon", .timeLimit(.minutes(3)))
struct RandomizedLifecycleTests {
    static let seeds: [UInt64] = {
        if let text = ProcessInfo.processInfo.environment["CPG_PROPERTY_SEED"], let seed = UInt64(text) { return [seed] }
        // Fixed seeds, so CI runs the same programs every time, plus one new seed per run.
        return [1, 2, 3, 4, 5, 6, 7, 8, UInt64.random(in: 9...UInt64.max)]
    }()

    @Test("never a crash or a hang; every accepted message reaches every member once, in one order; a cancelled send never does",
          arguments: seeds)
    func randomProgram(seed: UInt64) async throws {
        let name = uniqueGroupName("random-\(seed)")
        let peer = PeerProcess.productsDirectory.appendingPathComponent("cpg-c-peer").path
        let observer = try await ChildProcess.spawn([peer, String(decoding: name.bytes, as: UTF8.self)])
        var lines = observer.lines.makeAsyncIterator()
        #expect(await lines.next()?.hasPrefix("ready ") == true, "seed \(seed): the C observer joined")

        var program = RandomProgram(seed: seed)
        let outcome = try await program.run(name)

        // The end marker, sent by a last incarnation once everything else is over: the observer
        // has delivered everything before it once it delivered the marker (total order).
        let endGroup = try await CPGGroup.join(name)
        let marker = Array("end-\(seed)".utf8)
        _ = try await endGroup.sendConfirmed(marker)
        var observed: [[UInt8]] = []
        while let line = await lines.next() {
            guard let payload = peerMessagePayload(line)?.payload else { continue }
            observed.append(payload)
            if payload == marker { break }
        }
        #expect(observed.last == marker, "seed \(seed): the observer delivered the end marker")
        await endGroup.close()
        observer.terminate()
        #expect(await observer.waitForExit() == .exited(0))

        #expect(outcome.incarnations.contains { !$0.accepted.isEmpty }, "seed \(seed): the program sent something")
        let trace = "seed \(seed): \(outcome.log.joined(separator: "; "))"
        // Nothing twice, nothing nobody sent.
        #expect(Set(observed).count == observed.count, "duplicates; \(trace)")
        let known = Set(outcome.incarnations.flatMap(\.accepted)).union([marker])
        #expect(observed.allSatisfy { known.contains($0) }, "phantom messages; \(trace)")
        // A send that threw CancellationError (or failed) was never sent.
        for payload in outcome.neverSent {
            #expect(!observed.contains(payload), "\(String(decoding: payload, as: UTF8.self)) was not accepted but delivered; \(trace)")
        }
        for incarnation in outcome.incarnations {
            let fromIt = observed.filter { $0.starts(with: incarnation.prefix) }
            // Every accepted message reaches the other member: corosync took it before the
            // handle's leave or finalize, over the same ordered IPC channel.
            #expect(Set(fromIt) == Set(incarnation.accepted), "incarnation \(incarnation.number) (\(incarnation.ending)): observer saw \(fromIt.count) of \(incarnation.accepted.count) accepted; \(trace)")
            // The member itself delivered a prefix of the same order (all of it if it left).
            #expect(Array(fromIt.prefix(incarnation.ownDeliveries.count)) == incarnation.ownDeliveries, "incarnation \(incarnation.number): own order differs from the observer's; \(trace)")
            if incarnation.ending == .left {
                #expect(incarnation.ownDeliveries.count == incarnation.accepted.count, "incarnation \(incarnation.number) left after all its own messages came back; \(trace)")
            }
        }
    }
}

/// One random program: a seeded generator picks the operations.
struct RandomProgram {
    enum Ending: String, Sendable { case left, closed, dropped }

    struct Incarnation: Sendable {
        let number: Int
        var prefix: [UInt8] { Array("i\(self.number)-".utf8) }
        var accepted: [[UInt8]] = []
        var ownDeliveries: [[UInt8]] = []
        var ending: Ending = .closed
    }

    struct Outcome {
        var incarnations: [Incarnation] = []
        /// Sends that threw: never accepted, so never delivered.
        var neverSent: [[UInt8]] = []
        var log: [String] = []
    }

    /// `CPG_PROPERTY_TRACE=1` prints each step on stderr, to see where a failing program stops.
    static let tracing = ProcessInfo.processInfo.environment["CPG_PROPERTY_TRACE"] != nil

    private let seed: UInt64
    private var random: SplitMix64
    private var counter = 0

    init(seed: UInt64) {
        self.seed = seed
        self.random = SplitMix64(seed: seed)
    }

    mutating func run(_ name: CPGGroupName) async throws -> Outcome {
        var outcome = Outcome()
        let incarnations = Int(self.random.next(below: 3)) + 2
        for number in 0..<incarnations {
            var incarnation = Incarnation(number: number)
            var group: CPGGroup? = try await CPGGroup.join(name)
            let recorder = Self.record(group!, prefix: incarnation.prefix)
            // Every incarnation sends once before its random steps, so no program is vacuous.
            let first = self.payload(incarnation)
            try await group!.send(first)
            incarnation.accepted.append(first)
            var ended = false
            let steps = Int(self.random.next(below: 12)) + 4
            for _ in 0..<steps where !ended {
                let live = group!
                let choice = self.random.next(below: 100)
                if Self.tracing { FileHandle.standardError.write(Data("seed \(self.seed) incarnation \(number) step \(choice)\n".utf8)) }
                switch choice {
                case 0..<30:
                    let payload = self.payload(incarnation)
                    try await live.send(payload)
                    incarnation.accepted.append(payload)
                    outcome.log.append("send")
                case 30..<40:
                    let payload = self.payload(incarnation)
                    _ = try await live.sendConfirmed(payload)
                    incarnation.accepted.append(payload)
                    outcome.log.append("confirmed")
                case 40..<55:
                    // A burst from several tasks at once.
                    let payloads = (0..<Int(self.random.next(below: 20) + 2)).map { _ in self.payload(incarnation) }
                    try await withThrowingTaskGroup(of: Void.self) { tasks in
                        for payload in payloads { tasks.addTask { try await live.send(payload) } }
                        try await tasks.waitForAll()
                    }
                    incarnation.accepted += payloads
                    outcome.log.append("burst \(payloads.count)")
                case 55..<67:
                    // A send cancelled at once, or a confirmed one cancelled while it waits.
                    let payload = self.payload(incarnation)
                    let confirmed = self.random.next(below: 2) == 0
                    let task = Task { confirmed ? _ = try await live.sendConfirmed(payload) : try await live.send(payload) }
                    if self.random.next(below: 2) == 0 { await Task.yield() }
                    task.cancel()
                    do {
                        try await task.value
                        incarnation.accepted.append(payload)
                        outcome.log.append("cancel-too-late")
                    } catch is CancellationError {
                        outcome.neverSent.append(payload)
                        outcome.log.append("cancelled")
                    } catch let error as CPGError where error.code == .confirmationCancelled {
                        incarnation.accepted.append(payload)  // accepted before the cancellation
                        outcome.log.append("confirmation-cancelled")
                    }
                case 67..<75:
                    // A subscription read a little and abandoned.
                    // A new subscription starts at the oldest event still buffered, which may be
                    // none: send one, so that there is an event to read.
                    let events = live.events
                    var iterator = events.makeAsyncIterator()
                    let payload = self.payload(incarnation)
                    try await live.send(payload)
                    incarnation.accepted.append(payload)
                    _ = try await iterator.next()
                    outcome.log.append("abandon")
                case 75..<80:
                    // A consumer cancelled while it waits.
                    let messages = live.messages
                    let consumer = Task { for try await _ in messages {} }
                    await Task.yield()
                    consumer.cancel()
                    _ = try await consumer.value
                    outcome.log.append("consumer-cancelled")
                case 80..<88:
                    try await live.leave()
                    incarnation.ending = .left
                    ended = true
                case 88..<95:
                    await live.close()
                    incarnation.ending = .closed
                    ended = true
                default:
                    group = nil  // the last reference goes: deinit finalizes
                    incarnation.ending = .dropped
                    ended = true
                }
            }
            if !ended {
                await group!.close()
                incarnation.ending = .closed
            }
            outcome.log.append("end \(incarnation.ending.rawValue)")
            if Self.tracing { FileHandle.standardError.write(Data("seed \(self.seed) incarnation \(number) ended\n".utf8)) }
            if let group {
                // Calls after the end answer typed errors and break nothing.
                await #expect(throws: CPGError.self) { try await group.send(Array("late".utf8)) }
                await #expect(throws: CPGError.self) { _ = try await group.members() }
                try await group.leave()
                await group.close()
            }
            group = nil
            if Self.tracing { FileHandle.standardError.write(Data("seed \(self.seed) incarnation \(number) waits for its recorder\n".utf8)) }
            incarnation.ownDeliveries = try await recorder.value
            outcome.incarnations.append(incarnation)
        }
        return outcome
    }

    private mutating func payload(_ incarnation: Incarnation) -> [UInt8] {
        self.counter += 1
        let size = Int(self.random.next(below: 4)) == 0 ? Int(self.random.next(below: 70_000)) : 0
        return incarnation.prefix + Array("m\(self.counter)".utf8) + [UInt8](repeating: 0x2E, count: size)
    }

    /// Collects the incarnation's own messages as it delivers them, until its sequences end.
    private static func record(_ group: CPGGroup, prefix: [UInt8]) -> Task<[[UInt8]], any Error> {
        let messages = group.messages
        return Task {
            // Leave, close and the last reference all end the sequences normally.
            var own: [[UInt8]] = []
            for try await message in messages where message.payload.starts(with: prefix) {
                own.append(message.payload)
            }
            return own
        }
    }
}

/// A small, fast, seedable generator (SplitMix64), so a failing program can be run again.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: UInt64) -> UInt64 { self.next() % bound }
}
