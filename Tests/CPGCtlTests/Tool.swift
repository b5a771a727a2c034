import CPGTesting
import Foundation

/// The built `cpgctl`, next to the test executable.
///
/// SwiftPM puts the test executable (`swift-cpgPackageTests.xctest`) and the products into the
/// same `.build/<triple>/<configuration>/` directory; `swift build --build-tests` builds both.
enum BuiltCPGCtl {
    /// The directory the running test executable is in.
    static let directory: URL = {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    }()

    /// The executable's path.
    ///
    /// - Throws: when it was not built.
    static func path() throws -> String {
        let path = self.directory.appendingPathComponent("cpgctl").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw NotBuilt(directory: self.directory.path)
        }
        return path
    }

    struct NotBuilt: Error, CustomStringConvertible {
        var directory: String
        var description: String { "cpgctl is not built in \(self.directory); run swift build --build-tests" }
    }
}

/// What a finished tool printed and how it ended.
struct ToolResult: Sendable {
    /// How the process ended.
    var termination: ProcessTermination
    /// Standard output, split into lines (without their newlines).
    var lines: [String]
    /// Standard error.
    var standardError: String

    /// Standard output as one string.
    var standardOutput: String { self.lines.joined(separator: "\n") }
}

/// A running `cpgctl` whose standard output is read line by line as it comes.
struct RunningCPGCtl: Sendable {
    private let child: ChildProcess

    /// Starts `cpgctl` with `arguments`.
    init(_ arguments: [String]) async throws {
        self.child = try await ChildProcess.spawn([try BuiltCPGCtl.path()] + arguments)
    }

    /// The tool's process id.
    var pid: Int32 { self.child.processID }

    /// The next line of standard output, or `nil` at its end.
    func nextLine() async -> String? {
        var lines = self.child.lines.makeAsyncIterator()
        return await lines.next()
    }

    /// Sends SIGTERM.
    func terminate() {
        self.child.terminate()
    }

    /// Reads standard output to its end and waits for the exit: the lines not read yet with
    /// ``nextLine()``, standard error and how it ended.
    func finish() async -> ToolResult {
        var lines: [String] = []
        // The lines end once both standard output and standard error are closed.
        for await line in self.child.lines { lines.append(line) }
        let termination = await self.child.waitForExit()
        return ToolResult(termination: termination, lines: lines, standardError: self.child.standardError)
    }
}
