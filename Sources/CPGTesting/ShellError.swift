import Foundation
import Glibc

/// Why a command run by ``Shell`` or ``LocalCluster`` failed.
public enum ShellError: Error, Sendable, CustomStringConvertible {
    /// The program could not be started (`errno` from `posix_spawnp` or `socketpair`).
    case launchFailed(arguments: [String], errno: Int32)
    /// The command did not end within its time limit and was killed.
    case timedOut(arguments: [String], after: Duration)
    /// The command ended, but not with exit status 0.
    case failed(ShellResult)

    /// A one-line explanation including the command line.
    public var description: String {
        switch self {
        case .launchFailed(let arguments, let code):
            "could not start \(arguments.joined(separator: " ")): \(String(cString: strerror(code)))"
        case .timedOut(let arguments, let after):
            "\(arguments.joined(separator: " ")) did not finish within \(after)"
        case .failed(let result):
            "\(result.arguments.joined(separator: " ")) failed (\(result.termination)): "
                + result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
