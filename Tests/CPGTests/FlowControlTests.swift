@testable import CPG
import Foundation
import Synchronization
import Testing

@Suite("Sending under corosync's flow control", .timeLimit(.minutes(2)))
struct FlowControlTests {
    @Test("a burst from concurrent senders meets CS_ERR_TRY_AGAIN; every message arrives once, each sender's in order")
    func burstFromConcurrentSenders() async throws {
        var configuration = CPGConfiguration()
        configuration.eventBufferCount = 64
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
        let messages = group.messages
        let senders = 4
        let perSender = 1500
        let payloadSize = 65536
        let sending = Task {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for sender in 0..<senders {
                    tasks.addTask {
                        for index in 0..<perSender {
                            var payload = Array("\(sender) \(index) ".utf8)
                            payload += [UInt8](repeating: 0x2E, count: payloadSize - payload.count)
                            try await group.send(payload)
                        }
                    }
                }
                try await tasks.waitForAll()
            }
        }
        // Nobody reads until corosync pushes back: the group stops reading at 64 buffered
        // events and corosync then answers this member's sends with CS_ERR_TRY_AGAIN.
        await group.waitForFlowControl()
        var nextIndex = [Int](repeating: 0, count: senders)
        var received = 0
        for try await message in messages {
            let words = String(decoding: message.payload.prefix(24), as: UTF8.self).split(separator: " ")
            let sender = Int(words[0])!
            let index = Int(words[1])!
            #expect(index == nextIndex[sender], "sender \(sender): expected \(nextIndex[sender]), got \(index)")
            nextIndex[sender] = index + 1
            #expect(message.payload.count == payloadSize)
            #expect(message.sender == group.localMember)
            received += 1
            #expect(message.deliveryIndex == UInt64(received))
            if received == senders * perSender { break }
        }
        try await sending.value
        #expect(nextIndex == [Int](repeating: perSender, count: senders))
        #expect(group.log.peakCount <= 64)
        await group.close()
    }

    @Test("a send cancelled while it waits for flow control throws CancellationError and is never delivered")
    func cancellationWhileFlowControlled() async throws {
        var configuration = CPGConfiguration()
        configuration.eventBufferCount = 64
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
        let messages = group.messages
        let end = Array("end".utf8)
        // Nobody reads yet: the group's buffer fills, it stops reading corosync's fd, and
        // corosync then answers this member's sends with CS_ERR_TRY_AGAIN.
        let stop = Flag()
        let saturators = (0..<16).map { _ in
            Task {
                let filler = [UInt8](repeating: 0x41, count: 65536)
                while !stop.isSet { try await group.send(filler) }
            }
        }
        await group.waitForFlowControl()
        var cancelled: [[UInt8]] = []
        var sent: [[UInt8]] = []
        // A marker is queued only if it finds other sends queued: try until one is, for up to
        // 30 s (on a loaded machine the saturators are slow to keep the queue full).
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(30))
        var attempt = 0
        while cancelled.isEmpty, clock.now < deadline {
            attempt += 1
            let marker = Array("marker \(attempt)".utf8)
            await group.watchQueueing(of: marker)
            let task = Task { try await group.send(marker) }
            if await group.queueing(of: marker) {
                task.cancel()
                do {
                    try await task.value
                    sent.append(marker)  // corosync accepted it before the cancellation arrived
                } catch is CancellationError {
                    cancelled.append(marker)
                }
            } else {
                try await task.value
                sent.append(marker)
            }
        }
        let retries = await group.flowControlRetries
        #expect(!cancelled.isEmpty, "sends were not queued behind flow control (\(sent.count) sent at once, \(retries) retries)")
        stop.set()
        let consumer = Task {
            var delivered: Set<[UInt8]> = []
            for try await message in messages where message.payload.count < 65536 {
                delivered.insert(message.payload)
                if message.payload == end { break }
            }
            return delivered
        }
        for saturator in saturators { try await saturator.value }
        _ = try await group.sendConfirmed(end)
        let delivered = try await consumer.value
        for marker in cancelled { #expect(!delivered.contains(marker)) }
        for marker in sent { #expect(delivered.contains(marker)) }
        await group.close()
    }

    @Test("a confirmed send returns the message's place in this member's delivery order")
    func confirmedSend() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        try await group.send(Array("one".utf8))
        let index = try await group.sendConfirmed(Array("two".utf8))
        #expect(index == 2)
        let received = try await messages.first(2)
        #expect(received.last?.payload == Array("two".utf8))
        #expect(received.last?.deliveryIndex == index)
        await group.close()
    }

    @Test("1 MiB and 3 MiB messages go through libcpg's fragmentation intact", arguments: [1 << 20, 3 << 20])
    func largeMessages(size: Int) async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        #expect(size > group.maxAtomicMessageSize)
        var payload = [UInt8](repeating: 0, count: size)
        for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 9) }
        let index = try await group.sendConfirmed(payload)
        try await group.send(Array("after".utf8))
        let received = try await messages.first(2)
        #expect(received.first?.payload == payload)
        #expect(received.first?.deliveryIndex == index)
        #expect(received.last?.payload == Array("after".utf8))
        await group.close()
    }
}

/// A flag set once, read from many tasks.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { self.value.withLock { $0 } }
    func set() { self.value.withLock { $0 = true } }
}
