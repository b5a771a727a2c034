@testable import CPG
import Testing

/// A service of the kind users write: an actor that reads a group's messages and answers from its
/// own isolation (the iterator and `send` run on the actor's executor).
private actor Answerer {
    private(set) var seen: [String] = []

    /// Reads until it has seen `count` questions and its `count` answers, answering each question.
    func run(_ messages: CPGEventSequence<CPGMessage>, group: CPGGroup, count: Int) async throws {
        for try await message in messages {
            let text = String(decoding: message.payload, as: UTF8.self)
            self.seen.append(text)
            if text.hasPrefix("q ") { try await group.send("a " + text.dropFirst(2)) }
            if self.seen.count == 2 * count { return }
        }
    }

    /// Reads until the task is cancelled; answers how many messages it read.
    func readUntilCancelled(_ messages: CPGEventSequence<CPGMessage>, started: AsyncStream<Void>.Continuation) async throws -> Int {
        var read = 0
        started.yield()
        for try await _ in messages { read += 1 }
        return read
    }
}

@Suite("A consumer isolated to an actor", .timeLimit(.minutes(2)))
struct ActorConsumerTests {
    @Test("reads every message in order and sends from its own isolation")
    func readsAndAnswers() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let answerer = Answerer()
        let count = 300
        let messages = group.messages
        async let answered: Void = answerer.run(messages, group: group, count: count)
        for index in 0..<count { try await group.send("q \(index)") }
        try await answered
        let seen = await answerer.seen
        let questions = seen.filter { $0.hasPrefix("q ") }
        let answers = seen.filter { $0.hasPrefix("a ") }
        #expect(questions == (0..<count).map { "q \($0)" })
        #expect(answers == (0..<count).map { "a \($0)" }, "answers are delivered in the order they were sent")
        for index in 0..<count {
            #expect(seen.firstIndex(of: "q \(index)")! < seen.firstIndex(of: "a \(index)")!)
        }
        await group.close()
    }

    @Test("cancelled while it waits, it ends without an error and holds nothing back")
    func cancelledWhileWaiting() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let answerer = Answerer()
        let others = group.messages
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let messages = group.messages
        let reader = Task { try await answerer.readUntilCancelled(messages, started: startedContinuation) }
        for await _ in started { break }
        try await group.send("one")
        #expect(try await others.first(1).map(\.payload) == [Array("one".utf8)])
        reader.cancel()
        let read = try await reader.value  // ends with nil: a cancelled consumer does not throw
        #expect((0...1).contains(read), "it read at most the one message sent")
        // The cancelled subscription is gone: the log does not keep events for it.
        for index in 0..<10 { try await group.send("after \(index)") }
        #expect(try await others.first(10).count == 10)
        #expect(group.log.count == 0)
        await group.close()
    }
}
