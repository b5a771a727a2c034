import CPG

/// Checks that the histories of a group's members satisfy CPG's guarantees: total order, virtual
/// synchrony, integrity, self delivery and agreement on views.
///
/// ```swift
/// let report = VirtualSynchronyChecker.check(histories)
/// #expect(report.isValid, "\(report)")
/// ```
///
/// ## Terms
///
/// - A **history** (``MemberHistory``) is what one incarnation of a member delivered, in order:
///   views and messages. A view entry that lists the member is an **installation**; a view that
///   does not list it is its **departure** and must be the last entry. A history that does not end
///   with a departure is **cut short** (crash, lost connection, close, or end of recording). The
///   ``MemberHistory/Entry/disconnected`` entries of a history that reconnected by itself split it
///   into incarnations: each part is checked as the history of one incarnation, and every part
///   but the last is cut short.
/// - A **message** is identified by its sender and payload. It is **delivered in** the view most
///   recently installed before it in the history.
/// - View member lists are compared as sets: corosync's order carries no meaning.
/// - **Co-membership spans**: for two members m and n, the installations in m's history of views
///   that list n form maximal runs of consecutive installations; those are m's spans with n (over
///   all of m's incarnations, in order). n's spans with m are defined the same way. The i-th span of
///   m with n and the i-th span of n with m are the same stretch of the group's life, and the j-th
///   installation of one is **the same view** as the j-th installation of the other. This is how
///   views are identified: by their member list and their ordinal within the stretch of time two
///   members spend together, which needs no global view id and copes with a member list that
///   recurs (after a partition heals, or when a process rejoins).
/// - The **next view** after an installation is the member's following installation, or its
///   departure's member list if the departure follows; a history cut short has none after its last
///   installation. Two members **pass together** from a view V to a view V' when they installed
///   the same V and both have next views with the same member list V'.
///
/// ## Properties
///
/// - ``VirtualSynchronyViolation/Property/wellFormed``: every history starts with an installation,
///   nothing follows a departure, no view lists a member twice, and no sender lists a payload
///   twice in ``MemberHistory/sent``. Malformed parts are reported and left out of other checks.
/// - ``VirtualSynchronyViolation/Property/noDuplicates`` (c): no history delivers a message twice.
/// - ``VirtualSynchronyViolation/Property/noCreation`` (c): every delivered message comes from a
///   member that has a history, and, when all of that member's histories list what they sent, one
///   of them sent it.
/// - ``VirtualSynchronyViolation/Property/senderInView``: a message is delivered in a view that lists
///   its sender.
/// - ``VirtualSynchronyViolation/Property/selfDelivery`` (d): for a history that lists what it
///   sent, its deliveries of its own messages are the messages it sent, in send order and without
///   gaps, except that an incarnation cut short may lack its last ones (then the next incarnation
///   goes on with a later one); if the history ends with its departure, none is missing at the
///   end. So a sender that stays in the group delivers every message it sent, and only a crash
///   or a lost connection can make it miss some. No history delivers a message of its own member
///   that it did not send itself (one of an earlier incarnation, say).
/// - ``VirtualSynchronyViolation/Property/totalOrder`` (a): for any two histories, the messages
///   both delivered appear in the same relative order in both.
/// - ``VirtualSynchronyViolation/Property/viewAgreement`` (e): for any two members, their spans
///   with each other pair up one to one, and paired spans list the same views in the same order. A
///   span may stop early only where its history is cut short.
/// - ``VirtualSynchronyViolation/Property/virtualSynchrony`` (b): members that pass together from V
///   to V' delivered the same set of messages in V. (A member's departure counts as passing to
///   the view it announces: a member that leaves delivered the same messages in its last view as
///   those who stay. Members that go to different next views, as the two sides of a partition
///   do, are not compared.)
///
/// The checks need only the histories: no clock, no knowledge of the faults.
public enum VirtualSynchronyChecker {
    /// Checks the histories and reports every violation found.
    ///
    /// - Parameter histories: One history per incarnation of each member; several histories of
    ///   the same `CPGMember` are its incarnations, in the order given.
    /// - Returns: The violations, grouped by property in the order of the list above, and what
    ///   was compared.
    public static func check(_ histories: [MemberHistory]) -> VirtualSynchronyReport {
        var checker = Checker(histories)
        checker.run()
        let ranked = checker.violations.enumerated().sorted {
            ($0.element.property.rank, $0.offset) < ($1.element.property.rank, $1.offset)
        }
        return VirtualSynchronyReport(violations: ranked.map(\.element), statistics: checker.statistics)
    }
}

