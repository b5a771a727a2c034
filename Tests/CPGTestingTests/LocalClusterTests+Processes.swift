import CPGTesting
import Foundation
import Glibc
import Testing

extension LocalClusterTests {
    @Test("run(_:onNode:) runs inside the node's namespace, streams lines, and can be killed",
          .timeLimit(.minutes(1)))
    func runOnNode() async throws {
        try await LocalCluster.withCluster(nodes: 2) { cluster in
            let node = cluster.node(2)
            let child = try await cluster.run(
                ["sh", "-c", "echo begin; ip -4 -o addr show dev eth0; corosync-quorumtool -l | grep -c node; exec sleep 3600"],
                onNode: node)
            var lines = child.lines.makeAsyncIterator()
            #expect(await lines.next() == "begin")
            #expect(await lines.next()?.contains("inet \(node.address)/24") == true)
            #expect(await lines.next() == "2", "the child talks to the node's daemon")
            #expect(child.termination == nil)
            child.kill()
            #expect(await child.waitForExit() == .signaled(SIGKILL))
            #expect(await lines.next() == nil, "output ends with the process")

            let failing = try await cluster.run(["sh", "-c", "echo oops >&2; exit 3"], onNode: node)
            #expect(await failing.waitForExit() == .exited(3))
            for await _ in failing.lines {}
            #expect(failing.standardError == "oops\n")

            // Left running on purpose: stop() must kill it.
            let forgotten = try await cluster.run(["sleep", "3600"], onNode: cluster.node(1))
            await cluster.stop()
            #expect(forgotten.termination == .signaled(SIGKILL))
            try await expectNothingLeft(of: cluster)
        }
    }

    @Test("NetworkNamespace.perform runs a closure on a thread inside the namespace", .timeLimit(.minutes(1)))
    func performInsideNamespace() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let node = cluster.nodes[0]
            var info = stat()
            #expect(stat(node.namespacePath, &info) == 0)
            let inside = try await node.namespace.perform {
                try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
            }
            #expect(inside == "net:[\(info.st_ino)]")
            let outside = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
            #expect(outside != inside, "the caller's thread stays where it was")

            await #expect(throws: NetworkNamespaceError.self) {
                try await NetworkNamespace(name: "cpgt-no-such-namespace").perform { 0 }
            }
        }
    }

    @Test("Shell runs commands with a time limit", .timeLimit(.minutes(1)))
    func shellTimeouts() async throws {
        let echo = try await Shell.check(["echo", "hello"])
        #expect(echo.standardOutput == "hello\n")
        let failing = try await Shell.run(["sh", "-c", "exit 7"])
        #expect(failing.termination == .exited(7))
        await #expect(throws: ShellError.self) { try await Shell.check(["false"]) }
        await #expect(throws: ShellError.self) { try await Shell.run(["sleep", "60"], timeout: .milliseconds(200)) }
        await #expect(throws: ShellError.self) { try await Shell.run(["/nonexistent/program"]) }
    }
}
