import CPG
import CPGTesting
import Foundation
import Testing

/// A message type for the JSON coder.
struct Note: Codable, Hashable, Sendable {
    var author: String
    var text: String
    var tags: [String] = []
}

@Suite("CPGChannel on the real daemon", .timeLimit(.minutes(1)))
struct CPGChannelTests {
    @Test("a typed message comes back decoded, with its sender and delivery index; changes pass through")
    func typedRoundTrip() async throws {
        let channel = try await CPGChannel<Note>.join(uniqueGroupName())
        let events = channel.events
        let note = Note(author: "ada", text: "hello", tags: ["a", "b"])
        let index = try await channel.sendConfirmed(note)

        var iterator = events.makeAsyncIterator()
        var changes: [CPGMembershipChange] = []
        var rings = 0
        var delivered: CPGDecodedMessage<Note>?
        while delivered == nil, let event = try await iterator.next() {
            switch event {
            case .message(let message): delivered = message
            case .undecodable(let failure): Issue.record("unexpected: \(failure)")
            case .membership(let change): changes.append(change)
            case .ring: rings += 1
            case .disconnected, .reconnected: Issue.record("unexpected: \(event)")
            }
        }
        #expect(delivered == CPGDecodedMessage(sender: channel.localMember, value: note, deliveryIndex: index))
        #expect(changes.map(\.joined) == [[CPGMemberChange(member: channel.localMember, reason: .join)]])
        #expect(rings == 1)
        #expect(try await channel.members() == [channel.localMember])

        try await channel.leave()
        var rest: [CPGChannelEvent<Note>] = []
        while let event = try await iterator.next() { rest.append(event) }
        #expect(rest.count == 1)
        if case .membership(let change) = rest.first {
            #expect(change.left == [CPGMemberChange(member: channel.localMember, reason: .leave)])
        } else {
            Issue.record("expected our own leave, got \(rest)")
        }
    }

    @Test("garbage sent raw through the group becomes an undecodable event and the channel goes on")
    func garbageThroughTheGroup() async throws {
        let channel = try await CPGChannel<Note>.join(uniqueGroupName())
        let events = channel.events
        let messages = channel.messages
        let garbage: [UInt8] = [0xFF, 0xFE, 0x00, 0x7B]
        try await channel.group.send(garbage)
        try await channel.group.send([])
        try await channel.send(Note(author: "bob", text: "still here"))

        let received = try await events.compactMap(\.deliveredMessage).first(3)
        #expect(received.count == 3)
        guard case .undecodable(let failure) = received[0], case .undecodable(let empty) = received[1] else {
            Issue.record("expected two undecodable messages first, got \(received)")
            return
        }
        #expect(failure.sender == channel.localMember)
        #expect(failure.payload == garbage)
        #expect(failure.deliveryIndex == 1)
        #expect(failure.underlyingError is DecodingError)
        #expect(failure.description.hasPrefix("message 1 from \(channel.localMember) (4 bytes: ff fe 00 7b) does not decode: "))
        #expect(empty.payload.isEmpty)
        #expect(empty.description.hasPrefix("message 2 from \(channel.localMember) (0 bytes) does not decode: "))
        guard case .message(let note) = received[2] else {
            Issue.record("expected the decoded note third, got \(received[2])")
            return
        }
        #expect(note.value == Note(author: "bob", text: "still here"))
        #expect(note.deliveryIndex == 3)

        // The messages-only subscription sees the same three, as results.
        let results = try await messages.first(3)
        #expect(results.map { (try? $0.get())?.value } == [nil, nil, Note(author: "bob", text: "still here")])
        #expect(results.map { $0.deliveryIndex() } == [1, 2, 3])
        // A consumer that needs every message can throw the failure as it is.
        #expect(throws: CPGMessageDecodingError.self) { try results[0].get() }
        await channel.close()
    }

    @Test("a plugged-in coder is used both ways; a message that does not encode is not sent")
    func customCoder() async throws {
        let channel = try await CPGChannel.join(uniqueGroupName(), coder: Int32Coder())
        let messages = channel.messages
        await #expect(throws: Int32Coder.Negative.self) { try await channel.send(-1) }
        try await channel.send(7)
        try await channel.group.send([1, 2, 3])  // three bytes: not an Int32
        try await channel.send(Int32.max)

        let results = try await messages.first(3)
        #expect(try results[0].get().value == 7)
        #expect(try results[0].get().deliveryIndex == 1, "the message that did not encode was never sent")
        guard case .failure(let failure) = results[1] else {
            Issue.record("expected a decoding failure, got \(results[1])")
            return
        }
        #expect(failure.underlyingError as? Int32Coder.WrongSize == Int32Coder.WrongSize(count: 3))
        #expect(try results[2].get().value == .max)
        await channel.close()
    }