/// A message's identity: its sender and payload.
struct MessageID: Hashable {
    var sender: CPGMember
    var payload: [UInt8]
}

/// One installation of a view in a history.
struct Installation {
    var members: Set<CPGMember>
    /// The first deliveries (duplicates left out) in this view, in order (message numbers).
    var messages: [Int]
}

/// One incarnation of a history (all of it, or the part between two disconnections), cut into
/// installations, with what the checks look up.
struct ParsedHistory {
    var history: MemberHistory
    /// The index of the history it comes from.
    var origin: Int
    /// Its name in reports: the history's, with the incarnation number if it has several.
    var name: String
    var installations: [Installation] = []
    /// The member list of the departure, if the history ends with one.
    var departure: Set<CPGMember>?
    /// First deliveries in order (duplicates left out), as message numbers.
    var deliveries: [Int] = []
    /// The position of each message number in ``deliveries``, -1 if not delivered (filled once
    /// every history is parsed).
    var positions: [Int] = []

    var member: CPGMember { self.history.member }
    var isCutShort: Bool { self.departure == nil }
}

/// A co-membership span: consecutive installations of one history that list a given member.
struct Span {
    var history: Int
    /// Indices into the history's installations.
    var installations: [Int]
    /// The member list of the next view after the span's last installation, if any.
    var successor: Set<CPGMember>?
    /// The span ends where its history is cut short.
    var isCutShort: Bool
}

private struct Checker {
    var histories: [MemberHistory]
    /// Every incarnation of every history, in order.
    var parsed: [ParsedHistory] = []
    var violations: [VirtualSynchronyViolation] = []
    var statistics = VirtualSynchronyReport.Statistics()
    /// Members with at least one history, in order of first appearance.
    var members: [CPGMember] = []
    /// The incarnations of each member, in order (indices into `parsed`).
    var historiesOf: [CPGMember: [Int]] = [:]
    /// The incarnations of each history (indices into `parsed`).
    var incarnationsOf: [[Int]] = []
    /// Every message delivered, numbered in order of first delivery: the checks compare numbers,
    /// not payloads.
    var table: [MessageID] = []
    var numbers: [MessageID: Int] = [:]

    init(_ histories: [MemberHistory]) {
        self.histories = histories
        self.statistics.histories = histories.count
        for (origin, history) in histories.enumerated() {
            if self.historiesOf[history.member] == nil { self.members.append(history.member) }
            var segments: [[MemberHistory.Entry]] = [[]]
            for entry in history.entries {
                if case .disconnected = entry {
                    segments.append([])
                } else {
                    segments[segments.count - 1].append(entry)
                }
            }
            var incarnations: [Int] = []
            for (number, segment) in segments.enumerated() where !segment.isEmpty || segments.count == 1 {
                let name = segments.count == 1 ? history.name : "\(history.name) incarnation \(number + 1)"
                self.parsed.append(self.parse(segment, of: history, origin: origin, name: name, last: number == segments.count - 1))
                incarnations.append(self.parsed.count - 1)
            }
            self.incarnationsOf.append(incarnations)
            self.historiesOf[history.member, default: []] += incarnations
            if let sent = history.sent, Set(sent).count != sent.count {
                self.report(
                    .wellFormed, [history.member],
                    "\(history.name) lists a payload more than once in what it sent: messages are told apart by sender and payload"
                )
            }
        }
        for index in self.parsed.indices {
            var positions = Array(repeating: -1, count: self.table.count)
            for (position, number) in self.parsed[index].deliveries.enumerated() {
                positions[number] = position
            }
            self.parsed[index].positions = positions
        }
    }

    /// The message's number, given at its first delivery anywhere.
    private mutating func number(_ id: MessageID) -> Int {
        if let number = self.numbers[id] { return number }
        self.table.append(id)
        self.numbers[id] = self.table.count - 1
        return self.table.count - 1
    }

    /// A message, by number, for reports.
    private func text(_ number: Int) -> String {
        describe(self.table[number])
    }

    /// Messages, by number, for reports.
    private func text(_ numbers: [Int]) -> String {
        describe(numbers.map { self.table[$0] })
    }

    mutating func run() {
        for history in self.parsed {
            self.statistics.viewInstallations += history.installations.count
        }
        self.statistics.distinctMessages = self.table.count
        self.checkCreation()
        self.checkSenderInView()
        self.checkSelfDelivery()
        self.checkTotalOrder()
        self.checkViews()
    }

