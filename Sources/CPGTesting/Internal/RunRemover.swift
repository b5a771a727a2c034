import Foundation
import Glibc
import Logging

/// Removes everything a run left on the machine: processes in its namespaces
/// or started from its state directory, its namespaces, and its state directory.
///
/// Used by ``LocalCluster/stop()`` (after the daemons it knows of are gone)
/// and for leftovers of runs whose owning process died.
enum RunRemover {
    /// Removes the run's processes, namespaces, mounts and files. Never throws; problems are logged.
    ///
    /// - Returns: descriptions of what could not be removed (empty when all is clean).
    @discardableResult
    static func remove(runID: String, stateDirectory: String, logger: Logger) async -> [String] {
        let namespaces = NetworkNamespace.allNames()
            .filter { $0.hasPrefix(runID + "-") }
            .map(NetworkNamespace.init(name:))

        // 1. Processes: everything whose main thread is in one of the run's
        //    namespaces, and everything started from the run's state directory.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while true {
            var victims = Set<pid_t>()
            for namespace in namespaces {
                if let pids = try? await namespace.processIDs() {
                    victims.formUnion(pids)
                }
            }
            victims.formUnion(processesMentioning(stateDirectory + "/"))
            victims.remove(getpid())
            if victims.isEmpty { break }
            if clock.now >= deadline {
                logger.error("processes of \(runID) survive SIGKILL: \(victims.sorted())")
                break
            }
            for pid in victims {
                logger.debug("killing leftover process \(pid) of \(runID)")
                kill(pid, SIGKILL)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }

        // 2. Namespaces (this also removes their interfaces and the /run/netns mounts).
        var problems: [String] = []
        for namespace in namespaces.sorted(by: { $0.name.hasSuffix("-br") ? false : $1.name.hasSuffix("-br") }) {
            do {
                try await namespace.delete()
            } catch {
                problems.append("namespace \(namespace.name): \(error)")
            }
        }
        for mountPoint in mountPoints(containing: runID) {
            _ = try? await Shell.run(["umount", "-l", mountPoint], timeout: .seconds(10))
        }

        // 3. Files: libqb's shared memory of the run's (now dead) daemons, then the state directory.
        SharedMemoryLeftovers.remove(runStateDirectory: stateDirectory)
        if FileManager.default.fileExists(atPath: stateDirectory) {
            do {
                try FileManager.default.removeItem(atPath: stateDirectory)
            } catch {
                problems.append("state directory \(stateDirectory): \(error)")
            }
        }

        // Verify.
        let leftovers = leftovers(runID: runID, stateDirectory: stateDirectory)
        problems += leftovers
        for problem in problems {
            logger.error("cleanup of \(runID) incomplete: \(problem)")
        }
        return problems
    }

    /// Everything of the run still on the machine: namespaces, mounts, processes, files.
    static func leftovers(runID: String, stateDirectory: String) -> [String] {
        var found: [String] = []
        found += NetworkNamespace.allNames().filter { $0.hasPrefix(runID + "-") }.map { "namespace \($0)" }
        found += mountPoints(containing: runID).map { "mount \($0)" }
        var processes = processesMentioning(stateDirectory + "/")
        processes.remove(getpid())
        found += processes.sorted().map { "process \($0)" }
        if FileManager.default.fileExists(atPath: stateDirectory) {
            found.append("directory \(stateDirectory)")
        }
        return found
    }

    /// Mount points (in this process's mount namespace) whose path contains `text`.
    static func mountPoints(containing text: String) -> [String] {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else {
            return []
        }
        return table.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[4].contains(text) else { return nil }
            return String(fields[4])
        }
    }

    /// Live processes whose command line contains `text`.
    static func processesMentioning(_ text: String) -> Set<pid_t> {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else {
            return []
        }
        let needle = Array(text.utf8)
        var result = Set<pid_t>()
        for entry in entries {
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  !data.isEmpty
            else { continue }
            let bytes = [UInt8](data)
            if bytes.count >= needle.count,
               bytes.indices.dropLast(needle.count - 1).contains(where: { bytes[$0..<$0 + needle.count].elementsEqual(needle) }) {
                result.insert(pid)
            }
        }
        return result
    }
}
