import CPGBaseline

#if canImport(Glibc)
import Glibc
#endif

/// Binds every thread of another process to one CPU and gives each its own mask back on
/// ``restore()`` (the pinned rows of (a) bind the root namespace's corosync to CPU 0).
///
/// Threads the process starts later inherit the mask of the thread that starts them; corosync
/// starts none during a run.
struct CPUPinning {
    private var saved: [(thread: Int32, mask: [UInt8])] = []

    init(process: Int32, cpu: Int) throws {
        guard let directory = opendir("/proc/\(process)/task") else {
            throw BenchError("cannot list the threads of process \(process)")
        }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let thread = Int32(name) else { continue }
            var mask = [UInt8](repeating: 0, count: Int(CPG_BASELINE_CPU_MASK_BYTES))
            let status = mask.withUnsafeMutableBytes {
                cpg_baseline_pin_thread(thread, Int32(cpu), $0.baseAddress, Int32($0.count))
            }
            guard status == 0 else {
                self.restore()
                throw BenchError("cannot bind thread \(thread) of process \(process) to CPU \(cpu) (errno \(-status))")
            }
            self.saved.append((thread, mask))
        }
    }

    /// Gives every thread its mask from before.
    func restore() {
        for (thread, mask) in self.saved {
            _ = mask.withUnsafeBytes { cpg_baseline_restore_thread(thread, $0.baseAddress, Int32($0.count)) }
        }
    }
}
