import CPG

/// One way a set of histories breaks a property that ``VirtualSynchronyChecker`` checks.
public struct VirtualSynchronyViolation: Sendable, Hashable, CustomStringConvertible {
    /// A property the checker verifies. A struct, so that new properties do not break switches.
    ///
    /// See ``VirtualSynchronyChecker`` for the precise definitions.
    public struct Property: Sendable, Hashable, CustomStringConvertible {
        /// In the order ``VirtualSynchronyChecker`` lists the properties.
        fileprivate enum Base: Int, Hashable, Sendable {
            case wellFormed, noDuplicates, noCreation, senderInView, selfDelivery, totalOrder, viewAgreement
            case virtualSynchrony
        }

        fileprivate let base: Base

        /// Where the property comes in the checker's list, for sorting reports.
        var rank: Int {
            self.base.rawValue
        }

        /// The histories are usable: each starts with a view listing its member, nothing follows
        /// a departure, views list each member once, each sender's payloads are unique.
        public static let wellFormed = Property(base: .wellFormed)
        /// (a) Messages delivered by two members are delivered in the same relative order.
        public static let totalOrder = Property(base: .totalOrder)
        /// (b) Members that pass together from one view to the same next view delivered the same
        /// set of messages in the first.
        public static let virtualSynchrony = Property(base: .virtualSynchrony)
        /// (c) No member delivers a message twice.
        public static let noDuplicates = Property(base: .noDuplicates)
        /// (c) Every delivered message was sent by its sender.
        public static let noCreation = Property(base: .noCreation)
        /// A message is delivered in a view that lists its sender.
        public static let senderInView = Property(base: .senderInView)
        /// (d) A sender delivers its own messages, in the order it sent them, all of them unless
        /// its history was cut short.
        public static let selfDelivery = Property(base: .selfDelivery)
        /// (e) Members that install the same view agree on its member list, and on the sequence of
        /// views they share.
        public static let viewAgreement = Property(base: .viewAgreement)

        /// The property's name, such as `total order`.
        public var description: String {
            switch self.base {
            case .wellFormed: "well-formed"
            case .totalOrder: "total order"
            case .virtualSynchrony: "virtual synchrony"
            case .noDuplicates: "no duplicates"
            case .noCreation: "no creation"
            case .senderInView: "sender in view"
            case .selfDelivery: "self delivery"
            case .viewAgreement: "view agreement"
            }
        }
    }

    /// The property that is broken.
    public var property: Property
    /// The members involved (the histories' members), in the order the explanation names them.
    public var members: [CPGMember]
    /// What happened, naming the histories, views and messages involved.
    public var explanation: String

    /// Creates a violation.
    public init(_ property: Property, members: [CPGMember], _ explanation: String) {
        self.property = property
        self.members = members
        self.explanation = explanation
    }

    /// `[property] explanation`.
    public var description: String {
        "[\(self.property)] \(self.explanation)"
    }
}
