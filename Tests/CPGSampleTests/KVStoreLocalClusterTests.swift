import CPG
import CPGTesting
import ReplicatedKV
import Testing

@Suite("The key-value store sample on a real two-node cluster", .timeLimit(.minutes(1)))
struct KVStoreLocalClusterTests {
    @Test("a joiner gets the state; both sides write during a partition; after the heal both hold the lowest member's state")
    func partitionAndHeal() async throws {
        try await LocalCluster.withCluster(nodes: 2) { cluster in
            let (node1, node2) = (cluster.node(1), cluster.node(2))
            let group = uniqueGroupName("kv")

            // One store per node, both in this process: each talks to its own node's daemon.
            let one = try await KVStore.open(group: group, configuration: configuration(for: node1))
            await one.waitUntilServing()
            try await one.set("written-before-two-joined", to: "yes")
            let two = try await KVStore.open(group: group, configuration: configuration(for: node2))
            let both = [one.localMember, two.localMember].sorted()
            #expect(one.localMember < two.localMember, "node 1's member is the lowest")

            let joined = await two.waitUntil { $0.isServing || $0.isStopped }
            #expect(joined.members == both)
            #expect(joined.lastSource == one.localMember)
            #expect(joined.entries == ["written-before-two-joined": "yes"])
            await one.waitUntil { ($0.isServing && $0.members == both) || $0.isStopped }

            try await two.set("shared", to: "agreed")
            #expect(await one.waitUntil { $0.entries["shared"] == "agreed" || $0.isStopped }.entries["shared"] == "agreed")

            // The partition: each side sees the other leave and goes on serving alone.
            try await cluster.partition(node2)
            let alone1 = await one.waitUntil { $0.members == [one.localMember] || $0.isStopped }
            let alone2 = await two.waitUntil { $0.members == [two.localMember] || $0.isStopped }
            #expect(alone1.isServing && alone2.isServing)
            try await one.set("shared", to: "node 1's side")
            try await one.set("only-on-1", to: "1")
            try await two.set("shared", to: "node 2's side")
            try await two.set("only-on-2", to: "2")
            try await two.delete("written-before-two-joined")
            let side1 = await one.entries
            #expect(side1 == ["written-before-two-joined": "yes", "shared": "node 1's side", "only-on-1": "1"])
            #expect(await two.entries == ["shared": "node 2's side", "only-on-2": "2"])

            // The heal: a round in the merged view, where node 1's member is the lowest with a state.
            let rounds1 = alone1.completedRounds
            let rounds2 = alone2.completedRounds
            try await cluster.heal(node2)
            let merged1 = await one.waitUntil {
                ($0.isServing && $0.members == both && $0.completedRounds > rounds1) || $0.isStopped
            }
            let merged2 = await two.waitUntil {
                ($0.isServing && $0.members == both && $0.completedRounds > rounds2) || $0.isStopped
            }
            #expect(merged1.entries == side1)
            #expect(merged2.entries == side1)
            #expect(merged2.lastSource == one.localMember)

            // Updates flow both ways again.
            try await two.set("after-heal", to: "ok")
            #expect(await one.waitUntil { $0.entries["after-heal"] == "ok" || $0.isStopped }.entries == (await two.entries))

            await one.close()
            await two.close()
        }
    }
}
