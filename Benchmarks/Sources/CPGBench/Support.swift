import CAllocationCounter
import CPGBaseline
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds: the clock the C baseline reads too.
func nowNanoseconds() -> UInt64 {
    cpg_baseline_now_ns()
}

/// CPU seconds of the whole process (`getrusage(RUSAGE_SELF)`), every thread included.
/// Also counts the process's context switches (voluntary and involuntary).
struct CPUTime {
    var user: Double
    var system: Double
    var contextSwitches: Int

    var total: Double { self.user + self.system }

    static func now() -> CPUTime {
        var user = 0.0
        var system = 0.0
        cpg_baseline_cpu_seconds(&user, &system)
        return CPUTime(user: user, system: system, contextSwitches: Int(cpg_baseline_context_switches()))
    }

    static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        CPUTime(
            user: lhs.user - rhs.user,
            system: lhs.system - rhs.system,
            contextSwitches: lhs.contextSwitches - rhs.contextSwitches
        )
    }
}

/// The CPU time and heap allocations of the thread that runs a span, for the cost of a send on
/// its caller's thread: a sending task whose sends never suspend keeps one thread throughout.
/// Allocations count only while the harness counts them (`allocation_counter_start`).
struct ThreadCost: Sendable {
    var cpuSeconds: Double
    var allocations: Int

    struct Start: Sendable {
        fileprivate let thread: Int32
        fileprivate let cpu: Double
        fileprivate let allocations: UInt64
    }

    static func start() -> Start {
        Start(thread: cpg_baseline_thread_id(), cpu: cpg_baseline_thread_cpu_seconds(), allocations: allocation_counter_this_thread())
    }

    /// The cost since `start`, or `nil` if the span ended on another thread (a send suspended).
    /// Kernel thread ids, not `pthread_t`s: a pool thread that exited can leave its `pthread_t`
    /// to a new one.
    static func since(_ start: Start) -> ThreadCost? {
        let allocations = allocation_counter_this_thread()
        guard start.thread == cpg_baseline_thread_id(), allocations >= start.allocations else { return nil }
        return ThreadCost(
            cpuSeconds: cpg_baseline_thread_cpu_seconds() - start.cpu,
            allocations: Int(allocations - start.allocations)
        )
    }
}

/// One measured run, Swift or C.
struct RunResult: Sendable {
    /// Seconds, as each scenario defines them (see `Scenarios.swift`).
    var wall: Double
    /// CPU seconds of this process (user + system) over the run.
    var cpu: Double
    /// Messages counted.
    var messages: Int
    /// Message bytes counted.
    var bytes: Int
    /// Messages that broke their sender's sequence or the payload layout.
    var sequenceErrors: Int = 0
    /// How often corosync answered `CS_ERR_TRY_AGAIN` (C only: the Swift library keeps it inside).
    var tryAgain: Int? = nil
    /// Heap allocations of this process during the run, when counted.
    var allocations: Int? = nil
    /// Context switches of this process during the run.
    var contextSwitches: Int = 0
    /// Multi-node runs: the fewest messages any receiver on another node got, and their payload
    /// errors summed.
    var peerMessages: Int? = nil
    var peerErrors: Int = 0
    /// What the local corosync spent over the run, while one is watched (one-node throughput).
    var daemon: DaemonCost? = nil
    /// Swift: the sends that waited for corosync's flow control (`cpg.flow_control.waits`).
    var sendsPushedBack: Int? = nil
    /// Swift: how long the sends that waited for flow control waited, in all and at most (ns).
    var pushBackWait: (total: Int64, longest: Int64)? = nil
    /// One sender: what the sending thread itself spent on its sends (`nil` if not measured, or
    /// if the Swift sending task changed threads because a send suspended).
    var sender: ThreadCost? = nil

    var messagesPerSecond: Double { Double(self.messages) / self.wall }
    var cpuMicrosecondsPerMessage: Double { self.cpu / Double(self.messages) * 1e6 }
    var contextSwitchesPerMessage: Double { Double(self.contextSwitches) / Double(self.messages) }

    init(wall: Double, cpu: CPUTime, messages: Int, bytes: Int, sequenceErrors: Int = 0) {
        self.init(wall: wall, cpu: cpu.total, messages: messages, bytes: bytes, sequenceErrors: sequenceErrors)
        self.contextSwitches = cpu.contextSwitches
    }

