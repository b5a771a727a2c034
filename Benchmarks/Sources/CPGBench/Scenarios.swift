import CAllocationCounter
import CPG
import CPGBaseline
import CPGTesting
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Every measurement, each as a Swift run and a C run doing the same with the same messages.
///
/// CPU times are this process's (`getrusage`), so each run has the process to itself: the runs
/// never overlap. Peers that must be other processes (a process joins a group once) are
/// `cpg-bench-peer` (C) or this executable in a child role (Swift).
struct Scenarios: Sendable {
    /// The C peer executable.
    let peerPath: String
    /// This executable, for the Swift child roles.
    let selfPath: String
    /// A `readerLinger` for every Swift group, replacing the scenario's own (only `cpg-bench
    /// profile` sets it, from `CPG_BENCH_READER_LINGER_US`; the table's runs never do).
    var readerLingerOverride: Duration?
    /// The Swift group's eventBufferBytes in profile runs (`CPG_BENCH_EVENT_BUFFER_BYTES`).
    var eventBufferBytesOverride: Int?
    /// The Swift group's notificationBufferBytes in profile runs
    /// (`CPG_BENCH_NOTIFICATION_BUFFER_BYTES`; 0: the system's default).
    var notificationBufferBytesOverride: Int?

    // MARK: (a) throughput: send, and see every own message delivered back

    /// Sends `count` messages of `size` bytes from `senders` concurrent tasks and returns when the
    /// last one came back through `messages`. Wall time: first send to last own delivery.
    ///
    /// With `networkNamespace` the group connects to that namespace's corosync (a node of a
    /// ``LocalCluster``); with `members` > 1 it first waits until the group has that many members
    /// (receivers on other nodes), before the clock starts.
    func swiftThroughput(
        size: Int,
        count: Int,
        senders: Int,
        countAllocations: Bool = false,
        group name: String = GroupNames.make("tput-s"),
        networkNamespace: String? = nil,
        members: Int = 1
    ) async throws -> RunResult {
        var configuration = CPGConfiguration()
        configuration.networkNamespace = networkNamespace
        let pushBacks = PushBackCounter()
        configuration.metricsFactory = pushBacks
        self.applyOverrides(&configuration)
        let group = try await CPGGroup.join(name, configuration: configuration)
        if members > 1 { try await self.waitForMembers(group, members, seconds: 60) }
        let me = group.localMember
        let messages = group.messages
        let payload = benchPayload(size: size)
        var daemon = DaemonCost.Span.begin()
        if countAllocations { allocation_counter_start() }
        let cpuBefore = CPUTime.now()
        let start = nowNanoseconds()
        async let lastDelivery: UInt64 = {
            var delivered = 0
            for try await message in messages where message.sender == me {
                delivered += 1
                if delivered == count { return nowNanoseconds() }
            }
            throw BenchError("the messages ended after \(delivered) of \(count)")
        }()
        let senderCost = try await withThrowingTaskGroup(of: ThreadCost?.self) { tasks in
            for sender in 0..<senders {
                let share = count / senders + (sender < count % senders ? 1 : 0)
                tasks.addTask {
                    let start = ThreadCost.start()
                    for _ in 0..<share { try await group.send(payload) }
                    return ThreadCost.since(start)
                }
            }
            let costs = try await tasks.reduce(into: [ThreadCost?]()) { $0.append($1) }
            return senders == 1 ? costs[0] : nil
        }
        let end = try await lastDelivery
        let cpu = CPUTime.now() - cpuBefore
        let allocations = countAllocations ? Int(allocation_counter_stop().allocations) : nil
        let daemonCost = daemon.end()
        try await group.leave()
        var result = RunResult(wall: Double(end - start) / 1e9, cpu: cpu, messages: count, bytes: count * size)
        result.allocations = allocations
        result.daemon = daemonCost
        result.sendsPushedBack = pushBacks.count
        result.pushBackWait = pushBacks.waited
        result.sender = senderCost
        return result
    }