    private mutating func report(_ property: VirtualSynchronyViolation.Property, _ members: [CPGMember], _ text: String) {
        self.violations.append(VirtualSynchronyViolation(property, members: members, text))
    }

    // MARK: Parsing (well-formed, no duplicates)

    /// Parses one incarnation's entries (`last`: the history's last incarnation; the others end
    /// with a disconnection, so they are cut short whatever they say).
    private mutating func parse(
        _ entries: [MemberHistory.Entry],
        of history: MemberHistory,
        origin: Int,
        name: String,
        last: Bool
    ) -> ParsedHistory {
        var result = ParsedHistory(history: history, origin: origin, name: name)
        var early = 0
        var duplicates: [Int] = []
        var duplicateCount = 0
        var seen: Set<Int> = []
        for (index, entry) in entries.enumerated() {
            switch entry {
            case .disconnected:
                break
            case .view(let list):
                let members = Set(list)
                if members.count != list.count {
                    let repeated = Set(list.filter { member in list.count(where: { $0 == member }) > 1 })
                    self.report(
                        .wellFormed, [history.member],
                        "\(name) installed a view that lists \(describe(repeated)) more than once: \(list)"
                    )
                }
                if members.contains(history.member) {
                    result.installations.append(Installation(members: members, messages: []))
                } else if result.installations.isEmpty {
                    self.report(
                        .wellFormed, [history.member],
                        "\(name) starts with a view that does not list it: \(describe(members))"
                    )
                    return result
                } else {
                    let rest = entries.count - index - 1
                    if rest > 0 || !last {
                        self.report(
                            .wellFormed, [history.member],
                            "\(name) has \(last ? "\(rest) entries" : "a disconnection") after its departure (the view \(describe(members)), which does not list it)"
                        )
                    }
                    if last { result.departure = members }
                    return result
                }
            case .message(let sender, let payload):
                guard !result.installations.isEmpty else {
                    early += 1
                    if early == 1 {
                        self.report(
                            .wellFormed, [history.member],
                            "\(name) delivered \(describe(MessageID(sender: sender, payload: payload))) before its first view"
                        )
                    }
                    continue
                }
                let id = self.number(MessageID(sender: sender, payload: payload))
                guard seen.insert(id).inserted else {
                    duplicateCount += 1
                    if duplicates.count < 5 { duplicates.append(id) }
                    continue
                }
                result.deliveries.append(id)
                result.installations[result.installations.count - 1].messages.append(id)
                self.statistics.deliveries += 1
            }
        }
        if duplicateCount > 0 {
            self.report(
                .noDuplicates, [history.member],
                "\(name) delivered \(duplicateCount) message(s) again, such as \(duplicates.map { self.text($0) }.joined(separator: ", "))"
            )
        }
        return result
    }

    // MARK: No creation, sender in view, self delivery

    private mutating func checkCreation() {
        var sentBy: [CPGMember: Set<[UInt8]>] = [:]
        for member in self.members {
            let lists = self.histories.filter { $0.member == member }.map(\.sent)
            if lists.allSatisfy({ $0 != nil }) {
                sentBy[member] = Set(lists.flatMap { $0 ?? [] })
            }
        }
        for (number, id) in self.table.enumerated() {
            let known = self.historiesOf[id.sender] != nil
            let sent = sentBy[id.sender].map { $0.contains(id.payload) } ?? true
            guard !known || !sent else { continue }
            let receivers = self.parsed.filter { $0.positions[number] >= 0 }
            let why = known ? "its sender, which never sent it" : "a process that has no history"
            self.report(
                .noCreation, receivers.map(\.member),
                "\(describe(id)) was delivered by \(receivers.map(\.name).joined(separator: ", ")) but comes from \(why)"
            )
        }
    }

    private mutating func checkSenderInView() {
        for history in self.parsed {
            var count = 0
            var first: (MessageID, Set<CPGMember>)?
            for installation in history.installations {
                for id in installation.messages.map({ self.table[$0] }) where !installation.members.contains(id.sender) {
                    count += 1
                    if first == nil { first = (id, installation.members) }
                }
            }
            if let (id, view) = first {
                self.report(
                    .senderInView, [history.member],
                    "\(history.name) delivered \(count) message(s) in a view that does not list their sender, first \(describe(id)) in the view \(describe(view))"
                )
            }
        }
    }

