import CAllocationCounter
import CPG
import CPGBaseline
import CPGTesting

#if canImport(Glibc)
import Glibc
#endif

/// `cpg-bench`: swift-cpg against a raw-C libcpg client, same messages, same daemon.
///
///     cpg-bench [--out FILE] [--peer PATH] [--repeat N] [--quick] [--only abcdefg] [--check]
///               [--swift-version TEXT] [--revision TEXT]
///
/// Sections: a throughput (one node, and a 3-node cluster), b receive-only, c latency, d client
/// cost (allocations; CPU per message is in a and b), e stalled consumer, f flow-control stall;
/// all of them by default. g, the scale benchmark (3-, 5- and 9-node clusters: throughput and
/// failure detection), runs only when asked for (`--only g`). Child roles (run by the
/// harness itself): `cpg-bench swift-echo GROUP`, `cpg-bench stalled-member GROUP TOTAL BYTES`.
/// `--check` makes the run fail (exit status 1) when a correctness row misses: messages lost, payload
/// or sequence errors. Timing and memory targets never fail a run; CI runs `--quick --check`.
/// For profilers: `cpg-bench profile throughput|receive|c-… SIZE COUNT SENDERS` runs one run.
@main
struct CPGBench {
    static func main() async {
        // The C baseline's sending thread counts its own allocations through this.
        cpg_baseline_set_thread_allocations(allocation_counter_this_thread)
        let arguments = CommandLine.arguments
        do {
            switch arguments.dropFirst().first {
            case "swift-echo" where arguments.count == 3:
                try await Roles.swiftEcho(arguments[2])
            case "stalled-member" where arguments.count == 5:
                try await Roles.stalledMember(
                    arguments[2],
                    total: Int(arguments[3]) ?? 0,
                    eventBufferBytes: Int(arguments[4]) ?? 0
                )
            case "profile" where arguments.count == 6:
                // `cpg-bench profile throughput|receive|c-throughput|c-handoff|c-receive|c-receive-poll|c-receive-handoff|c-receive-source|ping|c-ping
                // SIZE COUNT SENDERS`: one run, for a profiler (ping: SENDERS 1 = C echo peer, else Swift; three-node:
                // the 3-node rows of section (a) for one size, 3 runs each;
                // CPG_BENCH_READER_LINGER_US sets the Swift group's readerLinger, CPG_BENCH_NOTIFICATION_BUFFER_BYTES
                // its notificationBufferBytes, 0 for the system's default; CPG_BENCH_SLOW_RTTS=1 makes ping list
                // its round trips over 2 ms with their index, to tell a slow phase from scattered stalls;
                // CPG_BENCH_CONSUMER_THREAD=1 makes receive consume on a thread of its own, a TaskExecutor
                // woken through a condition variable as handoff.c's consumer is, instead of the cooperative pool;
                // CPG_BENCH_PING_ISOLATED=1 runs the Swift pinger's loop isolated to its group, on the group's queue).
                let options = try Options([arguments[0]])
                var scenarios = Scenarios(peerPath: options.peerPath, selfPath: options.selfPath)
                if let value = getenv("CPG_BENCH_READER_LINGER_US").flatMap({ Int(String(cString: $0)) }) {
                    scenarios.readerLingerOverride = .microseconds(value)
                }
                if let value = getenv("CPG_BENCH_EVENT_BUFFER_BYTES").flatMap({ Int(String(cString: $0)) }) {
                    scenarios.eventBufferBytesOverride = value
                }
                if let value = getenv("CPG_BENCH_NOTIFICATION_BUFFER_BYTES").flatMap({ Int(String(cString: $0)) }) {
                    scenarios.notificationBufferBytesOverride = value
                }
                let size = Int(arguments[3]) ?? 64
                let count = Int(arguments[4]) ?? 10_000
                let senders = Int(arguments[5]) ?? 1
                // CPG_BENCH_ALLOCATION_SITES=1: print the most frequent allocation stacks per message.
                let traceSites = getenv("CPG_BENCH_ALLOCATION_SITES") != nil
                if traceSites { allocation_tracing_start() }
                let result: RunResult
                switch arguments[2] {
                case "receive":
                    // CPG_BENCH_EVENT_BUFFER_BYTES: the group's eventBufferBytes (default: the library's).
                    let bufferBytes = getenv("CPG_BENCH_EVENT_BUFFER_BYTES").flatMap { Int(String(cString: $0)) }
                    result = try await scenarios.swiftReceive(size: size, count: count, eventBufferBytes: bufferBytes)
                case "c-receive": result = try await scenarios.cReceive(size: size, count: count)
                case "c-receive-poll": result = try await scenarios.cReceive(size: size, count: count, pollLoop: true)
                case "c-receive-handoff": result = try await scenarios.cReceiveHandoff(size: size, count: count)
                case "c-receive-source": result = try await scenarios.cReceiveHandoff(size: size, count: count, dispatchSource: true)
                case "c-throughput":
                    result = try await DaemonCost.watchingLocalDaemon {
                        try await scenarios.cThroughput(size: size, count: count, senders: senders)
                    }
                case "c-handoff":
                    result = try await DaemonCost.watchingLocalDaemon {
                        try await scenarios.cThroughputHandoff(size: size, count: count)
                    }
                case "receive-after-small":
                    // The (b) allocator rows: 64 B and 1 KiB receive runs first, as in the table's own
                    // sequence, then the measured one; the result goes to stdout for the parent.
                    _ = try await scenarios.swiftReceive(size: 64, count: count * 20)
                    _ = try await scenarios.swiftReceive(size: 1024, count: count * 20)
                    result = try await scenarios.swiftReceive(size: size, count: count)
                    emit("result \(result.wall) \(result.cpu) \(result.messages) \(result.sequenceErrors)")
                case "c-ping":
                    var rtts: [UInt64]
                    (result, rtts) = try await scenarios.cPing(size: size, count: count, warmup: 500)
                    logSlowRoundTrips(rtts)
                    rtts.sort()
                    log("p50 \(Double(rtts[rtts.count / 2]) / 1000) µs, p99 \(Double(rtts[rtts.count * 99 / 100]) / 1000) µs")
                case "three-node":
                    // Section (a)'s 3-node rows for one size (3 runs each, C and Swift
                    // alternating), printed as a table: the sender's profile on a cluster.
                    var runner = Runner(options: options)
                    runner.scenarios = scenarios
                    print(try await runner.threeNodeRows(size: size, count: count).plainTable)
                    return
                case "ping":
                    var rtts: [UInt64]
                    (result, rtts) = try await scenarios.swiftPing(size: size, count: count, warmup: 500, echo: senders == 1 ? .c : .swift)
                    logSlowRoundTrips(rtts)
                    rtts.sort()
                    log("p50 \(Double(rtts[rtts.count / 2]) / 1000) µs, p99 \(Double(rtts[rtts.count * 99 / 100]) / 1000) µs")
                default:
                    result = try await DaemonCost.watchingLocalDaemon {
                        try await scenarios.swiftThroughput(size: size, count: count, senders: senders)
                    }
                }
                if traceSites { allocation_tracing_stop(2, Double(result.messages), 30) }
                if getenv("CPG_BENCH_EMIT_RESULT") != nil {
                    // For a parent that runs this as a child (the pinned rows of (a)).
                    emit("result \(result.wall) \(result.cpu) \(result.messages) \(result.contextSwitches)")
                }
                log(
                    "\(rate(result)) msg/s, \(fmt(result.cpuMicrosecondsPerMessage)) µs CPU and "
                        + "\(fmt(result.contextSwitchesPerMessage)) context switches per message"
                )
                if let sender = result.sender {
                    log("the sending thread: \(fmt(sender.cpuSeconds / Double(result.messages) * 1e6)) µs CPU per send")
                }
                if let daemon = result.daemon {
                    let pushedBack = result.sendsPushedBack ?? result.tryAgain ?? 0
                    log(
                        "corosync: \(fmt(daemon.cpuSeconds / Double(result.messages) * 1e6)) µs CPU per message, "
                            + "\(fmt(Double(result.messages) / Double(max(daemon.tokenRotations, 1)))) messages and "
                            + "\(fmt(Double(daemon.packets) / Double(max(daemon.tokenRotations, 1)))) packets per token "
                            + "rotation; \(fmt(Double(pushedBack) * 1000 / Double(result.messages))) push-backs per 1,000 messages"
                    )
                    if let wait = result.pushBackWait, pushedBack > 0 {
                        log(
                            "push-backs waited \(fmt(Double(wait.total) / 1e6)) ms in all, "
                                + "\(fmt(Double(wait.total) / Double(pushedBack) / 1e3)) µs each on average, "
                                + "\(fmt(Double(wait.longest) / 1e3)) µs at most"
                        )
                    }
                }
            default:
                let options = try Options(arguments)
                try await Runner(options: options).run()
            }
        } catch {
            let text = "cpg-bench: \(error)\n"
            _ = Array(text.utf8).withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            exit(1)
        }
    }
}

