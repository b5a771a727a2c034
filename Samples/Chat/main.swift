// cpg-chat: a chat room on a Corosync closed process group.
//
//     cpg-chat [GROUP] [--name NICK]
//
// Joins GROUP (default "chat"), prints every message and membership change, and sends each line
// typed on standard input to the group. End of input (Ctrl-D) leaves the group and exits.

import CPG
import Dispatch
import Foundation

/// Prints a line at once, even when standard output is a pipe.
/// (Written with FileHandle, not print and fflush(nil): fflush(nil) also waits for the lock of
/// standard input, which readLine holds while it waits for a line.)
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints a line on standard error.
func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Reads standard input line by line without blocking Swift's cooperative thread pool: each
/// `readLine()` runs on a queue of its own.
struct StandardInputLines: AsyncSequence {
    typealias Element = String

    struct AsyncIterator: AsyncIteratorProtocol {
        private static let queue = DispatchQueue(label: "cpg-chat.stdin")

        mutating func next() async -> String? {
            await withCheckedContinuation { continuation in
                Self.queue.async { continuation.resume(returning: readLine()) }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}

/// One line for a group event, as the chat shows it.
func describe(_ event: CPGEvent, localMember: CPGMember) -> String? {
    switch event {
    case .message(let message):
        return "<\(message.sender)> \(String(decoding: message.payload, as: UTF8.self))"
    case .membership(let change):
        let you = { (member: CPGMember) in member == localMember ? " (you)" : "" }
        let lines =
            change.joined.map { "* \($0.member)\(you($0.member)) joined (\($0.reason))" }
            + change.left.map { "* \($0.member)\(you($0.member)) left (\($0.reason))" }
            + [
                change.members.isEmpty
                    ? "* the room is empty"
                    : "* \(change.members.count) in the room: \(change.members.map(\.description).joined(separator: " "))"
            ]
        return lines.joined(separator: "\n")
    case .ring:
        return nil
    case .disconnected(let error):
        return "* lost corosync: \(error)"
    case .reconnected:
        return "* reconnected"
    }
}

/// The command line: an optional group name and an optional `--name NICK`.
func parseArguments() -> (group: String, nick: String?) {
    var group = "chat"
    var nick: String?
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        switch argument {
        case "--name":
            guard let value = arguments.popFirst() else {
                complain("cpg-chat: --name needs a value")
                exit(64)
            }
            nick = value
        case "-h", "--help":
            say("usage: cpg-chat [GROUP] [--name NICK]")
            exit(0)
        default:
            group = argument
        }
    }
    return (group, nick)
}

let (groupName, nick) = parseArguments()
do {
    let group = try await CPGGroup.join(groupName)
    // Subscribe before the printing task starts, so it sees everything from our own join on.
    let events = group.events
    let printer = Task {
        for try await event in events {
            if let line = describe(event, localMember: group.localMember) { say(line) }
        }
    }
    say("joined \(group.name) as \(group.localMember); type a line to send it, Ctrl-D to leave")
    for await line in StandardInputLines() where !line.isEmpty {
        try await group.send(nick.map { "\($0): \(line)" } ?? line)
    }
    // The events end after our own leave, so the printer shows it and then finishes.
    try await group.leave()
    try await printer.value
} catch {
    complain("cpg-chat: error: \(error)")
    exit(1)
}
