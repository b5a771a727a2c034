/// The labels of the metrics a ``CPGGroup`` reports through swift-metrics. Every metric carries
/// the dimension `cpg.group` with the group's name.
public enum CPGMetricLabel {
    /// Counter: messages corosync accepted from this member.
    public static let messagesSent = "cpg.messages.sent"
    /// Counter: bytes of the messages corosync accepted from this member.
    public static let bytesSent = "cpg.bytes.sent"
    /// Counter: messages delivered to this member.
    public static let messagesDelivered = "cpg.messages.delivered"
    /// Counter: bytes of the messages delivered to this member.
    public static let bytesDelivered = "cpg.bytes.delivered"
    /// Counter: membership changes delivered to this member.
    public static let membershipChanges = "cpg.membership.changes"
    /// Counter: sends that had to wait because corosync answered `CS_ERR_TRY_AGAIN`.
    public static let flowControlWaits = "cpg.flow_control.waits"
    /// Timer: how long sends waited for corosync under flow control.
    public static let flowControlWaitDuration = "cpg.flow_control.wait_duration"
    /// Counter: successful supervised reconnects (``CPGConfiguration/reconnect``).
    public static let reconnects = "cpg.reconnects"
    /// Gauge: events buffered for this member's subscriptions (after each dispatch batch).
    public static let bufferedEvents = "cpg.buffer.events"
}
