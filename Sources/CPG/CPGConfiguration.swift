import CoreMetrics

/// How a ``CPGGroup`` behaves. The defaults suit most servers.
public struct CPGConfiguration: Sendable {
    /// The largest message ``CPGGroup/send(_:)-([UInt8])`` accepts, in bytes (default 16 MiB).
    ///
    /// Corosync orders messages one after another for the whole group: a large message holds up
    /// everyone's deliveries while it passes. A larger send fails before anything is sent, with
    /// ``CPGError/Code/messageTooLarge``. Messages above corosync's atomic size (about 1 MiB)
    /// are fragmented by libcpg. A value above ``CPGGroup/largestMessageSize`` (4 GiB − 1) acts
    /// as that: libcpg carries a message's length in 32 bits, and every receiving libcpg copies
    /// the fragments of a longer one past the end of its buffer.
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
    /// corosync answers that it cannot take the join yet (default 10 seconds): `CS_ERR_TRY_AGAIN`
    /// to the connection while it starts up, `CS_ERR_TRY_AGAIN` to the join while this
    /// process's previous membership of the group is still being removed, and `CS_ERR_EXIST`
    /// while the handle of a previous membership is not yet closed.
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

    /// The send buffer the group asks for on its connection's socket, in bytes (default 1 MiB;
    /// `nil`, or a value of 0 or less, keeps the system's default, on Linux about 208 KiB).
    ///
    /// libqb puts each request (each send) in a shared ring and one byte on this socket to wake
    /// corosync. With the system's default about 280 such bytes fit, and when the socket is full
    /// libqb retries `send()` in a loop. The group never lets it: it pushes a send back while the
    /// socket is half full (see <doc:FlowControlAndBackpressure>). A sender of small messages
    /// reaches that mark whenever corosync pauses reading, and each push-back leaves corosync's
    /// queue to run dry: it then carries fewer messages per totem token rotation and spends more
    /// CPU per message. With 1 MiB, 64-byte messages went through one node at about 105,000
    /// per second against 83,000 with the default (medians of six runs on two cores; single
    /// runs vary by 2×, see `Benchmarks/RESULTS.md`).
    ///
    /// The kernel doubles the value and caps it at `net.core.wmem_max`, unless the process may
    /// exceed that cap (`CAP_NET_ADMIN`; the group then uses `SO_SNDBUFFORCE`). The memory is
    /// taken only while corosync lags behind this client's requests; the buffer is never made
    /// smaller than the system's default.
    public var notificationBufferBytes: Int? = 1 << 20

    /// The default configuration.
    public init() {}
}
