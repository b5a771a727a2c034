@testable import CPG
import CPGTesting
import Foundation
import Testing

@Suite("Bad input and misuse: typed errors, and the client still works", .timeLimit(.minutes(1)))
struct MisuseTests {
    @Test("too large, too many buffers: nothing sent, the group goes on")
    func badSends() async throws {
        var configuration = CPGConfiguration()
        configuration.maximumMessageSize = 1000
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
        let messages = group.messages
        do {
            try await group.send([UInt8](repeating: 1, count: 1001))
            Issue.record("an over-large send succeeded")
        } catch let error as CPGError {
            #expect(error.code == .messageTooLarge)
            #expect(error.description.contains("1000"))
        }
        do {
            try await group.send(buffers: [[UInt8]](repeating: [1], count: 64))
            Issue.record("a 64-buffer send succeeded")
        } catch let error as CPGError {
            #expect(error.code == .tooManyBuffers)
        }
        try await group.send(buffers: [[UInt8]](repeating: [7], count: 63))
        try await group.send([UInt8](repeating: 2, count: 1000))
        try await group.send([])
        let received = try await messages.first(3)
        #expect(received.map(\.payload.count) == [63, 1000, 0])
        await group.close()
    }

    @Test("no configuration lets a message of 4 GiB or more through: libcpg's 32-bit length would wrap")
    func largestMessageSize() async throws {
        var configuration = CPGConfiguration()
        configuration.maximumMessageSize = .max
        let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
        let messages = group.messages
        // 63 buffers sharing one 70 MiB array: 4.3 GiB to send, 70 MiB in memory.
        let chunk = [UInt8](repeating: 1, count: 70 << 20)
        let buffers = [[UInt8]](repeating: chunk, count: CPGGroup.maximumBufferCount)
        #expect(buffers.reduce(0) { $0 + $1.count } > Int(UInt32.max))
        do {
            try await group.send(buffers: buffers)
            Issue.record("a send of more than 4 GiB succeeded")
        } catch let error as CPGError {
            #expect(error.code == .messageTooLarge)
            #expect(error.description.contains("\(CPGGroup.largestMessageSize)"))
        }
        try await group.send([9])
        let received = try await messages.first(1)
        #expect(received.map(\.payload) == [[9]])
        await group.close()
    }

