import Foundation

/// A value that is only read or written while holding a lock.
///
/// The small building block every other type in this module uses to share
/// state between the threads that wait for child processes and the Swift
/// concurrency world.
// @unchecked Sendable: `value` is only touched inside withLock, between lock() and unlock() of
// the immutable `lock`.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
