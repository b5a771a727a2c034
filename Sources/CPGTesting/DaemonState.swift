/// What ``LocalCluster`` last did to a node's corosync daemon.
public enum DaemonState: Sendable, Hashable {
    /// Started and not stopped since.
    case running
    /// Stopped with `SIGSTOP` by ``LocalCluster/pauseDaemon(_:)``; resume it with ``LocalCluster/resumeDaemon(_:)``.
    case paused
    /// Not running: killed by ``LocalCluster/killDaemon(_:)``; start it with ``LocalCluster/startDaemon(_:)``.
    case stopped
}