    init(wall: Double, cpu: Double, messages: Int, bytes: Int, sequenceErrors: Int = 0, tryAgain: Int? = nil) {
        self.wall = wall
        self.cpu = cpu
        self.messages = messages
        self.bytes = bytes
        self.sequenceErrors = sequenceErrors
        self.tryAgain = tryAgain
    }

    init(_ stats: cpg_baseline_stats) {
        self.init(
            wall: stats.wall_seconds,
            cpu: stats.user_seconds + stats.system_seconds,
            messages: Int(stats.messages),
            bytes: Int(stats.bytes),
            sequenceErrors: Int(stats.sequence_errors),
            tryAgain: Int(stats.try_again)
        )
        self.contextSwitches = Int(stats.context_switches)
        self.daemon = DaemonCost(stats)
    }

    /// The run with the median wall time.
    static func median(_ runs: [RunResult]) -> RunResult {
        let sorted = runs.sorted { $0.wall < $1.wall }
        return sorted[sorted.count / 2]
    }
}

/// A failed step of a scenario.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Throws unless a C baseline call returned `CS_OK`.
func checkStatus(_ status: Int32, _ what: String) throws {
    guard status == CPG_BASELINE_OK else { throw BenchError("\(what) failed: cs_error_t \(status)") }
}

/// Unique group names: `cpgb.<pid>.<tag>.<n>`.
enum GroupNames {
    private static let counter = Atomic<Int>(0)

    static func make(_ tag: String) -> String {
        let n = self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "cpgb.\(getpid()).\(tag).\(n)"
    }
}

/// A C baseline member handle, handed to the blocking helpers that run off the cooperative pool.
// @unchecked Sendable: the C member is used by one thread at a time (the harness awaits each call).
struct BaselineMember: @unchecked Sendable {
    let pointer: OpaquePointer

    static func join(_ group: String, dispatchThread: Bool) throws -> BaselineMember {
        var status: Int32 = 0
        guard let pointer = cpg_baseline_join(group, dispatchThread ? 1 : 0, &status) else {
            throw BenchError("cpg_baseline_join(\(group)) failed: cs_error_t \(status)")
        }
        return BaselineMember(pointer: pointer)
    }
}

/// A C receive-only member with the library's thread structure (handoff.c).
// @unchecked Sendable: as BaselineMember, used by one thread at a time (the harness awaits each
// call); its own reader and consumer threads are handoff.c's, behind its mutex.
struct BaselineHandoffReceiver: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Joins `group` and starts the threads (the reader thread unless `readerThread` is false:
    /// then a DispatchSource of the caller's reads); they take `count` messages from others.
    static func join(_ group: String, count: Int, readerThread: Bool = true) throws -> BaselineHandoffReceiver {
        var status: Int32 = 0
        guard let pointer = cpg_baseline_handoff_receiver_join(group, UInt64(count), readerThread ? 1 : 0, &status) else {
            throw BenchError("cpg_baseline_handoff_receiver_join(\(group)) failed: cs_error_t \(status)")
        }
        return BaselineHandoffReceiver(pointer: pointer)
    }
}

/// A flag that closures on other threads read (`Atomic` itself cannot be captured).
final class AtomicFlag: Sendable {
    let value = Atomic<Bool>(false)
}

/// Runs blocking work (C baseline calls, blocking reads) on a Dispatch thread, never on the
/// cooperative pool, which has only as many threads as cores.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
}

/// Checks benchmark payloads (layout of `CPGBaseline.h`) and each sender's sequence.
struct SequenceChecker {
    /// Each sender's next sequence number, found by a linear search as the C receiver does (a
    /// dictionary would put two hash lookups per message on the Swift side only).
    private var next: [(sender: UInt64, sequence: UInt64)] = []
    private(set) var errors = 0

    mutating func check(_ payload: [UInt8], senderKey: UInt64) {
        var seq: UInt64 = 0
        var kind: UInt8 = 0
        let intact = payload.withUnsafeBufferPointer { cpg_baseline_check($0.baseAddress, $0.count, &seq, &kind) }
        guard intact == 1 else {
            self.errors += 1
            return
        }
        guard let slot = self.next.firstIndex(where: { $0.sender == senderKey }) else {
            if seq != 0 { self.errors += 1 }
            self.next.append((senderKey, seq + 1))
            return
        }
        if seq != self.next[slot].sequence { self.errors += 1 }
        self.next[slot].sequence = seq + 1
    }
}

