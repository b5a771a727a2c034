import CPG
import CPGBaseline

#if canImport(Glibc)
import Glibc
#endif

/// The Swift members that run in child processes (this executable with a role argument).
enum Roles {
    /// `cpg-bench swift-echo GROUP`: answers every other member's ping with an echo, the way an
    /// application would write it, until stdin closes.
    static func swiftEcho(_ name: String) async throws {
        let group = try await CPGGroup.join(name)
        let me = group.localMember
        let messages = group.messages
        emit("ready pid=\(getpid())")
        let watcher = Task {
            await offPool { drainStandardInput() }
            await group.close()
        }
        let ping = UInt8(CPG_BASELINE_KIND_PING)
        let echo = UInt8(CPG_BASELINE_KIND_ECHO)
        for try await message in messages where message.sender != me {
            guard message.payload.count >= 9, message.payload[8] == ping else { continue }
            var answer = message.payload
            answer[8] = echo
            try await group.send(answer)
        }
        _ = await watcher.result
        emit("done")
    }

    /// `cpg-bench stalled-member GROUP TOTAL BUFFER_BYTES`: joins, reads nothing until a line
    /// arrives on stdin, then drains TOTAL messages from other members, checking each sender's
    /// sequence; reports its peak RSS. BUFFER_BYTES 0 keeps the default event buffer.
    static func stalledMember(_ name: String, total: Int, eventBufferBytes: Int) async throws {
        var configuration = CPGConfiguration()
        if eventBufferBytes > 0 { configuration.eventBufferBytes = eventBufferBytes }
        // For experiments: CPG_BENCH_EVENT_BUFFER_COUNT sets eventBufferCount.
        if let count = getenv("CPG_BENCH_EVENT_BUFFER_COUNT").flatMap({ Int(String(cString: $0)) }) {
            configuration.eventBufferCount = count
        }
        let group = try await CPGGroup.join(name, configuration: configuration)
        let me = group.localMember
        let messages = group.messages
        let rssBefore = cpg_baseline_rss_kib(getpid())
        emit("ready pid=\(getpid())")
        _ = await offPool { readStandardInputLine() }
        let cpuBefore = CPUTime.now()
        var checker = SequenceChecker()
        var received = 0
        var bytes = 0
        for try await message in messages where message.sender != me {
            checker.check(message.payload, senderKey: UInt64(message.sender.nodeID) << 32 | UInt64(message.sender.pid))
            received += 1
            bytes += message.payload.count
            if received == total { break }
        }
        let cpu = CPUTime.now() - cpuBefore
        emit(
            "done messages=\(received) bytes=\(bytes) sequence_errors=\(checker.errors) "
                + "peak_rss_kib=\(cpg_baseline_peak_rss_kib()) rss_before_kib=\(rssBefore) cpu=\(fmt(cpu.total, 6))"
        )
        try await group.leave()
    }
}

/// Writes a line to stdout at once (stdout is a pipe to the harness).
func emit(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

/// Reads stdin until end of file.
func drainStandardInput() {
    var buffer = [UInt8](repeating: 0, count: 256)
    while read(0, &buffer, buffer.count) > 0 {}
}

/// Reads one line from stdin (or up to end of file).
func readStandardInputLine() -> String {
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while read(0, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
    return String(decoding: line, as: UTF8.self)
}