    /// The C pipeline: `cpg_baseline_throughput_in` (`cpg_baseline_throughput_senders`, connected
    /// from a thread in `networkNamespace` when given, waiting for `members` first).
    func cThroughput(
        size: Int,
        count: Int,
        senders: Int,
        countAllocations: Bool = false,
        group name: String = GroupNames.make("tput-c"),
        networkNamespace: String? = nil,
        members: Int = 1
    ) async throws -> RunResult {
        let (status, stats, allocations) = await offPool { () -> (Int32, cpg_baseline_stats, Int?) in
            var stats = cpg_baseline_stats()
            if countAllocations { allocation_counter_start() }
            let status = cpg_baseline_throughput_in(
                networkNamespace,
                name,
                size,
                UInt64(count),
                UInt32(senders),
                UInt32(members),
                &stats
            )
            let allocations = countAllocations ? Int(allocation_counter_stop().allocations) : nil
            return (status, stats, allocations)
        }
        try checkStatus(status, "cpg_baseline_throughput_in")
        var result = RunResult(stats)
        result.allocations = allocations
        if senders == 1 {
            result.sender = ThreadCost(cpuSeconds: stats.sender_cpu_seconds, allocations: Int(stats.sender_allocations))
        }
        return result
    }

    /// The C pipeline with the library's thread structure (`cpg_baseline_throughput_handoff`):
    /// a sender, a reader thread that hands batches of copied messages to a consumer thread.
    func cThroughputHandoff(size: Int, count: Int, group name: String = GroupNames.make("tput-h")) async throws -> RunResult {
        let (status, stats) = await offPool { () -> (Int32, cpg_baseline_stats) in
            var stats = cpg_baseline_stats()
            let status = cpg_baseline_throughput_handoff(name, size, UInt64(count), &stats)
            return (status, stats)
        }
        try checkStatus(status, "cpg_baseline_throughput_handoff")
        return RunResult(stats)
    }

    // MARK: (b) receive-only: a C sender process, this process receives

    /// A C sender child sends `count` messages; the Swift member iterates `messages` and checks
    /// every payload and the sender's sequence. Wall time: first to last delivery.
    func swiftReceive(size: Int, count: Int, eventBufferBytes: Int? = nil, countAllocations: Bool = false) async throws
        -> RunResult
    {
        let name = GroupNames.make("recv-s")
        var configuration = CPGConfiguration()
        if let eventBufferBytes { configuration.eventBufferBytes = eventBufferBytes }
        self.applyOverrides(&configuration)
        let group = try await CPGGroup.join(name, configuration: configuration)
        let me = group.localMember
        let messages = group.messages
        let sender = try Peer.spawn([self.peerPath, "send", name, "\(count)", "\(size)", "2"])
        if countAllocations { allocation_counter_start() }
        let cpuBefore = CPUTime.now()
        var checker = SequenceChecker()
        var received = 0
        var bytes = 0
        var first: UInt64 = 0
        var last: UInt64 = 0
        func consume() async throws {
            for try await message in messages where message.sender != me {
                if received == 0 { first = nowNanoseconds() }
                checker.check(message.payload, senderKey: UInt64(message.sender.nodeID) << 32 | UInt64(message.sender.pid))
                received += 1
                bytes += message.payload.count
                if received == count {
                    last = nowNanoseconds()
                    break
                }
            }
        }
        if let executor = Self.consumerThread {
            try await withTaskExecutorPreference(executor) { try await consume() }
        } else {
            try await consume()
        }
        let cpu = CPUTime.now() - cpuBefore
        let allocations = countAllocations ? Int(allocation_counter_stop().allocations) : nil
        _ = try await sender.expectLine(startingWith: "done")
        _ = await sender.waitForExit()
        try await group.leave()
        guard received == count else { throw BenchError("received \(received) of \(count) messages") }
        var result = RunResult(
            wall: Double(last - first) / 1e9,
            cpu: cpu,
            messages: received,
            bytes: bytes,
            sequenceErrors: checker.errors
        )
        result.allocations = allocations
        return result
    }

    /// The same with a C receiver: a thread in `cpg_dispatch(CS_DISPATCH_BLOCKING)`, or with
    /// `pollLoop` one thread polling the fd and dispatching (`CS_DISPATCH_ONE_NONBLOCKING`) as an
    /// event loop does, the way the Swift library reads.
    func cReceive(size: Int, count: Int, pollLoop: Bool = false, countAllocations: Bool = false) async throws -> RunResult {
        let name = GroupNames.make("recv-c")
        let member = try BaselineMember.join(name, dispatchThread: !pollLoop)
        cpg_baseline_receive_begin(member.pointer)
        let sender = try Peer.spawn([self.peerPath, "send", name, "\(count)", "\(size)", "2"])
        let (status, stats, allocations) = await offPool { () -> (Int32, cpg_baseline_stats, Int?) in
            var stats = cpg_baseline_stats()
            if countAllocations { allocation_counter_start() }
            let status = cpg_baseline_receive_wait(member.pointer, UInt64(count), 120, &stats)
            let allocations = countAllocations ? Int(allocation_counter_stop().allocations) : nil
            return (status, stats, allocations)
        }
        _ = try await sender.expectLine(startingWith: "done")
        _ = await sender.waitForExit()
        _ = await offPool { cpg_baseline_leave(member.pointer) }
        try checkStatus(status, "cpg_baseline_receive_wait")
        var result = RunResult(stats)
        result.allocations = allocations
        return result
    }

