import Foundation
import Glibc

/// libqb IPC state of a dead corosync daemon in `/dev/shm`.
///
/// libqb keeps each client connection's ring buffers in
/// `/dev/shm/qb-<server pid>-<client pid>-...` (and, with blackbox logging,
/// `qb-corosync-<pid>-blackbox-*`). A daemon killed with `SIGKILL` cannot remove
/// them, so ``LocalCluster`` does once the daemon is gone.
enum SharedMemoryLeftovers {
    static let directory = "/dev/shm"

    /// Removes the libqb files and directories of the daemon that had `pid`.
    /// Call only once that daemon has been reaped.
    static func remove(daemonPID pid: pid_t) {
        for name in entries(daemonPID: pid) {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
    }

    /// The names of the daemon's libqb entries in `/dev/shm`.
    static func entries(daemonPID pid: pid_t) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("qb-\(pid)-") || $0.hasPrefix("qb-corosync-\(pid)-") }
    }

    /// Removes the leftovers of every daemon of a run whose node state directories
    /// (`<state directory>/node<i>/run/corosync.pid`) name a pid that is not alive.
    static func remove(runStateDirectory: String) {
        let nodes = (try? FileManager.default.contentsOfDirectory(atPath: runStateDirectory)) ?? []
        for node in nodes {
            guard let text = try? String(contentsOfFile: "\(runStateDirectory)/\(node)/run/corosync.pid", encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
            else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH {
                remove(daemonPID: pid)
            }
        }
    }
}
