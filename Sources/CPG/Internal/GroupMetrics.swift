import CoreMetrics

/// The metrics one group reports, with the group's name as dimension `cpg.group`.
///
/// Hot paths report once per dispatch batch, not per event.
struct GroupMetrics: Sendable {
    let messagesSent: Counter
    let bytesSent: Counter
    let messagesDelivered: Counter
    let bytesDelivered: Counter
    let membershipChanges: Counter
    let flowControlWaits: Counter
    let flowControlWaitDuration: Timer
    let bufferedEvents: Gauge
    let reconnects: Counter

    init(group: CPGGroupName, factory: any MetricsFactory) {
        let dimensions = [("cpg.group", group.description)]
        self.messagesSent = Counter(label: CPGMetricLabel.messagesSent, dimensions: dimensions, factory: factory)
        self.bytesSent = Counter(label: CPGMetricLabel.bytesSent, dimensions: dimensions, factory: factory)
        self.messagesDelivered = Counter(label: CPGMetricLabel.messagesDelivered, dimensions: dimensions, factory: factory)
        self.bytesDelivered = Counter(label: CPGMetricLabel.bytesDelivered, dimensions: dimensions, factory: factory)
        self.membershipChanges = Counter(label: CPGMetricLabel.membershipChanges, dimensions: dimensions, factory: factory)
        self.flowControlWaits = Counter(label: CPGMetricLabel.flowControlWaits, dimensions: dimensions, factory: factory)
        self.flowControlWaitDuration = Timer(label: CPGMetricLabel.flowControlWaitDuration, dimensions: dimensions, factory: factory)
        self.reconnects = Counter(label: CPGMetricLabel.reconnects, dimensions: dimensions, factory: factory)
        self.bufferedEvents = Gauge(label: CPGMetricLabel.bufferedEvents, dimensions: dimensions, factory: factory)
    }
}
