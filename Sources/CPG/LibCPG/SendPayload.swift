import CLibCPG

/// A message to send: one buffer, or several gathered by libcpg.
enum SendPayload: Sendable {
    case single([UInt8])
    case multiple([[UInt8]])

    var byteCount: Int {
        switch self {
        case .single(let bytes): bytes.count
        case .multiple(let buffers): buffers.reduce(0) { $0 + $1.count }
        }
    }

    /// Runs `body` with `iovec`s that point into the buffers; they are valid only inside `body`.
    func withIOVecs<R>(_ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
        switch self {
        case .single(let bytes):
            return bytes.withUnsafeBytes { raw in
                var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count)
                return withUnsafePointer(to: &vector) { body(UnsafeBufferPointer(start: $0, count: 1)) }
            }
        case .multiple(let buffers):
            var vectors: [iovec] = []
            vectors.reserveCapacity(buffers.count)
            // Nested closures keep every buffer pinned while libcpg reads it.
            func gather(_ index: Int) -> R {
                guard index < buffers.count else { return vectors.withUnsafeBufferPointer(body) }
                return buffers[index].withUnsafeBytes { raw in
                    vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
                    return gather(index + 1)
                }
            }
            return gather(0)
        }
    }
}
