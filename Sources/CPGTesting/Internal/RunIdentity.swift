import Foundation
import Glibc

/// The names one run uses, and how to tell whether a run's owner still lives.
///
/// A run id looks like `cpgt-<owner pid>-<4 hex digits>`; its namespaces are
/// `<run id>-br` (the bridge) and `<run id>-n<i>` (node i), its state
/// directory `<state root>/<run id>`, holding an `owner` file with the owner's
/// pid and process start time (so a reused pid is not mistaken for the owner).
struct RunIdentity: Sendable, Hashable {
    static let prefix = "cpgt-"

    let ownerPID: pid_t
    let tag: UInt16

    var runID: String {
        "\(Self.prefix)\(ownerPID)-\(String(format: "%04x", tag))"
    }

    /// The third octet of the run's private /24: 10.213.X.0/24.
    var subnetOctet: Int {
        Int(tag % 250) + 1
    }

    static func makeNew() -> RunIdentity {
        RunIdentity(ownerPID: getpid(), tag: UInt16.random(in: 0...UInt16.max))
    }

    /// Parses a run id, or the name of one of its namespaces (`<run id>-br`, `<run id>-n3`).
    init?(parsing name: String) {
        guard name.hasPrefix(Self.prefix) else { return nil }
        let parts = name.dropFirst(Self.prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              let pid = pid_t(parts[0]), pid > 0,
              parts[1].count == 4, let tag = UInt16(parts[1], radix: 16)
        else { return nil }
        if parts.count == 3 {
            let role = parts[2]
            guard role == "br" || (role.hasPrefix("n") && Int(role.dropFirst()) != nil) else { return nil }
        }
        self.init(ownerPID: pid, tag: tag)
    }

    init(ownerPID: pid_t, tag: UInt16) {
        self.ownerPID = ownerPID
        self.tag = tag
    }

    /// The contents of the `owner` marker file for a run owned by this process.
    static func ownerMarker() -> String {
        "\(getpid()) \(processStartTime(getpid()) ?? 0)\n"
    }

    /// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks after boot.
    static func processStartTime(_ pid: pid_t) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Whether the process that owns this run is still alive.
    ///
    /// - Parameter marker: the run's `owner` file contents, if there is one.
    func ownerIsAlive(marker: String?) -> Bool {
        guard kill(ownerPID, 0) == 0 || errno == EPERM else {
            return false
        }
        guard let marker else {
            return true
        }
        let fields = marker.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let recorded = UInt64(fields[1]), recorded != 0 else {
            return true
        }
        return Self.processStartTime(ownerPID) == recorded
    }
}
