import Dispatch

/// A serial executor that runs an actor's jobs on a DispatchQueue.
///
/// The group's DispatchSource fires on the same queue, so its handler can enter the actor with
/// `CPGGroup.enterIsolated(_:)`: events are dispatched isolated, with no task hop per event.
///
/// With a ``ReaderWakeup`` (the group lingers on its fd, see `CPGConfiguration.readerLinger`),
/// every block goes through ``enqueue(_:)`` or ``async(_:)``, which count it, so that a
/// lingering reader returns the queue as soon as anything else needs it.
// @unchecked Sendable: both stored properties are immutable; DispatchQueue is thread-safe
// (Dispatch on Linux does not mark it Sendable) and ReaderWakeup is Sendable.
final class DispatchQueueExecutor: SerialExecutor, @unchecked Sendable {
    let queue: DispatchQueue
    let wakeup: ReaderWakeup?

    init(queue: DispatchQueue, wakeup: ReaderWakeup? = nil) {
        self.queue = queue
        self.wakeup = wakeup
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedSerialExecutor()
        self.async {
            job.runSynchronously(on: executor)
        }
    }

    /// Runs `body` on the queue (after whatever the queue runs now, a lingering reader included).
    func async(_ body: @escaping @Sendable () -> Void) {
        guard let wakeup = self.wakeup else {
            self.queue.async(execute: body)
            return
        }
        wakeup.jobEnqueued()
        self.queue.async {
            wakeup.jobStarted()
            body()
        }
    }

    /// Runs `body` on the queue once `delay` has passed. The block counts as enqueued only
    /// then: a lingering reader need not return the queue for a timer that has not fired.
    func asyncAfter(_ delay: DispatchTimeInterval, _ body: @escaping @Sendable () -> Void) {
        guard self.wakeup != nil else {
            self.queue.asyncAfter(deadline: .now() + delay, execute: body)
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
            self.async(body)
        }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(self.queue))
    }
}
