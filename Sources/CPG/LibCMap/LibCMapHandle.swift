import CLibCMap
import CLibCPG

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of a libcmap handle: every libcmap call of the package goes through here, and
/// each C status becomes a ``CPGStatus`` or a thrown ``CPGError``.
///
/// Used by one thread at a time, for one short question: connect, read, finalize. The handle is
/// finalized exactly once, by ``finalize()`` or at the latest by `deinit`. libcmap keeps its
/// handles in a libqb handle database of its own, which creates and frees entries without a lock
/// (see ``HandleDatabaseLock``): every handle is created and finalized on ``CPGCluster``'s serial
/// queue (or on a thread that queue waits for), so no two ever are at once.
final class LibCMapHandle {
    private let handle: cmap_handle_t
    private var isFinalized = false

    private init(handle: cmap_handle_t) {
        self.handle = handle
    }

    deinit {
        self.finalize()
    }

    /// Connects to corosync's configuration map (`cmap_initialize`, the default `icmap`).
    ///
    /// - Parameter networkNamespace: a path such as `/run/netns/NAME`: the connection is made from
    ///   a thread that entered that network namespace, and so reaches that namespace's corosync.
    static func connect(networkNamespace: String? = nil) throws(CPGError) -> LibCMapHandle {
        guard let networkNamespace else { return try self.connectHere() }
        return try inNetworkNamespace(networkNamespace) { () throws(CPGError) in try self.connectHere() }
    }

    private static func connectHere() throws(CPGError) -> LibCMapHandle {
        var handle: cmap_handle_t = 0
        let status = CPGStatus(rawValue: cmap_initialize(&handle).rawValue)
        switch status {
        case .ok:
            return LibCMapHandle(handle: handle)
        case .library:
            throw CPGError(
                .unreachable,
                "corosync is not reachable: no daemon answers the CMAP IPC socket (is corosync running?)",
                status: status
            )
        default:
            throw CPGError.call("cmap_initialize", status)
        }
    }

    /// Finalizes the handle (`cmap_finalize`) once; later calls do nothing.
    func finalize() {
        guard !self.isFinalized else { return }
        self.isFinalized = true
        _ = cmap_finalize(self.handle)
    }

    /// Refuses a connection whose peer does not run as one of `trustedUIDs`, by `SO_PEERCRED` on
    /// the IPC socket (`cmap_fd_get`), as ``LibCPGHandle/verifyDaemon(trustedUIDs:)`` does for CPG.
    func verifyDaemon(trustedUIDs: Set<UInt32>) throws(CPGError) {
        var fd: Int32 = -1
        try check("cmap_fd_get", cmap_fd_get(self.handle, &fd).rawValue)
        var credentials = swift_cpg_peer_credentials()
        guard swift_cpg_peer_credentials(fd, &credentials) == 0 else {
            throw CPGError(.untrustedDaemon, "cannot read the credentials of corosync's CMAP IPC connection: errno \(errno)")
        }
        guard trustedUIDs.contains(credentials.uid) else {
            throw CPGError(
                .untrustedDaemon,
                "the process answering on corosync's CMAP socket (pid \(credentials.pid)) runs as uid \(credentials.uid), which is not trusted (trusted: \(trustedUIDs.sorted()))"
            )
        }
    }

    /// The names of every key that starts with `prefix`, in cmap's order (`cmap_iter_*`).
    func keys(prefix: String) throws(CPGError) -> [String] {
        var iteration: cmap_iter_handle_t = 0
        try check("cmap_iter_init", cmap_iter_init(self.handle, prefix, &iteration).rawValue)
        defer { _ = cmap_iter_finalize(self.handle, iteration) }
        var keys: [String] = []
        var buffer = [CChar](repeating: 0, count: Int(swift_cmap_key_buffer_size))
        while true {
            var length = 0
            var type = CMAP_VALUETYPE_STRING
            let status = CPGStatus(rawValue: cmap_iter_next(self.handle, iteration, &buffer, &length, &type).rawValue)
            if status == .noSections { break }
            try check("cmap_iter_next", status.rawValue)
            keys.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return keys
    }

    /// A string value (`cmap_get_string`), or `nil` if there is no such key.
    func string(_ key: String) throws(CPGError) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        let status = CPGStatus(rawValue: cmap_get_string(self.handle, key, &value).rawValue)
        defer { free(value) }
        if status == .notExist { return nil }
        try check("cmap_get_string(\(key))", status.rawValue)
        guard let value else { return nil }
        return String(cString: value)
    }

    /// An unsigned 32-bit value (`cmap_get_uint32`), or `nil` if there is no such key.
    func uint32(_ key: String) throws(CPGError) -> UInt32? {
        var value: UInt32 = 0
        let status = CPGStatus(rawValue: cmap_get_uint32(self.handle, key, &value).rawValue)
        if status == .notExist { return nil }
        try check("cmap_get_uint32(\(key))", status.rawValue)
        return value
    }
}

extension LibCMapHandle {
    /// The key prefix of corosync's nodelist in cmap.
    static let nodelistPrefix = "nodelist.node."

    /// The nodelist's keys that describe nodes (`nodelist.node.N.nodeid`, `.name`, `.ringK_addr`)
    /// with their values as text, for ``CPGNode/nodelist(_:)``. Other keys are left out.
    func nodelistValues() throws(CPGError) -> [String: String] {
        var values: [String: String] = [:]
        for key in try self.keys(prefix: Self.nodelistPrefix) {
            guard let field = CPGNode.NodelistField(key: key) else { continue }
            switch field.kind {
            case .nodeID:
                if let value = try self.uint32(key) { values[key] = String(value) }
            case .name, .address:
                if let value = try self.string(key) { values[key] = value }
            }
        }
        return values
    }
}

/// Throws the error for `function` unless the raw `cs_error_t` is `CS_OK`.
private func check(_ function: String, _ rawStatus: UInt32) throws(CPGError) {
    let status = CPGStatus(rawValue: rawStatus)
    guard status == .ok else { throw CPGError.call(function, status) }
}
