import CPG

/// The parsed standard output of `cpg-c-peer`, the plain-C libcpg member of this package's tests
/// (`Tests/Support/cpg-c-peer`).
///
/// The peer prints one line per event:
///
/// ```text
/// ready nodeid=<N> pid=<P>
/// message nodeid=<N> pid=<P> size=<S> data=<lowercase hex>
/// membership members=<n:p,...> joined=<n:p:reason,...> left=<n:p:reason,...>
/// ring nodeid=<N> seq=<S> members=<n,...>
/// ```
///
/// The lines become the same `CPGEvent` values a `CPGGroup` delivers, so one set of
/// assertions (and ``MemberHistory/init(member:label:events:sent:)``) serves both kinds of member.
public struct CPeerOutput: Sendable, Hashable {
    /// The member the peer became (from its `ready` line), or `nil` if it printed none.
    public var member: CPGMember?
    /// Its events, in the order it printed them.
    public var events: [CPGEvent]
    /// Lines that are none of the above (or malformed), in order.
    public var unparsedLines: [String]
    /// Messages delivered so far.
    private var deliveries: UInt64 = 0

    /// The group the peer joined (the peer does not print it; it goes into the membership changes).
    public var group: CPGGroupName

    /// Creates an empty output, to ``append(_:)`` lines to as the peer prints them.
    ///
    /// - Parameter group: The group the peer joined.
    public init(group: CPGGroupName) {
        self.group = group
        self.member = nil
        self.events = []
        self.unparsedLines = []
    }

    /// Parses the lines the peer printed.
    ///
    /// - Parameters:
    ///   - lines: The peer's standard output, one element per line.
    ///   - group: The group the peer joined.
    public init(lines: some Sequence<String>, group: CPGGroupName) {
        self.init(group: group)
        for line in lines {
            self.append(line)
        }
    }

    /// Parses one more line.
    ///
    /// - Returns: The event the line describes, or `nil` for a `ready` line and for lines that
    ///   are not events (those go to ``unparsedLines``).
    @discardableResult
    public mutating func append(_ line: String) -> CPGEvent? {
        guard let parsed = Self.parse(line, group: self.group, deliveryIndex: self.deliveries + 1) else {
            self.unparsedLines.append(line)
            return nil
        }
        switch parsed {
        case .ready(let member):
            self.member = member
            return nil
        case .event(let event):
            if case .message = event { self.deliveries += 1 }
            self.events.append(event)
            return event
        }
    }

    /// The peer's history for ``VirtualSynchronyChecker``, or `nil` without a `ready` line.
    ///
    /// - Parameters:
    ///   - label: A name for reports.
    ///   - sent: What the peer sent; see ``payloads(prefix:count:size:)``.
    public func history(label: String? = nil, sent: [[UInt8]]? = nil) -> MemberHistory? {
        guard let member = self.member else { return nil }
        return MemberHistory(member: member, label: label, events: self.events, sent: sent)
    }

    /// The payloads `cpg-c-peer --send count --size size --prefix prefix` sends, in order:
    /// message i is the text `<prefix><i>`, padded with `.` up to `size` bytes.
    public static func payloads(prefix: String, count: Int, size: Int = 0) -> [[UInt8]] {
        (0..<max(0, count)).map { index in
            var bytes = Array("\(prefix)\(index)".utf8)
            if bytes.count < size {
                bytes += Array(repeating: UInt8(ascii: "."), count: size - bytes.count)
            }
            return bytes
        }
    }

    private enum Line {
        case ready(CPGMember)
        case event(CPGEvent)
    }

    private static func parse(_ line: String, group: CPGGroupName, deliveryIndex: UInt64) -> Line? {
        let words = line.split(separator: " ")
        guard let kind = words.first else { return nil }
        var fields: [Substring: Substring] = [:]
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { return nil }
            fields[word[..<equals]] = word[word.index(after: equals)...]
        }
        switch kind {
        case "ready":
            guard let node = fields["nodeid"].flatMap({ UInt32($0) }), let pid = fields["pid"].flatMap({ UInt32($0) })
            else { return nil }
            return .ready(CPGMember(nodeID: node, pid: pid))
        case "message":
            guard let node = fields["nodeid"].flatMap({ UInt32($0) }), let pid = fields["pid"].flatMap({ UInt32($0) }),
                let size = fields["size"].flatMap({ Int($0) }), let hex = fields["data"], let payload = Self.bytes(hex: hex),
                payload.count == size
            else { return nil }
            let message = CPGMessage(sender: CPGMember(nodeID: node, pid: pid), payload: payload, deliveryIndex: deliveryIndex)
            return .event(.message(message))
        case "membership":
            guard let members = fields["members"].flatMap({ Self.members($0) }),
                let joined = fields["joined"].flatMap({ Self.changes($0) }),
                let left = fields["left"].flatMap({ Self.changes($0) })
            else { return nil }
            return .event(.membership(CPGMembershipChange(group: group, members: members, joined: joined, left: left)))
        case "ring":
            guard let node = fields["nodeid"].flatMap({ UInt32($0) }), let sequence = fields["seq"].flatMap({ UInt64($0) }),
                let list = fields["members"]
            else { return nil }
            var nodes: [UInt32] = []
            for item in list.split(separator: ",") {
                guard let id = UInt32(item) else { return nil }
                nodes.append(id)
            }
            return .event(.ring(CPGRingChange(ringID: CPGRingID(nodeID: node, sequence: sequence), members: nodes)))
        default:
            return nil
        }
    }

    /// `n:p,n:p,...` (possibly empty).
    private static func members(_ text: Substring) -> [CPGMember]? {
        var members: [CPGMember] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2, let node = UInt32(parts[0]), let pid = UInt32(parts[1]) else { return nil }
            members.append(CPGMember(nodeID: node, pid: pid))
        }
        return members
    }

    /// `n:p:reason,...` (possibly empty).
    private static func changes(_ text: Substring) -> [CPGMemberChange]? {
        var changes: [CPGMemberChange] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 3, let node = UInt32(parts[0]), let pid = UInt32(parts[1]), let reason = UInt32(parts[2])
            else { return nil }
            changes.append(CPGMemberChange(member: CPGMember(nodeID: node, pid: pid), reason: CPGChangeReason(rawValue: reason)))
        }
        return changes
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for character in hex.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }
}