/// A payload of the benchmarks' layout.
func benchPayload(size: Int, seq: UInt64 = 0, kind: Int = CPG_BASELINE_KIND_DATA) -> [UInt8] {
    var payload = [UInt8](repeating: 0, count: size)
    payload.withUnsafeMutableBufferPointer { cpg_baseline_fill($0.baseAddress, size, seq, UInt8(kind)) }
    return payload
}

/// Reads the sequence number of a benchmark payload.
func payloadSequence(_ payload: [UInt8]) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<8 { value |= UInt64(payload[index]) << (8 * UInt64(index)) }
    return value
}

/// The `percentile` (0...1) of sorted values, nearest rank.
func percentile(_ sorted: [UInt64], _ fraction: Double) -> UInt64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// Formats a number with a fixed count of decimals.
func fmt(_ value: Double, _ decimals: Int = 2) -> String {
    guard value.isFinite else { return "n/a" }
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.\(decimals)f", $0) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Formats a count with thousands separators.
func fmtCount(_ value: Int) -> String {
    let digits = String(value)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return out
}

/// The process ids of the corosync daemons in this process's network namespace.
func corosyncPIDsInThisNamespace() -> [Int32] {
    let mine = readLink("/proc/self/ns/net")
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var pids: [Int32] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let pid = Int32(name) else { continue }
        guard readFile("/proc/\(pid)/comm")?.trimmingSuffixNewline() == "corosync" else { continue }
        if readLink("/proc/\(pid)/ns/net") == mine { pids.append(pid) }
    }
    return pids
}

func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fd, &chunk, chunk.count)
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    func trimmingSuffixNewline() -> String {
        var copy = self
        while copy.last == "\n" { copy.removeLast() }
        return copy
    }
}

/// Parses `key=value` words of a peer's "done" line.
func keyValues(_ line: String) -> [String: String] {
    var result: [String: String] = [:]
    for word in line.split(separator: " ") {
        let parts = word.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
    }
    return result
}

/// Samples the resident set of some processes every few milliseconds and keeps the peaks.
final class RSSSampler: Sendable {
    private let pids: [Int32]
    private let peaks: Mutex<[Int32: Int]>
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(pids: [Int32], intervalMilliseconds: Int = 20) {
        self.pids = pids
        self.peaks = Mutex([:])
        let thread = DispatchQueue(label: "cpg-bench.rss-sampler")
        thread.async { [self] in
            while !self.stopped.load(ordering: .relaxed) {
                for pid in self.pids {
                    let rss = cpg_baseline_rss_kib(pid)
                    if rss > 0 { self.peaks.withLock { $0[pid] = max($0[pid, default: 0], rss) } }
                }
                usleep(UInt32(intervalMilliseconds * 1000))
            }
            self.finished.signal()
        }
    }

    /// Stops sampling; returns the peak RSS in KiB per pid.
    func stop() -> [Int32: Int] {
        self.stopped.store(true, ordering: .relaxed)
        self.finished.wait()
        return self.peaks.withLock { $0 }
    }
}

/// A task executor that runs its jobs on one thread of its own, woken through a condition
/// variable as handoff.c's consumer thread is: `CPG_BENCH_CONSUMER_THREAD=1 cpg-bench profile
/// receive` consumes on it instead of the cooperative pool.
// @unchecked Sendable: `jobs` and `waiting` are only touched under `mutex`; the mutex and the
// condition are allocated once and never freed (the thread runs as long as the process).
final class ThreadTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []
    private var waiting = false

    init() {
        pthread_mutex_init(self.mutex, nil)
        pthread_cond_init(self.condition, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { argument in
            Unmanaged<ThreadTaskExecutor>.fromOpaque(argument!).takeRetainedValue().run()
        }, context)
        pthread_detach(thread)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(self.mutex)
        self.jobs.append(job)
        if self.waiting { pthread_cond_signal(self.condition) }
        pthread_mutex_unlock(self.mutex)
    }

    private func run() -> Never {
        var batch: [UnownedJob] = []
        while true {
            pthread_mutex_lock(self.mutex)
            while self.jobs.isEmpty {
                self.waiting = true
                pthread_cond_wait(self.condition, self.mutex)
                self.waiting = false
            }
            swap(&batch, &self.jobs)
            pthread_mutex_unlock(self.mutex)
            for job in batch { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
