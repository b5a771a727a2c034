/// The results table: one row per metric, Swift next to C, with the ratio and the target.
struct Report {
    struct Row {
        var scenario: String
        var metric: String
        var swift: String
        var c: String
        var ratio: String
        var target: String
        var verdict: String
    }

    private(set) var rows: [Row] = []
    private(set) var notes: [String] = []
    private(set) var misses: [String] = []
    /// The misses of correctness rows (messages lost, payload or sequence errors): what
    /// `--check` fails on. Timing and memory misses never fail a run.
    private(set) var correctnessFailures: [String] = []

    /// Adds a row; `meets` (when a target applies) decides the verdict column. A `correctness`
    /// row counts what must never happen (lost messages, payload errors), not a timing.
    mutating func add(
        _ scenario: String,
        _ metric: String,
        swift: String,
        c: String,
        ratio: Double? = nil,
        target: String = "",
        meets: Bool? = nil,
        correctness: Bool = false
    ) {
        let verdict: String
        switch meets {
        case .some(true): verdict = "ok"
        case .some(false):
            verdict = "**MISS**"
            let miss = "\(scenario): \(metric) (Swift \(swift), C \(c), target \(target))"
            self.misses.append(miss)
            if correctness { self.correctnessFailures.append(miss) }
        case .none: verdict = ""
        }
        self.rows.append(
            Row(
                scenario: scenario,
                metric: metric,
                swift: swift,
                c: c,
                ratio: ratio.map { fmt($0, 2) + "×" } ?? "",
                target: target,
                verdict: verdict
            )
        )
    }

    /// The two throughput rows every send-and-deliver-back scenario reports: wall time (as
    /// messages/s) and client CPU per message, with the targets when `targets` is set.
    mutating func addThroughput(_ scenario: String, swift: RunResult, c: RunResult, targets: Bool = true) {
        let wallRatio = swift.wall / c.wall
        self.add(
            scenario,
            "messages/s (wall: first send → last own delivery)",
            swift: rate(swift),
            c: rate(c),
            ratio: wallRatio,
            target: targets ? "wall ≤ 1.05×" : "",
            meets: targets ? wallRatio <= 1.05 : nil
        )
        let cpuRatio = swift.cpuMicrosecondsPerMessage / c.cpuMicrosecondsPerMessage
        self.add(
            scenario,
            "client CPU µs per message (send + delivery)",
            swift: fmt(swift.cpuMicrosecondsPerMessage),
            c: fmt(c.cpuMicrosecondsPerMessage),
            ratio: cpuRatio,
            target: targets ? "≤ 1.25×" : "",
            meets: targets ? cpuRatio <= 1.25 : nil
        )
    }

    mutating func note(_ text: String) {
        self.notes.append(text)
    }

    /// The table as Markdown.
    var markdownTable: String {
        var lines = [
            "| Scenario | Metric | Swift | C | Swift/C | Target | Verdict |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |",
        ]
        for row in self.rows {
            let cells = [row.scenario, row.metric, row.swift, row.c, row.ratio, row.target, row.verdict]
            lines.append("| " + cells.map { $0.replacingPipes() }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// The table as plain text columns, for the terminal.
    var plainTable: String {
        let header = ["Scenario", "Metric", "Swift", "C", "Swift/C", "Target", "Verdict"]
        let body = self.rows.map {
            [$0.scenario, $0.metric, $0.swift, $0.c, $0.ratio, $0.target, $0.verdict.replacingOccurrences("**", "")]
        }
        let all = [header] + body
        var widths = [Int](repeating: 0, count: header.count)
        for line in all {
            for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return (2...4).contains(index) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        var lines = [render(header), render(widths.map { String(repeating: "-", count: $0) })]
        lines += body.map(render)
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func replacingPipes() -> String {
        self.replacingOccurrences("|", "\\|")
    }

    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}

extension Substring {
    fileprivate func range(of target: String) -> Range<Substring.Index>? {
        guard !target.isEmpty, self.count >= target.count else { return nil }
        var index = self.startIndex
        while index < self.endIndex {
            if self[index...].hasPrefix(target) {
                return index..<self.index(index, offsetBy: target.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}
