@testable import CPG
import Testing

private typealias Machine = EventLogStateMachine<Int>

private func message(_ index: UInt64, size: Int = 0) -> CPGEvent {
    .message(CPGMessage(sender: CPGMember(nodeID: 1, pid: 1), payload: [UInt8](repeating: 0, count: size), deliveryIndex: index))
}

private let ring = CPGEvent.ring(CPGRingChange(ringID: CPGRingID(nodeID: 1, sequence: 4), members: [1]))

private extension Machine.PollAction {
    var event: CPGEvent? {
        if case .ready(.event(let event), _) = self { return event }
        return nil
    }
    var isEmpty: Bool {
        if case .empty = self { return true }
        return false
    }
    var resumesProducer: Bool {
        switch self {
        case .ready(_, let resume), .empty(let resume): resume
        }
    }
}

@Suite("EventLogStateMachine: ordered, bounded, never dropping")
struct EventLogStateMachineTests {
    @Test("events before the first subscription are kept for it")
    func keepsEventsForFirstSubscriber() {
        var machine = Machine(limits: .init(events: 10, bytes: 1 << 20))
        _ = machine.append(message(1))
        _ = machine.append(message(2))
        let id = machine.subscribe(kinds: .all)
        #expect(machine.poll(id).event == message(1))
        #expect(machine.poll(id).event == message(2))
        #expect(machine.poll(id).isEmpty)
        #expect(machine.count == 0)
    }

    @Test("room and fill against a multiple of the limits, saturating at Int.max")
    func roomAgainstMultiples() {
        var machine = Machine(limits: .init(events: 4, bytes: 1 << 20))
        _ = machine.subscribe(kinds: .all)
        for index in 1...4 { _ = machine.append(message(UInt64(index))) }
        let atLimits = (room: machine.room.events, doubled: machine.room(limitsTimes: 2).events, full: machine.holds(limitsTimes: 2))
        #expect(atLimits.room == 1 && atLimits.doubled == 4 && !atLimits.full)
        for index in 5...8 { _ = machine.append(message(UInt64(index))) }
        let atCeiling = (doubled: machine.room(limitsTimes: 2).events, full: machine.holds(limitsTimes: 2))
        #expect(atCeiling.doubled == 1 && atCeiling.full)
        let unbounded = Machine(limits: .init(events: .max, bytes: .max))
        let unboundedRoom = unbounded.room(limitsTimes: 2)
        let unboundedFull = unbounded.holds(limitsTimes: 2)
        #expect(unboundedRoom.events == .max && unboundedRoom.bytes == .max && !unboundedFull)
    }

    @Test("a second waiter on one subscription is refused, and the first is still the one woken and ended")
    func secondWaiterRefused() {
        var machine = Machine(limits: .init(events: 10, bytes: 1 << 20))
        let id = machine.subscribe(kinds: .all)
        guard case .suspended = machine.suspend(id, waiter: 1) else {
            Issue.record("expected to suspend")
            return
        }
        guard case .alreadyWaiting(let refused) = machine.suspend(id, waiter: 2) else {
            Issue.record("a second waiter replaced the first")
            return
        }
        #expect(refused == 2)
        guard case .one(let woken, let event) = machine.append(message(1)).wakeups else {
            Issue.record("expected one wakeup")
            return
        }
        #expect(woken == 1 && event == message(1))
        guard case .suspended = machine.suspend(id, waiter: 3) else {
            Issue.record("expected to suspend once the first waiter was woken")
            return
        }
        #expect(machine.finish(nil) == [3])
    }

