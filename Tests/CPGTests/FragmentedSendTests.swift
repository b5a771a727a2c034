@testable import CPG
import CPGTesting
import Foundation
import Testing

/// Messages above the atomic size: libcpg sends them in fragments, blocking, without the send
/// lock, so the group's gate records that one holds the request channel. A send through the open
/// gate starts one without entering the actor; everything else that uses the channel waits.
@Suite("Fragmented sends and the request channel", .timeLimit(.minutes(2)))
struct FragmentedSendTests {
    /// A message of `size` bytes that names its sender and index, then a pattern that depends
    /// on both, so that a mixed-up or damaged payload shows.
    static func payload(sender: Int, index: Int, size: Int) -> [UInt8] {
        var bytes = Array("s\(sender) i\(index) ".utf8)
        let seed = sender &* 7 &+ index &* 13
        bytes.reserveCapacity(size)
        while bytes.count < size { bytes.append(UInt8(truncatingIfNeeded: bytes.count &* 31 &+ seed)) }
        return bytes
    }

    /// Takes the request channel for `payload` through the open gate, as `send` does for a
    /// message above the atomic size; `nil` if the send would have gone to the actor instead.
    static func claimChannel(_ group: CPGGroup, for payload: [UInt8]) throws -> (handle: LibCPGHandle, ownIndex: UInt64)? {
        guard case .fragmented(let handle, let ownIndex) = try group.trySendDirectly(.single(payload)) else { return nil }
        return (handle, ownIndex)
    }

    static func header(_ payload: [UInt8]) -> (sender: Int, index: Int)? {
        let words = String(decoding: payload.prefix(24), as: UTF8.self).split(separator: " ")
        guard words.count >= 2, words[0].hasPrefix("s"), words[1].hasPrefix("i"),
            let sender = Int(words[0].dropFirst()), let index = Int(words[1].dropFirst())
        else { return nil }
        return (sender, index)
    }

    @Test("a message of more fragments than one read takes (64), then a small one: both delivered whole and in order")
    func moreFragmentsThanOneRead() async throws {
        var configuration = CPGConfiguration()
        configuration.maximumMessageSize = 80 << 20
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
        let messages = group.messages
        let big = Self.payload(sender: 0, index: 0, size: 70 << 20)
        #expect(big.count / group.maxAtomicMessageSize > 64)
        try await group.send(big)
        try await group.send([1])
        let received = try await messages.first(2)
        #expect(received.count == 2)
        #expect(received.first?.payload == big)
        #expect(received.last?.payload == [1])
        await group.close()
    }

