import CPG
import CPGTesting
import Foundation
import Testing

/// `cpgctl` as users run it: the built executable against the running corosync.
@Suite("cpgctl against the real daemon", .timeLimit(.minutes(1)))
struct CPGCtlTests {
    /// Every command that could wait gets this bound, so a failing test never leaves a tool behind.
    static let toolTimeout = "30"

    @Test("local --json names this node and the atomic message size")
    func local() async throws {
        let result = try await cpgctl("local", "--json")
        #expect(result.termination == .exited(0))
        let object = try jsonObject(result.standardOutput)
        #expect(object["nodeid"] as? Int == Int(try await CPGCluster.localNodeID()))
        #expect(object["max_atomic_msgsize"] as? Int == (try await CPGCluster.maxAtomicMessageSize()))
    }

    @Test("listen --json prints its join, the ring and every message send delivers; both exit 0")
    func listenAndSend() async throws {
        let group = uniqueGroup()
        let listener = try await startCPGCtl("listen", group, "--count", "3", "--json", "--timeout", Self.toolTimeout)
        defer { listener.terminate() }
        let first = try await waitForOwnJoin(listener)

        let sent = try await cpgctl(
            "send", group, "--count", "3", "--wait-members", "2", "--message", "hi", "--timeout", Self.toolTimeout
        )
        #expect(sent.termination == .exited(0), "send failed: \(sent.standardError)")
        #expect(sent.standardOutput.hasPrefix("sent 3 messages (6 bytes) in "))
        #expect(sent.standardOutput.contains("msg/s"))

        let listened = await listener.finish()
        #expect(listened.termination == .exited(0), "listen failed: \(listened.standardError)")
        let all = try (first + listened.lines).map(jsonObject)
        // Our own join and the ring come first, in either order.
        #expect(Set(all.prefix(2).compactMap { $0["event"] as? String }) == ["membership", "ring"])
        let events = Array(all.dropFirst(2))
        #expect(events.map { $0["event"] as? String } == ["membership", "message", "message", "message"])
        let ring = try #require(all.prefix(2).first { $0["event"] as? String == "ring" })
        #expect((ring["members"] as? [Int])?.isEmpty == false)
        #expect((ring["ringid"] as? [String: Any])?["seq"] is Int)
        let senderJoin = members(events.first?["joined"])
        #expect(senderJoin.count == 1 && senderJoin.first?.reason == "join")
        for message in events.dropFirst() {
            #expect(message["data"] as? String == "aGk=")
            #expect(message["size"] as? Int == 2)
            #expect(message["pid"] as? Int == senderJoin.first.map { Int($0.pid) })
        }
    }

