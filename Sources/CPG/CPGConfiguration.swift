import CoreMetrics

/// How a ``CPGGroup`` behaves. The defaults suit most servers.
public struct CPGConfiguration: Sendable {
    /// The largest message ``CPGGroup/send(_:)-([UInt8])`` accepts, in bytes (default 16 MiB).
    ///
    /// Corosync orders messages one after another for the whole group: a large message holds up
    /// everyone's deliveries while it passes. A larger send fails before anything is sent, with
    /// ``CPGError/Code/messageTooLarge``. Messages above corosync's atomic size (about 1 MiB)
    /// are fragmented by libcpg.
    public var maximumMessageSize: Int = 16 * 1024 * 1024

    /// How many events the group buffers for its subscriptions before it stops reading from
    /// corosync (default 4096).
    public var eventBufferCount: Int = 4096

    /// How many bytes of events the group buffers before it stops reading from corosync
    /// (default 32 MiB; one event larger than this is still taken when the buffer is empty).
    ///
    /// The count is the payload bytes plus a small estimate per event, and a full buffer is
    /// this process's memory on top of its own footprint: with the default, a member that stops
    /// reading while a gigabyte passes peaks well under 64 MiB of resident memory.
    public var eventBufferBytes: Int = 32 * 1024 * 1024

    /// How long ``CPGGroup/join(_:configuration:logger:)-(CPGGroupName,_,_)`` retries while
    /// corosync still removes this process's previous membership of the group: it answers
    /// `CS_ERR_TRY_AGAIN` after a leave and `CS_ERR_EXIST` after a close (default 10 seconds).
    public var joinRetryTimeout: Duration = .seconds(10)

    /// Connect to the corosync of another network namespace: a path such as `/run/netns/NAME`.
    ///
    /// libqb's IPC sockets exist per network namespace; the connection is made from a thread
    /// that entered the namespace, and keeps it. `nil` (the default) uses the caller's namespace.
    public var networkNamespace: String?

    /// The user ids the corosync daemon may run as (default: root only). The client checks the
    /// process at the other end of its IPC connection with `SO_PEERCRED` and refuses any other
    /// with ``CPGError/Code/untrustedDaemon``, as Pacemaker does.
    public var trustedDaemonUIDs: Set<UInt32> = [0]

    /// Reconnect when corosync goes away, instead of ending the streams (default `nil`: off).
    /// See ``CPGReconnectPolicy``.
    public var reconnect: CPGReconnectPolicy?

    /// Where the group reports its metrics (see ``CPGMetricLabel``); `nil` (the default) uses
    /// the process-wide `MetricsSystem.factory`.
    public var metricsFactory: (any MetricsFactory)?

    /// How long the group's reader waits on corosync's file descriptor for the next event after
    /// it has read everything, before it returns to its DispatchSource (default `.zero`: at once).
    ///
    /// Every time libcpg's ring runs dry, libdispatch's event thread must re-arm the source, and
    /// the next event then wakes that thread and the group's. A reader that lingers waits on the
    /// fd itself, on the group's own thread, like a C client's dispatch thread, and the next
    /// event costs one wakeup. For request-and-answer traffic this saves about a third of the
    /// CPU per round trip and some latency (see `Benchmarks/RESULTS.md`); for steady streams of
    /// small messages, where the source's batching pays, it measured slower.
    ///
    /// The lingering reader holds one thread per group; any other work of the group (a send that
    /// must queue, a query, `leave()`, `close()`) wakes it at once, so it delays nothing. A group
    /// dropped without `close()` is finalized only when its reader stops waiting. Values below a
    /// millisecond are rarely useful: the point is to wait out the gap between request and answer.
    public var readerLinger: Duration = .zero

    /// The default configuration.
    public init() {}
}
