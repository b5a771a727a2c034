// The complete example of the article "Testing with a local cluster"
// (Sources/CPGTesting/CPGTesting.docc/TestingWithALocalCluster.md): keep the two the same. The
// article shows the test as a free function; here it is a member of the serialized suite, so
// that it never runs next to another cluster.

import CPG
import CPGTesting
import Testing

extension ClusterFaultTests {
    @Test("three nodes: send, partition, heal; the histories keep virtual synchrony", .timeLimit(.minutes(1)))
    func partitionAndHealKeepVirtualSynchrony() async throws {
        try await LocalCluster.withCluster(nodes: 3) { cluster in
            // One member per node, all in this process: each connects through its node's namespace.
            var groups: [CPGGroup] = []
            var streams: [CPGEventSequence<CPGEvent>.AsyncIterator] = []
            var histories: [MemberHistory] = []
            for node in cluster.nodes {
                var configuration = CPGConfiguration()
                configuration.networkNamespace = node.namespacePath
                let group = try await CPGGroup.join("example", configuration: configuration)
                groups.append(group)
                streams.append(group.events.makeAsyncIterator())  // subscribed from the join on
                histories.append(MemberHistory(member: group.localMember, label: node.name, sent: []))
            }
            for index in groups.indices {
                try await readUntilView(of: 3, &streams[index], into: &histories[index])
            }

            // Everyone sends; node 3 is cut off; both sides go on sending; the cut heals.
            try await sendThree(from: groups, tagged: "before", recordingIn: &histories)
            try await cluster.partition(cluster.node(3))  // returns once both sides see the split
            for index in groups.indices {
                try await readUntilView(of: index == 2 ? 1 : 2, &streams[index], into: &histories[index])
            }
            try await sendThree(from: groups, tagged: "apart", recordingIn: &histories)
            try await cluster.heal(cluster.node(3))
            for index in groups.indices {
                try await readUntilView(of: 3, &streams[index], into: &histories[index])
            }
            try await sendThree(from: groups, tagged: "after", recordingIn: &histories)

            // Everyone leaves; each stream ends after its own departure.
            for group in groups {
                try await group.leave()
            }
            for index in groups.indices {
                while let event = try await streams[index].next() {
                    histories[index].record(event)
                }
            }

            let report = VirtualSynchronyChecker.check(histories)
            #expect(report.isValid, "\(report)")
            #expect(report.statistics.sharedTransitions > 0)
        }
    }
}

/// Records `stream`'s events into `history` up to a view of exactly `count` members.
func readUntilView(
    of count: Int,
    _ stream: inout CPGEventSequence<CPGEvent>.AsyncIterator,
    into history: inout MemberHistory
) async throws {
    while let event = try await stream.next() {
        history.record(event)
        if case .membership(let change) = event, change.members.count == count { return }
    }
    Issue.record("the events ended before a view of \(count) members")
}

/// Every member sends three messages, each listed as sent before it goes out.
func sendThree(from groups: [CPGGroup], tagged tag: String, recordingIn histories: inout [MemberHistory]) async throws {
    for (index, group) in groups.enumerated() {
        for number in 0..<3 {
            let payload = Array("\(tag)-\(group.localMember)-\(number)".utf8)
            histories[index].sent?.append(payload)
            try await group.send(payload)
        }
    }
}
