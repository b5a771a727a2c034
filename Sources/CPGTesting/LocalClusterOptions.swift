/// How ``LocalCluster`` builds a cluster and how patiently it waits for it.
public struct LocalClusterOptions: Sendable, Hashable {
    /// The corosync.conf tunables.
    public var corosync: CorosyncConfig
    /// How long ``LocalCluster/start(nodes:options:logger:)`` and each fault may wait
    /// for the membership to settle before throwing ``LocalClusterError/settleTimedOut(after:expected:observed:logs:)``.
    public var settleTimeout: Duration
    /// How often the daemons' membership is polled while waiting.
    public var pollInterval: Duration
    /// The time limit for one `corosync-quorumtool` query. A query of a daemon
    /// that is busy re-forming its ring may stall briefly; one that times out just
    /// counts as "not settled yet".
    public var queryTimeout: Duration
    /// The directory under which each run gets its state directory
    /// (`<stateRoot>/<runID>`). Leftovers of crashed runs are removed from here.
    public var stateRoot: String

    /// Creates options; the defaults suit a test suite on a small machine.
    public init(
        corosync: CorosyncConfig = CorosyncConfig(),
        settleTimeout: Duration = .seconds(30),
        pollInterval: Duration = .milliseconds(100),
        queryTimeout: Duration = .seconds(3),
        stateRoot: String = "/tmp/cpgtesting"
    ) {
        self.corosync = corosync
        self.settleTimeout = settleTimeout
        self.pollInterval = pollInterval
        self.queryTimeout = queryTimeout
        self.stateRoot = stateRoot
    }
}
