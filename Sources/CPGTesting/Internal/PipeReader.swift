import Foundation
import Glibc

/// Reads a child's captured standard output and standard error on one thread.
enum PipeReader {
    /// Which of the child's streams a chunk came from.
    enum Stream: Sendable {
        case standardOutput
        case standardError
    }

    /// Starts a thread that reads both descriptors until end of file, then closes them.
    ///
    /// - Parameters:
    ///   - onChunk: Called on the reading thread, in order, for every chunk read.
    ///   - onEnd: Called on the reading thread once both streams reached end of file.
    static func start(
        standardOutput: Int32?,
        standardError: Int32?,
        name: String,
        onChunk: @escaping @Sendable (Stream, [UInt8]) -> Void,
        onEnd: @escaping @Sendable () -> Void
    ) {
        let thread = Thread {
            var open: [(Int32, Stream)] = []
            if let standardOutput { open.append((standardOutput, .standardOutput)) }
            if let standardError { open.append((standardError, .standardError)) }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !open.isEmpty {
                var polled = open.map { pollfd(fd: $0.0, events: Int16(POLLIN), revents: 0) }
                let ready = poll(&polled, nfds_t(polled.count), -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    break
                }
                var finished: [Int32] = []
                for (index, entry) in polled.enumerated() where entry.revents != 0 {
                    let count = read(entry.fd, &buffer, buffer.count)
                    if count > 0 {
                        onChunk(open[index].1, Array(buffer[0..<count]))
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        finished.append(entry.fd)
                    }
                }
                for descriptor in finished {
                    close(descriptor)
                    open.removeAll { $0.0 == descriptor }
                }
            }
            for (descriptor, _) in open {
                close(descriptor)
            }
            onEnd()
        }
        thread.name = name
        thread.start()
    }
}
