@testable import CPG
import Testing

@Suite("Many handles at once in one process", .timeLimit(.minutes(2)))
struct ConcurrentHandleTests {
    // libqb 2.0's handle database (where libcpg keeps its handles) creates and destroys entries
    // without a lock; unserialised, two joins at once can share one slot (CS_ERR_BAD_HANDLE, a
    // corrupted heap). Measured with plain C: 8 threads initializing at once failed 14 runs in 300.
    @Test("groups joined and closed from many tasks at once all work")
    func concurrentJoinsAndCloses() async throws {
        let rounds = 40
        let width = 12
        for round in 0..<rounds {
            let groups = try await withThrowingTaskGroup(of: CPGGroup.self) { tasks in
                for index in 0..<width {
                    tasks.addTask { try await CPGGroup.join(uniqueGroupName("concurrent-\(round)-\(index)")) }
                }
                return try await tasks.reduce(into: []) { $0.append($1) }
            }
            #expect(groups.count == width)
            await withTaskGroup(of: Void.self) { tasks in
                for group in groups {
                    tasks.addTask {
                        let messages = group.messages
                        let index = try? await group.sendConfirmed(Array("ping".utf8))
                        #expect(index == 1)
                        let first = try? await messages.first(1)
                        #expect(first?.first?.payload == Array("ping".utf8))
                        await group.close()
                    }
                }
            }
        }
    }

    @Test("cluster-wide listings from many tasks at once, while groups come and go")
    func concurrentIterations() async throws {
        let group = try await CPGGroup.join(uniqueGroupName())
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for index in 0..<8 {
                tasks.addTask {
                    for _ in 0..<10 {
                        let listed = try await CPGCluster.groups()
                        #expect(listed.contains { $0.name == group.name })
                    }
                }
                tasks.addTask {
                    let other = try await CPGGroup.join(uniqueGroupName("listing-\(index)"))
                    await other.close()
                }
            }
            try await tasks.waitForAll()
        }
        await group.close()
    }
}