    private mutating func checkSelfDelivery() {
        for (origin, history) in self.histories.enumerated() {
            guard let sent = history.sent else { continue }
            var sentIndex: [[UInt8]: Int] = [:]
            for (index, payload) in sent.enumerated() where sentIndex[payload] == nil {
                sentIndex[payload] = index
            }
            let incarnations = self.incarnationsOf[origin].map { self.parsed[$0] }
            let own = incarnations.map { $0.deliveries.map { self.table[$0] }.filter { $0.sender == history.member } }
            let foreign = own.flatMap { $0.filter { sentIndex[$0.payload] == nil } }
            if let first = foreign.first, self.historiesOf[history.member, default: []].count > 1 {
                self.report(
                    .selfDelivery, [history.member],
                    "\(history.name) delivered \(foreign.count) message(s) from its own member that it did not send, first \(describe(first))"
                )
            }
            // Own deliveries take the sent messages in order: one incarnation's are consecutive
            // sends; messages may be missing only where an incarnation ended cut short.
            var next = 0
            var broken = false
            for (number, incarnation) in incarnations.enumerated() where !broken {
                let mine = own[number].compactMap { sentIndex[$0.payload] }
                self.statistics.selfDeliveries += mine.count
                for (offset, index) in mine.enumerated() {
                    let expected = next
                    // A later incarnation may start after messages its predecessor lost.
                    if offset == 0, number > 0, index >= next {
                        next = index + 1
                        continue
                    }
                    guard index == expected else {
                        self.report(
                            .selfDelivery, [history.member],
                            "\(incarnation.name) delivered its own messages out of send order: after "
                                + (expected == 0 ? "none" : describe(MessageID(sender: history.member, payload: sent[expected - 1])))
                                + " it delivered \(describe(MessageID(sender: history.member, payload: sent[index]))) where "
                                + "\(expected < sent.count ? describe(MessageID(sender: history.member, payload: sent[expected])) : "nothing") was due"
                        )
                        broken = true
                        break
                    }
                    next = index + 1
                }
            }
            if !broken, let last = incarnations.last, !last.isCutShort, next < sent.count {
                self.report(
                    .selfDelivery, [history.member],
                    "\(last.name) left the group without delivering \(sent.count - next) of its own \(sent.count) messages, "
                        + "first \(describe(MessageID(sender: history.member, payload: sent[next])))"
                )
            }
        }
    }

    // MARK: Total order

    private mutating func checkTotalOrder() {
        for first in self.parsed.indices {
            for second in self.parsed.indices where second > first {
                let a = self.parsed[first]
                let b = self.parsed[second]
                let inA = a.deliveries.filter { b.positions[$0] >= 0 }
                guard !inA.isEmpty else { continue }
                self.statistics.orderedPairs += 1
                let inB = b.deliveries.filter { a.positions[$0] >= 0 }
                guard let index = (0..<min(inA.count, inB.count)).first(where: { inA[$0] != inB[$0] }) else { continue }
                // a delivered inA[index] first; b delivered inB[index] first; each delivered the other later.
                let x = inA[index]
                let y = inB[index]
                self.report(
                    .totalOrder, [a.member, b.member],
                    "\(a.name) delivered \(self.text(x)) before \(self.text(y)), but \(b.name) delivered them the other way round"
                )
            }
        }
    }

    // MARK: View agreement and virtual synchrony

    /// The spans of history `index` with `other`.
    private func spans(of index: Int, with other: CPGMember) -> [Span] {
        let history = self.parsed[index]
        var spans: [Span] = []
        var current: [Int] = []
        for (position, installation) in history.installations.enumerated() {
            if installation.members.contains(other) {
                current.append(position)
            } else if !current.isEmpty {
                spans.append(Span(history: index, installations: current, successor: installation.members, isCutShort: false))
                current = []
            }
        }
        if !current.isEmpty {
            spans.append(Span(history: index, installations: current, successor: history.departure, isCutShort: history.isCutShort))
        }
        return spans
    }