/// With CPG_BENCH_SLOW_RTTS set: how many round trips took over 2 ms, and the first 40 of them
/// as index:µs, which tells a slow phase (consecutive indices) from scattered stalls.
func logSlowRoundTrips(_ rtts: [UInt64]) {
    guard getenv("CPG_BENCH_SLOW_RTTS") != nil else { return }
    let slow = rtts.enumerated().filter { $0.element > 2_000_000 }
    log("slow (>2 ms): \(slow.count): " + slow.prefix(40).map { "\($0.offset):\($0.element / 1000)" }.joined(separator: " "))
}

struct Options {
    var outputPath: String?
    var peerPath: String
    var selfPath: String
    var repetitions = 3
    var quick = false
    /// Fail the run when a correctness row misses (see ``Report/correctnessFailures``).
    var check = false
    /// The default run: every section but g (the scale benchmark, minutes of cluster churn).
    var sections: Set<Character> = Set("abcdef")
    var swiftVersion = ""
    var revision = ""

    init(_ arguments: [String]) throws {
        let selfPath = readLink("/proc/self/exe") ?? arguments[0]
        self.selfPath = selfPath
        let directory = selfPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        self.peerPath = directory + "/cpg-bench-peer"
        var index = 1
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--out": self.outputPath = try value()
            case "--peer": self.peerPath = try value()
            case "--repeat": self.repetitions = max(1, Int(try value()) ?? 3)
            case "--quick": self.quick = true
            case "--check": self.check = true
            case "--only": self.sections = Set(try value())
            case "--swift-version": self.swiftVersion = try value()
            case "--revision": self.revision = try value()
            case let other: throw BenchError("unknown argument \(other)")
            }
            index += 1
        }
    }
}

/// Runs the sections in order and writes the report.
struct Runner {
    let options: Options
    var scenarios: Scenarios
    /// Counts scale down by this with --quick.
    let scale: Int

    init(options: Options) {
        self.options = options
        self.scenarios = Scenarios(peerPath: options.peerPath, selfPath: options.selfPath)
        self.scale = options.quick ? 10 : 1
    }

    func run() async throws {
        guard access(self.options.peerPath, X_OK) == 0 else { throw BenchError("no C peer at \(self.options.peerPath)") }
        let started = nowNanoseconds()
        let environment = await self.environment()
        log(environment.joined(separator: "\n"))
        var report = Report()
        self.checkAllocationCounter(&report)
        let sections = self.options.sections
        if sections.contains("a") {
            try await self.throughput(&report)
            try await self.tunedLargeThroughput(&report)
            try await self.pinnedThroughput(&report)
            try await self.threeNodeThroughput(&report)
        }
        if sections.contains("b") { try await self.receiveOnly(&report) }
        if sections.contains("c") { try await self.latency(&report) }
        if sections.contains("d") { try await self.clientCost(&report) }
        if sections.contains("e") { try await self.stalledConsumer(&report) }
        if sections.contains("f") { try await self.flowControl(&report) }
        if sections.contains("g") { try await self.scale(&report) }
        let minutes = Double(nowNanoseconds() - started) / 60e9
        report.note("The whole run took \(fmt(minutes, 1)) minutes.")

        log("\n" + report.plainTable + "\n")
        for note in report.notes { log("- " + note) }
        if !report.misses.isEmpty {
            log("\nMissed targets:")
            for miss in report.misses { log("- " + miss) }
        }
        if let path = self.options.outputPath {
            try self.writeMarkdown(report, environment: environment, to: path)
            log("\nwrote \(path)")
        }
        if self.options.check, !report.correctnessFailures.isEmpty {
            throw BenchError("--check: \(report.correctnessFailures.count) correctness row(s) missed (messages lost or corrupted)")
        }
    }

    // MARK: Sections

    /// Runs per side of the one-node throughput rows: at least 5, as one run of one sender on a
    /// shared pair of cores can be twice as fast as the next (`--quick`: `--repeat`'s count).
    var oneNodeThroughputRuns: Int { self.options.quick ? self.options.repetitions : max(5, self.options.repetitions) }

    private func throughput(_ report: inout Report) async throws {
        let cases: [(size: Int, count: Int, senders: Int)] = [
            (64, 100_000, 1), (1024, 100_000, 1), (65536, 20_000, 1), (1_048_576, 1000, 1),
            (64, 50_000, 4), (1024, 50_000, 4),
        ]
        for item in cases {
            let count = item.count / self.scale
            var swiftRuns: [RunResult] = []
            var cRuns: [RunResult] = []
            var handoffRuns: [RunResult] = []
            // At 64 B and 1 KiB, one sender: also C with the library's three threads (handoff.c).
            let withHandoff = item.senders == 1 && item.size <= 1024
            try await DaemonCost.watchingLocalDaemon {
                for _ in 0..<self.oneNodeThroughputRuns {
                    cRuns.append(try await self.scenarios.cThroughput(size: item.size, count: count, senders: item.senders))
                    swiftRuns.append(try await self.scenarios.swiftThroughput(size: item.size, count: count, senders: item.senders))
                    if withHandoff {
                        handoffRuns.append(try await self.scenarios.cThroughputHandoff(size: item.size, count: count))
                    }
                }
            }
            let swift = RunResult.median(swiftRuns)
            let c = RunResult.median(cRuns)
            let scenario = "(a) throughput \(sizeText(item.size)), \(item.senders) sender\(item.senders == 1 ? "" : "s"), \(fmtCount(count)) msgs"
            log("\(scenario): Swift \(rate(swift)) C \(rate(c)) (C try-again \(c.tryAgain ?? 0))")
            report.addThroughput(scenario, swift: swift, c: c)
            // One sender on a shared pair of cores swings up to twice over between runs.
            Self.addSpreadRow(scenario, swift: swiftRuns, c: cRuns, &report)
            Self.addContextSwitchRow(scenario, swift: swift, c: c, &report)
            if item.senders == 1, item.size <= 1024 {
                Self.addSenderRow(scenario, swift: swiftRuns, c: cRuns, &report)
            }
            Self.addDaemonRows(scenario, swift: swift, c: c, &report)
            if withHandoff {
                Self.addHandoffRows(scenario, swift: swift, handoff: RunResult.median(handoffRuns), &report)
            }
        }
        report.note(
            "(a) Median of \(self.oneNodeThroughputRuns) runs each, C and Swift alternating, one group per run. "
                + "C is corosync's cpgbench pipeline: a thread in cpg_dispatch(CS_DISPATCH_BLOCKING), the sender(s) "
                + "retrying CS_ERR_TRY_AGAIN at once (several senders share a mutex around cpg_mcast_joined). "
                + "Swift: `send` from 1 or 4 tasks, one task iterating `messages`. CPU is the whole process's. "
                + "1 MiB is above corosync's atomic size: libcpg fragments it and, on CS_ERR_TRY_AGAIN between "
                + "fragments, sleeps 10 ms (printing \"sleep. counter=N\" on stderr), which makes that row noisy "
                + "for both sides. The corosync rows count the daemon over the same span: its CPU (/proc/PID/stat) "
                + "and its totem counters (cmap stats.srp.orf_token_rx and mcast_tx). Corosync shares the cores: "
                + "the fewer messages each token rotation carries, the more CPU it spends per message. "
                + "Push-backs: sends that waited for flow control (Swift, the `cpg.flow_control.waits` metric) and "
                + "CS_ERR_TRY_AGAIN answers (C). The handoff.c rows (64 B and 1 KiB, one sender) put in the C column "
                + "the C pipeline rebuilt with the library's thread structure: the sender, a reader thread that polls "
                + "libcpg's fd and dispatches CS_DISPATCH_ONE_NONBLOCKING in batches of up to 64 events, copying each "
                + "message, and a consumer thread it hands each batch to (one mutex, one signal when it waits); "
                + "it runs in the same alternation. The sending thread's own CPU (64 B and 1 KiB, one sender) is "
                + "CLOCK_THREAD_CPUTIME_ID over the send loop on the thread that calls `send` (Swift: the sending "
                + "task keeps its thread while no send suspends; a run in which one did is left out) or "
                + "cpg_mcast_joined (C): the cost of the calls alone, without the deliveries."
        )
    }

