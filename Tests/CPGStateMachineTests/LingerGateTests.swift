@testable import CPG
import Testing

@Suite("LingerGate: when the reader may hold the group's queue")
struct LingerGateTests {
    @Test("the reader lingers only while nothing is pending, and a job enqueued meanwhile wakes it")
    func lingerAndWake() {
        var gate = LingerGate()
        #expect(gate.lingerRequested() == .wait)
        #expect(gate.lingering)
        #expect(gate.jobEnqueued() == .wakeReader)
        gate.lingerEnded()
        // Woken, the reader asks again: the job waits for the queue, so it yields.
        #expect(gate.lingerRequested() == .yieldQueue)
        #expect(!gate.lingering)
        gate.jobStarted()
        #expect(gate.lingerRequested() == .wait)
    }

    @Test("a job enqueued while the reader reads needs no wakeup, and keeps the reader from lingering")
    func jobBeforeLinger() {
        var gate = LingerGate()
        #expect(gate.jobEnqueued() == .none)
        #expect(gate.jobEnqueued() == .none)
        #expect(gate.lingerRequested() == .yieldQueue)
        gate.jobStarted()
        #expect(gate.lingerRequested() == .yieldQueue, "one job still pending")
        gate.jobStarted()
        #expect(gate.pendingJobs == 0)
        #expect(gate.lingerRequested() == .wait)
        gate.lingerEnded()
        #expect(gate.jobEnqueued() == .none, "a reader that stopped waiting needs no wakeup")
    }
}
