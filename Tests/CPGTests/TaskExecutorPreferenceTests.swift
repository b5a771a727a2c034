import CPG
import Dispatch
import Testing

/// Callers whose tasks prefer a task executor of their own (a NIO event loop, say).
///
/// Such a task entering the group's actor runs on the group's queue with no task executor, which
/// is not the one it prefers, so the runtime may hop once more (enqueue itself again) at the next
/// `await`, even one that does not suspend, such as the call of `withCheckedContinuation`. An
/// event read in between must not be missed: a leave whose own departure was read during such a
/// hop used to wait forever.
@Suite("Callers with a task executor preference", .timeLimit(.minutes(2)))
struct TaskExecutorPreferenceTests {
    /// A task executor on a serial DispatchQueue of its own.
    final class QueueTaskExecutor: TaskExecutor, @unchecked Sendable {
        // @unchecked Sendable: the only stored property is immutable and DispatchQueue is
        // thread-safe (Dispatch on Linux does not mark it Sendable).
        let queue = DispatchQueue(label: "swift-cpg-test.task-executor")

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            let executor = self.asUnownedTaskExecutor()
            self.queue.async { job.runSynchronously(on: executor) }
        }
    }

    @Test("join, send, confirm, ask, leave: 100 rounds, every call returns")
    func roundsOfJoinAndLeave() async throws {
        let executor = QueueTaskExecutor()
        try await withTaskExecutorPreference(executor) {
            for round in 0..<100 {
                let group = try await CPGGroup.join(uniqueGroupName())
                let messages = group.messages
                try await group.send(Array("round \(round)".utf8))
                let index = try await group.sendConfirmed(Array("confirmed \(round)".utf8))
                #expect(index == 2)
                #expect(try await group.members() == [group.localMember])
                let delivered = try await messages.first(2).map { String(decoding: $0.payload, as: UTF8.self) }
                #expect(delivered == ["round \(round)", "confirmed \(round)"])
                try await group.leave()
            }
        }
    }

    @Test("run() of a task with a preference returns when the group is left or closed")
    func runEnds() async throws {
        let executor = QueueTaskExecutor()
        for round in 0..<50 {
            let group = try await CPGGroup.join(uniqueGroupName())
            let running = Task(executorPreference: executor) { try await group.run() }
            _ = try await group.sendConfirmed(Array("before the end".utf8))
            if round.isMultiple(of: 2) {
                try await group.leave()
            } else {
                await group.close()
            }
            try await running.value
        }
    }
}
