@testable import CPG
import CPGTesting
import Testing

@Suite("Trusting only the real corosync", .serialized, .timeLimit(.minutes(1)))
struct DaemonTrustTests {
    @Test("the peer of the IPC connection is the corosync daemon itself, running as root")
    func peerIsTheDaemon() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            var configuration = CPGConfiguration()
            configuration.networkNamespace = cluster.node(1).namespacePath
            let group = try await CPGGroup.join("trust", configuration: configuration)
            let daemon = try #require(await group.daemon)
            #expect(daemon.uid == 0)
            #expect(daemon.pid == (await cluster.daemonProcessID(of: cluster.node(1))))
            await group.close()
        }
    }

    @Test("a daemon not running as a trusted uid is refused with untrustedDaemon, and nothing is joined")
    func untrustedDaemonRefused() async throws {
        var configuration = CPGConfiguration()
        configuration.trustedDaemonUIDs = [4242]
        let name = uniqueGroupName()
        do {
            _ = try await CPGGroup.join(name, configuration: configuration)
            Issue.record("join trusted a root daemon that the configuration does not trust")
        } catch {
            #expect(error.code == .untrustedDaemon)
            #expect(error.description.contains("uid 0"))
        }
        #expect(try await CPGCluster.members(of: name).isEmpty)
        // The client is usable for valid calls afterwards.
        let group = try await CPGGroup.join(name)
        #expect(try await group.members() == [group.localMember])
        await group.close()
    }
}