    /// (a) with corosync on CPU 0 and the client on CPU 1: each side has a core of its own, so the
    /// client's cost per message is not mixed with the daemon's (the rows above share two cores
    /// and vary by 1.5× from run to run). Each run is a child (`cpg-bench profile`) started with
    /// `taskset -c 1`; corosync's threads get CPU 0 for these rows and their own mask back after.
    private func pinnedThroughput(_ report: inout Report) async throws {
        guard sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2, let daemon = corosyncPIDsInThisNamespace().first else {
            report.note("(a) pinned: skipped (needs 2 CPUs and a corosync in this namespace).")
            return
        }
        let pinning = try CPUPinning(process: daemon, cpu: 0)
        defer { pinning.restore() }
        let cases: [(size: Int, count: Int)] = [(64, 100_000), (1024, 100_000)]
        for item in cases {
            let count = item.count / self.scale
            var swiftRuns: [RunResult] = []
            var cRuns: [RunResult] = []
            for _ in 0..<self.options.repetitions {
                cRuns.append(try await self.pinnedRun("c-throughput", size: item.size, count: count))
                swiftRuns.append(try await self.pinnedRun("throughput", size: item.size, count: count))
            }
            let swift = RunResult.median(swiftRuns)
            let c = RunResult.median(cRuns)
            let scenario = "(a) pinned (corosync on CPU 0, client on CPU 1): throughput \(sizeText(item.size)), 1 sender, \(fmtCount(count)) msgs"
            log("\(scenario): Swift \(rate(swift)) \(fmt(swift.cpuMicrosecondsPerMessage)) µs, C \(rate(c)) \(fmt(c.cpuMicrosecondsPerMessage)) µs")
            report.addThroughput(scenario, swift: swift, c: c)
            Self.addSpreadRow(scenario, swift: swiftRuns, c: cRuns, &report)
        }
        report.note(
            "(a) pinned: the same one-node runs as above, each in a child process (`taskset -c 1 cpg-bench "
                + "profile throughput|c-throughput SIZE COUNT 1`) while every thread of the root namespace's "
                + "corosync is bound to CPU 0 (its own affinity is restored afterwards). The client's threads "
                + "(C: sender and dispatch thread; Swift: sender task, the group's queue, the consuming task) share "
                + "CPU 1, so its CPU per message is its own cost, not what it took from corosync's core. On one "
                + "core the C sender's immediate retries of CS_ERR_TRY_AGAIN take the CPU from its own dispatch "
                + "thread, which corosync waits for: at 1 KiB it retries hundreds of times per message."
        )
    }

    /// (a) 1 MiB once more, with the glibc settings FlowControlAndBackpressure (Sizing) recommends
    /// for messages around a megabyte, C and Swift alike. Every delivered payload is an array of
    /// its own; with glibc's defaults, a backlog of such arrays is given back to the kernel as it
    /// shrinks and faulted in again page by page, and how much of that happens depends on how far
    /// the consuming task lags, which varies from run to run. GLIBC_TUNABLES is read at start-up,
    /// hence the children.
    private func tunedLargeThroughput(_ report: inout Report) async throws {
        let size = 1_048_576
        let count = 1000 / self.scale
        let tunables = "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304"
        var swiftRuns: [RunResult] = []
        var cRuns: [RunResult] = []
        for _ in 0..<self.options.repetitions {
            cRuns.append(try await self.childRun("c-throughput", size: size, count: count, prefix: ["GLIBC_TUNABLES=\(tunables)"]))
            swiftRuns.append(try await self.childRun("throughput", size: size, count: count, prefix: ["GLIBC_TUNABLES=\(tunables)"]))
        }
        let swift = RunResult.median(swiftRuns)
        let c = RunResult.median(cRuns)
        let scenario = "(a) throughput 1 MiB, 1 sender, \(fmtCount(count)) msgs, GLIBC_TUNABLES=\(tunables)"
        log("\(scenario): Swift \(rate(swift)) \(fmt(swift.cpuMicrosecondsPerMessage)) µs, C \(rate(c)) \(fmt(c.cpuMicrosecondsPerMessage)) µs")
        report.addThroughput(scenario, swift: swift, c: c)
        Self.addContextSwitchRow(scenario, swift: swift, c: c, &report)
        report.note(
            "(a) GLIBC_TUNABLES: the 1 MiB row again, each run in a child process (`cpg-bench profile "
                + "throughput|c-throughput`) started with the glibc settings that FlowControlAndBackpressure (Sizing) "
                + "recommends for messages around a megabyte, C and Swift alike. With glibc's defaults the Swift "
                + "row's CPU depends on how far the consuming task lags behind the group's reader: the payloads "
                + "it holds are given back to the kernel as the backlog shrinks and faulted in again."
        )
    }

    /// One `cpg-bench profile MODE SIZE COUNT 1` child on CPU 1; its result line.
    private func pinnedRun(_ mode: String, size: Int, count: Int) async throws -> RunResult {
        try await self.childRun(mode, size: size, count: count, prefix: ["taskset", "-c", "1"])
    }

    /// One `cpg-bench profile MODE SIZE COUNT 1` child, its command line after `env` starting
    /// with `prefix` (variables, or a command such as taskset); its result line.
    private func childRun(_ mode: String, size: Int, count: Int, prefix: [String]) async throws -> RunResult {
        let child = try Peer.spawn(
            ["env", "CPG_BENCH_EMIT_RESULT=1"] + prefix + [self.options.selfPath, "profile", mode, "\(size)", "\(count)", "1"]
        )
        let fields = try await child.expectLine(startingWith: "result ").split(separator: " ").dropFirst()
        let status = await child.waitForExit()
        let values = fields.compactMap { Double($0) }
        guard status == 0, values.count == 4 else { throw BenchError("\(mode) in a child process failed (status \(status))") }
        var result = RunResult(wall: values[0], cpu: values[1], messages: Int(values[2]), bytes: Int(values[2]) * size)
        result.contextSwitches = Int(values[3])
        return result
    }

    /// The row of context switches per message, of the whole client process.
    private static func addContextSwitchRow(_ scenario: String, swift: RunResult, c: RunResult, _ report: inout Report) {
        report.add(
            scenario,
            "context switches per message (whole process)",
            swift: fmt(swift.contextSwitchesPerMessage),
            c: fmt(c.contextSwitchesPerMessage),
            ratio: swift.contextSwitchesPerMessage / c.contextSwitchesPerMessage
        )
    }

    /// The row of what one sender's own thread spent per send (the calls alone, without the
    /// deliveries), the median over the runs in which it was measured.
    private static func addSenderRow(_ scenario: String, swift: [RunResult], c: [RunResult], _ report: inout Report) {
        func median(_ runs: [RunResult]) -> (value: Double, measured: Int)? {
            let values = runs.compactMap { run in run.sender.map { $0.cpuSeconds / Double(run.messages) * 1e6 } }.sorted()
            return values.isEmpty ? nil : (values[values.count / 2], values.count)
        }
        guard let swiftCost = median(swift), let cCost = median(c) else { return }
        let measured = swiftCost.measured == swift.count ? "" : " (\(swiftCost.measured) of \(swift.count) Swift runs: in the others a send suspended)"
        report.add(
            scenario,
            "the sending thread's own CPU µs per sent message (send calls only)\(measured)",
            swift: fmt(swiftCost.value),
            c: fmt(cCost.value),
            ratio: swiftCost.value / cCost.value
        )
    }