    @Test("while a fragmented send holds the channel, sends queue and queries wait; all follow it in order")
    func channelHeldByFragmentedSend() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let big = Self.payload(sender: 0, index: 0, size: group.maxAtomicMessageSize + 300_000)
        let (handle, ownIndex) = try #require(try Self.claimChannel(group, for: big), "a send above the atomic size through the open gate takes the channel")
        #expect(group.largeSendInFlight)
        // An atomic send may not overtake it on the direct path: it goes to the actor's queue.
        guard case .queue(flowControlled: false) = try group.trySendDirectly(.single(Array("small".utf8))) else {
            Issue.record("the gate must be closed while the fragmented send holds the channel")
            await group.close()
            return
        }
        async let small: Void = group.send(Array("after".utf8))
        async let members = group.members()
        async let confirmed = group.sendConfirmed(Array("confirmed".utf8))
        try await group.sendFragmentedDirectly(.single(big), handle: handle, ownIndex: ownIndex)
        try await small
        let confirmedIndex = try await confirmed
        #expect(try await members.contains(group.localMember))
        #expect(!group.largeSendInFlight)
        let received = try await messages.first(3)
        #expect(received.first?.payload == big, "the fragmented message comes first, intact")
        #expect(Set(received.dropFirst().map { String(decoding: $0.payload, as: UTF8.self) }) == ["after", "confirmed"])
        #expect(received.first(where: { $0.payload == Array("confirmed".utf8) })?.deliveryIndex == confirmedIndex)
        await group.close()
    }

    @Test("many tasks mixing fragmented, atomic and confirmed sends with queries: each message once, each task's order kept")
    func concurrentMixedSends() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let big = group.maxAtomicMessageSize + 200_000
        let senders = 4
        let perSender = 8
        let confirmations = try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { tasks in
            for sender in 0..<senders {
                tasks.addTask {
                    var confirmed: [(UInt64, [UInt8])] = []
                    for index in 0..<perSender {
                        let payload = Self.payload(sender: sender, index: index, size: index.isMultiple(of: 2) ? big : 100 + index)
                        if (sender + index).isMultiple(of: 3) {
                            confirmed.append((try await group.sendConfirmed(payload), payload))
                        } else {
                            try await group.send(payload)
                        }
                    }
                    return confirmed
                }
            }
            tasks.addTask {
                for _ in 0..<20 { _ = try await group.members() }
                return []
            }
            var all: [(UInt64, [UInt8])] = []
            for try await confirmed in tasks { all += confirmed }
            return all
        }
        var next = [Int](repeating: 0, count: senders)
        var byIndex: [UInt64: [UInt8]] = [:]
        for message in try await messages.first(senders * perSender) {
            let header = try #require(Self.header(message.payload))
            #expect(header.index == next[header.sender], "sender \(header.sender)'s messages in its order")
            next[header.sender] = header.index + 1
            let size = header.index.isMultiple(of: 2) ? big : 100 + header.index
            #expect(message.payload == Self.payload(sender: header.sender, index: header.index, size: size))
            byIndex[message.deliveryIndex] = message.payload
        }
        #expect(next == [Int](repeating: perSender, count: senders))
        #expect(!confirmations.isEmpty)
        for (index, payload) in confirmations {
            #expect(byIndex[index] == payload, "a confirmed send returns its own message's delivery index")
        }
        await group.close()
    }

    @Test("leaving while tasks send fragmented messages: each send either delivered before the own leave or refused")
    func leaveDuringFragmentedSends() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let events = group.events
        let size = group.maxAtomicMessageSize + 100_000
        let senders = 3
        let firstDelivered = AsyncStream.makeStream(of: Void.self)
        let watcher = Task {
            var delivered: [[UInt8]] = []
            var ownLeaveSeen = false
            for try await event in events {
                if let message = event.message {
                    #expect(!ownLeaveSeen)
                    if delivered.isEmpty { firstDelivered.continuation.yield() }
                    delivered.append(message.payload)
                }
                if let change = event.membership, change.left.contains(where: { $0.member == group.localMember }) {
                    ownLeaveSeen = true
                }
            }
            return (delivered, ownLeaveSeen)
        }
        let sends = Task {
            try await withThrowingTaskGroup(of: [[UInt8]].self) { tasks in
                for sender in 0..<senders {
                    tasks.addTask {
                        var accepted: [[UInt8]] = []
                        for index in 0..<50 {
                            let payload = Self.payload(sender: sender, index: index, size: size)
                            do {
                                try await group.send(payload)
                                accepted.append(payload)
                            } catch let error as CPGError {
                                #expect(error.code == .notJoined, "a send after the leave is refused, nothing else")
                                break
                            }
                        }
                        return accepted
                    }
                }
                var all: [[UInt8]] = []
                for try await accepted in tasks { all += accepted }
                return all
            }
        }
        for await _ in firstDelivered.stream { break }
        try await group.leave()
        let accepted = try await sends.value
        let (delivered, ownLeaveSeen) = try await watcher.value
        #expect(ownLeaveSeen)
        #expect(delivered.count == accepted.count, "every accepted message, and only those, before the own leave")
        #expect(Set(delivered) == Set(accepted))
    }

    @Test("close while a fragmented send holds the channel: the send completes, and the handle is finalized after it")
    func closeDuringFragmentedSend() async throws {
        let name = uniqueGroupName()
        let watcher = try PeerProcess(product: "cpg-c-peer", [String(decoding: name.bytes, as: UTF8.self), "--no-data"])
        #expect(await watcher.line(0)?.hasPrefix("ready") == true)
        let group = try await CPGGroup.join(name)
        let member = group.localMember
        let big = Self.payload(sender: 0, index: 0, size: group.maxAtomicMessageSize + 100_000)
        let (handle, ownIndex) = try #require(try Self.claimChannel(group, for: big), "a send above the atomic size through the open gate takes the channel")
        await group.close()
        await group.waitUntilHandleReleased()
        #expect(await group.deferredFinalizations.count == 1, "held back: the fragmented send still uses it")
        // A handle finalized under libcpg would fail the send.
        try await group.sendFragmentedDirectly(.single(big), handle: handle, ownIndex: ownIndex)
        // The other member sees this one go (procdown) only once its handle is finalized.
        let gone = await watcher.firstLine { $0.hasPrefix("membership") && $0.contains("left=\(member.nodeID):\(member.pid):5") }
        #expect(gone != nil)
        #expect(await group.deferredFinalizations.isEmpty)
        watcher.kill(SIGTERM)
        #expect(await watcher.exitStatus() == 0)
    }

    @Test("a fragmented send whose daemon dies throws; after the reconnect the group sends and confirms on", .timeLimit(.minutes(1)))
    func fragmentedSendFailsWhenDaemonDies() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let configuration = quicklyReconnecting(networkNamespace: cluster.node(1).namespacePath)
            let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
            var events = group.events.makeAsyncIterator()
            let before = try await group.sendConfirmed(Array("before".utf8))
            let big = Self.payload(sender: 0, index: 0, size: group.maxAtomicMessageSize + 100_000)
            let (handle, ownIndex) = try #require(try Self.claimChannel(group, for: big), "a send above the atomic size through the open gate takes the channel")
            try await cluster.killDaemon(cluster.node(1))
            while let event = try await events.next() {
                if case .disconnected = event { break }
            }
            await #expect {
                try await group.sendFragmentedDirectly(.single(big), handle: handle, ownIndex: ownIndex)
            } throws: { error in
                guard let error = error as? CPGError else { return false }
                return error.code == .connectionLost || error.code == .partialSend
            }
            #expect(!group.largeSendInFlight, "the failure is recorded and the channel free again")
            try await cluster.startDaemon(cluster.node(1))
            while let event = try await events.next() {
                if event == .reconnected { break }
            }
            let after = try await group.sendConfirmed(Array("after".utf8))
            #expect(after == before + 1, "the failed message was never delivered: indices go on from the last delivery")
            var delivered: [[UInt8]] = []
            while delivered.isEmpty, let event = try await events.next() {
                if let message = event.message { delivered.append(message.payload) }
            }
            #expect(delivered == [Array("after".utf8)])
            #expect(await group.failedOwnIndices.isEmpty, "no index of the old connection is kept")
            await group.close()
        }
    }
}