    private mutating func checkViews() {
        for (offset, m) in self.members.enumerated() {
            for n in self.members[(offset + 1)...] {
                let ofM = self.historiesOf[m, default: []].flatMap { self.spans(of: $0, with: n) }
                let ofN = self.historiesOf[n, default: []].flatMap { self.spans(of: $0, with: m) }
                for (r, s) in zip(ofM, ofN) {
                    self.compare(r, s)
                }
                if ofM.count != ofN.count {
                    let (more, fewer, extra) = ofM.count > ofN.count ? (m, n, ofM[ofN.count]) : (n, m, ofN[ofM.count])
                    let history = self.parsed[extra.history]
                    let view = history.installations[extra.installations[0]].members
                    self.report(
                        .viewAgreement, [more, fewer],
                        "\(history.name) installed the view \(describe(view)), which lists \(fewer), but no history of \(fewer) "
                            + "installs a matching view listing \(more) (\(max(ofM.count, ofN.count)) spans together seen from \(more), "
                            + "\(min(ofM.count, ofN.count)) from \(fewer))"
                    )
                }
            }
        }
    }

    /// Compares two paired spans: the same views (view agreement), and for each view both pass
    /// from to the same next view, the same messages (virtual synchrony).
    private mutating func compare(_ r: Span, _ s: Span) {
        let a = self.parsed[r.history]
        let b = self.parsed[s.history]
        let common = min(r.installations.count, s.installations.count)
        for index in 0..<common {
            let viewA = a.installations[r.installations[index]]
            let viewB = b.installations[s.installations[index]]
            guard viewA.members == viewB.members else {
                let before = index == 0
                    ? "as the first view of a span they share"
                    : "after the view \(describe(a.installations[r.installations[index - 1]].members))"
                self.report(
                    .viewAgreement, [a.member, b.member],
                    "\(a.name) installed \(describe(viewA.members)) where \(b.name) installed \(describe(viewB.members)), \(before)"
                )
                return
            }
            let nextA = index + 1 < r.installations.count ? a.installations[r.installations[index + 1]].members : r.successor
            let nextB = index + 1 < s.installations.count ? b.installations[s.installations[index + 1]].members : s.successor
            guard let nextA, let nextB, nextA == nextB else { continue }
            self.statistics.sharedTransitions += 1
            let setA = Set(viewA.messages)
            let setB = Set(viewB.messages)
            guard setA != setB else { continue }
            let onlyA = viewA.messages.filter { !setB.contains($0) }
            let onlyB = viewB.messages.filter { !setA.contains($0) }
            self.report(
                .virtualSynchrony, [a.member, b.member],
                "\(a.name) and \(b.name) both passed from the view \(describe(viewA.members)) to \(describe(nextA)), but in the first "
                    + "only \(a.name) delivered \(self.text(onlyA)) and only \(b.name) delivered \(self.text(onlyB))"
            )
        }
        if r.installations.count != s.installations.count {
            let (long, short, longer, shorter) = r.installations.count > s.installations.count ? (r, s, a, b) : (s, r, b, a)
            guard !short.isCutShort else { return }
            let extra = longer.installations[long.installations[short.installations.count]].members
            let leftInstead = short.installations.last == shorter.installations.count - 1
            let instead = leftInstead ? "left the group" : "installed \(describe(short.successor ?? []))"
            self.report(
                .viewAgreement, [longer.member, shorter.member],
                "after the view \(describe(longer.installations[long.installations[short.installations.count - 1]].members)), "
                    + "\(longer.name) installed \(describe(extra)), which lists \(shorter.member), but \(shorter.name) \(instead)"
            )
        }
    }
}

// MARK: Descriptions

/// A view's members, sorted: `{1:10, 2:20}`.
func describe(_ members: Set<CPGMember>) -> String {
    "{" + members.sorted().map(\.description).joined(separator: ", ") + "}"
}

/// A message: its payload as text when printable (else hex), shortened, and its sender.
func describe(_ id: MessageID) -> String {
    let limit = 32
    let printable = id.payload.allSatisfy { (0x20...0x7E).contains($0) }
    let text: String
    if printable {
        let shown = String(decoding: id.payload.prefix(limit), as: UTF8.self)
        text = "\"\(shown)\(id.payload.count > limit ? "…" : "")\""
    } else {
        let hex = id.payload.prefix(limit / 2).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        text = "0x\(hex)\(id.payload.count > limit / 2 ? "…" : "")"
    }
    return "\(text) from \(id.sender)"
}

/// Several messages, at most five named: `["a" from 1:10, "b" from 1:10, and 3 more]`.
func describe(_ ids: [MessageID]) -> String {
    guard !ids.isEmpty else { return "nothing" }
    let named = ids.prefix(5).map(describe).joined(separator: ", ")
    return "[" + named + (ids.count > 5 ? ", and \(ids.count - 5) more" : "") + "]"
}