    /// Receive only with the library's thread structure in C (handoff.c): a reader that polls
    /// the fd and copies each message, a consumer thread that checks and frees it. With
    /// `dispatchSource` the reader is not a thread of handoff.c's but, as in the library, a
    /// DispatchSource on the fd firing on a serial queue, reading again at once while a batch
    /// filled before the ring emptied; everything else stays C.
    func cReceiveHandoff(size: Int, count: Int, dispatchSource: Bool = false) async throws -> RunResult {
        let name = GroupNames.make("recv-h")
        let receiver = try BaselineHandoffReceiver.join(name, count: count, readerThread: !dispatchSource)
        let queue = DispatchQueue(label: "cpg-bench.handoff-reader")
        let stopped = AtomicFlag()
        var source: (any DispatchSourceRead)?
        defer {
            // The leave finalizes the handle: no read may run from then on, on any path out.
            if let source {
                stopped.value.store(true, ordering: .releasing)
                source.cancel()
                // A handler (or a read it scheduled) may still run: let it end first.
                queue.sync {}
            }
            cpg_baseline_handoff_receiver_leave(receiver.pointer)
        }
        if dispatchSource {
            let made = DispatchSource.makeReadSource(fileDescriptor: cpg_baseline_handoff_fd(receiver.pointer), queue: queue)
            @Sendable func read() {
                guard !stopped.value.load(ordering: .acquiring) else { return }
                // 0: the batch filled first; read on after the queue's other work, as the library does.
                if cpg_baseline_handoff_read(receiver.pointer) == 0 { queue.async { read() } }
            }
            made.setEventHandler { read() }
            made.resume()
            source = made
        }
        let sender = try Peer.spawn([self.peerPath, "send", name, "\(count)", "\(size)", "2"])
        let (status, stats) = await offPool { () -> (Int32, cpg_baseline_stats) in
            var stats = cpg_baseline_stats()
            let status = cpg_baseline_handoff_receive_wait(receiver.pointer, 120, &stats)
            return (status, stats)
        }
        _ = try await sender.expectLine(startingWith: "done")
        _ = await sender.waitForExit()
        try checkStatus(status, "cpg_baseline_handoff_receive_wait")
        return RunResult(stats)
    }

    // MARK: (c) latency: ping-pong with an echo peer in a child process

    enum EchoPeer: String {
        case c = "C"
        case swift = "Swift"
    }

    /// Sends a ping, waits for the peer's echo, `warmup + count` times; returns the round trips
    /// after the warm-up, in nanoseconds.
    func swiftPing(
        size: Int,
        count: Int,
        warmup: Int,
        echo: EchoPeer,
        readerLinger: Duration = .zero,
        countAllocations: Bool = false
    ) async throws -> (RunResult, [UInt64]) {
        let name = GroupNames.make("ping-s")
        var configuration = CPGConfiguration()
        configuration.readerLinger = readerLinger
        self.applyOverrides(&configuration)
        let group = try await CPGGroup.join(name, configuration: configuration)
        var iterator = group.messages.makeAsyncIterator()
        let arguments = echo == .c ? [self.peerPath, "echo", name] : [self.selfPath, "swift-echo", name]
        let echoPeer = try Peer.spawn(arguments)
        _ = try await echoPeer.expectLine(startingWith: "ready")
        try await waitForMembers(group, 2)
        let loop = try await Self.pingLoop(
            isolation: Self.pingIsolated ? group : nil,
            group: group,
            iterator: &iterator,
            size: size,
            count: count,
            warmup: warmup,
            countAllocations: countAllocations
        )
        let (cpu, wall, allocations, rtts) = (loop.cpu, loop.wall, loop.allocations, loop.rtts)
        echoPeer.closeInput()
        _ = await echoPeer.waitForExit()
        try await group.leave()
        var result = RunResult(wall: wall, cpu: cpu, messages: count, bytes: count * size)
        result.allocations = allocations
        return (result, rtts)
    }

