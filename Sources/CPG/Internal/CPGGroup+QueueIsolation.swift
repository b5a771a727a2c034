import Dispatch

extension CPGGroup {
    /// Runs `operation` isolated to the group, from a block that runs on the group's queue (the
    /// DispatchSource's handlers and every block of ``DispatchQueueExecutor/async(_:)``).
    ///
    /// What `Actor.assumeIsolated` does, without its cost: for an actor with a custom executor it
    /// allocates a closure context on every call (Swift 6.3 on Linux: one `malloc` per call,
    /// counted with a uprobe), and the reader enters the group once per firing of its source,
    /// once per delivered message when messages come one at a time. A closure that captures
    /// nothing allocates nothing here.
    nonisolated func enterIsolated(_ operation: @escaping (isolated CPGGroup) -> Void) {
        // The precondition makes the cast below sound: on the group's serial queue, nothing else
        // runs the actor's jobs, so the group is isolated here. Isolation is not part of a
        // synchronous function's calling convention, so the cast only drops the annotation, as
        // `assumeIsolated` itself does after the same check.
        dispatchPrecondition(condition: .onQueue(self.executor.queue))
        let plain = unsafeBitCast(operation, to: ((CPGGroup) -> Void).self)
        plain(self)
    }
}
