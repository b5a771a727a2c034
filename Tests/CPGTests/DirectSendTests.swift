@testable import CPG
import Testing

@Suite("Sends that go straight to corosync (no actor hop)", .timeLimit(.minutes(2)))
struct DirectSendTests {
    @Test("confirmed sends among many direct sends from other tasks return their own message's delivery index")
    func confirmedAmongDirectSends() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let senders = 3
        let perSender = 400
        let confirmedCount = 60
        let confirmedIndices = try await withThrowingTaskGroup(of: [UInt64].self) { tasks in
            for sender in 0..<senders {
                tasks.addTask {
                    for index in 0..<perSender { try await group.send("u \(sender) \(index)") }
                    return []
                }
            }
            tasks.addTask {
                var indices: [UInt64] = []
                for index in 0..<confirmedCount {
                    indices.append(try await group.sendConfirmed(Array("c \(index)".utf8)))
                }
                return indices
            }
            var all: [UInt64] = []
            for try await indices in tasks { all += indices }
            return all
        }
        #expect(confirmedIndices.count == confirmedCount)

        var next = [Int](repeating: 0, count: senders)
        var confirmedDelivered: [UInt64] = []
        for message in try await messages.first(senders * perSender + confirmedCount) {
            let words = String(decoding: message.payload, as: UTF8.self).split(separator: " ")
            if words[0] == "u" {
                let sender = Int(words[1])!
                #expect(Int(words[2])! == next[sender], "each task's sends keep their order")
                next[sender] += 1
            } else {
                #expect(Int(words[1])! == confirmedDelivered.count)
                confirmedDelivered.append(message.deliveryIndex)
            }
        }
        #expect(next == [Int](repeating: perSender, count: senders))
        #expect(confirmedDelivered == confirmedIndices, "each confirmation names its own message")
        await group.close()
    }

    @Test("a send from a task cancelled before it calls is never sent, even with nothing queued")
    func cancelledBeforeTheCall() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let marker = Array("cancelled".utf8)
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await group.send(marker)
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        let end = Array("end".utf8)
        _ = try await group.sendConfirmed(end)
        let delivered = try await messages.first(1).map(\.payload)
        #expect(delivered == [end])
        await group.close()
    }

    @Test("after leave, a send fails with notJoined, not through the direct path")
    func sendAfterLeave() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        try await group.send("before")
        try await group.leave()
        await #expect(throws: CPGError.self) { try await group.send("after") }
        do {
            try await group.send("after")
        } catch let error as CPGError {
            #expect(error.code == .notJoined)
        }
    }
}
