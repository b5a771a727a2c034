#if canImport(Glibc)
import Glibc
#endif

/// Writes lines straight to the file descriptors, unbuffered: every line is out as soon as it
/// is written, whether standard output is a terminal, a file or a pipe.
enum Output {
    /// Writes one line to standard output.
    ///
    /// - Throws: ``OutputError`` when the line cannot be written, for example because the reader
    ///   of a pipe went away.
    static func line(_ text: String) throws(OutputError) {
        if let error = self.write(text + "\n", to: STDOUT_FILENO) {
            throw OutputError(errorNumber: error)
        }
    }

    /// Writes one line of bytes, exactly as they are, to standard output: for group names that
    /// are not UTF-8, or that are printed unescaped.
    ///
    /// - Throws: ``OutputError`` when the line cannot be written.
    static func line(bytes: [UInt8]) throws(OutputError) {
        if let error = self.write(bytes + [UInt8(ascii: "\n")], to: STDOUT_FILENO) {
            throw OutputError(errorNumber: error)
        }
    }

    /// Writes one line to standard error, as well as it can.
    static func standardError(_ text: String) {
        _ = self.write(text + "\n", to: STDERR_FILENO)
    }

    /// Writes all of `text`; returns the `errno` of a failed write.
    private static func write(_ text: String, to descriptor: Int32) -> Int32? {
        var text = text
        return text.withUTF8 { self.write($0, to: descriptor) }
    }

    /// Writes all of `bytes`; returns the `errno` of a failed write.
    private static func write(_ bytes: [UInt8], to descriptor: Int32) -> Int32? {
        bytes.withUnsafeBufferPointer { self.write($0, to: descriptor) }
    }

    /// Writes all of `buffer`; returns the `errno` of a failed write.
    private static func write(_ buffer: UnsafeBufferPointer<UInt8>, to descriptor: Int32) -> Int32? {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }
}

/// Standard output could not be written.
struct OutputError: Error, CustomStringConvertible {
    /// The `errno` of the failed write.
    var errorNumber: Int32

    var description: String {
        "cannot write to standard output: \(String(cString: strerror(self.errorNumber)))"
    }
}
