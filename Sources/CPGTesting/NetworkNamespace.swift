import Foundation
import Glibc

/// A named Linux network namespace, as made by `ip netns add`.
///
/// The namespace is pinned by a bind mount at ``path`` (`/run/netns/NAME`).
/// Each node of a ``LocalCluster`` lives in one; corosync's IPC sockets are
/// abstract unix sockets, which belong to a network namespace, so a client
/// reaches a node's daemon only from inside that node's namespace.
///
/// To talk to a node from this process, enter its namespace on a thread of
/// its own, e.g. with ``perform(_:)``, and connect from there; descriptors
/// opened there keep working from any thread afterwards.
public struct NetworkNamespace: Sendable, Hashable, CustomStringConvertible {
    /// The namespace's name, as `ip netns list` shows it.
    public let name: String

    /// Creates a value naming an existing (or future) namespace. Creating the value creates nothing.
    public init(name: String) {
        self.name = name
    }

    /// The directory where `ip netns` pins namespaces.
    public static let directory = "/run/netns"

    /// The file that pins the namespace: `/run/netns/NAME`. Open it and pass
    /// the descriptor to `setns(fd, CLONE_NEWNET)` to enter the namespace.
    public var path: String {
        "\(Self.directory)/\(name)"
    }

    /// The name.
    public var description: String {
        name
    }

    /// Runs `body` on a new thread that has entered this namespace, and returns its result.
    ///
    /// The thread ends when `body` returns, so no other code ever runs in the
    /// namespace by accident. Sockets and IPC connections opened by `body`
    /// stay usable from every thread afterwards.
    ///
    /// ```swift
    /// let inode = try await node.namespace.perform {
    ///     try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
    /// }
    /// ```
    ///
    /// - Throws: ``NetworkNamespaceError`` if the namespace cannot be opened or entered;
    ///   whatever `body` throws.
    public func perform<Result: Sendable>(
        _ body: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        let path = self.path
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Swift.Result {
                    try Self.enter(path)
                    return try body()
                })
            }
            thread.name = "CPGTesting.netns.\(name)"
            thread.start()
        }
    }

    /// Moves the calling thread into the network namespace pinned at `path`.
    private static func enter(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw NetworkNamespaceError.cannotOpen(path: path, errno: errno)
        }
        defer { close(descriptor) }
        guard let setns = Self.setns else {
            throw NetworkNamespaceError.cannotEnter(path: path, errno: ENOSYS)
        }
        guard setns(descriptor, Self.newNetworkNamespaceFlag) == 0 else {
            throw NetworkNamespaceError.cannotEnter(path: path, errno: errno)
        }
    }

    /// `CLONE_NEWNET` (not exported by Swift's Glibc module, which hides GNU extensions).
    private static let newNetworkNamespaceFlag: Int32 = 0x4000_0000

    private typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32

    /// glibc's `setns`, looked up at run time because the Glibc module does not export it.
    private static let setns: SetNamespace? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setns") else {
            return nil
        }
        return unsafeBitCast(symbol, to: SetNamespace.self)
    }()
}
