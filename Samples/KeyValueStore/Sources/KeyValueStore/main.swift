// cpg-kv: a replicated key-value store on a Corosync closed process group.
//
//     cpg-kv [GROUP]
//
// Joins GROUP (default "cpg-kv"), waits until the state was transferred from the members already
// there, then reads commands from standard input, one per line:
//
//     set KEY VALUE     sets KEY on every member (VALUE is the rest of the line)
//     del KEY           removes KEY on every member
//     get KEY           prints this member's value of KEY
//     dump              prints this member's whole map, sorted by key
//
// It prints what happens to the store: rounds of state transfer, installed states, applied
// updates. End of input (Ctrl-D) leaves the group and exits.

import CPG
import Dispatch
import Foundation
import ReplicatedKV

/// Prints a line at once, even when standard output is a pipe: one `write(2)`, no stdio buffer.
///
/// (Not `print` and `fflush(nil)`: `fflush(nil)` also takes the lock of standard input, which
/// `readLine()` holds while it waits for a line, so the caller would hang until input arrives.)
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints a line on standard error.
func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Reads standard input line by line without blocking Swift's cooperative thread pool.
struct StandardInputLines: AsyncSequence {
    typealias Element = String

    struct AsyncIterator: AsyncIteratorProtocol {
        private static let queue = DispatchQueue(label: "cpg-kv.stdin")

        mutating func next() async -> String? {
            await withCheckedContinuation { continuation in
                Self.queue.async { continuation.resume(returning: readLine()) }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}

/// One line for a change of the store.
func describe(_ change: KVStore.Change) -> String {
    switch change {
    case .syncing(let members):
        "* syncing with \(members.map(\.description).joined(separator: " "))"
    case .membersChanged(let members):
        "* members now \(members.map(\.description).joined(separator: " ")); still serving"
    case .serving(let source, let entries):
        "* serving \(entries.count) key(s), state from \(source.map(\.description) ?? "nobody (new store)")"
    case .applied(let update, let sender):
        "<\(sender)> \(update)"
    case .disconnected:
        "* lost corosync; reconnecting, then the state comes again from the others"
    case .stopped(let error):
        "* stopped" + (error.map { ": \($0)" } ?? "")
    }
}

/// Runs one command line; answers what to print, if anything.
func run(_ line: String, on store: KVStore) async throws -> String? {
    let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
    switch (words.first, words.count) {
    case ("set", 3):
        try await store.set(String(words[1]), to: String(words[2]))
        return nil
    case ("del", 2):
        try await store.delete(String(words[1]))
        return nil
    case ("get", 2):
        return await store.value(forKey: String(words[1])) ?? "(absent)"
    case ("dump", 1):
        let entries = await store.entries
        guard !entries.isEmpty else { return "(empty)" }
        return entries.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    default:
        return "? commands: set KEY VALUE | del KEY | get KEY | dump"
    }
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("-h") || arguments.contains("--help") || arguments.count > 1 {
    say("usage: cpg-kv [GROUP]")
    exit(arguments.count > 1 ? 64 : 0)
}
do {
    // Survive a restart of the local corosync: rejoin, and get the state again from the others.
    var configuration = CPGConfiguration()
    configuration.reconnect = CPGReconnectPolicy()
    // The observer prints every change as the store handles it, in order.
    let store = try await KVStore.open(group: arguments.first ?? "cpg-kv", configuration: configuration) {
        say(describe($0))
    }
    say("joined as \(store.localMember); waiting for the state")
    await store.waitUntilServing()
    for await line in StandardInputLines() where !line.isEmpty {
        if let answer = try await run(line, on: store) { say(answer) }
    }
    await store.close()
} catch {
    complain("cpg-kv: error: \(error)")
    exit(1)
}
