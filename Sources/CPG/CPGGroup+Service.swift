import ServiceLifecycle

extension CPGGroup: Service {
    /// Runs the membership as a swift-service-lifecycle `Service`: returns when the group is left
    /// or closed, and throws the error that ended it if the connection to corosync was lost.
    ///
    /// On graceful shutdown it leaves the group (the other members see reason `leave`) and
    /// closes the connection, which ends every event sequence. To stop iterating a sequence at
    /// graceful shutdown, use ServiceLifecycle's `cancelOnGracefulShutdown()` on it.
    public func run() async throws {
        let error = await withGracefulShutdownHandler {
            await self.waitUntilEnded()
        } onGracefulShutdown: {
            Task {
                try? await self.leave()
                await self.close()
            }
        }
        if let error { throw error }
    }

    /// Waits until the group stops: `nil` after leave or close, the error after a lost connection.
    func waitUntilEnded() async -> CPGError? {
        await withCheckedContinuation { continuation in
            // Checked in the closure: the task may hop before it runs (see `CPGGroup.leave()`).
            if let ending = self.lifecycle.ending {
                continuation.resume(returning: ending)
            } else {
                self.endWaiters.append(continuation)
            }
        }
    }
}
