@testable import CPG
import Testing

/// How often the log called the producer's resume hook.
private final class ResumeCount: Sendable {
    let value = LockedValue(0)
}

@Suite("EventLog: the producer's resume hook")
struct EventLogResumeHookTests {
    /// A closure kept directly in a `LockedValue` gained two reabstraction thunks on every read
    /// (Swift 6.3), so each call walked a longer chain: 100,000 pause-and-resume cycles then took
    /// hours (or overflowed the stack) instead of milliseconds.
    @Test(
        "a producer paused and resumed 100,000 times gets every resume, at a constant cost",
        .timeLimit(.minutes(1))
    )
    func manyResumes() async throws {
        let log = EventLog(limits: .init(events: 1, bytes: 1 << 20))
        let subscription = log.subscribe(kinds: .all)
        let resumes = ResumeCount()
        log.onResumeProducer { resumes.value.withLock { $0 += 1 } }
        let cycles = 100_000
        for index in 0..<cycles {
            let event = CPGEvent.message(
                CPGMessage(sender: CPGMember(nodeID: 1, pid: 1), payload: [], deliveryIndex: UInt64(index))
            )
            // One event fills the log: the producer must pause, and the read that empties the log
            // tells it to resume.
            #expect(log.append(event), "the full log pauses the producer")
            #expect(try await subscription.next() == event)
        }
        #expect(resumes.value.withLock { $0 } == cycles)
    }
}
