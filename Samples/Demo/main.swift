// cpg-demo: two members of one closed process group, in one self-contained run.
//
//     cpg-demo                 the parent: joins a fresh group, starts the peer, prints every event
//     cpg-demo --peer GROUP    the peer (started by the parent): joins GROUP, greets, leaves
//
// A process can be a member of a group once, so the second member is a second process: the
// parent starts itself again (/proc/self/exe) as the peer. The parent prints every event it
// sees: the joins, the greetings of both members in the one order every member agrees on, the
// ring, and the peer's leave. Both processes give up after 20 seconds, so the demo never hangs.

import CPG
import Foundation

/// How long either process may take before it gives up.
let deadline = Duration.seconds(20)
/// How many greetings each member sends.
let greetingCount = 3

/// Prints a line at once: the parent and the peer share standard output.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Prints a line on standard error.
func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Exits with status 1 if the process is still running after the deadline.
func startWatchdog(_ who: String, onTimeout: @escaping @Sendable () -> Void = {}) {
    Task {
        try await Task.sleep(for: deadline)
        complain("\(who): no progress after \(deadline); giving up")
        onTimeout()
        exit(1)
    }
}

/// A member as the parent names it.
func name(_ member: CPGMember, parent: CPGMember, peerPID: Int32) -> String {
    if member == parent { return "\(member) (parent)" }
    if member.pid == UInt32(peerPID) { return "\(member) (peer)" }
    return "\(member)"
}

/// One readable line for an event the parent sees.
func describe(_ event: CPGEvent, parent: CPGMember, peerPID: Int32) -> String {
    let label = { (member: CPGMember) in name(member, parent: parent, peerPID: peerPID) }
    switch event {
    case .message(let message):
        let text = String(decoding: message.payload, as: UTF8.self)
        return "message #\(message.deliveryIndex) from \(label(message.sender)): \"\(text)\""
    case .membership(let change):
        var line = "membership: [" + change.members.map(label).joined(separator: ", ") + "]"
        for joined in change.joined { line += "; \(label(joined.member)) joined (reason \(joined.reason))" }
        for left in change.left { line += "; \(label(left.member)) left (reason \(left.reason))" }
        return line
    case .ring(let change):
        return "ring \(change.ringID): nodes \(change.members.map(String.init).joined(separator: ", "))"
    case .disconnected(let error):
        return "disconnected: \(error)"
    case .reconnected:
        return "reconnected"
    }
}

/// Waits for a child process to end, on a queue of its own (off Swift's cooperative pool, and
/// off `DispatchQueue.global()`, whose few threads blocking calls would hold up).
func exitStatus(of process: Process) async -> Int32 {
    await withCheckedContinuation { continuation in
        DispatchQueue(label: "cpg-demo.wait").async {
            process.waitUntilExit()
            continuation.resume(returning: process.terminationStatus)
        }
    }
}

/// The parent: joins, starts the peer, prints every event, answers the peer's join with
/// confirmed greetings, and leaves once the peer has left.
func runParent() async throws {
    let groupName = "cpg-demo-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    let group = try await CPGGroup.join(groupName)
    // Subscribe right away: the sequence starts with our own join and the current ring.
    let events = group.events
    let me = group.localMember
    say(
        "parent | joined \(group.name) as \(me) "
            + "(node \(group.localNodeID), atomic messages up to \(group.maxAtomicMessageSize) bytes)"
    )

    let peer = Process()
    peer.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    peer.arguments = ["--peer", groupName]
    try peer.run()
    let peerPID = peer.processIdentifier
    say("parent | started the peer, pid \(peerPID)")
    // On every way out, the peer goes too.
    defer { if peer.isRunning { peer.terminate() } }
    startWatchdog("parent") { kill(peerPID, SIGKILL) }
    let peerExit = Task {
        let status = await exitStatus(of: peer)
        if status != 0 {
            complain("parent: the peer failed with status \(status)")
            exit(1)
        }
        return status
    }

    for try await event in events {
        say("parent | " + describe(event, parent: me, peerPID: peerPID))
        guard case .membership(let change) = event else { continue }
        if change.joined.contains(where: { $0.member.pid == UInt32(peerPID) }) {
            for number in 1...greetingCount {
                let index = try await group.sendConfirmed(Array("hello \(number) from the parent".utf8))
                say("parent | greeting \(number) was delivered back to us as message #\(index)")
            }
        }
        if change.left.contains(where: { $0.member.pid == UInt32(peerPID) }) {
            say("parent | the peer has left; leaving too")
            // Returns once our own leave is delivered; the loop then prints it, and the
            // sequence ends.
            try await group.leave()
        }
    }
    let status = await peerExit.value
    say("parent | the peer exited with status \(status); done")
}

/// The peer: joins the parent's group, sends its greetings, waits for the parent's, leaves.
func runPeer(_ groupName: String) async throws {
    startWatchdog("peer")
    let group = try await CPGGroup.join(groupName)
    let messages = group.messages
    let me = group.localMember
    say("peer   | joined \(group.name) as \(me)")
    for number in 1...greetingCount {
        try await group.send("hello \(number) from the peer")
    }
    say("peer   | sent \(greetingCount) greetings")
    var fromParent = 0
    for try await message in messages where message.sender != me {
        fromParent += 1
        say("peer   | received \"\(String(decoding: message.payload, as: UTF8.self))\" from \(message.sender)")
        if fromParent == greetingCount { break }
    }
    say("peer   | leaving")
    try await group.leave()
}

do {
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case nil:
        try await runParent()
    case "--peer" where arguments.count == 2:
        try await runPeer(arguments[1])
    default:
        complain("usage: cpg-demo [--peer GROUP]")
        exit(64)
    }
} catch {
    complain("cpg-demo: error: \(error)")
    exit(1)
}