    @Test("a libcpg member in another process sends bytes that are not JSON: each one is reported, in order")
    func foreignSender() async throws {
        let name = uniqueGroupName()
        let channel = try await CPGChannel<Note>.join(name)
        var events = channel.events.makeAsyncIterator()
        // The C peer sends "c0" and "c1" once it sees two members, and leaves after three messages.
        let peer = try await ChildProcess.spawn(
            [try BuiltProduct.path("cpg-c-peer"), String(decoding: name.bytes, as: UTF8.self),
             "--wait-members", "2", "--send", "2", "--expect", "3"]
        )
        let peerMember = CPGMember(nodeID: channel.localMember.nodeID, pid: UInt32(peer.processID))

        var failures: [CPGMessageDecodingError] = []
        while failures.count < 2, let event = try await events.next() {
            if case .undecodable(let failure) = event { failures.append(failure) }
            if case .message(let message) = event { Issue.record("unexpected: \(message)") }
        }
        #expect(failures.map(\.sender) == [peerMember, peerMember])
        #expect(failures.map(\.payload) == [Array("c0".utf8), Array("c1".utf8)])

        let note = Note(author: "swift", text: "for the C peer")
        try await channel.send(note)
        var sawNote = false
        var peerLeft = false
        while !peerLeft, let event = try await events.next() {
            switch event {
            case .message(let message): sawNote = message.value == note && message.sender == channel.localMember
            case .membership(let change): peerLeft = change.left == [CPGMemberChange(member: peerMember, reason: .leave)]
            case .undecodable(let failure): Issue.record("unexpected: \(failure)")
            case .ring: break
            case .disconnected, .reconnected: Issue.record("unexpected: \(event)")
            }
        }
        #expect(sawNote)
        #expect(await peer.waitForExit() == .exited(0), "\(peer.standardError)")
        await channel.close()
    }
}

@Suite("CPGChannel across a restart of corosync", .timeLimit(.minutes(1)))
struct CPGChannelReconnectTests {
    @Test("with supervised reconnect, disconnected and reconnected pass through, and typed messages go on")
    func passesReconnectThrough() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            var configuration = CPGConfiguration()
            configuration.networkNamespace = cluster.node(1).namespacePath
            var policy = CPGReconnectPolicy()
            policy.initialDelay = .milliseconds(20)
            policy.maximumDelay = .milliseconds(200)
            configuration.reconnect = policy
            let channel = try await CPGChannel<Note>.join(uniqueGroupName(), configuration: configuration)
            var events = channel.events.makeAsyncIterator()
            let before = Note(author: "a", text: "before")
            try await channel.send(before)
            #expect(try await events.nextMessage()?.value == before)

            try await cluster.killDaemon(cluster.node(1))
            guard case .disconnected(let error) = try await events.next() else {
                Issue.record("expected disconnected")
                return
            }
            #expect(error.code == .connectionLost)
            try await cluster.startDaemon(cluster.node(1))
            guard case .reconnected = try await events.next() else {
                Issue.record("expected reconnected")
                return
            }
            let after = Note(author: "a", text: "after")
            try await channel.send(after)
            #expect(try await events.nextMessage()?.value == after)
            await channel.close()
        }
    }
}

@Suite("CPGJSONMessageCoder and CPGMessageDecodingError without a daemon")
struct CPGMessageCoderTests {
    @Test("JSON round trip, with custom encoder and decoder settings")
    func jsonRoundTrip() throws {
        let coder = CPGJSONMessageCoder<Note>()
        let note = Note(author: "é", text: "\u{0}", tags: [])
        #expect(try coder.decode(coder.encode(note)) == note)

        let snake = CPGJSONMessageCoder<Note>(
            makeEncoder: {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = .sortedKeys
                return encoder
            },
            makeDecoder: { JSONDecoder() }
        )
        let bytes = try snake.encode(Note(author: "a", text: "b"))
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"author":"a","tags":[],"text":"b"}"#)
    }

    @Test("the description names the index, sender and bytes, and shows at most 32 bytes")
    func description() {
        let message = CPGMessage(
            sender: CPGMember(nodeID: 2, pid: 99),
            payload: Array(repeating: 0xAB, count: 40),
            deliveryIndex: 12
        )
        let failure = CPGMessageDecodingError(message: message, underlyingError: Int32Coder.WrongSize(count: 40))
        let shown = Array(repeating: "ab", count: 32).joined(separator: " ")
        #expect(failure.description == "message 12 from 2:99 (40 bytes: \(shown) …) does not decode: WrongSize(count: 40)")
        let one = CPGMessageDecodingError(
            message: CPGMessage(sender: CPGMember(nodeID: 1, pid: 5), payload: [0x0A], deliveryIndex: 1),
            underlyingError: Int32Coder.WrongSize(count: 1)
        )
        #expect(one.description == "message 1 from 1:5 (1 byte: 0a) does not decode: WrongSize(count: 1)")
    }
}
