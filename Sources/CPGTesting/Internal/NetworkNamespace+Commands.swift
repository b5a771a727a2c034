import Foundation
import Glibc

/// Creating, listing and removing namespaces with `ip netns`.
extension NetworkNamespace {
    /// `ip netns add NAME`.
    static func add(_ name: String) async throws -> NetworkNamespace {
        try await Shell.check(["ip", "netns", "add", name], timeout: .seconds(20))
        return NetworkNamespace(name: name)
    }

    /// `ip netns del NAME`.
    func delete() async throws {
        try await Shell.check(["ip", "netns", "del", name], timeout: .seconds(20))
    }

    /// Runs `ip -n NAME ARGUMENTS...`, throwing unless it succeeds.
    @discardableResult
    func ip(_ arguments: String...) async throws -> ShellResult {
        try await Shell.check(["ip", "-n", name] + arguments, timeout: .seconds(20))
    }

    /// The pids of the processes whose main thread is in this namespace (`ip netns pids`).
    func processIDs() async throws -> [pid_t] {
        let result = try await Shell.check(["ip", "netns", "pids", name], timeout: .seconds(20))
        return result.standardOutput.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
    }

    /// The names of every namespace pinned under ``directory``.
    static func allNames() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }
}