    /// The rows of what corosync spent on the same messages, and how often it pushed back.
    private static func addDaemonRows(_ scenario: String, swift: RunResult, c: RunResult, _ report: inout Report) {
        if let swiftDaemon = swift.daemon, let cDaemon = c.daemon {
            let swiftCPU = swiftDaemon.cpuSeconds / Double(swift.messages) * 1e6
            let cCPU = cDaemon.cpuSeconds / Double(c.messages) * 1e6
            report.add(scenario, "corosync CPU µs per message (the daemon, same span)", swift: fmt(swiftCPU), c: fmt(cCPU), ratio: swiftCPU / cCPU)
            func batching(_ run: RunResult, _ daemon: DaemonCost) -> (Double, String) {
                let rotations = Double(max(daemon.tokenRotations, 1))
                let messages = Double(run.messages) / rotations
                return (messages, "\(fmt(messages)) (\(fmt(Double(daemon.packets) / rotations)))")
            }
            let (swiftBatch, swiftText) = batching(swift, swiftDaemon)
            let (cBatch, cText) = batching(c, cDaemon)
            report.add(scenario, "messages (packets) per totem token rotation", swift: swiftText, c: cText, ratio: swiftBatch / cBatch)
        }
        report.add(
            scenario,
            "sends pushed back per 1,000 messages (Swift: sends that waited for flow control; C: CS_ERR_TRY_AGAIN answers)",
            swift: fmt(Double(swift.sendsPushedBack ?? 0) * 1000 / Double(swift.messages)),
            c: fmt(Double(c.tryAgain ?? 0) * 1000 / Double(c.messages))
        )
        if let wait = swift.pushBackWait, let pushedBack = swift.sendsPushedBack, pushedBack > 0 {
            report.add(
                scenario,
                "Swift: ms the pushed-back sends waited in all / longest wait µs (the run's wall time: \(fmt(swift.wall * 1000)) ms)",
                swift: "\(fmt(Double(wait.total) / 1e6)) / \(fmt(Double(wait.longest) / 1e3))",
                c: ""
            )
        }
    }

    /// The C pipeline with the library's thread structure (handoff.c) in the C column: what
    /// three threads and a hand-off of copied messages cost without Swift.
    static func addHandoffRows(_ scenario: String, swift: RunResult, handoff: RunResult, _ report: inout Report) {
        let label = "C: handoff.c (sender, reader thread, consumer thread)"
        report.add(
            scenario,
            "messages/s, \(label)",
            swift: rate(swift),
            c: rate(handoff),
            ratio: swift.wall / handoff.wall
        )
        report.add(
            scenario,
            "client CPU µs per message, \(label)",
            swift: fmt(swift.cpuMicrosecondsPerMessage),
            c: fmt(handoff.cpuMicrosecondsPerMessage),
            ratio: swift.cpuMicrosecondsPerMessage / handoff.cpuMicrosecondsPerMessage
        )
        if let swiftDaemon = swift.daemon, let handoffDaemon = handoff.daemon {
            let swiftCPU = swiftDaemon.cpuSeconds / Double(swift.messages) * 1e6
            let handoffCPU = handoffDaemon.cpuSeconds / Double(handoff.messages) * 1e6
            report.add(scenario, "corosync CPU µs per message, \(label)", swift: fmt(swiftCPU), c: fmt(handoffCPU), ratio: swiftCPU / handoffCPU)
        }
    }

    /// A row with the slowest and the fastest run of each side, next to the medians.
    static func addSpreadRow(_ scenario: String, swift: [RunResult], c: [RunResult], _ report: inout Report) {
        func spread(_ runs: [RunResult]) -> String {
            let rates = runs.map { Int($0.messagesPerSecond.rounded()) }.sorted()
            guard let slowest = rates.first, let fastest = rates.last else { return "" }
            return "\(fmtCount(slowest)) – \(fmtCount(fastest))"
        }
        report.add(scenario, "messages/s, slowest – fastest of the \(swift.count) runs", swift: spread(swift), c: spread(c))
    }

    /// The 3-node rows of one size, for `cpg-bench profile three-node SIZE COUNT 1`.
    func threeNodeRows(size: Int, count: Int) async throws -> Report {
        var report = Report()
        try await self.withPrivateCluster(nodes: 3, section: "a") { cluster in
            let on = ClusterScenarios(scenarios: self.scenarios, cluster: cluster)
            try await self.clusterThroughputRows(on, size: size, count: count, section: "a", targets: true, &report)
        }
        return report
    }

    /// (a) on a private 3-node cluster: the sender on node 1, a C receiver on nodes 2 and 3.
    private func threeNodeThroughput(_ report: inout Report) async throws {
        let cases = [(64, 30_000), (1024, 30_000), (65536, 3000)]
        try await self.withPrivateCluster(nodes: 3, section: "a") { cluster in
            let on = ClusterScenarios(scenarios: self.scenarios, cluster: cluster)
            for (size, count) in cases {
                try await self.clusterThroughputRows(on, size: size, count: count / self.scale, section: "a", targets: true, &report)
            }
        }
        report.note(
            "(a) 3 nodes: a private 3-node cluster (CPGTesting.LocalCluster: one network namespace and one corosync "
                + "per node on this machine, knet over veth pairs), started for these rows. The sender runs in this "
                + "process on node 1: the Swift group with CPGConfiguration.networkNamespace, the C pipeline (the same "
                + "cpgbench loop as above) on a thread that entered node 1's namespace (setns) before cpg_initialize. "
                + "A C receiver (`cpg-bench-peer recv`) inside each of nodes 2 and 3 joins first; the sender starts "
                + "once the group has all 3 members, and every receiver must get every message, each payload intact "
                + "(checked; the sender sends the same message every time, so there is no sequence to check). "
                + "All three daemons and both receivers share the machine's cores with the sender. A run during which "
                + "the ring re-formed (a receiver saw a member leave with reason nodedown, as when daemons starved of CPU "
                + "lose the token) does not count and is repeated (up to 3 times in a row); the table counts them."
        )
    }

