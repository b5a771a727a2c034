@testable import CPG
import Testing

private typealias Machine = EventLogStateMachine<Int>

private func message(_ index: UInt64, size: Int = 0) -> CPGEvent {
    .message(CPGMessage(sender: CPGMember(nodeID: 1, pid: 1), payload: [UInt8](repeating: 0, count: size), deliveryIndex: index))
}

private let ring = CPGEvent.ring(CPGRingChange(ringID: CPGRingID(nodeID: 1, sequence: 4), members: [1]))

@Suite("EventLogStateMachine: batched appends")
struct EventLogBatchTests {
    @Test("a batch wakes a suspended subscriber once, with its first event; it polls the rest in order")
    func batchWakesOnce() {
        var machine = Machine(limits: .init(events: 100, bytes: 1 << 20))
        let id = machine.subscribe(kinds: .all)
        guard case .suspended = machine.suspend(id, waiter: 7) else {
            Issue.record("expected to suspend")
            return
        }
        let action = machine.append(batch: [message(1), message(2), message(3)])
        guard case .one(let waiter, let event) = action.wakeups else {
            Issue.record("expected exactly one wakeup")
            return
        }
        #expect(waiter == 7)
        #expect(event == message(1))
        #expect(!action.pauseProducer)
        guard case .ready(.event(let second), _) = machine.poll(id), case .ready(.event(let third), _) = machine.poll(id) else {
            Issue.record("expected the rest of the batch")
            return
        }
        #expect([second, third] == [message(2), message(3)])
        guard case .empty = machine.poll(id) else {
            Issue.record("expected nothing more")
            return
        }
        #expect(machine.count == 0)
    }

    @Test("a filtered subscriber is woken by the first event of its kind in a batch")
    func filteredSubscriberInBatch() {
        var machine = Machine(limits: .init(events: 100, bytes: 1 << 20))
        let rings = machine.subscribe(kinds: .ring)
        let all = machine.subscribe(kinds: .all)
        _ = machine.suspend(rings, waiter: 1)
        _ = machine.suspend(all, waiter: 2)
        let action = machine.append(batch: [message(1), ring, message(2)])
        guard case .many(let list) = action.wakeups else {
            Issue.record("expected two wakeups")
            return
        }
        #expect(list.count == 2)
        #expect(list.contains { $0.0 == 1 && $0.1 == ring })
        #expect(list.contains { $0.0 == 2 && $0.1 == message(1) })
    }

    @Test("room counts what the producer may still append; a batch that fills the log pauses it")
    func roomAndPause() {
        var machine = Machine(limits: .init(events: 4, bytes: 1 << 20))
        _ = machine.subscribe(kinds: .all)
        #expect(machine.room.events == 4)
        #expect(!machine.append(batch: [message(1), message(2)]).pauseProducer)
        #expect(machine.room.events == 2)
        #expect(machine.append(batch: [message(3), message(4)]).pauseProducer)
        #expect(machine.producerPaused == true)
        #expect(machine.room.events == 1, "the producer may always dispatch one event")
        #expect(machine.peakCount == 4)
    }

    @Test("the byte room follows the estimated size of what is held")
    func byteRoom() {
        var machine = Machine(limits: .init(events: 100, bytes: 10_000))
        _ = machine.subscribe(kinds: .all)
        let event = message(1, size: 1000)
        _ = machine.append(batch: [event])
        #expect(machine.room.bytes == 10_000 - event.approximateByteCount)
    }

    @Test("an ended log takes no batch")
    func endedLogTakesNothing() {
        var machine = Machine(limits: .init(events: 100, bytes: 1 << 20))
        _ = machine.subscribe(kinds: .all)
        _ = machine.finish(nil)
        let action = machine.append(batch: [message(1)])
        #expect(!action.pauseProducer)
        #expect(machine.count == 0)
    }

    @Test("the only subscription takes the events it passes out of the log; a later one starts after them")
    func onlySubscriptionTakesEventsOut() {
        var machine = Machine(limits: .init(events: 100, bytes: 1 << 20))
        let messages = machine.subscribe(kinds: .messages)
        _ = machine.append(batch: [message(1), ring, message(2)])
        guard case .ready(.event(let first), _) = machine.poll(messages) else {
            Issue.record("expected the first message")
            return
        }
        #expect(first == message(1))
        #expect(machine.count == 2)
        #expect(machine.byteCount == ring.approximateByteCount + message(2).approximateByteCount)
        let all = machine.subscribe(kinds: .all)
        guard case .ready(.event(let second), _) = machine.poll(messages) else {
            Issue.record("expected the second message")
            return
        }
        #expect(second == message(2), "the skipped ring change stays for the newer subscription")
        #expect(machine.count == 2)
        guard case .ready(.event(let ringForAll), _) = machine.poll(all), case .ready(.event(let last), _) = machine.poll(all) else {
            Issue.record("expected the ring change and the second message")
            return
        }
        #expect([ringForAll, last] == [ring, message(2)])
        #expect(machine.count == 0)
        #expect(machine.byteCount == 0)
    }
}