    @Test("a suspended subscriber is woken by the next event of its kind and skips others")
    func wakesSuspendedSubscriberOfItsKind() {
        var machine = Machine(limits: .init(events: 10, bytes: 1 << 20))
        let rings = machine.subscribe(kinds: .ring)
        guard case .suspended = machine.suspend(rings, waiter: 7) else {
            Issue.record("expected to suspend")
            return
        }
        let first = machine.append(message(1))
        guard case .none = first.wakeups else {
            Issue.record("a message must not wake a ring subscriber")
            return
        }
        #expect(machine.count == 0, "the skipped message is not held for a subscriber that passed it")
        let second = machine.append(ring)
        guard case .one(let waiter, let event) = second.wakeups else {
            Issue.record("expected one wakeup")
            return
        }
        #expect(waiter == 7)
        #expect(event == ring)
    }

    @Test("the producer pauses at the count limit and resumes at half")
    func pausesAndResumes() {
        var machine = Machine(limits: .init(events: 4, bytes: 1 << 20))
        let id = machine.subscribe(kinds: .all)
        #expect(machine.append(message(1)).pauseProducer == false)
        #expect(machine.append(message(2)).pauseProducer == false)
        #expect(machine.append(message(3)).pauseProducer == false)
        #expect(machine.append(message(4)).pauseProducer == true)
        #expect(machine.producerPaused == true)
        #expect(machine.poll(id).resumesProducer == false)  // 3 left: above half
        #expect(machine.poll(id).resumesProducer == true)  // 2 left: half
        #expect(machine.producerPaused == false)
        #expect(machine.poll(id).event == message(3))
    }

    @Test("the producer pauses at the byte limit")
    func pausesOnBytes() {
        var machine = Machine(limits: .init(events: 1000, bytes: 1000))
        _ = machine.subscribe(kinds: .all)
        #expect(machine.append(message(1, size: 500)).pauseProducer == false)
        #expect(machine.append(message(2, size: 500)).pauseProducer == true)
    }

