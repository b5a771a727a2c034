/// How a child process ended.
public enum ProcessTermination: Sendable, Hashable, CustomStringConvertible {
    /// The process called `exit` with this status.
    case exited(Int32)
    /// The process was ended by this signal.
    case signaled(Int32)

    /// `true` if the process exited with status 0.
    public var isSuccess: Bool {
        self == .exited(0)
    }

    /// A short text such as `exit 0` or `signal 9`.
    public var description: String {
        switch self {
        case .exited(let status): "exit \(status)"
        case .signaled(let signal): "signal \(signal)"
        }
    }

    /// Decodes a raw status from `waitpid`.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        if signal == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(signal)
        }
    }
}
