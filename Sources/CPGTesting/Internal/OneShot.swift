/// A value that is set exactly once and can be awaited by any number of tasks.
///
/// Awaiting is not cancellable on purpose: every `OneShot` in this module is
/// fulfilled by a thread that watches a child process, and that thread always
/// finishes once the process (which the canceller kills) is gone.
final class OneShot<Value: Sendable>: Sendable {
    private struct State: Sendable {
        var value: Value?
        var waiters: [CheckedContinuation<Value, Never>] = []
    }

    private let state = Locked(State())

    init() {}

    /// The value, if it was set already.
    var current: Value? {
        state.withLock { $0.value }
    }

    /// Sets the value and wakes every waiter. Later calls are ignored.
    func fulfill(_ value: Value) {
        let waiters: [CheckedContinuation<Value, Never>] = state.withLock { state in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters {
            waiter.resume(returning: value)
        }
    }

    /// Waits until the value is set.
    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready: Value? = state.withLock { state in
                    if let value = state.value { return value }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready {
                    continuation.resume(returning: ready)
                }
            }
        }
    }
}
