import Foundation

extension LocalCluster {
    /// Starts a process inside the node's network namespace (`ip netns exec`).
    ///
    /// Use it for peers written in other languages (such as a plain-C libcpg
    /// client) and for processes to kill in procdown tests. The process sees the
    /// node's daemon; it is killed by ``stop()`` if still running, and by the
    /// kernel if this process dies.
    ///
    /// - Parameters:
    ///   - arguments: The program (looked up on `PATH`; pass an absolute path
    ///     for a freshly built binary) and its arguments.
    ///   - node: The node to run on.
    /// - Returns: A handle to read the process's output lines, signal and await it.
    public func run(_ arguments: [String], onNode node: ClusterNode) async throws -> ChildProcess {
        try ensureRunning()
        try ensureMember(node)
        precondition(!arguments.isEmpty, "a command needs at least a program name")
        let wrapped = ["ip", "netns", "exec", node.namespace.name, "setpriv", "--pdeathsig", "KILL"] + arguments
        let process = try await SpawnedProcess.spawn(wrapped, standardOutput: .capture, standardError: .capture)
        let child = ChildProcess(process: process)
        children.removeAll { $0.termination != nil }
        children.append(child)
        logger.debug("started \(arguments.joined(separator: " ")) on \(node.name), pid \(child.processID)")
        return child
    }

    /// Runs a command to completion inside the node's network namespace and
    /// returns its output, whatever its exit status; e.g.
    /// `["corosync-cpgtool"]` or `["corosync-quorumtool", "-l"]`.
    ///
    /// - Throws: ``ShellError/timedOut(arguments:after:)`` (the command was killed),
    ///   ``ShellError/launchFailed(arguments:errno:)``, `CancellationError`.
    public nonisolated func execute(
        _ arguments: [String], onNode node: ClusterNode, timeout: Duration = .seconds(30)
    ) async throws -> ShellResult {
        try await Shell.run(["ip", "netns", "exec", node.namespace.name] + arguments, timeout: timeout)
    }
}
