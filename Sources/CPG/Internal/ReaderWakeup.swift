import CLibCPG
import Glibc

/// Lets the group's reader wait on corosync's fd on the group's queue (a linger, see
/// `CPGConfiguration.readerLinger`) and wakes it when other work is enqueued on that queue.
///
/// The group's executor reports every block it enqueues and starts (``jobEnqueued()``,
/// ``jobStarted()``); the reader waits in ``wait(fd:timeout:)``.
final class ReaderWakeup: Sendable {
    /// The outcome of ``wait(fd:timeout:)``.
    enum WaitResult: Equatable {
        /// The fd is readable (or failed: the next dispatch reports it).
        case readable
        /// Work waits for the group's queue: return it.
        case queueWork
        /// Nothing happened for the whole linger.
        case timedOut
    }

    private let gate = LockedValue(LingerGate())
    private let eventFD: Int32

    /// A wakeup with an eventfd of its own; `nil` if the process has no file descriptor left
    /// (the group then does not linger).
    init?() {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { return nil }
        self.eventFD = fd
    }

    deinit {
        close(self.eventFD)
    }

    /// Whether the reader waits on the fd now (for tests).
    var isLingering: Bool {
        self.gate.withLock { $0.lingering }
    }

    /// A block was enqueued on the group's queue: wake the reader if it waits.
    func jobEnqueued() {
        if self.gate.withLock({ $0.jobEnqueued() }) == .wakeReader {
            _ = eventfd_write(self.eventFD, 1)
        }
    }

    /// An enqueued block starts to run.
    func jobStarted() {
        self.gate.withLock { $0.jobStarted() }
    }

    /// Waits, on the calling thread (the group's queue), until `fd` is readable, a block is
    /// enqueued on the queue, or `timeout` passes.
    func wait(fd: Int32, timeout: Duration) -> WaitResult {
        // At most a day per wait, so that the nanoseconds cannot overflow.
        let seconds = min(max(timeout.components.seconds, 0), 86_400)
        let nanoseconds = seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        while true {
            guard self.gate.withLock({ $0.lingerRequested() }) == .wait else { return .queueWork }
            let result = swift_cpg_wait_readable(fd, self.eventFD, nanoseconds)
            self.gate.withLock { $0.lingerEnded() }
            if result < 0 {
                if -result == EINTR { continue }
                return .timedOut  // the source takes over again
            }
            if result & 2 != 0 {
                var count: eventfd_t = 0
                _ = eventfd_read(self.eventFD, &count)
            }
            if result & 1 != 0 { return .readable }
            if result == 0 { return .timedOut }
            // Woken: by work (then lingerRequested answers yieldQueue), or by a signal left from
            // an earlier linger whose work already ran (then wait again).
        }
    }
}