    /// Starts a private cluster of `nodes` nodes, runs `body`, and always stops the cluster.
    private func withPrivateCluster(
        nodes: Int,
        section: Character,
        options: LocalClusterOptions = LocalClusterOptions(),
        _ body: (LocalCluster) async throws -> Void
    ) async throws {
        log("(\(section)) starting a private \(nodes)-node corosync cluster")
        let cluster = try await LocalCluster.start(nodes: nodes, options: options, logger: CPGGroup.silentLogger)
        log("(\(section)) \(nodes) nodes up in \(fmt(seconds(await cluster.startupDuration), 1)) s (\(cluster.runID))")
        do {
            try await body(cluster)
        } catch {
            // The daemons' logs go with the cluster: keep their ends for the diagnosis.
            for node in cluster.nodes { log(cluster.logTail(of: node, lines: 12)) }
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// Swift and C alternating, `repetitions` each, on the cluster: median rows, with the
    /// section's targets when `targets`.
    private func clusterThroughputRows(
        _ on: ClusterScenarios,
        size: Int,
        count: Int,
        section: Character,
        targets: Bool,
        _ report: inout Report
    ) async throws {
        let nodes = on.cluster.nodes.count
        var swiftRuns: [RunResult] = []
        var cRuns: [RunResult] = []
        var discarded: [ClusterScenarios.Side: Int] = [:]
        // A run during which the ring re-formed is repeated, up to 3 times in a row.
        func measure(_ side: ClusterScenarios.Side) async throws -> RunResult {
            var attempt = 0
            while true {
                do {
                    return try await on.throughput(side, size: size, count: count)
                } catch let error as ClusterScenarios.RingChangedDuringRun where attempt < 3 {
                    attempt += 1
                    discarded[side, default: 0] += 1
                    log("(\(section)) \(error); the run is repeated")
                }
            }
        }
        for _ in 0..<self.options.repetitions {
            cRuns.append(try await measure(.c))
            swiftRuns.append(try await measure(.swift))
        }
        let swift = RunResult.median(swiftRuns)
        let c = RunResult.median(cRuns)
        let scenario = "(\(section)) \(nodes) nodes: throughput \(sizeText(size)), 1 sender on node 1, \(fmtCount(count)) msgs"
        log(
            "\(scenario): Swift \(rate(swift)) \(fmt(swift.cpuMicrosecondsPerMessage)) µs/msg "
                + "\(fmt(swift.contextSwitchesPerMessage)) cs/msg, C \(rate(c)) \(fmt(c.cpuMicrosecondsPerMessage)) µs/msg "
                + "\(fmt(c.contextSwitchesPerMessage)) cs/msg (Swift push-backs \(swift.sendsPushedBack ?? 0), "
                + "C try-again \(c.tryAgain ?? 0))"
        )
        report.addThroughput(scenario, swift: swift, c: c, targets: targets)
        // The daemons share the cores with everything else: show how far the runs spread.
        Self.addSpreadRow(scenario, swift: swiftRuns, c: cRuns, &report)
        Self.addContextSwitchRow(scenario, swift: swift, c: c, &report)
        // No daemon is watched here (it lives in node 1's namespace): this adds the push-back rows.
        Self.addDaemonRows(scenario, swift: swift, c: c, &report)
        report.add(
            scenario,
            "runs repeated because the ring re-formed during them",
            swift: "\(discarded[.swift, default: 0])",
            c: "\(discarded[.c, default: 0])"
        )
        let fewestSwift = swiftRuns.compactMap(\.peerMessages).min() ?? -1
        let fewestC = cRuns.compactMap(\.peerMessages).min() ?? -1
        let errors = (swiftRuns + cRuns).map(\.peerErrors).reduce(0, +)
        report.add(
            scenario,
            "messages each C receiver on nodes 2–\(nodes) got (fewest, counted runs) / payload errors",
            swift: "\(fmtCount(fewestSwift)) / \(swiftRuns.map(\.peerErrors).reduce(0, +))",
            c: "\(fmtCount(fewestC)) / \(cRuns.map(\.peerErrors).reduce(0, +))",
            target: "\(fmtCount(count)) / 0",
            meets: fewestSwift == count && fewestC == count && errors == 0,
            correctness: true
        )
    }

    /// (g) the scale benchmark: 3, 5 and 9 nodes; throughput, and failure detection.
    private func scale(_ report: inout Report) async throws {
        let corosync = LocalClusterOptions().corosync
        var options = LocalClusterOptions()
        // 9 daemons on 2 cores take longer to agree than the test suite's default allows.
        options.settleTimeout = .seconds(180)
        let detections = self.options.quick ? 2 : 5
        for nodes in [3, 5, 9] {
            let memoryBefore = memAvailableKiB()
            var formed = false
            do {
                try await self.withPrivateCluster(nodes: nodes, section: "g", options: options) { cluster in
                    formed = true
                    try await self.scaleRows(cluster, detections: detections, memoryBefore: memoryBefore, &report)
                }
            } catch {
                log("(g) \(nodes) nodes failed: \(error)")
                report.add(
                    "(g) \(nodes) nodes",
                    formed ? "FAILED during the measurement" : "FAILED: the cluster did not form",
                    swift: "\(error)".replacingOccurrences("\n", " "),
                    c: "",
                    target: "forms and completes",
                    meets: false
                )
            }
        }
        let consensus = corosync.consensus.map { "\($0) ms" } ?? "1.2 × token = \(fmt(Double(corosync.token) * 1.2, 0)) ms (corosync's default)"
        let timing: [String] = [
            "(g) Totem timing in use (CPGTesting.CorosyncConfig defaults, the corosync.conf LocalCluster writes):",
            "token \(corosync.token) ms, token_coefficient \(corosync.tokenCoefficient) ms (so the token timeout",
            "does not grow with the node count), consensus \(consensus), join \(corosync.join) ms,",
            "merge \(corosync.merge) ms; knet transport, no crypto. A killed daemon is noticed when the token is lost",
            "(token timeout), and the new membership is installed after the consensus timeout: detection",
            "is expected near token + consensus, whatever the client library.",
        ]
        report.note(timing.joined(separator: " "))
        let method: [String] = [
            "(g) Each cluster size is a fresh private cluster (CPGTesting.LocalCluster, settle timeout 180 s).",
            "Throughput: as the (a) 3-node rows (one sender on node 1 in this process, Swift and C alternating,",
            "median of \(self.options.repetitions)), with a C receiver inside every other node's namespace that",
            "must get every message, each payload intact; runs during which the ring re-formed are repeated, as in (a).",
            "Failure detection: a Swift member (this process) and a",
            "C member (`cpg-bench-peer member`, a thread in cpg_dispatch(CS_DISPATCH_BLOCKING); a child process",
            "because corosync refuses a second join of one group by the same pid on a node) on node 1, and a C",
            "member on every other node, one group; \(detections) times the daemon of node N, N-1, … is killed",
            "with SIGKILL (LocalCluster.killDaemon), and the time from just before the kill to the membership",
            "change with reason nodedown is taken on node 1 as each member receives it (Swift: the task",
            "iterating membershipChanges; C: inside the confchg callback; both CLOCK_MONOTONIC). Between kills the daemon",
            "is restarted and its member started again until the group has every member back. \"Daemons",
            "settled\" is LocalCluster's own wait: every other daemon's corosync-quorumtool showing the node",
            "gone, polled every 100 ms. A kill after which either member's first nodedown names another node",
            "(a daemon starved of CPU declared down while the ring re-formed) does not count and is repeated, up to",
            "3 times in a row; the table counts them. Everything (the daemons, the receivers, this process) shares the",
            "machine's cores.",
        ]
        report.note(method.joined(separator: " "))
    }

    private func scaleRows(_ cluster: LocalCluster, detections: Int, memoryBefore: Int, _ report: inout Report) async throws {
        let nodes = cluster.nodes.count
        var rss: [Int] = []
        for node in cluster.nodes {
            if let pid = await cluster.daemonProcessID(of: node) { rss.append(cpg_baseline_rss_kib(pid)) }
        }
        let memoryUsed = memoryBefore - memAvailableKiB()
        let mean = rss.isEmpty ? 0 : rss.reduce(0, +) / rss.count
        report.add(
            "(g) \(nodes) nodes: the cluster",
            "formed in s / corosync RSS MiB per daemon (mean, max) / MemAvailable drop MiB",
            swift: "\(fmt(seconds(await cluster.startupDuration), 1)) / \(mib(mean)), \(mib(rss.max() ?? 0)) / \(mib(memoryUsed))",
            c: ""
        )
        let on = ClusterScenarios(scenarios: self.scenarios, cluster: cluster)
        for size in [64, 1024] {
            try await self.clusterThroughputRows(on, size: size, count: 20_000 / self.scale, section: "g", targets: false, &report)
        }
        let (samples, repeated) = try await on.failureDetection(repetitions: detections)
        let scenario = "(g) \(nodes) nodes: failure detection, kill -9 of one daemon → nodedown on node 1 (\(samples.count)×)"
        let swift = samples.map { $0.swift }.sorted()
        let c = samples.map { $0.c }.sorted()
        let settled = samples.map { $0.settled }.sorted()
        let rejoin = samples.map { $0.rejoin }.sorted()
        func median(_ values: [Double]) -> Double { values.isEmpty ? .nan : values[values.count / 2] }
        report.add(
            scenario,
            "seconds from the kill to the nodedown change, median",
            swift: fmt(median(swift), 3),
            c: fmt(median(c), 3),
            ratio: median(swift) / median(c)
        )
        report.add(
            scenario,
            "seconds from the kill to the nodedown change, max",
            swift: fmt(swift.last ?? .nan, 3),
            c: fmt(c.last ?? .nan, 3),
            ratio: (swift.last ?? .nan) / (c.last ?? .nan)
        )
        report.add(
            scenario,
            "daemons settled (quorumtool) / rejoin after restart, median s",
            swift: "\(fmt(median(settled), 2)) / \(fmt(median(rejoin), 2))",
            c: ""
        )
        report.add(
            scenario,
            "kills repeated because another daemon, starved of CPU, was declared down first (both members)",
            swift: "\(repeated)",
            c: ""
        )
    }

    private func receiveOnly(_ report: inout Report) async throws {
        for (size, baseCount) in [(64, 100_000), (1024, 100_000), (65536, 5000), (1_048_576, 1000)] {
            let count = baseCount / self.scale
            var swiftRuns: [RunResult] = []
            var cRuns: [RunResult] = []
            var pollRuns: [RunResult] = []
            var handoffRuns: [RunResult] = []
            for _ in 0..<self.options.repetitions {
                cRuns.append(try await self.scenarios.cReceive(size: size, count: count))
                pollRuns.append(try await self.scenarios.cReceive(size: size, count: count, pollLoop: true))
                handoffRuns.append(try await self.scenarios.cReceiveHandoff(size: size, count: count, dispatchSource: true))
                swiftRuns.append(try await self.scenarios.swiftReceive(size: size, count: count))
            }
            let swift = RunResult.median(swiftRuns)
            let c = RunResult.median(cRuns)
            let poll = RunResult.median(pollRuns)
            let handoff = RunResult.median(handoffRuns)
            let all = swiftRuns + cRuns + pollRuns + handoffRuns
            let errors = all.map(\.sequenceErrors).reduce(0, +)
            let scenario = "(b) receive-only \(sizeText(size)), C sender process, \(fmtCount(count)) msgs"
            log(
                "\(scenario): Swift \(rate(swift)) \(fmt(swift.cpuMicrosecondsPerMessage)) µs/msg, "
                    + "C \(rate(c)) \(fmt(c.cpuMicrosecondsPerMessage)) µs/msg, "
                    + "C poll loop \(rate(poll)) \(fmt(poll.cpuMicrosecondsPerMessage)) µs/msg, "
                    + "C handoff.c with a DispatchSource \(rate(handoff)) \(fmt(handoff.cpuMicrosecondsPerMessage)) µs/msg, errors \(errors)"
            )
            report.add(
                scenario,
                "messages/s, first → last delivery (C: blocking dispatch thread)",
                swift: rate(swift),
                c: rate(c),
                ratio: swift.wall / c.wall
            )
            let cpuRatio = swift.cpuMicrosecondsPerMessage / c.cpuMicrosecondsPerMessage
            report.add(
                scenario,
                "receiver CPU µs per delivered message (C: blocking dispatch thread)",
                swift: fmt(swift.cpuMicrosecondsPerMessage),
                c: fmt(c.cpuMicrosecondsPerMessage),
                ratio: cpuRatio,
                target: "≤ 1.25×",
                meets: cpuRatio <= 1.25
            )
            report.add(
                scenario,
                "context switches per delivered message (C: blocking dispatch thread)",
                swift: fmt(swift.contextSwitchesPerMessage),
                c: fmt(c.contextSwitchesPerMessage),
                ratio: swift.contextSwitchesPerMessage / c.contextSwitchesPerMessage
            )
            report.add(
                scenario,
                "messages/s (C: poll(fd) + CS_DISPATCH_ONE_NONBLOCKING loop, as the library reads)",
                swift: rate(swift),
                c: rate(poll),
                ratio: swift.wall / poll.wall
            )
            report.add(
                scenario,
                "receiver CPU µs per delivered message (C: poll loop)",
                swift: fmt(swift.cpuMicrosecondsPerMessage),
                c: fmt(poll.cpuMicrosecondsPerMessage),
                ratio: swift.cpuMicrosecondsPerMessage / poll.cpuMicrosecondsPerMessage
            )
            report.add(
                scenario,
                "receiver CPU µs per delivered message (C: handoff.c with a DispatchSource, the library's structure)",
                swift: fmt(swift.cpuMicrosecondsPerMessage),
                c: fmt(handoff.cpuMicrosecondsPerMessage),
                ratio: swift.cpuMicrosecondsPerMessage / handoff.cpuMicrosecondsPerMessage
            )
            report.add(
                scenario,
                "payload or sequence errors (all runs)",
                swift: "\(swiftRuns.map(\.sequenceErrors).reduce(0, +))",
                c: "\((cRuns + pollRuns + handoffRuns).map(\.sequenceErrors).reduce(0, +))",
                target: "0",
                meets: errors == 0,
                correctness: true
            )
        }
        try await self.receiveAllocatorRows(&report)
        report.note(
            "(b) The sender is `cpg-bench-peer send` (C, its own dispatch thread, spinning on CS_ERR_TRY_AGAIN). "
                + "Three C receivers: a thread in cpg_dispatch(CS_DISPATCH_BLOCKING) (libqb wakes it through the "
                + "ring's semaphore); an event loop polling the fd and dispatching one event at a time until "
                + "CS_ERR_TRY_AGAIN (woken through the socket, as the library's DispatchSource is); and handoff.c, "
                + "the library's structure in C: a DispatchSource on libcpg's fd (a serial queue, reading again at "
                + "once while a batch filled first) whose handler dispatches in batches of up to 64 events or 1 MiB, "
                + "copies each message into a buffer of its own, wakes corosync after emptying the ring as the "
                + "library does, and hands each batch to a consumer thread, which checks and frees the messages "
                + "(`cpg-bench profile c-receive-source`; `c-receive-handoff` reads on a thread of its own instead). "
                + "Every receiver checks every payload and each sender's sequence. The last rows run the Swift receiver in a "
                + "child process (`cpg-bench profile receive-after-small`) that first receives 64 B and 1 KiB "
                + "messages, as this process did before its 64 KiB row, once with glibc's defaults and once with "
                + "a 64 MiB `top_pad` (median of the runs, alternating): see FlowControlAndBackpressure, Sizing. "
                + "1 MiB is above corosync's atomic size: each message comes in two pieces that libcpg reassembles, "
                + "and only one piece fits corosync's 1 MiB event ring at a time. Once corosync queues events behind "
                + "a full ring and its sender is done, only a request wakes its libqb loop before a 50 ms job timeout: "
                + "the Swift reader sends one after emptying the ring (DeliveryNudge); the C poll loop does not."
        )
    }

    /// (b) 64 KiB receive in a child process that received small messages first, with glibc's
    /// defaults and with a larger `top_pad` (GLIBC_TUNABLES is read at start-up, hence the child).
    private func receiveAllocatorRows(_ report: inout Report) async throws {
        let count = 5000 / self.scale
        let topPad = "glibc.malloc.top_pad=67108864"
        var runs: [String: [RunResult]] = ["": [], topPad: []]
        for _ in 0..<self.options.repetitions {
            for tunables in ["", topPad] {
                let child = try Peer.spawn(
                    ["env", "GLIBC_TUNABLES=\(tunables)", self.options.selfPath, "profile", "receive-after-small", "65536", "\(count)", "1"]
                )
                let fields = try await child.expectLine(startingWith: "result ").split(separator: " ").dropFirst()
                let status = await child.waitForExit()
                let values = fields.compactMap { Double($0) }
                guard status == 0, values.count == 4 else { throw BenchError("receive-after-small failed (status \(status))") }
                var result = RunResult(wall: values[0], cpu: values[1], messages: Int(values[2]), bytes: Int(values[2]) * 65536)
                result.sequenceErrors = Int(values[3])
                runs[tunables, default: []].append(result)
            }
        }
        let plain = RunResult.median(runs[""] ?? [])
        let padded = RunResult.median(runs[topPad] ?? [])
        let errors = (runs[""] ?? []).map(\.sequenceErrors).reduce(0, +) + (runs[topPad] ?? []).map(\.sequenceErrors).reduce(0, +)
        let scenario = "(b) receive-only 64 KiB, \(fmtCount(count)) msgs, Swift in a child process after 64 B and 1 KiB receive runs"
        log("\(scenario): defaults \(rate(plain)) \(fmt(plain.cpuMicrosecondsPerMessage)) µs/msg, \(topPad) \(rate(padded)) \(fmt(padded.cpuMicrosecondsPerMessage)) µs/msg, errors \(errors)")
        report.add(
            scenario,
            "messages/s and CPU µs per message: glibc defaults → GLIBC_TUNABLES=\(topPad)",
            swift: "\(rate(plain)), \(fmt(plain.cpuMicrosecondsPerMessage)) → \(rate(padded)), \(fmt(padded.cpuMicrosecondsPerMessage))",
            c: ""
        )
        report.add(
            scenario,
            "payload or sequence errors (all runs)",
            swift: "\(errors)",
            c: "",
            target: "0",
            meets: errors == 0,
            correctness: true
        )
    }

    private func latency(_ report: inout Report) async throws {
        let size = 64
        let count = 20_000 / self.scale
        let warmup = 1000 / self.scale
        let linger = Duration.milliseconds(2)
        let fractions = [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)]
        // Per run, each percentile in µs; the table shows the median over the runs, which are
        // alternated so that a slow minute of the machine hits every variant alike.
        var c: [[Double]] = []
        var swift: [[Double]] = []
        var both: [[Double]] = []
        var lingering: [[Double]] = []
        var plainCost: [RunResult] = []
        var lingerCost: [RunResult] = []
        func percentiles(_ rtts: [UInt64]) -> [Double] {
            let sorted = rtts.sorted()
            return fractions.map { Double(percentile(sorted, $0.1)) / 1000 }
        }
        for _ in 0..<self.options.repetitions {
            c.append(percentiles(try await self.scenarios.cPing(size: size, count: count, warmup: warmup).1))
            let (plainRun, plainRTT) = try await self.scenarios.swiftPing(size: size, count: count, warmup: warmup, echo: .c)
            swift.append(percentiles(plainRTT))
            plainCost.append(plainRun)
            let (lingerRun, lingerRTT) = try await self.scenarios.swiftPing(
                size: size,
                count: count,
                warmup: warmup,
                echo: .c,
                readerLinger: linger
            )
            lingering.append(percentiles(lingerRTT))
            lingerCost.append(lingerRun)
            both.append(percentiles(try await self.scenarios.swiftPing(size: size, count: count, warmup: warmup, echo: .swift).1))
        }
        func median(_ runs: [[Double]], _ index: Int) -> Double {
            let values = runs.map { $0[index] }.sorted()
            return values[values.count / 2]
        }
        let scenario = "(c) ping-pong \(sizeText(size)), \(fmtCount(count)) round trips"
        let rows: [(String, [[Double]], Bool)] = [
            ("round trip µs (Swift pinger vs C pinger, C echo peer)", swift, true),
            ("round trip µs, Swift pinger with readerLinger = 2 ms vs C pinger (C echo peer)", lingering, false),
            ("round trip µs, Swift pinger and Swift echo peer vs all C", both, false),
        ]
        for (metric, runs, targeted) in rows {
            for (index, (label, _)) in fractions.enumerated() {
                let s = median(runs, index)
                let cValue = median(c, index)
                let ratio = s / cValue
                let hasTarget = targeted && label == "p99"
                log("\(scenario) \(label) \(metric): Swift \(fmt(s, 1)) C \(fmt(cValue, 1)) (runs: \(runs.map { fmt($0[index], 1) }.joined(separator: ", ")); C \(c.map { fmt($0[index], 1) }.joined(separator: ", ")))")
                report.add(
                    scenario,
                    "\(label) \(metric)",
                    swift: fmt(s, 1),
                    c: fmt(cValue, 1),
                    ratio: ratio,
                    target: hasTarget ? "≤ 1.10×" : "",
                    meets: hasTarget ? ratio <= 1.10 : nil
                )
            }
        }
        let plain = RunResult.median(plainCost)
        let lingered = RunResult.median(lingerCost)
        report.add(
            scenario,
            "Swift pinger CPU µs and context switches per round trip: default → readerLinger = 2 ms",
            swift: "\(fmt(plain.cpuMicrosecondsPerMessage, 1)) / \(fmt(plain.contextSwitchesPerMessage)) → "
                + "\(fmt(lingered.cpuMicrosecondsPerMessage, 1)) / \(fmt(lingered.contextSwitchesPerMessage))",
            c: ""
        )
        report.note(
            "(c) Round trip: send a ping (AGREED), the peer process echoes it (AGREED), until the echo is "
                + "delivered. C pinger: one thread, cpg_dispatch(CS_DISPATCH_ONE_NONBLOCKING) + poll. "
                + "The echo peer is `cpg-bench-peer echo` (C) or `cpg-bench swift-echo`. \(warmup) warm-up round trips "
                + "are not counted. Each percentile is the median over \(self.options.repetitions) runs of every "
                + "variant, the variants alternating. With `CPGConfiguration.readerLinger` the group's reader "
                + "waits on the fd (up to 2 ms) after reading everything instead of re-arming its DispatchSource "
                + "at once. CPU and context switches are the whole process's (the C echo peer is a separate "
                + "process)."
        )
    }

    private func clientCost(_ report: inout Report) async throws {
        let count = 20_000 / self.scale
        let cSend = try await self.scenarios.cThroughput(size: 64, count: count, senders: 1, countAllocations: true)
        let swiftSend = try await self.scenarios.swiftThroughput(size: 64, count: count, senders: 1, countAllocations: true)
        let cReceive = try await self.scenarios.cReceive(size: 64, count: count, countAllocations: true)
        let swiftReceive = try await self.scenarios.swiftReceive(size: 64, count: count, countAllocations: true)
        let pingCount = 5000 / self.scale
        let (cPing, _) = try await self.scenarios.cPing(size: 64, count: pingCount, warmup: 200, countAllocations: true)
        let (swiftPing, _) = try await self.scenarios.swiftPing(
            size: 64,
            count: pingCount,
            warmup: 200,
            echo: .c,
            countAllocations: true
        )
        func perMessage(_ result: RunResult) -> Double { Double(result.allocations ?? 0) / Double(result.messages) }
        let rows: [(String, RunResult, RunResult, Bool)] = [
            ("(d) allocations per message: send + own delivery (64 B, \(fmtCount(count)) msgs)", swiftSend, cSend, true),
            ("(d) allocations per delivered message, receive-only (64 B, \(fmtCount(count)) msgs)", swiftReceive, cReceive, true),
            ("(d) allocations per ping round trip (send + 2 deliveries, 64 B, \(fmtCount(pingCount)))", swiftPing, cPing, false),
        ]
        for (scenario, swift, c, targeted) in rows {
            log("\(scenario): Swift \(fmt(perMessage(swift))) C \(fmt(perMessage(c)))")
            report.add(
                scenario,
                "heap allocations (malloc & co., whole process)",
                swift: fmt(perMessage(swift)),
                c: fmt(perMessage(c)),
                target: targeted ? "≤ 2" : "",
                meets: targeted ? perMessage(swift) <= 2 : nil
            )
        }
        // The sends alone: what the sending thread allocated in its send calls.
        func perSend(_ result: RunResult) -> String {
            result.sender.map { fmt(Double($0.allocations) / Double(result.messages)) } ?? "n/a (a send suspended)"
        }
        report.add(
            rows[0].0,
            "heap allocations per sent message on the sending thread (the send calls alone)",
            swift: perSend(swiftSend),
            c: perSend(cSend)
        )
        report.note(
            "(d) Allocations are counted by the harness's own malloc/calloc/realloc/memalign definitions "
                + "(CAllocationCounter, no LD_PRELOAD), enabled only around the measured loop; the timed runs of "
                + "(a)–(c) run with counting off. CPU per message is in (a) and (b). Per sent message on the "
                + "sending thread: the same counts, kept per thread, over the send loop of the one sending thread "
                + "(Swift: the sending task, while no send suspends; C: the thread calling cpg_mcast_joined)."
        )
    }

    private func stalledConsumer(_ report: inout Report) async throws {
        let perSender = 8192 / self.scale
        let size = 65536
        let total = 2 * perSender * size
        let cases: [(String, Scenarios.StalledMember)] = [
            ("Swift member, default event buffer (\(CPGConfiguration().eventBufferBytes >> 20) MiB)", .swift(eventBufferBytes: nil)),
            ("Swift member, eventBufferBytes = 8 MiB", .swift(eventBufferBytes: 8 << 20)),
            ("C member (does not dispatch)", .c),
        ]
        var results: [(String, Scenarios.StallResult)] = []
        for (label, kind) in cases {
            let result = try await self.scenarios.stalledConsumer(kind, senders: 2, perSender: perSender, size: size)
            log("(e) \(label): received \(result.received)/\(result.expected), errors \(result.sequenceErrors), peak RSS \(mib(result.memberPeakKiB)) MiB, corosync \(mib(result.corosyncBeforeKiB)) → \(mib(result.corosyncPeakKiB)) MiB, stall \(fmt(result.stallSeconds)) s, drain \(fmt(result.drainSeconds)) s")
            results.append((label, result))
        }
        let c = results[2].1
        for (label, result) in results.prefix(2) {
            let scenario = "(e) stalled consumer, 2 C senders × \(fmtCount(perSender)) × 64 KiB = \(mib(total / 1024)) MiB: \(label)"
            report.add(
                scenario,
                "member peak RSS MiB (VmHWM)",
                swift: fmt(Double(result.memberPeakKiB) / 1024, 1),
                c: fmt(Double(c.memberPeakKiB) / 1024, 1),
                ratio: Double(result.memberPeakKiB) / Double(c.memberPeakKiB),
                target: "< 64 MiB",
                meets: result.memberPeakKiB < 64 * 1024
            )
            let lost = result.expected - result.received
            report.add(
                scenario,
                "messages lost / payload or sequence errors",
                swift: "\(lost) / \(result.sequenceErrors)",
                c: "\(c.expected - c.received) / \(c.sequenceErrors)",
                target: "0 / 0",
                meets: lost == 0 && result.sequenceErrors == 0,
                correctness: true
            )
            report.add(
                scenario,
                "corosync RSS MiB during the run (before → sampled peak)",
                swift: "\(mib(result.corosyncBeforeKiB)) → \(mib(result.corosyncPeakKiB))",
                c: "\(mib(c.corosyncBeforeKiB)) → \(mib(c.corosyncPeakKiB))"
            )
            report.add(
                scenario,
                "drain: seconds / member CPU seconds",
                swift: "\(fmt(result.drainSeconds)) / \(fmt(result.drainCPU))",
                c: "\(fmt(c.drainSeconds)) / \(fmt(c.drainCPU))",
                ratio: result.drainCPU / c.drainCPU
            )
        }
        report.note(
            "(e) The member joins and reads nothing while two `cpg-bench-peer send` processes send; once both "
                + "have every message back, the member drains and checks each sender's sequence. corosync "
                + "buffers what a member does not read in its own memory (its outq), so the backlog shows in "
                + "the daemon's RSS, not the member's; a sampled peak of corosync's RSS only grows when its heap "
                + "does (glibc keeps freed memory)."
        )
    }

    private func flowControl(_ report: inout Report) async throws {
        let seconds = self.options.quick ? 1.0 : 3.0
        let (swift, cResult) = try await self.scenarios.flowControlStall(seconds: seconds, size: 65536)
        guard let c = cResult else { throw BenchError("(f) the C side did not run") }
        log("(f) Swift \(fmt(swift.percentOfCore, 2)) % of a core (accepted \(swift.acceptedBeforePushback), stayed suspended \(swift.stayedSuspended)); C \(fmt(c.percentOfCore, 1)) % (try-again \(c.tryAgain ?? 0))")
        let scenario = "(f) flow-control stall: every send suspended on CS_ERR_TRY_AGAIN for \(fmt(seconds, 0)) s"
        report.add(
            scenario,
            "CPU % of one core while suspended",
            swift: fmt(swift.percentOfCore, 2),
            c: fmt(c.percentOfCore, 1),
            ratio: swift.percentOfCore / c.percentOfCore,
            target: "Swift < 5 %",
            meets: swift.percentOfCore < 5 && swift.stayedSuspended
        )
        report.add(
            scenario,
            "context switches per second while suspended",
            swift: fmt(Double(swift.contextSwitches) / swift.seconds, 0),
            c: fmt(Double(c.contextSwitches) / c.seconds, 0)
        )
        report.add(
            scenario,
            "messages accepted before the push-back (64 KiB)",
            swift: fmtCount(swift.acceptedBeforePushback),
            c: fmtCount(c.acceptedBeforePushback)
        )
        let (small, _) = try await self.scenarios.flowControlStall(seconds: seconds, size: 64, includeC: false)
        log("(f) 64 B: Swift \(fmt(small.percentOfCore, 2)) % of a core (accepted \(small.acceptedBeforePushback), stayed suspended \(small.stayedSuspended))")
        let smallScenario = "(f) flow-control stall, 64 B: libqb's notification socket full for \(fmt(seconds, 0)) s"
        report.add(
            smallScenario,
            "CPU % of one core while suspended (C: spins in libqb's send(), not measured)",
            swift: fmt(small.percentOfCore, 2),
            c: "",
            target: "Swift < 5 %",
            meets: small.percentOfCore < 5 && small.stayedSuspended
        )
        report.add(
            smallScenario,
            "messages accepted before the push-back (64 B)",
            swift: fmtCount(small.acceptedBeforePushback),
            c: ""
        )
        report.note(
            "(f) A private one-node corosync in a network namespace of its own (CPGTesting.LocalCluster), "
                + "stopped with SIGSTOP; with 64 KiB messages libqb's IPC request ring (1 MiB) is full after 16 "
                + "and every cpg_mcast_joined then answers CS_ERR_TRY_AGAIN for as long as the daemon stays "
                + "stopped. Swift: one task sending in a loop (plus one consumer task); C: `cpg-bench-peer fc-spin`, "
                + "cpgbench's immediate retry. With 64 B messages the same stopped daemon does not answer "
                + "CS_ERR_TRY_AGAIN: libqb follows each request with one byte on the connection's socket and, "
                + "once that socket's buffer is full (about 280 messages), retries send() in a loop inside "
                + "cpg_mcast_joined, so a C client spins there until the daemon continues (no C row: it never "
                + "returns to report). The library looks at the socket every 16 sends and suspends the send once "
                + "more than half of its buffer is queued (the 64 B rows). A member that "
                + "merely stops reading is not pushed back on this corosync (3.1.7, one node): the daemon queues "
                + "the member's events in its own memory instead (see (e))."
        )
    }

    // MARK: Environment and output

    private func environment() async -> [String] {
        var utc = tm()
        var now = time(nil)
        gmtime_r(&now, &utc)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S UTC", &utc)
        let date = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let cpu =
            readFile("/proc/cpuinfo")?.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { String($0).trimmingLeadingSpaces() } ?? "" } ?? "unknown"
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let load = readFile("/proc/loadavg")?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        let daemons = corosyncPIDsInThisNamespace()
        let allDaemons = self.allCorosyncCount()
        return [
            "Date: \(date)",
            "Machine: \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs (nproc), \(cpu), Linux \(kernel)",
            "corosync: \(await self.corosyncVersion()), \(daemons.count) daemon(s) in this namespace (pid \(daemons.map(String.init).joined(separator: ","))), \(allDaemons) on the machine",
            "Swift: \(self.options.swiftVersion.isEmpty ? "unknown" : self.options.swiftVersion), release build",
            "swift-cpg: \(self.options.revision.isEmpty ? "unknown revision" : self.options.revision)",
            "Load average before the run: \(load)",
        ]
    }

