import Foundation
import Glibc
import Logging

/// Finds runs whose owning process died without stopping them, and removes their leftovers.
enum StaleRunCleaner {
    /// Removes every stale run: namespaces named `cpgt-<pid>-<tag>-...` and state
    /// directories `<stateRoot>/cpgt-<pid>-<tag>` whose owner is gone.
    ///
    /// - Returns: the run ids that were removed.
    @discardableResult
    static func clean(stateRoot: String, logger: Logger) async -> [String] {
        var runs = Set<RunIdentity>()
        for name in NetworkNamespace.allNames() {
            if let run = RunIdentity(parsing: name) { runs.insert(run) }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: stateRoot)) ?? [] {
            if let run = RunIdentity(parsing: name), run.runID == name { runs.insert(run) }
        }
        var removed: [String] = []
        for run in runs.sorted(by: { $0.runID < $1.runID }) {
            let stateDirectory = "\(stateRoot)/\(run.runID)"
            let marker = try? String(contentsOfFile: "\(stateDirectory)/owner", encoding: .utf8)
            guard !run.ownerIsAlive(marker: marker) else { continue }
            logger.notice("removing leftovers of \(run.runID), whose owner (pid \(run.ownerPID)) is gone")
            await RunRemover.remove(runID: run.runID, stateDirectory: stateDirectory, logger: logger)
            removed.append(run.runID)
        }
        return removed
    }
}
