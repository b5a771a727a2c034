import CPG
import CPGTesting
import Foundation
import Glibc

/// A group name no other test (or earlier run) uses.
func uniqueGroupName(_ label: String) -> String {
    "swift-cpg-sample-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
}

/// A configuration that connects to the daemon of one node of a ``LocalCluster``.
func configuration(for node: ClusterNode) -> CPGConfiguration {
    var configuration = CPGConfiguration()
    configuration.networkNamespace = node.namespacePath
    return configuration
}

/// An executable of this package, built next to the test binary (`swift build --build-tests`).
enum BuiltProduct {
    /// The directory the running test executable is in.
    static let directory: URL = {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    }()

    /// The path of the executable `name`.
    ///
    /// - Throws: when it was not built.
    static func path(_ name: String) throws -> String {
        let path = self.directory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw NotBuilt(name: name, directory: self.directory.path)
        }
        return path
    }

    struct NotBuilt: Error, CustomStringConvertible {
        var name: String
        var directory: String
        var description: String { "\(self.name) is not built in \(self.directory); run swift build --build-tests" }
    }
}

/// A child process whose standard output is read line by line, by one task.
final class LineReader {
    let child: ChildProcess
    private var lines: AsyncStream<String>.Iterator
    /// Every line read so far.
    private(set) var seen: [String] = []

    init(_ child: ChildProcess) {
        self.child = child
        self.lines = child.lines.makeAsyncIterator()
    }

    /// Reads lines until one satisfies `predicate`; `nil` if the output ends first.
    func first(where predicate: (String) -> Bool) async -> String? {
        while let line = await self.lines.next() {
            self.seen.append(line)
            if predicate(line) { return line }
        }
        return nil
    }
}
