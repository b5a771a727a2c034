@testable import CPG
import CPGTesting
import Foundation
import Logging
import Testing

@Suite("join returns once this member's own join is delivered, and honours cancellation", .timeLimit(.minutes(2)))
struct JoinCompletionTests {
    @Test("a join in a cancelled task throws cancelled and joins nothing")
    func cancelledBeforeJoin() async throws {
        let name = uniqueGroupName()
        let joining = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await CPGGroup.join(name)
        }
        await #expect {
            try await joining.value
        } throws: { error in
            (error as? CPGError)?.code == .cancelled
        }
        // Nothing is left behind: this process joins the name at once.
        let group = try await CPGGroup.join(name)
        #expect(try await group.members() == [group.localMember])
        await group.close()
    }

    @Test("a join cancelled while the ring cannot deliver it closes its connection and leaves nothing behind")
    func cancelledWhileWaitingForDelivery() async throws {
        // A token timeout long enough that node 1 still waits for the token when the join
        // reaches it, however loaded the machine is.
        let options = LocalClusterOptions(corosync: CorosyncConfig(token: 5000))
        try await LocalCluster.withCluster(nodes: 2, options: options) { cluster in
            let configuration = {
                var configuration = CPGConfiguration()
                configuration.networkNamespace = cluster.node(1).namespacePath
                return configuration
            }()
            // With node 2's daemon stopped, node 1's daemon still answers cpg_join, but the token
            // stays at node 2: the join cannot be ordered until node 2 continues or node 1 gives
            // it up (token timeout, then consensus) and forms a ring of its own.
            try await cluster.pauseDaemon(cluster.node(2), settle: false)
            let records = RecordingLogHandler.Records()
            let logger = Logger(label: "test") { _ in RecordingLogHandler(records: records) }
            let name = uniqueGroupName()
            let joining = Task { try await CPGGroup.join(name, configuration: configuration, logger: logger) }
            await records.entry(containing: "waiting for this member's own join")
            joining.cancel()
            await #expect {
                try await joining.value
            } throws: { error in
                (error as? CPGError)?.code == .cancelled
            }
            try await cluster.resumeDaemon(cluster.node(2))
            // The cancelled membership is gone: the name joins again, and its view is this member.
            let group = try await CPGGroup.join(name, configuration: configuration)
            #expect(try await group.members() == [group.localMember])
            await group.close()
        }
    }

    @Test("a join while corosync starts up waits out its CS_ERR_TRY_AGAIN to the connection and joins")
    func joinWhileCorosyncStarts() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let node = cluster.node(1)
            var configuration = CPGConfiguration()
            configuration.networkNamespace = node.namespacePath
            try await cluster.killDaemon(node)
            let name = uniqueGroupName()
            // Until corosync's socket exists a join throws `unreachable`; for a few milliseconds
            // after, corosync answers the connection with CS_ERR_TRY_AGAIN (it takes no IPC
            // connections before its services are ready), which a join must wait out.
            // The daemon starts only once the joining task has met the missing socket, so the
            // attempts that follow race its start-up however slowly the task is scheduled.
            let (missed, missedSocket) = AsyncStream<Void>.makeStream()
            let joining = Task { () throws -> CPGGroup in
                while true {
                    do {
                        return try await CPGGroup.join(name, configuration: configuration)
                    } catch let error as CPGError where error.code == .unreachable {
                        missedSocket.yield()
                        try await Task.sleep(for: .milliseconds(1))  // the caller's retry backoff, not synchronisation
                    }
                }
            }
            for await _ in missed { break }
            try await cluster.startDaemon(node)
            let group = try await joining.value
            missedSocket.finish()
            #expect(try await group.members() == [group.localMember])
            await group.close()
        }
    }
}
