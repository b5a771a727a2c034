import CPGTesting
import Foundation
import Glibc
import Testing

/// Everything that starts real corosync daemons in network namespaces. It needs
/// root (CI runs as root; a run without it fails rather than skips); the tests run one at a time so their timings mean something on a
/// two-core machine.
@Suite("LocalCluster", .serialized)
struct LocalClusterTests {}

// MARK: - Helpers shared by the LocalCluster tests

/// Node ids listed by `corosync-quorumtool -l` in the node's namespace
/// (parsed here independently of `MembershipView`).
func quorumtoolMembers(_ cluster: LocalCluster, _ node: ClusterNode) async throws -> [UInt32] {
    let result = try await cluster.execute(["corosync-quorumtool", "-l"], onNode: node, timeout: .seconds(10))
    var members: [UInt32] = []
    var inTable = false
    for line in result.standardOutput.split(separator: "\n") {
        let fields = line.split(separator: " ")
        if fields.first == "Nodeid" {
            inTable = true
        } else if inTable, let first = fields.first, let id = UInt32(first) {
            members.append(id)
        }
    }
    return members.sorted()
}

/// Checks that nothing of the run is left on the machine, using the cluster's
/// own report and independent looks at `/run/netns`, the mount table,
/// `/proc` and the root namespace's addresses.
func expectNothingLeft(of cluster: LocalCluster, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let leftovers = await cluster.leftovers()
    #expect(leftovers.isEmpty, "leftovers: \(leftovers)", sourceLocation: sourceLocation)

    let namespaces = try FileManager.default.contentsOfDirectory(atPath: "/run/netns")
        .filter { $0.hasPrefix(cluster.runID) }
    #expect(namespaces.isEmpty, "namespaces left: \(namespaces)", sourceLocation: sourceLocation)

    let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        .split(separator: "\n").filter { $0.contains(cluster.runID) }
    #expect(mounts.isEmpty, "mounts left: \(mounts)", sourceLocation: sourceLocation)

    let survivors = processes(mentioning: cluster.stateDirectory + "/")
    #expect(survivors.isEmpty, "processes left: \(survivors)", sourceLocation: sourceLocation)

    #expect(!FileManager.default.fileExists(atPath: cluster.stateDirectory), sourceLocation: sourceLocation)
    try await expectRootNamespaceUntouched(sourceLocation: sourceLocation)
}

/// The cluster's addresses and interfaces exist only inside its namespaces.
func expectRootNamespaceUntouched(sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let addresses = try await Shell.check(["ip", "-o", "addr"]).standardOutput
    #expect(!addresses.contains("10.213."), "root namespace has a cluster address:\n\(addresses)", sourceLocation: sourceLocation)
    let routes = try await Shell.check(["ip", "route", "show", "table", "all"]).standardOutput
    #expect(!routes.contains("10.213."), "root namespace has a cluster route:\n\(routes)", sourceLocation: sourceLocation)
}

/// Prints one measured duration in a form that is easy to grep in CI logs.
func reportTiming(_ what: String, _ duration: Duration) {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    print("CPGTesting timing: \(what) \(String(format: "%.2f", seconds)) s")
}

/// Command lines of the live processes whose command line contains `text`.
func processes(mentioning text: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> String? in
        guard Int32(entry) != nil, Int32(entry) != getpid(),
              let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
        else { return nil }
        let commandLine = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        return commandLine.contains(text) ? "\(entry): \(commandLine)" : nil
    }
}
