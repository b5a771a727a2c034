import Foundation
import Glibc

extension LocalCluster {
    /// Tears the cluster down: kills every process it started (daemons and
    /// ``run(_:onNode:)`` processes) and every other process left in its
    /// namespaces, deletes the namespaces (with their interfaces and mounts) and
    /// removes the state directory.
    ///
    /// Safe to call more than once and from several tasks; every call returns
    /// once teardown is complete. Cancelling the calling task does not cut
    /// teardown short. Problems are logged, not thrown.
    public func stop() async {
        if teardown == nil {
            // An unstructured task: not cancelled with the caller.
            teardown = Task { await self.tearDown() }
        }
        await teardown?.value
    }

    /// What this run still has on the machine: namespaces, mounts, processes,
    /// files (including libqb's shared memory in `/dev/shm`). Empty after ``stop()`` returned.
    public func leftovers() -> [String] {
        RunRemover.leftovers(runID: runID, stateDirectory: stateDirectory)
            + daemonHistory.flatMap { SharedMemoryLeftovers.entries(daemonPID: $0) }.map { "/dev/shm/\($0)" }
    }

    private func tearDown() async {
        let began = clock.now
        let processes = children
        for child in processes {
            child.kill()
        }
        for child in processes {
            _ = await child.waitForExit()
        }
        children.removeAll()

        let running = daemons
        for (_, daemon) in running {
            daemon.send(SIGKILL)
        }
        for (_, daemon) in running {
            _ = await daemon.terminated
            SharedMemoryLeftovers.remove(daemonPID: daemon.pid)
        }
        daemons.removeAll()
        for node in nodes {
            daemonStates[node.id] = .stopped
        }

        let problems = await RunRemover.remove(runID: runID, stateDirectory: stateDirectory, logger: logger)
        if problems.isEmpty {
            logger.info("cluster removed in \(clock.now - began)")
        }
    }
}
