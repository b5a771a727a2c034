import CPG
import CPGTesting
import Foundation
import Testing

/// `cpgctl groups -d`, `-e` and `-n`, corosync-cpgtool's flags, against the shared local daemon
/// with a member this test process joins under a name full of unprintable bytes.
@Suite("cpgctl groups -d, -e and -n", .timeLimit(.minutes(1)))
struct CPGCtlGroupsFormatTests {
    /// After an ASCII prefix: tab, newline, backslash, DEL, "é" in UTF-8, a byte that is not
    /// UTF-8, and a NUL terminator.
    static let unprintable: [UInt8] = [0x09, 0x0A, 0x5C, 0x7F, 0xC3, 0xA9, 0xFF, 0x00]
    /// How corosync-cpgtool escapes ``unprintable`` (with two hex digits for every byte).
    static let unprintableEscaped = #"\x09\x0A\\\x7F\xC3\xA9\xFF\x00"#

    @Test("groups escapes a name's unprintable bytes as corosync-cpgtool does; -e prints them raw")
    func table() async throws {
        try await withMember(Self.unprintable, escaped: Self.unprintableEscaped) { member in
            let text = try await cpgctlBytes("groups")
            #expect(text.status == 0, "\(text.standardError)")
            let lines = text.lines
            #expect(lines.first == "Group Name\t       PID\t   Node ID")
            let index = try #require(lines.firstIndex(of: member.escapedName), "\(lines)")
            #expect(lines[index + 1] == member.tableRow)

            let raw = try await cpgctlBytes("groups", "-e")
            #expect(raw.status == 0, "\(raw.standardError)")
            #expect(raw.lines.first == "Group Name\t       PID\t   Node ID")
            #expect(raw.output.contains(newline + member.rawName + newline + Array(member.tableRow.utf8) + newline))
            #expect(!raw.output.contains(Array(member.escapedName.utf8)))

            let long = try await cpgctlBytes("groups", "--no-escape")
            #expect(long.output.contains(newline + member.rawName + newline + Array(member.tableRow.utf8) + newline))
        }
    }

    @Test("groups -d prints the GRP_NAME,PID,NODEID header and one line per member, escaped unless -e")
    func delimited() async throws {
        try await withMember(Self.unprintable, escaped: Self.unprintableEscaped) { member in
            let text = try await cpgctlBytes("groups", "-d", ",")
            #expect(text.status == 0, "\(text.standardError)")
            #expect(text.lines.first == "GRP_NAME,PID,NODEID")
            #expect(text.lines.filter { $0.hasPrefix(member.escapedName) } == ["\(member.escapedName),\(member.pid),\(member.nodeID)"])

            let semicolon = try await cpgctlBytes("groups", "--delimiter", ";")
            #expect(semicolon.lines.first == "GRP_NAME;PID;NODEID")
            #expect(semicolon.lines.contains("\(member.escapedName);\(member.pid);\(member.nodeID)"))

            let raw = try await cpgctlBytes("groups", "-d", ",", "-e")
            #expect(raw.status == 0, "\(raw.standardError)")
            #expect(raw.lines.first == "GRP_NAME,PID,NODEID")
            #expect(raw.output.contains(newline + member.rawName + Array(",\(member.pid),\(member.nodeID)\n".utf8)))
            #expect(!raw.output.contains(Array(member.escapedName.utf8)))
        }
    }

