import CPGTesting
import Foundation
import Glibc
import Testing

private struct Boom: Error {}

extension LocalClusterTests {
    @Test("withCluster tears down when the body throws", .timeLimit(.minutes(1)))
    func teardownOnError() async throws {
        let seen = Box<LocalCluster?>(nil)
        await #expect(throws: Boom.self) {
            try await LocalCluster.withCluster(nodes: 2) { cluster in
                seen.set(cluster)
                _ = try await cluster.run(["sleep", "600"], onNode: cluster.node(2))
                throw Boom()
            }
        }
        let cluster = try #require(seen.get())
        try await expectNothingLeft(of: cluster)
    }

    @Test("withCluster tears down when its task is cancelled", .timeLimit(.minutes(1)))
    func teardownOnCancellation() async throws {
        let (started, continuation) = AsyncStream<LocalCluster>.makeStream()
        let task = Task {
            try await LocalCluster.withCluster(nodes: 1) { cluster in
                continuation.yield(cluster)
                // Block until cancelled.
                try await Task.sleep(for: .seconds(3600))
            }
        }
        var iterator = started.makeAsyncIterator()
        let cluster = try #require(await iterator.next())
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        try await expectNothingLeft(of: cluster)
    }

    @Test("a cluster released without stop() still removes everything", .timeLimit(.minutes(1)))
    func releasedClusterCleansUp() async throws {
        var cluster: LocalCluster? = try await LocalCluster.start(nodes: 1)
        let runID = try #require(cluster?.runID)
        let stateDirectory = try #require(cluster?.stateDirectory)
        let daemon = try #require(await cluster?.daemonProcessID(of: cluster!.nodes[0]))
        cluster = nil
        // Removal runs in the background; nothing announces its end, so poll with a deadline.
        let deadline = ContinuousClock.now + .seconds(20)
        while !RunLeftovers(runID: runID, stateDirectory: stateDirectory).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let leftovers = RunLeftovers(runID: runID, stateDirectory: stateDirectory)
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(kill(daemon, 0) == -1, "the daemon is gone")
    }

    @Test("start removes leftovers of a run whose process died, and leaves live runs alone",
          .timeLimit(.minutes(1)))
    func staleRunsAreRemoved() async throws {
        let stateRoot = LocalClusterOptions().stateRoot
        // A run owned by a process that is gone: its pid is ours, but its
        // recorded start time is not, as after a crash and pid reuse.
        let staleRun = "cpgt-\(getpid())-dead"
        let staleNamespace = "\(staleRun)-n1"
        let staleDirectory = "\(stateRoot)/\(staleRun)"
        // A run whose owner (this process) is alive.
        let liveRun = "cpgt-\(getpid())-a11e"
        let liveNamespace = "\(liveRun)-br"
        let liveDirectory = "\(stateRoot)/\(liveRun)"
        let myStartTime = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
            .split(separator: ")").last!.split(separator: " ")[19]

        try FileManager.default.createDirectory(atPath: "\(staleDirectory)/node1", withIntermediateDirectories: true)
        try "\(getpid()) 1\n".write(toFile: "\(staleDirectory)/owner", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: liveDirectory, withIntermediateDirectories: true)
        try "\(getpid()) \(myStartTime)\n".write(toFile: "\(liveDirectory)/owner", atomically: true, encoding: .utf8)
        try await Shell.check(["ip", "netns", "add", staleNamespace])
        try await Shell.check(["ip", "netns", "add", liveNamespace])
        // A process stuck in the stale namespace, like a daemon of a crashed run.
        let straggler = try await ChildProcess.spawn(
            ["ip", "netns", "exec", staleNamespace, "sh", "-c", "echo inside; exec sleep 3600"])
        var lines = straggler.lines.makeAsyncIterator()
        #expect(await lines.next() == "inside")

        do {
            try await LocalCluster.withCluster(nodes: 1) { _ in }
            #expect(await straggler.waitForExit() == .signaled(SIGKILL))
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(staleNamespace)"))
            #expect(!FileManager.default.fileExists(atPath: staleDirectory))
            #expect(FileManager.default.fileExists(atPath: "/run/netns/\(liveNamespace)"))
            #expect(FileManager.default.fileExists(atPath: liveDirectory))
        } catch {
            straggler.kill()
            throw error
        }
        straggler.kill()
        _ = try? await Shell.run(["ip", "netns", "del", staleNamespace])
        try await Shell.check(["ip", "netns", "del", liveNamespace])
        try? FileManager.default.removeItem(atPath: staleDirectory)
        try FileManager.default.removeItem(atPath: liveDirectory)
    }
}

/// A tiny lock-protected box for handing a value out of a closure.
final class Box<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    func get() -> Value { lock.withLock { value } }
}

/// What `expectNothingLeft` checks, for a run known only by its id and state directory.
struct RunLeftovers: CustomStringConvertible {
    var namespaces: [String]
    var processes: [String]
    var directoryExists: Bool

    init(runID: String, stateDirectory: String) {
        namespaces = ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []).filter { $0.hasPrefix(runID) }
        processes = CPGTestingTests.processes(mentioning: stateDirectory + "/")
        directoryExists = FileManager.default.fileExists(atPath: stateDirectory)
    }

    var isEmpty: Bool {
        namespaces.isEmpty && processes.isEmpty && !directoryExists
    }

    var description: String {
        "namespaces \(namespaces), processes \(processes), directory exists: \(directoryExists)"
    }
}