    /// With CPG_BENCH_PING_ISOLATED set, the Swift pinger's loop runs isolated to its group: on
    /// the group's queue, where the reader resumes it without waking another thread.
    static let pingIsolated = getenv("CPG_BENCH_PING_ISOLATED") != nil

    /// The measured ping loop, on `isolation`'s executor (the group's, or the global pool's).
    private static func pingLoop(
        isolation: isolated (any Actor)?,
        group: CPGGroup,
        iterator: inout CPGEventSequence<CPGMessage>.AsyncIterator,
        size: Int,
        count: Int,
        warmup: Int,
        countAllocations: Bool
    ) async throws -> (cpu: CPUTime, wall: Double, allocations: Int?, rtts: [UInt64]) {
        let me = group.localMember
        var payload = [UInt8](repeating: 0, count: size)
        var rtts: [UInt64] = []
        rtts.reserveCapacity(count)
        var cpuBefore = CPUTime.now()
        var start = nowNanoseconds()
        let echoKind = UInt8(CPG_BASELINE_KIND_ECHO)
        for index in 0..<(warmup + count) {
            if index == warmup {
                if countAllocations { allocation_counter_start() }
                cpuBefore = CPUTime.now()
                start = nowNanoseconds()
            }
            payload.withUnsafeMutableBufferPointer {
                cpg_baseline_fill($0.baseAddress, size, UInt64(index), UInt8(CPG_BASELINE_KIND_PING))
            }
            let sent = nowNanoseconds()
            try await group.send(payload)
            while true {
                guard let message = try await iterator.next(isolation: isolation) else { throw BenchError("the messages ended") }
                if message.sender != me, message.payload.count >= 9, message.payload[8] == echoKind,
                    payloadSequence(message.payload) == UInt64(index)
                {
                    break
                }
            }
            let rtt = nowNanoseconds() - sent
            if index >= warmup { rtts.append(rtt) }
        }
        let cpu = CPUTime.now() - cpuBefore
        let wall = Double(nowNanoseconds() - start) / 1e9
        let allocations = countAllocations ? Int(allocation_counter_stop().allocations) : nil
        return (cpu, wall, allocations, rtts)
    }

    /// The C pinger (`cpg_baseline_ping`, one thread dispatching) against the C echo peer.
    func cPing(size: Int, count: Int, warmup: Int, countAllocations: Bool = false) async throws -> (RunResult, [UInt64]) {
        let name = GroupNames.make("ping-c")
        let member = try BaselineMember.join(name, dispatchThread: false)
        let echoPeer = try Peer.spawn([self.peerPath, "echo", name])
        _ = try await echoPeer.expectLine(startingWith: "ready")
        let (status, stats, rtts, allocations) = await offPool { () -> (Int32, cpg_baseline_stats, [UInt64], Int?) in
            var stats = cpg_baseline_stats()
            var rtts = [UInt64](repeating: 0, count: max(warmup, count))
            var status = cpg_baseline_wait_members(member.pointer, 2, 10)
            guard status == CPG_BASELINE_OK else { return (status, stats, [], nil) }
            status = cpg_baseline_ping(member.pointer, size, UInt64(warmup), &rtts, &stats)
            guard status == CPG_BASELINE_OK else { return (status, stats, [], nil) }
            if countAllocations { allocation_counter_start() }
            status = cpg_baseline_ping(member.pointer, size, UInt64(count), &rtts, &stats)
            let allocations = countAllocations ? Int(allocation_counter_stop().allocations) : nil
            return (status, stats, Array(rtts.prefix(count)), allocations)
        }
        echoPeer.closeInput()
        _ = await echoPeer.waitForExit()
        _ = await offPool { cpg_baseline_leave(member.pointer) }
        try checkStatus(status, "cpg_baseline_ping")
        var result = RunResult(stats)
        result.allocations = allocations
        return (result, rtts)
    }

