import CPG
import Foundation
import Testing

@Suite("Join, send and receive on the real daemon", .timeLimit(.minutes(1)))
struct JoinSendReceiveTests {
    @Test("the first two events are our own join and the initial ring, in either order")
    func initialEvents() async throws {
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name)
        // Corosync sends both at join; under load the ring can come first.
        let events = try await group.events.first(2)
        let membership = try #require(events.compactMap(\.membership).first)
        #expect(membership.group == name)
        #expect(membership.members == [group.localMember])
        #expect(membership.joined == [CPGMemberChange(member: group.localMember, reason: .join)])
        #expect(membership.left.isEmpty)
        let ring = try #require(events.compactMap(\.ring).first)
        #expect(ring.members.contains(group.localNodeID))
        #expect(ring.ringID.sequence > 0)
        await group.close()
    }

    @Test("a sent message is delivered back with its sender and bytes")
    func roundTrip() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        try await group.send(Array("hello".utf8))
        try await group.send(buffers: [Array("sca".utf8), [], Array("tter".utf8)])
        let received = try await messages.first(2)
        #expect(received.map(\.payload) == [Array("hello".utf8), Array("scatter".utf8)])
        #expect(received.map(\.sender) == [group.localMember, group.localMember])
        #expect(received.map(\.deliveryIndex) == [1, 2])
        await group.close()
    }

    @Test("a subscription iterated again after a break goes on where the last iteration stopped")
    func iterateAgainAfterBreak() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        for index in 0..<40 { try await group.send([UInt8(index)]) }
        // Several short iterations of one subscription, as `first(_:)` makes them: together they
        // see every message once, in order, whatever was already buffered when each started.
        var seen: [UInt8] = []
        for count in [1, 2, 3, 14, 20] { seen += try await messages.first(count).map { $0.payload[0] } }
        #expect(seen == (0..<40).map { UInt8($0) })
        await group.close()
    }

    @Test("join returns once this member is in the group: members() lists it at once")
    func membersRightAfterJoin() async throws {
        // corosync answers cpg_join before the join has gone round the ring; join waits for it.
        for _ in 0..<25 {
            let group = try await CPGGroup.join(uniqueGroupName())
            #expect(try await group.members() == [group.localMember])
            await group.close()
        }
    }

    @Test("members() lists this process; leave ends the streams after our own leave")
    func membersAndLeave() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let changes = group.membershipChanges
        var seen = try await changes.first(1)
        #expect(try await group.members() == [group.localMember])
        try await group.leave()
        for try await change in changes { seen.append(change) }
        #expect(seen.count == 2)
        #expect(seen.last?.left == [CPGMemberChange(member: group.localMember, reason: .leave)])
        try await group.leave()  // idempotent
        await #expect(throws: CPGError.self) { try await group.members() }
    }
}
