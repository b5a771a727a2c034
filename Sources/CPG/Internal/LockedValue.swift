#if canImport(Glibc)
import Glibc
#endif

/// A value behind a `pthread_mutex_t`.
///
/// Used instead of `Synchronization.Mutex`, whose futex-based lock ThreadSanitizer cannot see on
/// Linux: with it every access under the lock is reported as a race, and real races would hide.
///
/// `Value` may be noncopyable (the event log's state machine is).
///
/// `Value` must not be a function type (nor an optional one): wrap a closure in a struct. A
/// closure stored at the generic abstraction is reabstracted on the way into `withLock`'s
/// `inout` and again on the way back, and Swift 6.3 stores the wrapped closure: every access
/// adds two reabstraction thunks, so calls slow down and memory grows with each use
/// (`Benchmarks/RESULTS.md` has the measurement).
// @unchecked Sendable: `value` is only read or written between pthread_mutex_lock and
// pthread_mutex_unlock on `mutex`, which lives in its own allocation for the box's lifetime.
final class LockedValue<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Unchecked: every access is under the mutex, so none can overlap another; the dynamic
    // check would cost a thread-local lookup per lock.
    @exclusivity(unchecked) private var value: Value

    init(_ value: consuming Value) {
        self.value = value
        self.mutex = UnsafeMutablePointer.allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(self.mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }
}
