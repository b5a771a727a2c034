// cpg-soak: swift-cpg under a long run with daemon restarts (issue: reliability).
//
// A private 3-node corosync cluster (CPGTesting.LocalCluster, network namespaces; needs root).
// One CPGGroup per node, all in this process, each with supervised reconnect; every member runs
// several sending tasks and reads every event. Every `--restart-every` seconds node 1's daemon is
// restarted: its member reconnects and rejoins, the members on nodes 2 and 3 stay connected the
// whole time. At the end every message a stable sender (node 2 or 3) had accepted must have been
// delivered, in order and once, to both stable members: "lost" counts those that were not.
//
//   cpg-soak [--minutes 10] [--restart-every 60] [--senders 2] [--rate 500] [--size 256] [--output FILE]
//
// --rate is messages per second per sending task. Prints a Markdown report (and writes it to
// --output if given). Exits 1 if any message was lost, duplicated or reordered among the stable
// members, or if a restarted member did not reconnect.
import CHeapStatistics
import CPG
import CPGTesting
import Foundation
import Logging
import Synchronization

struct Options {
    var minutes = 10.0
    var restartEvery = 60.0
    var senders = 2
    var rate = 500
    var size = 256
    var output: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            let value = iterator.next() ?? ""
            switch argument {
            case "--minutes": self.minutes = Double(value) ?? self.minutes
            case "--restart-every": self.restartEvery = Double(value) ?? self.restartEvery
            case "--senders": self.senders = Int(value) ?? self.senders
            case "--rate": self.rate = Int(value) ?? self.rate
            case "--size": self.size = Int(value) ?? self.size
            case "--output": self.output = value
            default:
                FileHandle.standardError.write(Data("cpg-soak: unknown option \(argument)\n".utf8))
                exit(64)
            }
        }
    }
}

/// A sending task's identity: the node it runs on and its number there.
struct Stream: Hashable, Sendable, CustomStringConvertible {
    let node: UInt32
    let task: UInt32
    var description: String { "\(self.node).\(self.task)" }
}

/// What one member saw, and what its senders had accepted.
struct MemberLedger: Sendable {
    var next: [Stream: UInt64] = [:]
    var delivered = 0
    var gaps = 0
    var duplicates = 0
    var reconnects = 0
    var disconnects = 0
    var accepted: [Stream: UInt64] = [:]
    var sendErrors = 0
}

final class Ledgers: Sendable {
    let state: Mutex<[UInt32: MemberLedger]>
    init(nodes: [UInt32]) { self.state = Mutex(Dictionary(uniqueKeysWithValues: nodes.map { ($0, MemberLedger()) })) }
}

