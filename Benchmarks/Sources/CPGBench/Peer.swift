import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process with a pipe on its stdin and one on its stdout (stderr is inherited).
///
/// The benchmark's second members run here: a process joins a group once.
// @unchecked Sendable: `buffer` is only touched on `ioQueue`; the stdin fd is behind its mutex
// (so it can be closed while a read blocks on `ioQueue`); the other fd and the pid never change.
final class Peer: @unchecked Sendable {
    let pid: pid_t
    let arguments: [String]
    private let inputFD: Mutex<Int32>
    private let outputFD: Int32
    private var buffer: [UInt8] = []
    private let ioQueue = DispatchQueue(label: "cpg-bench.peer-io")

    private init(pid: pid_t, arguments: [String], inputFD: Int32, outputFD: Int32) {
        self.pid = pid
        self.arguments = arguments
        self.inputFD = Mutex(inputFD)
        self.outputFD = outputFD
    }

    deinit {
        self.inputFD.withLock { if $0 >= 0 { close($0) } }
        close(self.outputFD)
    }

    /// Starts `arguments[0]` (a path, or a name looked up on `PATH`) with the rest as arguments.
    static func spawn(_ arguments: [String]) throws -> Peer {
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        guard pipe(&input) == 0, pipe(&output) == 0 else {
            throw BenchError("pipe failed: errno \(errno)")
        }
        // Close-on-exec, so no other child inherits them (the dup2 copies below lose the flag).
        for fd in input + output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        // Dispatch threads block most signals and a child inherits the mask: start it clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        close(input[0])
        close(output[1])
        guard status == 0 else {
            close(input[1])
            close(output[0])
            throw BenchError("cannot start \(arguments[0]): error \(status)")
        }
        return Peer(pid: pid, arguments: arguments, inputFD: input[1], outputFD: output[0])
    }

    /// The next line of the child's stdout, `nil` at end of file.
    func readLine() async -> String? {
        await withCheckedContinuation { continuation in
            self.ioQueue.async { continuation.resume(returning: self.readLineBlocking()) }
        }
    }

    /// Reads lines until one starts with `prefix`; throws at end of file.
    func expectLine(startingWith prefix: String) async throws -> String {
        while let line = await self.readLine() {
            if line.hasPrefix(prefix) { return line }
        }
        throw BenchError("\(self.arguments.joined(separator: " ")) ended before printing '\(prefix)'")
    }

    private func readLineBlocking() -> String? {
        while true {
            if let newline = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: self.buffer[..<newline], as: UTF8.self)
                self.buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(self.outputFD, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                if self.buffer.isEmpty { return nil }
                let line = String(decoding: self.buffer, as: UTF8.self)
                self.buffer.removeAll()
                return line
            }
            self.buffer += chunk[0..<count]
        }
    }

    /// Writes a line to the child's stdin.
    func writeLine(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        self.inputFD.withLock { fd in
            guard fd >= 0 else { return }
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }

    /// Closes the child's stdin (the echo peers stop at end of file).
    func closeInput() {
        self.inputFD.withLock { fd in
            if fd >= 0 {
                close(fd)
                fd = -1
            }
        }
    }

    func signal(_ signal: Int32) {
        kill(self.pid, signal)
    }

    /// Waits for the child to exit; its wait status.
    func waitForExit() async -> Int32 {
        await offPool { [pid = self.pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            return status
        }
    }
}
