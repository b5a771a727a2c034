/// How a group with supervised reconnect (``CPGConfiguration/reconnect``) behaves when it loses
/// corosync.
///
/// The group puts ``CPGEvent/disconnected(_:)`` into its ordered stream, re-initialises and
/// rejoins with backoff (corosync answers `CS_ERR_TRY_AGAIN` while it still removes the old
/// membership), and puts ``CPGEvent/reconnected`` into the stream before the events of the new
/// membership. The application's view restarted: it must resynchronise its state, as Proxmox's
/// pmxcfs does. Messages in flight when the connection broke may or may not have been delivered
/// to the others; confirmed sends waiting for them fail with ``CPGError/Code/connectionLost``.
public struct CPGReconnectPolicy: Sendable, Hashable {
    /// What sends do while the group is disconnected.
    public enum SendsWhileDisconnected: Sendable, Hashable {
        /// Wait (cancellably) until the group is reconnected, then send in order.
        case wait
        /// Fail at once with ``CPGError/Code/connectionLost``.
        case fail
    }

    /// The first delay between attempts (default 100 ms); it doubles up to ``maximumDelay``.
    public var initialDelay: Duration = .milliseconds(100)
    /// The longest delay between attempts (default 2 s).
    public var maximumDelay: Duration = .seconds(2)
    /// Give up after this long and end the streams with the error (default `nil`: never).
    public var giveUpAfter: Duration?
    /// What sends do while disconnected (default ``SendsWhileDisconnected/wait``).
    public var sendsWhileDisconnected: SendsWhileDisconnected = .wait

    /// The default policy.
    public init() {}
}