    @Test("groups and members show a listener; SIGTERM makes it leave and exit 0")
    func groupsShowListener() async throws {
        let group = uniqueGroup()
        let listener = try await startCPGCtl("listen", group, "--json", "--timeout", Self.toolTimeout)
        defer { listener.terminate() }
        _ = try await waitForOwnJoin(listener)

        let groups = try await cpgctl("groups", "--json")
        #expect(groups.termination == .exited(0))
        let list = try #require(try JSONSerialization.jsonObject(with: Data(groups.standardOutput.utf8)) as? [[String: Any]])
        let entry = try #require(list.first { $0["group"] as? String == group })
        #expect(members(entry["members"]).map(\.pid) == [listener.pid])

        let listed = try await cpgctl("members", group, "--json")
        #expect(listed.termination == .exited(0))
        #expect(members(try jsonObject(listed.standardOutput)["members"]).map(\.pid) == [listener.pid])

        listener.terminate()
        let listened = await listener.finish()
        #expect(listened.termination == .exited(0), "listen failed: \(listened.standardError)")
        let last = try jsonObject(try #require(listened.lines.last))
        #expect(members(last["left"]).contains { $0.pid == listener.pid && $0.reason == "leave" })
    }

    @Test("groups prints a name with a NUL terminator escaped, as corosync-cpgtool does")
    func escapedGroupName() async throws {
        let group = uniqueGroup()
        let listener = try await startCPGCtl("listen", group, "--nul", "--json", "--timeout", Self.toolTimeout)
        defer { listener.terminate() }
        _ = try await waitForOwnJoin(listener)

        let groups = try await cpgctl("groups")
        #expect(groups.termination == .exited(0))
        #expect(groups.lines.first?.hasPrefix("Group Name") == true)
        #expect(groups.lines.contains(group + "\\x00"))
        // Without the NUL it is another group, with no members.
        let other = try await cpgctl("members", group, "--json")
        #expect(members(try jsonObject(other.standardOutput)["members"]).isEmpty)
        let same = try await cpgctl("members", group, "--nul", "--json")
        #expect(members(try jsonObject(same.standardOutput)["members"]).map(\.pid) == [listener.pid])
    }

    @Test("an over-long group name fails with one line naming the 128-byte limit")
    func longGroupName() async throws {
        let result = try await cpgctl("send", String(repeating: "g", count: 129))
        #expect(result.termination != .exited(0))
        #expect(result.standardError.hasPrefix("cpgctl: error: "))
        #expect(result.standardError.contains("128"))
        #expect(result.standardError.split(separator: "\n").count == 1)
    }

    @Test("a message above the maximum size fails with one line naming the limit")
    func tooLargeMessage() async throws {
        let result = try await cpgctl("send", uniqueGroup(), "--size", "20000000", "--timeout", Self.toolTimeout)
        #expect(result.termination != .exited(0))
        #expect(result.standardError.hasPrefix("cpgctl: error: "))
        #expect(result.standardError.contains("16777216"))
        #expect(result.standardError.split(separator: "\n").count == 1)
    }

    @Test("no daemon: one line saying corosync is not reachable, for every command")
    func noDaemon() async throws {
        let namespace = "cpgctl-empty-\(getpid())"
        _ = try await Shell.check(["ip", "netns", "add", namespace], timeout: .seconds(10))
        let path = "/run/netns/\(namespace)"
        let commands = [
            ["local"], ["groups"], ["members", "g"], ["nodes"], ["send", "g", "--timeout", Self.toolTimeout],
            ["listen", "g", "--timeout", Self.toolTimeout], ["bench", "g", "--timeout", Self.toolTimeout],
        ]
        for arguments in commands {
            let result = await (try await RunningCPGCtl(arguments + ["--netns", path])).finish()
            #expect(result.termination != .exited(0), "\(arguments)")
            #expect(result.standardError.contains("corosync is not reachable"), "\(arguments): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "\(arguments)")
        }
        _ = try await Shell.check(["ip", "netns", "delete", namespace], timeout: .seconds(10))
    }
}

// MARK: Helpers

/// A group name no other test (or earlier run) uses.
func uniqueGroup(_ label: String = #function) -> String {
    let clean = label.prefix(30).filter { $0.isLetter || $0.isNumber }
    return "cpgctl-test-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// Reads a `cpgctl listen --json` listener's lines up to its own join: then it is a member. The
/// ring may come before or after that join; returns every line read, the join last.
func waitForOwnJoin(_ listener: RunningCPGCtl) async throws -> [String] {
    var lines: [String] = []
    while true {
        let line = try #require(await listener.nextLine(), "the listener ended before it joined: \(lines)")
        lines.append(line)
        let object = try jsonObject(line)
        if object["event"] as? String == "membership",
            members(object["joined"]).contains(where: { $0.pid == listener.pid && $0.reason == "join" })
        {
            return lines
        }
    }
}

/// Starts the built `cpgctl`.
func startCPGCtl(_ arguments: String...) async throws -> RunningCPGCtl {
    try await RunningCPGCtl(arguments)
}

/// Runs the built `cpgctl` to its end.
func cpgctl(_ arguments: String...) async throws -> ToolResult {
    await (try await RunningCPGCtl(arguments)).finish()
}

/// One JSON object.
func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
}

/// A member as cpgctl's JSON lists it.
struct JSONMember: Equatable {
    var nodeID: Int
    var pid: Int32
    var reason: String?
}

/// The members of a JSON array such as `"members"`, `"joined"` or `"left"`.
func members(_ value: Any?) -> [JSONMember] {
    (value as? [[String: Any]] ?? []).compactMap { object in
        guard let nodeID = object["nodeid"] as? Int, let pid = object["pid"] as? Int else { return nil }
        return JSONMember(nodeID: nodeID, pid: Int32(pid), reason: object["reason"] as? String)
    }
}

@Suite("cpgctl listen --reconnect", .serialized, .timeLimit(.minutes(1)))
struct CPGCtlReconnectTests {
    @Test("listen --reconnect outlives a daemon restart and prints what is sent afterwards")
    func outlivesRestart() async throws {
        try await LocalCluster.withCluster(nodes: 1) { cluster in
            let node = cluster.node(1)
            let listener = try await startCPGCtl("listen", "phoenix", "--json", "--reconnect", "--count", "1", "--netns", node.namespacePath)
            _ = try await waitForOwnJoin(listener)
            try await cluster.restartDaemon(node)
            var lines: [String] = []
            while let line = await listener.nextLine() {
                lines.append(line)
                if line.contains(#""event":"reconnected""#) { break }
            }
            #expect(lines.contains { $0.contains(#""event":"disconnected""#) })
            #expect(lines.last?.contains(#""event":"reconnected""#) == true)
            // Once the listener has rejoined (its own join again), a send reaches it.
            while let line = await listener.nextLine() {
                let object = try jsonObject(line)
                if object["event"] as? String == "membership",
                    members(object["joined"]).contains(where: { $0.pid == listener.pid })
                {
                    break
                }
            }
            let sent = await (try await RunningCPGCtl(["send", "phoenix", "--message", "after", "--netns", node.namespacePath])).finish()
            #expect(sent.termination == .exited(0))
            var message: String?
            while let line = await listener.nextLine() {
                if line.contains(#""event":"message""#) {
                    message = line
                    break
                }
            }
            #expect(message?.contains(#""data":"YWZ0ZXI=""#) == true)
            let result = await listener.finish()
            #expect(result.termination == .exited(0))
        }
    }
}

@Suite("Unprivileged users and corosync's uidgid", .serialized, .timeLimit(.minutes(1)))
struct UIDGIDTests {
    /// Creates the system account if it does not exist yet (the test's own set-up).
    static func account(_ name: String) async throws -> String {
        if try await Shell.run(["id", "-u", name]).termination != .exited(0) {
            _ = try await Shell.check(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
        }
        return name
    }

    @Test("a user corosync does not allow gets access denied naming uidgid.d; an allowed one works")
    func accessByUser() async throws {
        let allowed = try await Self.account("swiftcpg-allowed")
        let denied = try await Self.account("swiftcpg-denied")
        var options = LocalClusterOptions()
        options.corosync.extraSections = ["uidgid {\n  uid: \(allowed)\n}"]
        try await LocalCluster.withCluster(nodes: 1, options: options) { cluster in
            let node = cluster.node(1)
            let cpgctl = try BuiltCPGCtl.path()
            func asUser(_ user: String) async throws -> ShellResult {
                try await cluster.execute(
                    ["setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups", cpgctl, "send", "uidgid", "--message", "hi"],
                    onNode: node
                )
            }
            let refused = try await asUser(denied)
            #expect(refused.termination != .exited(0))
            #expect(refused.standardError.contains("uidgid.d"), "\(refused.standardError)")
            #expect(refused.standardError.split(separator: "\n").count == 1)
            let accepted = try await asUser(allowed)
            #expect(accepted.termination == .exited(0), "\(accepted.standardError)")
            #expect(accepted.standardOutput.contains("sent 1 message"))
        }
    }
}
