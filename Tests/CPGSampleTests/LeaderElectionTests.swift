import CPG
import CPGTesting
import Foundation
import Glibc
import Testing

/// One `view … -> leader …` line of `cpg-leader`.
struct ViewLine: Equatable {
    var members: [String]
    var leader: String
    var isMe: Bool
    var tookOverFrom: String?

    /// Parses `view 1:10 1:11 -> leader 1:10 (me) [took over from 1:9, which left: procdown]`.
    init?(_ line: String) {
        guard line.hasPrefix("view "), let arrow = line.range(of: " -> leader ") else { return nil }
        self.members = line[line.index(line.startIndex, offsetBy: 5)..<arrow.lowerBound].split(separator: " ").map(String.init)
        let rest = line[arrow.upperBound...].split(separator: " ", omittingEmptySubsequences: true)
        guard let leader = rest.first else { return nil }
        self.leader = String(leader)
        self.isMe = rest.dropFirst().first == "(me)"
        if let took = line.range(of: "[took over from ") {
            self.tookOverFrom = line[took.upperBound...].prefix { $0 != "," && $0 != "]" }.description
        }
    }
}

@Suite("The leader election sample, as processes on the real daemon", .timeLimit(.minutes(1)))
struct LeaderElectionTests {
    @Test("three members agree on the lowest; when the leader is killed, the next lowest takes over")
    func leaderKilled() async throws {
        let group = uniqueGroupName("leader")
        let program = try BuiltProduct.path("cpg-leader")
        var readers: [LineReader] = []
        var names: [String] = []
        for _ in 0..<3 {
            let reader = LineReader(try await ChildProcess.spawn([program, group]))
            let joined = try #require(await reader.first { $0.hasPrefix("joined ") }, "\(reader.child.standardError)")
            names.append(String(try #require(joined.split(separator: " ").last)))
            readers.append(reader)
        }
        defer { for reader in readers { reader.child.kill() } }
        let members = names.map { CPGMember(parsing: $0) }
        let leader = try #require(members.min())

        // Every member sees the view of all three, and names the same leader.
        for (reader, name) in zip(readers, names) {
            let line = try #require(
                await reader.first { ViewLine($0).map { Set($0.members) == Set(names) } ?? false },
                "\(name) never saw all three: \(reader.seen)"
            )
            let view = try #require(ViewLine(line))
            #expect(view.leader == leader.description)
            #expect(view.isMe == (name == leader.description))
        }

        // Kill the leader's process: the others see it leave (procdown) and the next lowest leads.
        let leaderIndex = try #require(names.firstIndex(of: leader.description))
        readers[leaderIndex].child.kill()
        #expect(await readers[leaderIndex].child.waitForExit() == .signaled(SIGKILL))
        let survivors = names.indices.filter { $0 != leaderIndex }
        let successor = try #require(survivors.map { members[$0] }.min())
        for index in survivors {
            let line = try #require(
                await readers[index].first { ViewLine($0).map { $0.members.count == 2 } ?? false },
                "\(names[index]) never saw the leader go: \(readers[index].seen)"
            )
            let view = try #require(ViewLine(line))
            #expect(Set(view.members) == Set(survivors.map { names[$0] }))
            #expect(view.leader == successor.description)
            #expect(view.isMe == (members[index] == successor))
            #expect(view.tookOverFrom == leader.description)
            #expect(line.hasSuffix("which left: procdown]"))
        }

        // SIGTERM: each survivor leaves the group and exits cleanly.
        for index in survivors {
            readers[index].child.terminate()
            #expect(await readers[index].first { $0 == "left" } == "left", "\(readers[index].seen)")
            #expect(await readers[index].child.waitForExit() == .exited(0), "\(readers[index].child.standardError)")
        }
    }
}

extension CPGMember {
    /// Parses `nodeid:pid`.
    init(parsing text: String) {
        let parts = text.split(separator: ":").compactMap { UInt32($0) }
        self.init(nodeID: parts.first ?? 0, pid: parts.last ?? 0)
    }
}
