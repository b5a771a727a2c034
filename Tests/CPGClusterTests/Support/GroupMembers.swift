import CPG
import CPGTesting
import Foundation
import Synchronization
import Testing

/// The plain-C libcpg member, built next to the test binary (or named by `CPG_C_PEER`).
let cPeerPath: String? = {
    if let path = ProcessInfo.processInfo.environment["CPG_C_PEER"] {
        return path
    }
    guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
        return nil
    }
    let candidate = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("cpg-c-peer").path
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
}()

/// A group name no other test (or earlier run) uses.
func uniqueGroupName(_ label: String) -> String {
    "vs-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// A member of the group under test: a Swift ``CPGGroup`` in this process or a `cpg-c-peer`
/// process, on one node of the cluster.
protocol GroupMember: Sendable {
    /// `swift@node1`, `c@node2`, …: for reports.
    var label: String { get }
    var node: ClusterNode { get }
    var member: CPGMember { get }
    var recorder: EventRecorder { get }
    /// Its history so far, for the checker.
    func history() -> MemberHistory
}

extension GroupMember {
    /// Waits for a membership change whose members are exactly `members`.
    @discardableResult
    func waitForView(_ members: [CPGMember], from start: Int = 0) async throws -> Int {
        let wanted = Set(members)
        return try await self.recorder.first(from: start, "view \(members.sorted())") { event in
            if case .membership(let change) = event { return Set(change.members) == wanted }
            return false
        }
    }

    /// The membership changes delivered since event `start`.
    func membershipChanges(from start: Int = 0) -> [CPGMembershipChange] {
        self.recorder.events.dropFirst(start).compactMap {
            if case .membership(let change) = $0 { return change }
            return nil
        }
    }

    /// The ring changes delivered since event `start`.
    func ringChanges(from start: Int = 0) -> [CPGRingChange] {
        self.recorder.events.dropFirst(start).compactMap {
            if case .ring(let change) = $0 { return change }
            return nil
        }
    }

    /// How many events it has delivered so far (a mark for "events since").
    var eventCount: Int {
        self.recorder.events.count
    }
}

/// A Swift member: a ``CPGGroup`` joined through the node's network namespace.
final class SwiftMember: GroupMember {
    let label: String
    let node: ClusterNode
    let group: CPGGroup
    let recorder: EventRecorder
    private let sent = Mutex<[[UInt8]]>([])

    var member: CPGMember { self.group.localMember }

    private init(label: String, node: ClusterNode, group: CPGGroup) {
        self.label = label
        self.node = node
        self.group = group
        self.recorder = EventRecorder(label: label)
    }

    /// What the three filtered sequences (messages, membership changes, ring changes) delivered:
    /// they must agree with `events`.
    let streams = Mutex<StreamRecord>(StreamRecord())
    /// The tasks draining the four sequences, each returning how its sequence ended.
    private let drains = Mutex<[String: Task<EventRecorder.End, Never>]>([:])

    struct StreamRecord {
        var messages: [CPGMessage] = []
        var membershipChanges: [CPGMembershipChange] = []
        var ringChanges: [CPGRingChange] = []
    }

    /// Joins `name` on `node` and starts recording every event (and every filtered sequence).
    static func join(_ name: String, on node: ClusterNode, label: String? = nil) async throws -> SwiftMember {
        var configuration = CPGConfiguration()
        configuration.networkNamespace = node.namespacePath
        let group = try await CPGGroup.join(name, configuration: configuration)
        let member = SwiftMember(label: label ?? "swift@\(node.name)", node: node, group: group)
        // Every sequence is created before any task iterates: they all start at the first event.
        let events = group.events
        let messages = group.messages
        let membershipChanges = group.membershipChanges
        let ringChanges = group.ringChanges
        let recorder = member.recorder
        let drains: [String: Task<EventRecorder.End, Never>] = [
            "events": Task {
                let end = await Self.drain(events) { recorder.append($0) }
                recorder.finish(end)
                return end
            },
            "messages": Task {
                await Self.drain(messages) { message in member.streams.withLock { $0.messages.append(message) } }
            },
            "membershipChanges": Task {
                await Self.drain(membershipChanges) { change in member.streams.withLock { $0.membershipChanges.append(change) } }
            },
            "ringChanges": Task {
                await Self.drain(ringChanges) { change in member.streams.withLock { $0.ringChanges.append(change) } }
            },
        ]
        member.drains.withLock { $0 = drains }
        return member
    }

    /// Iterates a sequence to its end and tells how it ended.
    private static func drain<Element>(
        _ sequence: CPGEventSequence<Element>,
        _ body: (Element) -> Void
    ) async -> EventRecorder.End {
        var iterator = sequence.makeAsyncIterator()
        do throws(CPGError) {
            while let element = try await iterator.next() {
                body(element)
            }
            return .finished
        } catch {
            return .failed(error)
        }
    }

    /// Waits until all four sequences ended; checks that the filtered ones delivered exactly the
    /// matching events of `events`, and that all four ended the same way; returns that end.
    func expectStreamsAgree(sourceLocation: SourceLocation = #_sourceLocation) async -> EventRecorder.End {
        var ends: [String: EventRecorder.End] = [:]
        for (name, task) in self.drains.withLock({ $0 }) {
            ends[name] = await task.value
        }
        let events = self.recorder.events
        let record = self.streams.withLock { $0 }
        let messages = events.compactMap { if case .message(let message) = $0 { message } else { nil } }
        let changes = events.compactMap { if case .membership(let change) = $0 { change } else { nil } }
        let rings = events.compactMap { if case .ring(let change) = $0 { change } else { nil } }
        #expect(record.messages == messages, "\(self.label): messages sequence", sourceLocation: sourceLocation)
        #expect(record.membershipChanges == changes, "\(self.label): membershipChanges sequence", sourceLocation: sourceLocation)
        #expect(record.ringChanges == rings, "\(self.label): ringChanges sequence", sourceLocation: sourceLocation)
        #expect(Set(ends.values).count == 1, "\(self.label): the sequences ended differently: \(ends)", sourceLocation: sourceLocation)
        return ends["events"] ?? .finished
    }

    /// Sends `count` messages `<prefix><i>` (or, with `count` `nil`, until a send fails), padded
    /// to `size` bytes with `.` (every `largeEvery`-th one padded to `largeSize` with `+`
    /// instead), one after another with `send`, each listed as sent before its send starts;
    /// stops at the first error, which it returns.
    ///
    /// A fragmented send that fails with ``CPGError/Code/partialSend`` (libcpg gives up after a
    /// bounded number of `CS_ERR_TRY_AGAIN` retries, as it does while the ring re-forms) was never
    /// delivered anywhere: its payload is taken off the sent list and the message is sent again
    /// under a new payload. Returns how many times that happened.
    func send(
        count: Int?,
        prefix: String,
        size: Int = 0,
        largeEvery: Int = 0,
        largeSize: Int = 0
    ) async -> (error: (any Error)?, partialSends: Int) {
        var partialSends = 0
        var index = 0
        while count.map({ index < $0 }) ?? true {
            var bytes = Array("\(prefix)\(index)".utf8)
            let large = largeEvery > 0 && index % largeEvery == largeEvery - 1
            let (length, filler) = large ? (largeSize, UInt8(ascii: "+")) : (size, UInt8(ascii: "."))
            bytes += Array(repeating: filler, count: max(0, length - bytes.count))
            while true {
                self.sent.withLock { $0.append(bytes) }
                do {
                    try await self.group.send(bytes)
                    break
                } catch let error as CPGError where error.code == .partialSend {
                    _ = self.sent.withLock { $0.removeLast() }
                    partialSends += 1
                    bytes = Array("retry\(partialSends)-".utf8) + bytes
                } catch {
                    return (error, partialSends)
                }
            }
            index += 1
        }
        return (nil, partialSends)
    }

    /// Starts sending `<prefix><i>` with `sendConfirmed`, one message at a time (so the pace is
    /// the cluster's, with no timer), until ``Sender/stop()`` or the first error.
    func startSending(prefix: String) -> Sender {
        let stop = StopFlag()
        let task = Task { () -> (Int, (any Error)?) in
            var index = 0
            while !stop.isRaised {
                let payload = Array("\(prefix)\(index)".utf8)
                self.sent.withLock { $0.append(payload) }
                do {
                    _ = try await self.group.sendConfirmed(payload)
                } catch {
                    return (index, error)
                }
                index += 1
            }
            return (index, nil)
        }
        return Sender(flag: stop, task: task)
    }

    func history() -> MemberHistory {
        MemberHistory(member: self.member, label: self.label, events: self.recorder.events, sent: self.sent.withLock { $0 })
    }
}

/// A plain-C member: `cpg-c-peer` started in the node's namespace.
final class CMember: GroupMember {
    let label: String
    let node: ClusterNode
    let process: ChildProcess
    let member: CPGMember
    let recorder: EventRecorder
    /// Everything it will send (it stops early only if it dies).
    let payloads: [[UInt8]]

    private init(label: String, node: ClusterNode, process: ChildProcess, member: CPGMember, recorder: EventRecorder, payloads: [[UInt8]]) {
        self.label = label
        self.node = node
        self.process = process
        self.member = member
        self.recorder = recorder
        self.payloads = payloads
    }

    /// Starts `cpg-c-peer` on `node`: it joins `name`, waits for `waitMembers` members, sends
    /// `count` messages `<prefix><i>` as fast as corosync takes them, and runs until terminated.
    static func start(
        _ name: String,
        on node: ClusterNode,
        in cluster: LocalCluster,
        label: String? = nil,
        send count: Int = 0,
        prefix: String = "c",
        size: Int = 0,
        waitMembers: Int = 0
    ) async throws -> CMember {
        let path = try #require(cPeerPath, "cpg-c-peer is built next to the test binary")
        let arguments = [path, name, "--send", "\(count)", "--prefix", prefix, "--size", "\(size)", "--wait-members", "\(waitMembers)"]
        let process = try await cluster.run(arguments, onNode: node)
        let label = label ?? "c@\(node.name)"
        let recorder = EventRecorder(label: label)
        let group = try CPGGroupName(name)
        let (ready, readyContinuation) = AsyncStream<CPGMember?>.makeStream()
        Task {
            var output = CPeerOutput(group: group)
            var announced = false
            for await line in process.lines {
                if let event = output.append(line) {
                    recorder.append(event)
                } else if !announced, let member = output.member {
                    announced = true
                    readyContinuation.yield(member)
                }
            }
            readyContinuation.yield(nil)
            recorder.finish(.finished)
        }
        var iterator = ready.makeAsyncIterator()
        guard let member = await iterator.next() ?? nil else {
            let termination = await process.waitForExit()
            Issue.record("\(label) did not start (\(termination)): \(process.standardError)")
            throw RecorderWaitError(description: "\(label) did not start")
        }
        return CMember(
            label: label, node: node, process: process, member: member, recorder: recorder,
            payloads: CPeerOutput.payloads(prefix: prefix, count: count, size: size)
        )
    }

    /// Checks how it ended after its daemon was killed: libcpg's next call (`cpg_dispatch`, or
    /// `cpg_mcast_joined` while it still sends) failed with `CS_ERR_LIBRARY` (2), so it exited 2.
    func expectDaemonLost(sourceLocation: SourceLocation = #_sourceLocation) async {
        let termination = await self.process.waitForExit()
        let error = self.process.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(termination == .exited(2), "\(self.label): \(error)", sourceLocation: sourceLocation)
        #expect(["error cpg_dispatch 2", "error cpg_mcast_joined 2"].contains(error), "\(self.label): \(error)", sourceLocation: sourceLocation)
        print("CPGClusterTests: \(self.label) after its daemon was killed: \(termination), \(error)")
    }

    /// Asks it to leave (SIGTERM: it leaves, finalizes and exits 0) and waits for its exit.
    func leave() async -> ProcessTermination {
        self.process.terminate()
        return await self.process.waitForExit()
    }

    func history() -> MemberHistory {
        MemberHistory(member: self.member, label: self.label, events: self.recorder.events, sent: self.payloads)
    }
}

/// A task that keeps a Swift member sending until stopped.
struct Sender: Sendable {
    fileprivate let flag: StopFlag
    fileprivate let task: Task<(Int, (any Error)?), Never>

    /// Stops after the message in flight; returns how many messages were confirmed, and the
    /// error that ended the sending early, if any.
    func stop() async -> (sent: Int, error: (any Error)?) {
        self.flag.raise()
        return await self.task.value
    }
}

/// A flag a sending task checks between messages.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    var isRaised: Bool {
        self.flag.load(ordering: .relaxed)
    }

    func raise() {
        self.flag.store(true, ordering: .relaxed)
    }
}