    @Test("two tasks waiting at once on one sequence value: the second throws concurrentIteration, the first gets the next message")
    func concurrentIteration() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        try await withThrowingTaskGroup(of: Result<CPGMessage?, CPGError>.self) { tasks in
            for _ in 0..<2 {
                tasks.addTask {
                    var iterator = messages.makeAsyncIterator()
                    do {
                        return .success(try await iterator.next())
                    } catch let error as CPGError {
                        return .failure(error)
                    }
                }
            }
            // Nothing is sent yet, so the first to finish is the refused one.
            guard case .failure(let error) = try await tasks.next() else {
                Issue.record("a wait ended without a message to deliver")
                return
            }
            #expect(error.code == .concurrentIteration)
            try await group.send([5])
            guard case .success(let message) = try await tasks.next() else {
                Issue.record("the first waiter did not get the message")
                return
            }
            #expect(message?.payload == [5])
        }
        await group.close()
    }

    @Test("a notification buffer of 0, less or Int.max: the group joins and works; 0 and less keep the system's default")
    func outOfRangeNotificationBuffers() async throws {
        var systemDefault = CPGConfiguration()
        systemDefault.notificationBufferBytes = nil
        let reference = try await CPGGroup.join(uniqueGroupName(), configuration: systemDefault)
        let defaultBytes = try #require(await reference.handle?.notificationBufferBytes())
        await reference.close()
        for bytes in [0, -1, Int.min, Int.max] {
            var configuration = CPGConfiguration()
            configuration.notificationBufferBytes = bytes
            let group = try await CPGGroup.join(uniqueGroupName(), configuration: configuration)
            let messages = group.messages
            let buffer = try #require(await group.handle?.notificationBufferBytes())
            if bytes > 0 {
                #expect(buffer > defaultBytes, "Int.max: \(buffer) bytes")
            } else {
                #expect(buffer == defaultBytes, "\(bytes): \(buffer) bytes")
            }
            try await group.send(Array("buffer \(bytes)".utf8))
            let received = try await messages.first(1)
            #expect(received.map(\.payload) == [Array("buffer \(bytes)".utf8)])
            await group.close()
        }
    }

    @Test("exactly the atomic maximum, and one byte more, both arrive")
    func atomicBoundary() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let atomic = group.maxAtomicMessageSize
        #expect(atomic == 1_047_552)
        try await group.send([UInt8](repeating: 3, count: atomic))
        try await group.send([UInt8](repeating: 4, count: atomic + 1))
        let received = try await messages.first(2)
        #expect(received.map(\.payload.count) == [atomic, atomic + 1])
        await group.close()
    }

    @Test("a second join of the same group by this process is alreadyJoined; the first goes on")
    func joinTwice() async throws {
        let name = uniqueGroupName()
        let group = try await CPGGroup.join(name)
        do {
            _ = try await CPGGroup.join(name)
            Issue.record("a second join succeeded")
        } catch {
            #expect(error.code == .alreadyJoined)
            #expect(error.status == .exist)
        }
        let messages = group.messages
        try await group.send(Array("still here".utf8))
        #expect(try await messages.first(1).first?.payload == Array("still here".utf8))
        await group.close()
    }

    @Test("send, members and leave after leave and after close; close twice")
    func afterLeaveAndClose() async throws {
        let left = try await CPGGroup.join(uniqueGroupName())
        try await left.leave()
        await #expect(throws: CPGError.self) { try await left.send([1]) }
        do {
            _ = try await left.members()
            Issue.record("members() after leave succeeded")
        } catch {
            #expect(error.code == .notJoined)
        }
        try await left.leave()
        await left.close()
        await left.close()

        let closed = try await CPGGroup.join(uniqueGroupName())
        await closed.close()
        do {
            try await closed.send([1])
            Issue.record("send after close succeeded")
        } catch let error as CPGError {
            #expect(error.code == .closed)
        }
        try await closed.leave()
        await closed.close()
        // A group left or closed can be joined again by a new client of this process.
        let again = try await CPGGroup.join(left.name)
        #expect(try await again.members() == [again.localMember])
        await again.close()
    }

    @Test("close and leave racing from many tasks end cleanly")
    func racingClose() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let events = group.events
        await withTaskGroup(of: Void.self) { tasks in
            for index in 0..<20 {
                tasks.addTask {
                    if index % 2 == 0 { await group.close() } else { try? await group.leave() }
                    _ = try? await group.send([UInt8(index)])
                }
            }
        }
        // The stream ends (events corosync had not handed over yet are discarded by close).
        for try await _ in events {}
        #expect(await group.lifecycle.state != .joined)
    }

    @Test("a consumer cancelled mid-iteration ends its subscription; the group goes on")
    func cancelledConsumer() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        let messages = group.messages
        let consumer = Task {
            var seen = 0
            for try await _ in group.messages { seen += 1 }
            return seen
        }
        try await group.send([1])
        consumer.cancel()
        _ = try await consumer.value
        try await group.send([2])
        #expect(try await messages.first(2).map(\.payload) == [[1], [2]])
        await group.close()
    }

    @Test("no daemon: join fails with unreachable, naming corosync")
    func unreachable() async throws {
        let namespace = "swiftcpg-empty-\(getpid())"
        _ = try await Shell.check(["ip", "netns", "add", namespace], timeout: .seconds(10))
        var configuration = CPGConfiguration()
        configuration.networkNamespace = "/run/netns/\(namespace)"
        do {
            _ = try await CPGGroup.join("nobody-home", configuration: configuration)
            Issue.record("join without a daemon succeeded")
        } catch {
            #expect(error.code == .unreachable)
            #expect(error.description.contains("corosync is not reachable"))
        }
        await #expect(throws: CPGError.self) { try await CPGCluster.groups(networkNamespace: configuration.networkNamespace) }
        _ = try await Shell.check(["ip", "netns", "delete", namespace], timeout: .seconds(10))
    }
}

@Suite("Group names are bytes", .timeLimit(.minutes(1)))
struct GroupNameTests {
    @Test("128 bytes are accepted by corosync; NUL bytes inside are kept; \"name\" and \"name\\0\" are two groups")
    func namesOnTheDaemon() async throws {
        let base = uniqueGroupName()
        let longest = try CPGGroupName(bytes: base.bytes + [UInt8](repeating: UInt8(ascii: "x"), count: 128 - base.bytes.count))
        let long = try await CPGGroup.join(longest)
        let plain = try await CPGGroup.join(base)
        let terminated = try await CPGGroup.join(CPGGroupName(bytes: base.bytes + [0]))  // a second join would be alreadyJoined
        let inner = try await CPGGroup.join(CPGGroupName(bytes: Array("in".utf8) + [0] + base.bytes))
        // A join is in corosync's table once it has gone through the total order: await each.
        for group in [long, plain, terminated, inner] {
            #expect(try await group.membershipChanges.first(1).first?.group == group.name)
        }
        #expect(try await long.members() == [long.localMember])
        let names = Set(try await CPGCluster.groupNames())
        #expect(names.isSuperset(of: [longest, base, terminated.name, inner.name]))
        for group in [long, plain, terminated, inner] { await group.close() }
    }
}
