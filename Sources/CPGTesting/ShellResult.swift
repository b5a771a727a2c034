/// What a command that ran to completion printed, and how it ended.
public struct ShellResult: Sendable, Hashable {
    /// The command line.
    public var arguments: [String]
    /// How the process ended.
    public var termination: ProcessTermination
    /// Everything the command wrote to standard output (decoded as UTF-8).
    public var standardOutput: String
    /// Everything the command wrote to standard error (decoded as UTF-8).
    public var standardError: String

    /// `true` if the command exited with status 0.
    public var succeeded: Bool {
        termination.isSuccess
    }

    /// Creates a result; ``Shell`` makes these.
    public init(arguments: [String], termination: ProcessTermination, standardOutput: String, standardError: String) {
        self.arguments = arguments
        self.termination = termination
        self.standardOutput = standardOutput
        self.standardError = standardError
    }
}
