/// The outcome of ``VirtualSynchronyChecker/check(_:)``: the violations found, and how much was
/// compared (so that a test can tell a pass from a check that had nothing to compare).
public struct VirtualSynchronyReport: Sendable, Hashable, CustomStringConvertible {
    /// How much the checker compared.
    public struct Statistics: Sendable, Hashable {
        /// Histories given (empty ones included).
        public var histories = 0
        /// Views installed, summed over the histories (departures not included).
        public var viewInstallations = 0
        /// Messages delivered, summed over the histories.
        public var deliveries = 0
        /// Distinct messages delivered by anyone.
        public var distinctMessages = 0
        /// Pairs of histories whose common messages were compared for order, with at least one
        /// message in common.
        public var orderedPairs = 0
        /// How many times two members were seen to pass together from one view to the same next
        /// view, so that their deliveries in the first were compared.
        public var sharedTransitions = 0
        /// Messages whose sender's own delivery was checked against what it sent.
        public var selfDeliveries = 0

        /// Creates empty statistics.
        public init() {}
    }

    /// Everything found, grouped by property in the order ``VirtualSynchronyChecker`` lists them.
    public var violations: [VirtualSynchronyViolation]
    /// How much was compared.
    public var statistics: Statistics

    /// Creates a report.
    public init(violations: [VirtualSynchronyViolation], statistics: Statistics) {
        self.violations = violations
        self.statistics = statistics
    }

    /// Whether no property is broken.
    public var isValid: Bool {
        self.violations.isEmpty
    }

    /// The violations of one property.
    public func violations(of property: VirtualSynchronyViolation.Property) -> [VirtualSynchronyViolation] {
        self.violations.filter { $0.property == property }
    }

    /// One line of statistics, then one line per violation (the first 25, and how many more).
    public var description: String {
        let stats = self.statistics
        var text = "\(stats.histories) histories, \(stats.viewInstallations) view installations, "
            + "\(stats.deliveries) deliveries of \(stats.distinctMessages) messages, "
            + "\(stats.orderedPairs) pairs ordered, \(stats.sharedTransitions) shared view transitions, "
            + "\(stats.selfDeliveries) own deliveries: "
        if self.violations.isEmpty {
            return text + "no violation"
        }
        text += "\(self.violations.count) violation\(self.violations.count == 1 ? "" : "s")"
        for violation in self.violations.prefix(25) {
            text += "\n  \(violation)"
        }
        if self.violations.count > 25 {
            text += "\n  … and \(self.violations.count - 25) more"
        }
        return text
    }
}