    @Test("groups -n prints only the names, one per line; with -d all on one line, each followed by the delimiter")
    func namesOnly() async throws {
        try await withMember(Self.unprintable, escaped: Self.unprintableEscaped) { member in
            let text = try await cpgctlBytes("groups", "-n")
            #expect(text.status == 0, "\(text.standardError)")
            #expect(text.lines.contains(member.escapedName))
            // No header and no member lines (an escaped name never holds a tab).
            #expect(!text.lines.contains { $0.hasPrefix("Group Name\t") || $0.hasPrefix("\t") })
            #expect(!text.lines.contains { $0.hasPrefix(member.escapedName) && $0 != member.escapedName })

            let raw = try await cpgctlBytes("groups", "--names-only", "--no-escape")
            #expect(raw.status == 0, "\(raw.standardError)")
            #expect((newline + raw.output).contains(newline + member.rawName + newline))

            let delimited = try await cpgctlBytes("groups", "-n", "-d", ",")
            #expect(delimited.status == 0, "\(delimited.standardError)")
            #expect(delimited.lines.count == 1)
            #expect(delimited.output.last == UInt8(ascii: "\n"))
            #expect(delimited.output.dropLast().last == UInt8(ascii: ","))
            #expect(("," + delimited.standardOutput).contains(",\(member.escapedName),"))

            let json = try await cpgctlBytes("groups", "-n", "--json")
            #expect(json.status == 0, "\(json.standardError)")
            let names = try #require(try JSONSerialization.jsonObject(with: Data(json.output)) as? [String])
            #expect(names.contains(String(decoding: member.rawName, as: UTF8.self)))
        }
    }

    @Test("groups rejects -d or -e with --json, and a delimiter that is not one character")
    func invalidCombinations() async throws {
        let cases: [(arguments: [String], message: String)] = [
            (["-d", ",", "--json"], "--delimiter cannot be combined with --json"),
            (["-e", "--json"], "--no-escape cannot be combined with --json"),
            (["-n", "-d", ",", "--json"], "--delimiter cannot be combined with --json"),
            (["-d", ""], "--delimiter takes exactly one character"),
            (["-d", "::"], "--delimiter takes exactly one character"),
        ]
        for (arguments, message) in cases {
            let result = await (try await RunningCPGCtl(["groups"] + arguments)).finish()
            #expect(result.termination == .exited(64), "\(arguments)")
            #expect(result.lines.isEmpty, "\(arguments)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
    }

    @Test("groups --help explains -d, -e and -n")
    func help() async throws {
        let help = try await cpgctl("groups", "--help")
        #expect(help.termination == .exited(0))
        for option in ["-d, --delimiter <character>", "-e, --no-escape", "-n, --names-only", "--json"] {
            #expect(help.standardOutput.contains(option), "\(option)")
        }
        #expect(help.standardOutput.contains("GRP_NAME<C>PID<C>NODEID"))
    }

    @Test(
        "groups -d, -n and -e print what corosync-cpgtool prints for a name of ASCII bytes"
    )
    func sameAsCorosyncCPGTool() async throws {
        // corosync-cpgtool prints a byte of 0x80 or more as \xFFFFFFNN on x86-64 (a signed
        // char); cpgctl prints \xNN. Below 0x80 the two agree byte for byte.
        try await withMember([0x01, 0x09, 0x5C, 0x7F, 0x00], escaped: #"\x01\x09\\\x7F\x00"#) { member in
            // Not the table: corosync-cpgtool prints addresses where cpgctl prints node names.
            for flags in [["-d", ","], ["-d", ",", "-e"], ["-n"], ["-n", "-e"], ["-n", "-d", ":"]] {
                let ours = try await cpgctlBytes(["groups"] + flags)
                let theirs = try await runProgram([corosyncCPGTool] + flags)
                #expect(ours.status == 0 && theirs.status == 0, "\(flags): \(ours.standardError) \(theirs.standardError)")
                // Other tests' groups come and go between the two runs: compare this group's part.
                #expect(ours.part(of: member, flags: flags) == theirs.part(of: member, flags: flags), "\(flags)")
                #expect(ours.part(of: member, flags: flags) != nil, "\(flags)")
                if flags.first == "-d" {
                    #expect(ours.lines.first == theirs.lines.first)
                }
            }
        }
    }
}

// MARK: Helpers

private let corosyncCPGTool = "/usr/sbin/corosync-cpgtool"
private let newline: [UInt8] = [0x0A]

/// The member this test process holds in a group, and how cpgctl should print it.
struct JoinedMember: Sendable {
    /// The group's name, byte for byte.
    var rawName: [UInt8]
    /// The group's name escaped as corosync-cpgtool escapes it.
    var escapedName: String
    var pid: UInt32
    var nodeID: UInt32
    /// The member's line in the table: pid and node id in ten columns, the node's name after.
    var tableRow: String
}

/// Joins a unique group, named by an ASCII prefix and then `suffix`, from this test process; runs
/// `body` once the daemon lists this process as a member, then leaves. `escaped` is how
/// corosync-cpgtool prints `suffix`.
func withMember(
    _ suffix: [UInt8],
    escaped: String,
    label: String = #function,
    _ body: (JoinedMember) async throws -> Void
) async throws {
    let prefix = uniqueGroup(label)
    let rawName = Array(prefix.utf8) + suffix
    let group = try await CPGGroup.join(try CPGGroupName(bytes: rawName))
    var joined = false
    for try await change in group.membershipChanges
    where change.joined.contains(CPGMemberChange(member: group.localMember, reason: .join)) {
        joined = true
        break
    }
    try #require(joined, "the group's events ended before its own join")
    let names = await (try? CPGCluster.nodeNames()) ?? [:]
    let pid = String(group.localMember.pid)
    let nodeID = String(group.localNodeID)
    var row = "\t\t" + String(repeating: " ", count: 10 - pid.count) + pid
        + "\t" + String(repeating: " ", count: 10 - nodeID.count) + nodeID
    if let name = names[group.localNodeID] { row += " (\(name))" }
    let member = JoinedMember(
        rawName: rawName,
        escapedName: prefix + escaped,
        pid: group.localMember.pid,
        nodeID: group.localNodeID,
        tableRow: row
    )
    do {
        try await body(member)
    } catch {
        try? await group.leave()
        throw error
    }
    try await group.leave()
}

/// What a finished program wrote, byte for byte.
struct RawResult: Sendable {
    var status: Int32
    var output: [UInt8]
    var standardError: String

