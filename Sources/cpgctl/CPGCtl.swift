import ArgumentParser
import CPG

#if canImport(Glibc)
import Glibc
#endif

/// `cpgctl`: inspect and exercise Corosync closed process groups from the command line.
///
/// Failures print one line, `cpgctl: error: <what went wrong>`, on standard error and exit with
/// status 1; usage errors are reported by ArgumentParser as usual. A closed output pipe ends the
/// command quietly with status 141, as SIGPIPE would, but only after it left its group.
@main
struct CPGCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpgctl",
        abstract: "Inspect and exercise Corosync closed process groups (CPG).",
        discussion: """
            Talks to the corosync daemon of this machine (or, with --netns, of another network \
            namespace) through libcpg, and libcmap for node names. The read commands (groups, \
            members, local, nodes) and listen and bench print JSON with --json. Failures print \
            one line, "cpgctl: error: ...", on standard error and exit with status 1. \
            Shell completion: `cpgctl --generate-completion-script bash` (or zsh, fish) prints a \
            completion script; for example `cpgctl --generate-completion-script bash > \
            /etc/bash_completion.d/cpgctl`, or for zsh save it as _cpgctl in a directory of $fpath.
            """,
        subcommands: [Groups.self, Members.self, Nodes.self, Local.self, Send.self, Listen.self, Bench.self]
    )

    /// Parses the command line and runs the chosen subcommand, turning its failure into one
    /// line on standard error.
    static func main() async {
        // A reader that went away shows as a failed write, not as a silent death by SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let command: any ParsableCommand
        do {
            command = try self.parseAsRoot()
        } catch {
            self.exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
        } catch let error as CPGError {
            self.fail(error.description)
        } catch let error as CommandFailure {
            self.fail(error.description)
        } catch let error as OutputError where error.errorNumber == EPIPE {
            // The reader went away (`cpgctl listen | head`): the group was left; end quietly with
            // the status a death by SIGPIPE would give.
            Glibc.exit(128 + SIGPIPE)
        } catch let error as OutputError {
            self.fail(error.description)
        } catch {
            self.exit(withError: error)
        }
    }

    private static func fail(_ message: String) -> Never {
        Output.standardError("cpgctl: error: \(message)")
        Glibc.exit(1)
    }
}

/// A failure of a command that is not an error of the library, such as a timeout.
struct CommandFailure: Error, CustomStringConvertible {
    /// The one-line explanation printed after `cpgctl: error:`.
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
