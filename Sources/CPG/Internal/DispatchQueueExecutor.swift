import Dispatch

/// A serial executor that runs an actor's jobs on a DispatchQueue.
///
/// The group's DispatchSource fires on the same queue, so its handler can enter the actor with
/// `assumeIsolated`: events are dispatched isolated, with no task hop per event.
// @unchecked Sendable: the only stored property is an immutable DispatchQueue, which is
// thread-safe; Dispatch on Linux does not mark it Sendable.
final class DispatchQueueExecutor: SerialExecutor, @unchecked Sendable {
    let queue: DispatchQueue

    init(queue: DispatchQueue) {
        self.queue = queue
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.queue.async {
            job.runSynchronously(on: self.asUnownedSerialExecutor())
        }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(self.queue))
    }
}