    /// Standard output as text.
    var standardOutput: String { String(decoding: self.output, as: UTF8.self) }

    /// Standard output split into lines, without their newlines.
    var lines: [String] {
        var lines = self.output.split(separator: 0x0A, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The part of the output about `member`'s group, given the flags it was printed with: its
    /// lines (the group's line and the member lines after it in the table), or its field with
    /// `-n -d`. `nil` if the group is not there.
    func part(of member: JoinedMember, flags: [String]) -> [UInt8]? {
        let name = flags.contains("-e") ? member.rawName : Array(member.escapedName.utf8)
        let delimiter = flags.firstIndex(of: "-d").map { Array(flags[$0 + 1].utf8) }
        if flags.contains("-n"), let delimiter {
            let field = delimiter + name + delimiter
            return (delimiter + self.output).contains(field) ? field : nil
        }
        let start = newline + name + (delimiter ?? newline)
        guard let range = (newline + self.output).firstRange(of: start) else { return nil }
        let rest = (newline + self.output)[range.lowerBound...]
        // A line, and in the table the member line after the group's line.
        let lineCount = flags.isEmpty || flags == ["-e"] ? 3 : 2
        let ends = rest.indices.filter { rest[$0] == 0x0A }
        guard ends.count >= lineCount else { return nil }
        return Array(rest[..<ends[lineCount - 1]])
    }
}

/// Runs the built `cpgctl` to its end.
func cpgctlBytes(_ arguments: String...) async throws -> RawResult {
    try await cpgctlBytes(arguments)
}

/// Runs the built `cpgctl` to its end.
func cpgctlBytes(_ arguments: [String]) async throws -> RawResult {
    try await runProgram([try BuiltCPGCtl.path()] + arguments)
}

/// Runs a program to its end and keeps its standard output byte for byte.
func runProgram(_ arguments: [String]) async throws -> RawResult {
    try await withCheckedThrowingContinuation { continuation in
        // Reading to the end blocks: off the cooperative pool.
        DispatchQueue.global().async {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            let output = Pipe()
            let error = Pipe()
            process.standardOutput = output
            process.standardError = error
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            let bytes = output.fileHandleForReading.readDataToEndOfFile()
            let message = error.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(
                returning: RawResult(
                    status: process.terminationStatus,
                    output: Array(bytes),
                    standardError: String(decoding: message, as: UTF8.self)
                )
            )
        }
    }
}