    func waitForMembers(_ group: CPGGroup, _ count: Int, seconds: Int = 10) async throws {
        let deadline = nowNanoseconds() + UInt64(seconds) * 1_000_000_000
        while try await group.members().count < count {
            guard nowNanoseconds() < deadline else {
                throw BenchError("the group did not reach \(count) members within \(seconds) s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    // MARK: (e) stalled consumer

    enum StalledMember {
        /// A Swift member (`cpg-bench stalled-member`), with this event buffer (`nil`: the default).
        case swift(eventBufferBytes: Int?)
        /// The C member (`cpg-bench-peer stall-recv`): it simply does not dispatch.
        case c
    }

    struct StallResult {
        var expected: Int
        var received: Int
        var bytes: Int
        var sequenceErrors: Int
        /// The member's own VmHWM at the end, and its VmRSS after joining.
        var memberPeakKiB: Int
        var memberBaseKiB: Int
        /// corosync's VmRSS before and its sampled peak during the run.
        var corosyncBeforeKiB: Int
        var corosyncPeakKiB: Int
        /// From the senders' start until both had every message back; then the drain.
        var stallSeconds: Double
        var drainSeconds: Double
        var drainCPU: Double
    }

    /// `senders` C members send `perSender` messages of `size` bytes each while the member under
    /// test reads nothing; once they are done, it drains everything, checking each sender's sequence.
    func stalledConsumer(_ kind: StalledMember, senders: Int, perSender: Int, size: Int) async throws -> StallResult {
        let name = GroupNames.make("stall")
        let total = senders * perSender
        let arguments: [String]
        switch kind {
        case .swift(let bytes): arguments = [self.selfPath, "stalled-member", name, "\(total)", "\(bytes ?? 0)"]
        case .c: arguments = [self.peerPath, "stall-recv", name, "\(total)"]
        }
        let member = try Peer.spawn(arguments)
        _ = try await member.expectLine(startingWith: "ready")
        let corosync = corosyncPIDsInThisNamespace()
        let corosyncBefore = corosync.map { cpg_baseline_rss_kib($0) }.max() ?? -1
        let sampler = RSSSampler(pids: corosync + [member.pid])
        let stallStart = nowNanoseconds()
        let peers = try (0..<senders).map { _ in
            try Peer.spawn([self.peerPath, "send", name, "\(perSender)", "\(size)", "\(senders + 1)"])
        }
        for peer in peers {
            _ = try await peer.expectLine(startingWith: "done")
            _ = await peer.waitForExit()
        }
        let stallEnd = nowNanoseconds()
        member.writeLine("drain")
        let done = keyValues(try await member.expectLine(startingWith: "done"))
        let drainEnd = nowNanoseconds()
        let peaks = sampler.stop()
        member.closeInput()
        _ = await member.waitForExit()
        return StallResult(
            expected: total,
            received: Int(done["messages"] ?? "") ?? -1,
            bytes: Int(done["bytes"] ?? "") ?? -1,
            sequenceErrors: Int(done["sequence_errors"] ?? "") ?? -1,
            memberPeakKiB: Int(done["peak_rss_kib"] ?? "") ?? -1,
            memberBaseKiB: Int(done["rss_before_kib"] ?? "") ?? -1,
            corosyncBeforeKiB: corosyncBefore,
            corosyncPeakKiB: corosync.compactMap { peaks[$0] }.max() ?? -1,
            stallSeconds: Double(stallEnd - stallStart) / 1e9,
            drainSeconds: Double(drainEnd - stallEnd) / 1e9,
            drainCPU: Double(done["cpu"] ?? "") ?? -1
        )
    }

    // MARK: (f) flow-control stall

    struct FlowControlResult {
        /// Messages corosync accepted before it pushed back.
        var acceptedBeforePushback: Int
        /// The measured window while every send waited, and the CPU burnt in it.
        var seconds: Double
        var cpu: Double
        var contextSwitches: Int
        /// Whether no message got through during the window.
        var stayedSuspended: Bool
        var tryAgain: Int?

        var percentOfCore: Double { self.cpu / self.seconds * 100 }
    }

    /// Runs both sides against a private one-node corosync in a network namespace of its own,
    /// stopped with SIGSTOP so that it pushes back for as long as the window lasts (the root
    /// namespace's daemon is never touched).
    /// With `includeC` false only the Swift side runs (at 64 B the C client would spin in libqb's
    /// `send()` until the daemon continues, and never report).
    func flowControlStall(seconds: Double, size: Int, includeC: Bool = true) async throws
        -> (swift: FlowControlResult, c: FlowControlResult?)
    {
        log("(f) starting a private one-node corosync")
        let cluster = try await LocalCluster.start(nodes: 1, logger: CPGGroup.silentLogger)
        log("(f) started \(cluster.nodes[0].namespaceName)")
        do {
            let node = cluster.nodes[0]
            let swift = try await self.swiftFlowControl(cluster: cluster, node: node, seconds: seconds, size: size)
            let c = includeC ? try await self.cFlowControl(cluster: cluster, node: node, seconds: seconds, size: size) : nil
            await cluster.stop()
            return (swift, c)
        } catch {
            await cluster.stop()
            throw error
        }
    }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private func swiftFlowControl(cluster: LocalCluster, node: ClusterNode, seconds: Double, size: Int) async throws
        -> FlowControlResult
    {
        var configuration = CPGConfiguration()
        configuration.networkNamespace = node.namespacePath
        let group = try await CPGGroup.join(GroupNames.make("fc-s"), configuration: configuration)
        let messages = group.messages
        let consumer = Task {
            for try await _ in messages {}
        }
        try await cluster.pauseDaemon(node)
        log("(f) paused corosync; the Swift sender starts")
        let accepted = Counter()
        let payload = benchPayload(size: size)
        let sender = Task {
            while !Task.isCancelled {
                try await group.send(payload)
                accepted.value.add(1, ordering: .relaxed)
            }
        }
        // Suspended: no send has returned for 300 ms.
        var last = -1
        var stableSince = nowNanoseconds()
        let deadline = nowNanoseconds() + 30_000_000_000
        while true {
            try await Task.sleep(for: .milliseconds(50))
            let now = nowNanoseconds()
            let value = accepted.value.load(ordering: .relaxed)
            if value != last {
                last = value
                stableSince = now
            } else if now - stableSince > 300_000_000 {
                break
            }
            guard now < deadline else { throw BenchError("the Swift sender never stalled") }
        }
        log("(f) the Swift sender is suspended after \(last) messages")
        let cpuBefore = CPUTime.now()
        let start = nowNanoseconds()
        try await Task.sleep(for: .seconds(seconds))
        let cpu = CPUTime.now() - cpuBefore
        let wall = Double(nowNanoseconds() - start) / 1e9
        let stayed = accepted.value.load(ordering: .relaxed) == last
        try await cluster.resumeDaemon(node)
        sender.cancel()
        _ = await sender.result
        await group.close()
        _ = await consumer.result
        return FlowControlResult(
            acceptedBeforePushback: last,
            seconds: wall,
            cpu: cpu.total,
            contextSwitches: cpu.contextSwitches,
            stayedSuspended: stayed
        )
    }

    private func cFlowControl(cluster: LocalCluster, node: ClusterNode, seconds: Double, size: Int) async throws
        -> FlowControlResult
    {
        let name = GroupNames.make("fc-c")
        let peer = try Peer.spawn([
            "ip", "netns", "exec", node.namespaceName, self.peerPath, "fc-spin", name, "\(size)", "\(seconds)",
        ])
        _ = try await peer.expectLine(startingWith: "ready")
        try await cluster.pauseDaemon(node)
        peer.writeLine("go")
        let done = keyValues(try await peer.expectLine(startingWith: "done"))
        try await cluster.resumeDaemon(node)
        _ = await peer.waitForExit()
        return FlowControlResult(
            acceptedBeforePushback: Int(done["accepted"] ?? "") ?? -1,
            seconds: Double(done["wall"] ?? "") ?? .nan,
            cpu: Double(done["cpu"] ?? "") ?? .nan,
            contextSwitches: Int(done["context_switches"] ?? "") ?? -1,
            stayedSuspended: true,
            tryAgain: Int(done["try_again"] ?? "")
        )
    }

    /// With CPG_BENCH_CONSUMER_THREAD set, the receive loop prefers a thread of its own.
    static let consumerThread: ThreadTaskExecutor? = getenv("CPG_BENCH_CONSUMER_THREAD") != nil ? ThreadTaskExecutor() : nil

    /// Applies ``readerLingerOverride``, if any.
    private func applyOverrides(_ configuration: inout CPGConfiguration) {
        if let linger = self.readerLingerOverride { configuration.readerLinger = linger }
        if let bytes = self.eventBufferBytesOverride { configuration.eventBufferBytes = bytes }
        if let bytes = self.notificationBufferBytesOverride { configuration.notificationBufferBytes = bytes > 0 ? bytes : nil }
    }
}