    private func allCorosyncCount() -> Int {
        guard let directory = opendir("/proc") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(name) != nil else { continue }
            if readFile("/proc/\(name)/comm")?.trimmingSuffixNewline() == "corosync" { count += 1 }
        }
        return count
    }

    private func corosyncVersion() async -> String {
        guard let daemon = corosyncPIDsInThisNamespace().first,
            let executable = readLink("/proc/\(daemon)/exe"),
            let peer = try? Peer.spawn([executable, "-v"])
        else { return "unknown" }
        // `corosync -v` prints "Corosync Cluster Engine, version '3.1.7'" first.
        var version = "unknown"
        if let line = await peer.readLine(), let start = line.firstIndex(of: "'") {
            version = String(line[line.index(after: start)...].prefix { $0 != "'" })
        }
        _ = await peer.waitForExit()
        return version
    }

    private func checkAllocationCounter(_ report: inout Report) {
        allocation_counter_start()
        let array = [UInt8](repeating: 1, count: 1000)
        let counted = allocation_counter_stop().allocations
        if counted == 0 || array.count != 1000 {
            report.note("WARNING: the allocation counter saw no allocation in its self-check; (d) is not valid.")
        }
    }

    private func writeMarkdown(_ report: Report, environment: [String], to path: String) throws {
        var text: String
        if self.options.sections == ["g"] {
            text = "# swift-cpg scale benchmark\n\n"
            text += "Written by `scripts/bench --only g` (Benchmarks/Sources/CPGBench, section g): private corosync clusters "
            text += "of 3, 5 and 9 nodes on this machine (CPGTesting.LocalCluster), swift-cpg's `CPGGroup` next to a raw-C "
            text += "libcpg client (Benchmarks/Sources/CPGBaseline) on node 1, in the same run.\n\n"
        } else {
            text = "# swift-cpg benchmark results\n\n"
            text += "Written by `scripts/bench` (Benchmarks/Sources/CPGBench): swift-cpg's `CPGGroup` against a raw-C "
            text += "libcpg client (Benchmarks/Sources/CPGBaseline) on the same corosync, the same messages, in the same run.\n\n"
        }
        text += environment.map { "- " + $0 }.joined(separator: "\n") + "\n\n"
        text += report.markdownTable + "\n\n"
        text += "## Notes\n\n"
        text += report.notes.map { "- " + $0 }.joined(separator: "\n") + "\n"
        if !report.misses.isEmpty {
            text += "\n## Missed targets\n\n" + report.misses.map { "- " + $0 }.joined(separator: "\n") + "\n"
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("cannot write \(path): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw BenchError("short write to \(path)") }
    }
}

func log(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// A duration in seconds.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// MemAvailable from /proc/meminfo, in KiB.
func memAvailableKiB() -> Int {
    guard let line = readFile("/proc/meminfo")?.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") })
    else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

func sizeText(_ size: Int) -> String {
    if size >= 1 << 20, size % (1 << 20) == 0 { return "\(size >> 20) MiB" }
    if size >= 1024, size % 1024 == 0 { return "\(size >> 10) KiB" }
    return "\(size) B"
}

func rate(_ result: RunResult) -> String {
    let perSecond = fmtCount(Int(result.messagesPerSecond.rounded()))
    let megabytes = Double(result.bytes) / result.wall / 1e6
    return "\(perSecond) (\(fmt(megabytes, megabytes < 10 ? 1 : 0)) MB/s)"
}

func mib(_ kib: Int) -> String {
    fmt(Double(kib) / 1024, 0)
}

extension String {
    func trimmingLeadingSpaces() -> String {
        String(self.drop { $0 == " " || $0 == "\t" })
    }
}