    @Test("a lagging subscriber holds events; the fast one does not see them twice")
    func slowSubscriberHoldsTheLog() {
        var machine = Machine(limits: .init(events: 100, bytes: 1 << 20))
        let fast = machine.subscribe(kinds: .all)
        let slow = machine.subscribe(kinds: .all)
        for index in 1...5 { _ = machine.append(message(UInt64(index))) }
        for index in 1...5 { #expect(machine.poll(fast).event == message(UInt64(index))) }
        #expect(machine.count == 5)
        for index in 1...5 { #expect(machine.poll(slow).event == message(UInt64(index))) }
        #expect(machine.count == 0)
    }

    @Test("an event is freed once the last subscriber moves past it, and the producer resumes then")
    func freedByTheLastReader() {
        var machine = Machine(limits: .init(events: 4, bytes: 1 << 20))
        let first = machine.subscribe(kinds: .all)
        let second = machine.subscribe(kinds: .all)
        for index in 1...3 { _ = machine.append(message(UInt64(index))) }
        #expect(machine.append(message(4)).pauseProducer)
        // The leader moving on frees nothing: the other still needs every event.
        for index in 1...4 {
            let action = machine.poll(first)
            #expect(action.event == message(UInt64(index)))
            #expect(!action.resumesProducer)
            #expect(machine.count == 4)
        }
        // The laggard frees one event per poll; at half the limit the producer resumes.
        #expect(machine.poll(second).event == message(1))
        #expect(machine.count == 3)
        let atHalf = machine.poll(second)
        #expect(atHalf.event == message(2))
        #expect(atHalf.resumesProducer)
        #expect(machine.count == 2)
        #expect(machine.poll(first).isEmpty)
        #expect(machine.count == 2)
        #expect(machine.poll(second).event == message(3))
        #expect(machine.poll(second).event == message(4))
        #expect(machine.count == 0)
    }

    @Test("unsubscribing a lagging subscriber frees the log and resumes the producer")
    func unsubscribeFrees() {
        var machine = Machine(limits: .init(events: 2, bytes: 1 << 20))
        let fast = machine.subscribe(kinds: .all)
        let slow = machine.subscribe(kinds: .all)
        _ = machine.append(message(1))
        #expect(machine.append(message(2)).pauseProducer)
        _ = machine.poll(fast)
        _ = machine.poll(fast)
        let action = machine.unsubscribe(slow)
        #expect(action.resumeProducer)
        #expect(action.waiter == nil)
        #expect(machine.count == 0)
    }

    @Test("finish resumes suspended subscribers; lagging ones drain first, then see the end")
    func finishDrainsThenEnds() {
        var machine = Machine(limits: .init(events: 10, bytes: 1 << 20))
        let waiting = machine.subscribe(kinds: .all)
        let lagging = machine.subscribe(kinds: .all)
        _ = machine.append(message(1))
        #expect(machine.poll(waiting).event == message(1))
        guard case .suspended = machine.suspend(waiting, waiter: 1) else {
            Issue.record("expected to suspend")
            return
        }
        let error = CPGError(.connectionLost, "gone")
        #expect(machine.finish(error) == [1])
        #expect(machine.poll(lagging).event == message(1))
        guard case .ready(.end(let end), _) = machine.poll(lagging) else {
            Issue.record("expected the end")
            return
        }
        #expect(end == error)
        #expect(machine.append(message(2)).pauseProducer == false)
        #expect(machine.isEnded == true)
    }

    @Test("suspending when an event is already there resumes at once")
    func suspendRaces() {
        var machine = Machine(limits: .init(events: 10, bytes: 1 << 20))
        let id = machine.subscribe(kinds: .messages)
        _ = machine.append(message(9))
        guard case .resume(let waiter, .event(let event), _) = machine.suspend(id, waiter: 3) else {
            Issue.record("expected an immediate resume")
            return
        }
        #expect(waiter == 3)
        #expect(event == message(9))
    }

    @Test("order is kept for every subscriber across thousands of events under a tiny limit")
    func orderUnderPressure() {
        var machine = Machine(limits: .init(events: 3, bytes: 1 << 20))
        let all = machine.subscribe(kinds: .all)
        let messages = machine.subscribe(kinds: .messages)
        var seenAll: [CPGEvent] = []
        var seenMessages: [CPGEvent] = []
        var produced: [CPGEvent] = []
        var next: UInt64 = 1
        var step = 0
        while next <= 3000 {
            step += 1
            if !machine.producerPaused {
                let event = next % 7 == 0 ? ring : message(next)
                produced.append(event)
                _ = machine.append(event)
                next += 1
            }
            // The two consumers read at different, uneven paces.
            if step % 2 == 0, let event = machine.poll(all).event { seenAll.append(event) }
            if step % 3 == 0, let event = machine.poll(messages).event { seenMessages.append(event) }
        }
        while let event = machine.poll(all).event { seenAll.append(event) }
        while let event = machine.poll(messages).event { seenMessages.append(event) }
        #expect(seenAll == produced)
        #expect(seenMessages == produced.filter { if case .message = $0 { return true } else { return false } })
        #expect(machine.count == 0)
    }

    @Test("many subscriptions, some ended in between: each keeps its own cursor and ended ones read the end")
    func manySubscriptionsWithGaps() {
        var machine = Machine(limits: .init(events: 1000, bytes: 1 << 20))
        let ids = (0..<50).map { _ in machine.subscribe(kinds: .all) }
        _ = machine.append(batch: (1...3).map { message($0) })
        let ended = Set(ids.filter { $0 % 3 == 1 })
        for id in ended { _ = machine.unsubscribe(id) }
        #expect(machine.subscriberCount == 50 - ended.count)
        // Live subscriptions read every event in order, however many of them read before.
        for (offset, id) in ids.enumerated() where !ended.contains(id) {
            for index in 1...UInt64(1 + offset % 3) { #expect(machine.poll(id).event == message(index)) }
        }
        for id in ended {
            guard case .ready(.end(nil), _) = machine.poll(id) else {
                Issue.record("an ended subscription reads the end")
                return
            }
        }
        for id in ids where !ended.contains(id) {
            while machine.poll(id).event != nil {}
        }
        #expect(machine.count == 0, "every live subscription passed every event")
    }
}