func payload(_ stream: Stream, _ sequence: UInt64, size: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0x2E, count: max(16, size))
    withUnsafeBytes(of: stream.node.littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
    withUnsafeBytes(of: stream.task.littleEndian) { bytes.replaceSubrange(4..<8, with: $0) }
    withUnsafeBytes(of: sequence.littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
    return bytes
}

func parse(_ bytes: [UInt8]) -> (Stream, UInt64)? {
    guard bytes.count >= 16 else { return nil }
    let node = bytes[0..<4].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    let task = bytes[4..<8].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    let sequence = bytes[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    return (Stream(node: node, task: task), sequence)
}

/// What glibc's allocator holds: bytes in use (a leak makes them grow), bytes held, arenas.
struct HeapSample {
    var inUse = Double(heap_bytes_in_use()) / 1_048_576
    var held = Double(heap_bytes_held()) / 1_048_576
    var arenas = Int(heap_arena_count())
}

func residentMiB() -> (rss: Double, peak: Double) {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

let options = Options(CommandLine.arguments)
var logger = Logger(label: "cpg-soak")
logger.logLevel = .warning
let cluster = try await LocalCluster.start(nodes: 3, logger: logger)
let nodes = cluster.nodes.map(\.id)
let stable: Set<UInt32> = [2, 3]
let ledgers = Ledgers(nodes: nodes)
let groupName = "cpg-soak-\(getpid())"
var policy = CPGReconnectPolicy()
policy.maximumDelay = .milliseconds(500)

var groups: [UInt32: CPGGroup] = [:]
var readers: [Task<Void, any Error>] = []
for node in cluster.nodes {
    var configuration = CPGConfiguration()
    configuration.networkNamespace = node.namespacePath
    configuration.reconnect = policy
    let group = try await CPGGroup.join(groupName, configuration: configuration)
    groups[node.id] = group
    let events = group.events
    let id = node.id
    readers.append(Task {
        for try await event in events {
            switch event {
            case .message(let message):
                guard let (stream, sequence) = parse(message.payload) else { continue }
                ledgers.state.withLock { all in
                    var ledger = all[id]!
                    ledger.delivered += 1
                    let expected = ledger.next[stream] ?? 0
                    if sequence == expected {
                        ledger.next[stream] = sequence + 1
                    } else if sequence > expected {
                        // Counted as lost only between stable members (see the report).
                        if stable.contains(id), stable.contains(stream.node) { ledger.gaps += Int(sequence - expected) }
                        ledger.next[stream] = sequence + 1
                    } else {
                        ledger.duplicates += 1
                    }
                    all[id] = ledger
                }
            case .disconnected:
                ledgers.state.withLock { $0[id]!.disconnects += 1 }
            case .reconnected:
                ledgers.state.withLock { $0[id]!.reconnects += 1 }
            case .membership, .ring:
                break
            }
        }
    })
}

let start = residentMiB()
let heapAtStart = HeapSample()
let clock = ContinuousClock()
let began = clock.now
let deadline = began.advanced(by: .seconds(options.minutes * 60))
let stop = Mutex(false)
var senders: [Task<Void, Never>] = []
for (node, group) in groups {
    for task in 0..<options.senders {
        let stream = Stream(node: node, task: UInt32(task))
        let size = options.size
        let pause = Duration.seconds(1) / options.rate
        senders.append(Task {
            var sequence: UInt64 = 0
            var next = ContinuousClock.now
            while !stop.withLock({ $0 }) {
                do {
                    try await group.send(payload(stream, sequence, size: size))
                    sequence += 1
                    ledgers.state.withLock { $0[node]!.accepted[stream] = sequence }
                } catch {
                    ledgers.state.withLock { $0[node]!.sendErrors += 1 }
                }
                // Pacing to the requested rate: a sleep is what a rate is made of.
                next = next.advanced(by: pause)
                if next > ContinuousClock.now { try? await Task.sleep(until: next) } else { next = ContinuousClock.now }
            }
        })
    }
}

var restarts = 0
while clock.now < deadline {
    let wake = min(deadline, clock.now.advanced(by: .seconds(options.restartEvery)))
    try? await Task.sleep(until: wake)  // the soak's own schedule
    guard clock.now < deadline else { break }
    _ = try await cluster.restartDaemon(cluster.node(1))
    restarts += 1
    FileHandle.standardError.write(Data("cpg-soak: restarted node1's daemon (\(restarts))\n".utf8))
}
stop.withLock { $0 = true }
for sender in senders { await sender.value }

// Every stable sender's accepted messages must reach both stable members: wait for that (or
// give up after 60 s and count what is missing).
let drainDeadline = clock.now.advanced(by: .seconds(60))
func missing() -> Int {
    ledgers.state.withLock { all in
        var missing = 0
        for sender in stable {
            for (stream, accepted) in all[sender]!.accepted {
                for receiver in stable {
                    missing += Int(accepted) - Int(min(accepted, all[receiver]!.next[stream] ?? 0))
                }
            }
        }
        return missing
    }
}
while missing() > 0, clock.now < drainDeadline {
    try? await Task.sleep(for: .milliseconds(50))  // polling the ledger while the readers drain
}
let end = residentMiB()
let heapAtEnd = HeapSample()
let elapsed = clock.now - began
let lost = missing()
let final = ledgers.state.withLock { $0 }
for group in groups.values { await group.close() }
for reader in readers { _ = try? await reader.value }
await cluster.stop()

let sent = final.values.reduce(0) { $0 + $1.accepted.values.reduce(0) { $0 + Int($1) } }
let delivered = final.values.reduce(0) { $0 + $1.delivered }
let gaps = stable.reduce(0) { $0 + final[$1]!.gaps }
let duplicates = final.values.reduce(0) { $0 + $1.duplicates }
let reconnects = final[1]!.reconnects
var report = """
    # swift-cpg soak

    - Date: \(Date()) · \(ProcessInfo.processInfo.processorCount) CPUs · 3-node private cluster (CPGTesting)
    - \(String(format: "%.1f", Double(elapsed.components.seconds) / 60)) minutes, \(groups.count) members × \(options.senders) sending tasks at \(options.rate) msg/s each, \(options.size) B; node 1's daemon restarted every \(Int(options.restartEvery)) s

    | Measure | Value |
    | --- | ---: |
    | messages sent (accepted by corosync) | \(sent) |
    | messages delivered (all members) | \(delivered) |
    | lost between members that stayed connected (nodes 2, 3) | \(lost + gaps) |
    | duplicates or reordered (any member) | \(duplicates) |
    | daemon restarts / reconnects of node 1's member | \(restarts) / \(reconnects) |
    | send errors | \(final.values.reduce(0) { $0 + $1.sendErrors }) |
    | RSS at start → end (MiB) | \(String(format: "%.1f → %.1f", start.rss, end.rss)) |
    | peak RSS (MiB) | \(String(format: "%.1f", end.peak)) |
    | malloc'd and not freed at start → end (MiB) | \(String(format: "%.1f → %.1f", heapAtStart.inUse, heapAtEnd.inUse)) |
    | held by malloc at start → end (MiB), in how many arenas | \(String(format: "%.1f → %.1f", heapAtStart.held, heapAtEnd.held)), \(heapAtStart.arenas) → \(heapAtEnd.arenas) |

    """
report += "\n"
print(report)
if let output = options.output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
exit(lost + gaps == 0 && duplicates == 0 && reconnects == restarts ? 0 : 1)
