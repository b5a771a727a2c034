import Foundation
import Testing

/// `cpgctl`'s help and shell completion, which need no daemon.
@Suite("cpgctl help and completion", .timeLimit(.minutes(1)))
struct CPGCtlHelpTests {
    static let subcommands = ["groups", "members", "nodes", "local", "send", "listen", "bench"]

    @Test("every command has an abstract and a discussion, and every argument and option an explanation")
    func everyOptionExplained() async throws {
        let dump = try await cpgctl("--experimental-dump-help")
        #expect(dump.termination == .exited(0))
        let root = try jsonObject(dump.standardOutput)
        let command = try #require(root["command"] as? [String: Any])
        let subcommands = try #require(command["subcommands"] as? [[String: Any]])
        let names = subcommands.compactMap { $0["commandName"] as? String }
        #expect(Set(Self.subcommands).isSubset(of: Set(names)), "\(names)")
        for subcommand in [command] + subcommands {
            let name = subcommand["commandName"] as? String ?? "?"
            guard name != "help" else { continue }
            #expect((subcommand["abstract"] as? String)?.isEmpty == false, "\(name) has no abstract")
            #expect((subcommand["discussion"] as? String)?.isEmpty == false, "\(name) has no discussion")
            for argument in subcommand["arguments"] as? [[String: Any]] ?? [] {
                let label = (argument["valueName"] as? String) ?? "?"
                guard !["help", "version"].contains(label) else { continue }
                #expect((argument["abstract"] as? String)?.isEmpty == false, "\(name) \(label) is not explained")
            }
        }
    }

    @Test("the root help tells how to get shell completion, and the scripts complete every subcommand and bench's options")
    func completion() async throws {
        let help = try await cpgctl("--help")
        #expect(help.standardOutput.contains("--generate-completion-script"))
        for shell in ["bash", "zsh", "fish"] {
            let script = try await cpgctl("--generate-completion-script", shell)
            #expect(script.termination == .exited(0), "\(shell): \(script.standardError)")
            for subcommand in Self.subcommands {
                #expect(script.standardOutput.contains(subcommand), "\(shell) completes \(subcommand)")
            }
            #expect(script.standardOutput.contains("latency-count"), "\(shell) completes bench's options")
        }
    }
}
