#if canImport(Glibc)
import Glibc
#endif

/// The process-wide lock around every libcpg call that creates or destroys a handle.
///
/// libcpg keeps its handles (and its iteration handles) in libqb handle databases (`qb_hdb`),
/// which in libqb 2.0 create and free entries without a lock: two threads that create handles at
/// the same moment can be given the same slot, so that one of them answers `CS_ERR_BAD_HANDLE`
/// (or, worse, reads the other's instance) and the heap is corrupted when both are freed. Measured
/// on this project's CI machine with plain C: 8 threads calling `cpg_initialize` at once failed in
/// 14 runs of 300 (and aborted with "free(): invalid next size" once); with one lock around
/// initialize and finalize, in none. Every group has its own handle and connects on its own
/// queue, so groups joined or closed concurrently need this.
///
/// Only creation and destruction are serialised; calls on a live handle take libqb's atomic
/// reference count and need no lock. Initialising blocks on corosync's IPC handshake, so while one
/// connection waits for an unresponsive daemon, others in this process wait too.
enum HandleDatabaseLock {
    // nonisolated(unsafe): the pointer is written once, by the lazy initializer (swift_once), and
    // only read afterwards; the mutex it points to is what serialises the callers.
    private nonisolated(unsafe) static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
        return mutex
    }()

    /// Runs `body` while no other handle is created or destroyed in this process.
    static func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body()
    }
}
