// cpg-leader: leader election on a Corosync closed process group.
//
//     cpg-leader [GROUP]
//
// Joins GROUP (default "cpg-leader") and prints one line per view (membership) of the group:
//
//     view 1:1200 1:1234 -> leader 1:1200
//     view 1:1234 -> leader 1:1234 (me) [took over from 1:1200]
//
// The leader of a view is its lowest member by (node id, pid). Every member delivers the same
// views in the same order, so every member names the same leader for a view without sending a
// single message. SIGTERM or SIGINT leaves the group and exits 0.

import CPG
import Dispatch
import Foundation

/// Prints a line at once, even when standard output is a pipe: one `write(2)`, no stdio buffer.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints a line on standard error.
func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// The election: which member leads, view after view.
struct Election {
    /// This process as a member.
    let localMember: CPGMember
    /// The leader of the last view, if any.
    private(set) var leader: CPGMember?

    /// The rule: the lowest `(nodeID, pid)` of the view leads.
    static func leader(of members: [CPGMember]) -> CPGMember? {
        members.min()
    }

    /// Takes a new view; answers the line to print for it.
    mutating func observe(_ change: CPGMembershipChange) -> String {
        let members = change.members.sorted()
        let previous = self.leader
        self.leader = Self.leader(of: members)
        var line = "view " + members.map(\.description).joined(separator: " ")
        guard let leader = self.leader else { return line + " -> no leader" }
        line += " -> leader \(leader)"
        if leader == self.localMember { line += " (me)" }
        if let previous, previous != leader {
            let gone = change.left.first { $0.member == previous }
            line += " [took over from \(previous)" + (gone.map { ", which left: \($0.reason)" } ?? "") + "]"
        }
        return line
    }
}

/// Calls `body` once when SIGTERM or SIGINT arrives (instead of the default of dying).
func onTermination(_ body: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: body)
        source.resume()
        return source
    }
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("-h") || arguments.contains("--help") || arguments.count > 1 {
    say("usage: cpg-leader [GROUP]")
    exit(arguments.count > 1 ? 64 : 0)
}
do {
    let group = try await CPGGroup.join(arguments.first ?? "cpg-leader")
    // Subscribed before anything else runs: the first change is our own join.
    let changes = group.membershipChanges
    let signalSources = onTermination {
        Task { try? await group.leave() }
    }
    say("joined \(group.name) as \(group.localMember)")
    var election = Election(localMember: group.localMember)
    // The sequence ends after our own leave.
    for try await change in changes where change.members.contains(group.localMember) {
        say(election.observe(change))
    }
    signalSources.forEach { $0.cancel() }
    say("left")
} catch {
    complain("cpg-leader: error: \(error)")
    exit(1)
}
