/// Why a ``LocalCluster`` operation failed.
public enum LocalClusterError: Error, Sendable, CustomStringConvertible {
    /// Namespaces, mounts and daemons need root.
    case notRoot
    /// The node count must be in 1...200.
    case invalidNodeCount(Int)
    /// The node does not belong to this cluster.
    case unknownNode(ClusterNode)
    /// The operation does not fit the daemon's current state (e.g. pausing a stopped daemon).
    case invalidState(node: ClusterNode, state: DaemonState, operation: String)
    /// The argument does not make sense (e.g. a partition that does not list every node once).
    case invalidArgument(String)
    /// The cluster was stopped already.
    case stopped
    /// A daemon that should be running exited. `log` is the end of its log and output.
    case daemonExited(node: ClusterNode, termination: ProcessTermination, log: String)
    /// The membership did not reach the expected shape in time.
    ///
    /// `expected` and `observed` describe each node's membership; `logs` holds
    /// the end of every node's corosync log.
    case settleTimedOut(after: Duration, expected: String, observed: String, logs: String)

    /// A multi-line explanation.
    public var description: String {
        switch self {
        case .notRoot:
            "LocalCluster needs root (network namespaces, mounts)"
        case .invalidNodeCount(let count):
            "a LocalCluster needs 1...200 nodes, not \(count)"
        case .unknownNode(let node):
            "\(node) is not a node of this cluster"
        case .invalidState(let node, let state, let operation):
            "cannot \(operation) \(node.name): its daemon is \(state)"
        case .invalidArgument(let text):
            text
        case .stopped:
            "the cluster was stopped"
        case .daemonExited(let node, let termination, let log):
            "corosync on \(node.name) exited (\(termination)); its log ends:\n\(log)"
        case .settleTimedOut(let after, let expected, let observed, let logs):
            "membership did not settle within \(after)\nexpected:\n\(expected)\nobserved:\n\(observed)\nlogs:\n\(logs)"
        }
    }
}
