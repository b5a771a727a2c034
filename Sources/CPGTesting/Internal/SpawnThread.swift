import Foundation

/// One long-lived thread from which every child process is spawned.
///
/// Daemons and node processes are started with `setpriv --pdeathsig KILL`, so
/// the kernel kills them when their parent *thread* ends. Spawning them from a
/// thread that never ends ties their life to the test process itself: if the
/// test process crashes, nothing it started in a namespace outlives it.
/// (Threads of Swift's cooperative pool can come and go, which would kill
/// children at random.) Spawning from one thread also serialises spawns, so
/// file descriptors made for one child are never inherited by another.
// @unchecked Sendable: `jobs` is only read or written while `condition` (immutable) is locked.
final class SpawnThread: @unchecked Sendable {
    static let shared = SpawnThread()

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []

    private init() {
        let thread = Thread { [self] in
            self.loop()
        }
        thread.name = "CPGTesting.spawn"
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty {
                condition.wait()
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on the spawn thread and returns its result.
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            condition.lock()
            jobs.append {
                continuation.resume(with: Result { try body() })
            }
            condition.signal()
            condition.unlock()
        }
    }
}
