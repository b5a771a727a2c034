@testable import CPG
import Foundation
import Testing

@Suite("Interop with plain-C libcpg members in other processes", .timeLimit(.minutes(1)))
struct InteropTests {
    @Test("a Swift member and a C member in another process deliver the same messages in the same order")
    func sameOrderAcrossProcesses() async throws {
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name)
        let events = group.events
        let count = 500
        let peer = try PeerProcess(
            product: "cpg-c-peer",
            [String(decoding: name.bytes, as: UTF8.self), "--wait-members", "2", "--send", "\(count)", "--size", "200", "--prefix", "c", "--expect", "\(2 * count)"]
        )
        // Both send at once, once both are members.
        var received: [CPGMessage] = []
        var sending: Task<Void, any Error>?
        for try await event in events {
            if let change = event.membership, change.members.count == 2, sending == nil {
                sending = Task {
                    for index in 0..<count { try await group.send(Array("s\(index)".utf8)) }
                }
            }
            if let message = event.message {
                received.append(message)
                if received.count == 2 * count { break }
            }
        }
        try await sending?.value
        #expect(await peer.exitStatus() == 0)
        let peerMessages = await peer.allLines().compactMap(peerMessagePayload)
        #expect(peerMessages.count == 2 * count)
        #expect(peerMessages.map { CPGMember(nodeID: $0.nodeID, pid: $0.pid) } == received.map(\.sender))
        #expect(peerMessages.map(\.payload) == received.map(\.payload))
        let fromPeer = received.filter { $0.sender.pid == UInt32(peer.pid) }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(fromPeer.count == count)
        #expect(fromPeer.first?.hasPrefix("c0") == true)
        await group.close()
    }

    @Test("membership reasons: a C member that joins, one killed (procdown), one that leaves")
    func membershipReasons() async throws {
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name)
        let changes = group.membershipChanges
        var iterator = changes.makeAsyncIterator()
        let own = try #require(try await iterator.next())
        #expect(own.joined == [CPGMemberChange(member: group.localMember, reason: .join)])

        let killed = try PeerProcess(product: "cpg-c-peer", [String(decoding: name.bytes, as: UTF8.self)])
        let killedMember = CPGMember(nodeID: group.localNodeID, pid: UInt32(killed.pid))
        let joined = try #require(try await iterator.next())
        #expect(joined.joined == [CPGMemberChange(member: killedMember, reason: .join)])
        #expect(Set(joined.members) == [group.localMember, killedMember])
        killed.kill(SIGKILL)
        let down = try #require(try await iterator.next())
        #expect(down.left == [CPGMemberChange(member: killedMember, reason: .processDown)])
        #expect(down.members == [group.localMember])
        _ = await killed.exitStatus()

        let leaving = try PeerProcess(product: "cpg-c-peer", [String(decoding: name.bytes, as: UTF8.self)])
        let leavingMember = CPGMember(nodeID: group.localNodeID, pid: UInt32(leaving.pid))
        #expect(try await iterator.next()?.joined.map(\.member) == [leavingMember])
        #expect(Set(try await group.members()) == [group.localMember, leavingMember])
        leaving.kill(SIGTERM)  // the peer leaves, then exits
        let left = try #require(try await iterator.next())
        #expect(left.left == [CPGMemberChange(member: leavingMember, reason: .leave)])
        #expect(await leaving.exitStatus() == 0)
        await group.close()
    }

    @Test("a consumer that stalls while thousands of messages arrive loses none, and the buffer stays bounded")
    func stalledConsumerLosesNothing() async throws {
        var configuration = CPGConfiguration()
        configuration.eventBufferCount = 100
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name, configuration: configuration)
        let messages = group.messages  // subscribed, but not read until the group stops reading
        let count = 5000
        let peer = try PeerProcess(
            product: "cpg-c-peer",
            [String(decoding: name.bytes, as: UTF8.self), "--wait-members", "2", "--send", "\(count)", "--size", "1000", "--prefix", "p", "--expect", "\(count)"]
        )
        // Stall until the buffer is full and the group has stopped reading corosync's fd; the
        // peer goes on sending while corosync holds the rest (waiting for the peer to finish
        // would deadlock: corosync pushes back on every sender while a member does not read).
        await group.waitUntilReadingPaused()
        #expect(group.log.peakCount == 100)
        var index = 0
        for try await message in messages {
            let text = String(decoding: message.payload.prefix(while: { $0 != UInt8(ascii: ".") }), as: UTF8.self)
            #expect(text == "p\(index)")
            #expect(message.payload.count == 1000)
            index += 1
            if index == count { break }
        }
        #expect(index == count)
        #expect(group.log.peakCount <= 100)
        #expect(await peer.exitStatus() == 0)
        await group.close()
    }

    @Test("a C member of the group with the empty name: listed with an empty name, and its members found by it")
    func emptyGroupName() async throws {
        let peer = try PeerProcess(product: "cpg-c-peer", ["", "--empty-group"])
        // SIGTERM however the checks go: the peer leaves (corosync would keep a member of an
        // empty-named group whose process died, in the daemon the other tests share).
        let checks = Task {
            #expect(await peer.line(0)?.hasPrefix("ready") == true)
            let listed = try await CPGCluster.groups().first { $0.name.bytes.isEmpty }
            let group = try #require(listed, "no group with an empty name listed")
            #expect(group.members.count == 1)
            #expect(try await CPGCluster.groupNames().contains(group.name))
            #expect(try await CPGCluster.members(of: group.name) == group.members)
            // A NUL is another name: nothing listed under it.
            #expect(try await CPGCluster.members(of: CPGGroupName(bytes: [0])).isEmpty)
        }
        let outcome = await checks.result
        peer.kill(SIGTERM)
        #expect(await peer.exitStatus() == 0)
        try outcome.get()
    }

    @Test("a consumer that sends confirmed from inside its loop while its buffer is full does not deadlock; nothing is lost")
    func confirmedSendFromFullConsumer() async throws {
        // The confirmation waits for this member's own delivery, which corosync queues behind
        // the peer's messages this member has not read, and the consumer waiting for it is the
        // one that would read them: the group reads past its limits for it, up to twice them.
        var configuration = CPGConfiguration()
        configuration.eventBufferCount = 8
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name, configuration: configuration)
        let count = 1000
        var messages = group.messages.makeAsyncIterator()
        let peer = try PeerProcess(
            product: "cpg-c-peer",
            [String(decoding: name.bytes, as: UTF8.self), "--wait-members", "2", "--send", "\(count)", "--size", "100", "--prefix", "p", "--expect", "\(count + 1)"]
        )
        let first = try #require(try await messages.next())
        await group.waitUntilReadingPaused()
        var confirmed: UInt64?
        do {
            confirmed = try await group.sendConfirmed(Array("own".utf8))
        } catch let error as CPGError {
            #expect(error.code == .confirmationBlocked, "\(error)")
        }
        var received = [first]
        while received.count < count + 1, let message = try await messages.next() { received.append(message) }
        let fromPeer = received.filter { $0.sender != group.localMember }
        #expect(fromPeer.map { String(decoding: $0.payload.prefix(while: { $0 != UInt8(ascii: ".") }), as: UTF8.self) } == (0..<count).map { "p\($0)" })
        let own = received.filter { $0.sender == group.localMember }
        #expect(own.map(\.payload) == [Array("own".utf8)])
        if let confirmed { #expect(own.first?.deliveryIndex == confirmed) }
        #expect(await peer.exitStatus() == 0)
        await group.close()
    }

    @Test("fragmented messages that corosync queued behind a full event ring arrive intact and in order; the reader wakes corosync for them")
    func queuedFragmentedMessages() async throws {
        // One event fills the buffer: the group stops reading at once, and corosync queues the
        // peer's messages (about 1.25 MiB each, in two pieces) behind the full ring. Once the
        // peer has them all back, no other traffic wakes corosync: without a nudge from the
        // reader, each piece would wait out libqb's 50 ms job timeout.
        var configuration = CPGConfiguration()
        configuration.eventBufferCount = 1
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name, configuration: configuration)
        let messages = group.messages
        let count = 6
        let size = (1 << 20) + (1 << 18)
        #expect(size > group.maxAtomicMessageSize)
        let peer = try PeerProcess(
            product: "cpg-c-peer",
            [String(decoding: name.bytes, as: UTF8.self), "--wait-members", "2", "--send", "\(count)", "--size", "\(size)", "--prefix", "big", "--expect", "\(count)", "--no-data"]
        )
        await group.waitUntilReadingPaused()
        #expect(await peer.exitStatus() == 0)
        var index = 0
        for try await message in messages {
            let text = "big\(index)"
            #expect(message.payload.count == size)
            #expect(message.payload.prefix(text.utf8.count).elementsEqual(text.utf8))
            #expect(message.payload.dropFirst(text.utf8.count).allSatisfy { $0 == UInt8(ascii: ".") })
            index += 1
            if index == count { break }
        }
        #expect(index == count)
        #expect(await group.corosyncNudges > 0)
        await group.close()
    }

    @Test("a subscription that is never iterated does not stall the others once dropped")
    func droppedSubscriptionDoesNotStall() async throws {
        var configuration = CPGConfiguration()
        configuration.eventBufferCount = 16
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
        let messages = group.messages
        _ = group.ringChanges  // created and dropped at once: no subscription remains
        for index in 0..<200 { try await group.send(Array("m\(index)".utf8)) }
        let received = try await messages.first(200)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<200).map { "m\($0)" })
        await group.close()
    }
}

@Suite("Dropping the last reference", .timeLimit(.minutes(1)))
struct DropTests {
    @Test("a group dropped without close is finalized: other members see this process go (procdown)")
    func droppedGroupIsFinalized() async throws {
        let name = uniqueGroupName()
        let watcher = try PeerProcess(product: "cpg-c-peer", [String(decoding: name.bytes, as: UTF8.self)])
        #expect(await watcher.line(0)?.hasPrefix("ready") == true)
        var group: CPGGroup? = try await CPGGroup.join(name)
        let member = try #require(group?.localMember)
        var events: CPGEventSequence<CPGEvent>? = group?.events
        #expect(try await events?.first(1).isEmpty == false)
        events = nil
        group = nil
        let gone = await watcher.firstLine { $0.hasPrefix("membership") && $0.contains("left=\(member.nodeID):\(member.pid):5") }
        #expect(gone != nil)
        watcher.kill(SIGTERM)
        #expect(await watcher.exitStatus() == 0)
    }
}
