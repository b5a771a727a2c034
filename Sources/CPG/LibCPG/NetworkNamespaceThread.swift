import CLibCPG
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on a new POSIX thread that first entered the network namespace at `path` (such as
/// `/run/netns/NAME`), and waits for its result.
///
/// A thread of its own: `setns` changes the calling thread for good, and no pool thread may be
/// left inside another namespace. An IPC connection made there keeps the namespace it was made in.
/// The caller blocks until the thread is done, so it must not be a thread of Swift's cooperative
/// pool (``CPGCluster`` and ``CPGGroup`` call it from Dispatch queues of their own).
func inNetworkNamespace<T>(_ path: String, _ body: @escaping () throws(CPGError) -> T) throws(CPGError) -> T {
    // Written by the thread before it signals `done`, read after `wait()`: the semaphore orders them.
    nonisolated(unsafe) var result: Result<T, CPGError>?
    let done = DispatchSemaphore(value: 0)
    let started = startThread {
        defer { done.signal() }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            result = .failure(CPGError(.unreachable, "cannot open network namespace \(path): errno \(errno)"))
            return
        }
        defer { close(fd) }
        guard swift_cpg_enter_network_namespace(fd) == 0 else {
            result = .failure(CPGError(.unreachable, "cannot enter network namespace \(path): errno \(errno)"))
            return
        }
        result = Result { () throws(CPGError) in try body() }
    }
    guard started else {
        throw CPGError(.unreachable, "cannot start a thread to enter network namespace \(path)")
    }
    done.wait()
    return try result!.get()
}

/// Starts `body` on a new detached POSIX thread; false if no thread could be started.
private func startThread(_ body: @escaping () -> Void) -> Bool {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { argument in
        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    guard created == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        return false
    }
    pthread_detach(thread)
    return true
}
