/// Whether the group's reader may wait on corosync's fd on the group's own queue, and whether
/// work enqueued on that queue meanwhile must wake it (see `CPGConfiguration.readerLinger`).
///
/// A lingering reader holds the group's serial queue: every actor job and every other block
/// waits for it. So the reader lingers only while nothing is pending, and whatever is enqueued
/// while it lingers wakes it at once. A pure value: the group's executor keeps it behind a lock,
/// which makes "check for pending work, then start waiting" and "count a job, then see whether
/// the reader waits" exclusive of each other, so no job can slip in unseen.
struct LingerGate: Sendable {
    /// Blocks enqueued on the group's queue that have not started yet.
    private(set) var pendingJobs = 0
    /// Whether the reader waits on the fd now.
    private(set) var lingering = false

    /// What the executor does after counting a job.
    enum EnqueueAction: Equatable {
        case none
        /// The reader waits on the fd: signal its wakeup so it returns the queue.
        case wakeReader
    }

    /// What the reader does when it would linger.
    enum LingerAction: Equatable {
        /// Nothing is pending: wait on the fd (and the wakeup).
        case wait
        /// Work waits for the queue: return to the DispatchSource instead.
        case yieldQueue
    }

    /// A block was enqueued on the group's queue.
    mutating func jobEnqueued() -> EnqueueAction {
        self.pendingJobs += 1
        return self.lingering ? .wakeReader : .none
    }

    /// An enqueued block starts to run.
    mutating func jobStarted() {
        precondition(self.pendingJobs > 0, "a job started that was never enqueued")
        self.pendingJobs -= 1
    }

    /// The reader read everything and would wait on the fd for the next event.
    mutating func lingerRequested() -> LingerAction {
        if self.pendingJobs > 0 { return .yieldQueue }
        self.lingering = true
        return .wait
    }

    /// The reader stopped waiting (an event, a wakeup or the timeout).
    mutating func lingerEnded() {
        self.lingering = false
    }
}
