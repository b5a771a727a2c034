@testable import CPG
import Testing

private func message(_ index: UInt64) -> CPGEvent {
    .message(CPGMessage(sender: CPGMember(nodeID: 1, pid: 1), payload: [UInt8(index & 0xff)], deliveryIndex: index))
}

/// What the log's read-on-demand hook saw: how often it was called.
private final class HookCalls: Sendable {
    let count = LockedValue(0)
}

@Suite("EventLog: reading on demand")
struct EventLogReadOnDemandTests {
    @Test("a consumer that finds the log empty gets what the hook appends, in order, without suspending")
    func hookFillsBeforeSuspending() async throws {
        let log = EventLog(limits: .init(events: 100, bytes: 1 << 20))
        let subscription = log.subscribe(kinds: .all)
        let calls = HookCalls()
        log.onReadOnDemand { [log] in
            let call = calls.count.withLock { count in
                count += 1
                return count
            }
            // The first call finds two events waiting at the producer, the second finds none.
            guard call == 1 else { return false }
            _ = log.append(contentsOf: [message(1), message(2)])
            return true
        }
        #expect(try await subscription.next() == message(1))
        #expect(try await subscription.next() == message(2))
        #expect(calls.count.withLock { $0 } == 1, "events already buffered need no hook")
        // Now the hook finds nothing: the consumer suspends until the producer appends.
        async let third = subscription.next()
        while calls.count.withLock({ $0 }) < 2 { await Task.yield() }
        _ = log.append(message(3))
        #expect(try await third == message(3))
    }

    @Test("a hook that answers false leaves the consumer waiting for the producer")
    func hookWithNothing() async throws {
        let log = EventLog(limits: .init(events: 100, bytes: 1 << 20))
        let subscription = log.subscribe(kinds: .messages)
        let calls = HookCalls()
        log.onReadOnDemand {
            calls.count.withLock { $0 += 1 }
            return false
        }
        async let first = subscription.next()
        while calls.count.withLock({ $0 }) < 1 { await Task.yield() }
        _ = log.append(message(7))
        #expect(try await first == message(7))
        log.finish(nil)
        #expect(try await subscription.next() == nil)
    }
}
