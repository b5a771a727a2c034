/// Why a member joined or left a group (`cpg_reason_t`).
public enum CPGChangeReason: Hashable, Sendable, CustomStringConvertible {
    /// The process called join (`CPG_REASON_JOIN`).
    case join
    /// The process called leave (`CPG_REASON_LEAVE`).
    case leave
    /// The member's node left the cluster: its daemon died or it was cut off (`CPG_REASON_NODEDOWN`).
    case nodeDown
    /// The member's node (re)joined the cluster, bringing its members along (`CPG_REASON_NODEUP`).
    case nodeUp
    /// The process ended or closed its connection without leaving (`CPG_REASON_PROCDOWN`).
    case processDown
    /// A value corosync does not document (`CPG_REASON_UNDEFINED` is 0); kept rather than lost.
    case other(UInt32)

    /// Creates a reason from the raw `cpg_reason_t` value.
    public init(rawValue: UInt32) {
        switch rawValue {
        case 1: self = .join
        case 2: self = .leave
        case 3: self = .nodeDown
        case 4: self = .nodeUp
        case 5: self = .processDown
        default: self = .other(rawValue)
        }
    }

    /// The raw `cpg_reason_t` value.
    public var rawValue: UInt32 {
        switch self {
        case .join: 1
        case .leave: 2
        case .nodeDown: 3
        case .nodeUp: 4
        case .processDown: 5
        case .other(let value): value
        }
    }

    /// The lower-case word corosync-cpgtool and `cpgctl --json` use: `join`, `leave`, `nodedown`,
    /// `nodeup`, `procdown`, or `undefined`.
    public var description: String {
        switch self {
        case .join: "join"
        case .leave: "leave"
        case .nodeDown: "nodedown"
        case .nodeUp: "nodeup"
        case .processDown: "procdown"
        case .other: "undefined"
        }
    }
}
