/// An error of the CPG client: a code that says what kind of failure it is, the corosync status
/// when corosync answered one, and a message that names the problem.
///
/// After any error the client stays usable for valid calls, unless the code says the connection
/// is gone (``Code/connectionLost``, ``Code/closed``).
public struct CPGError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct, so that new codes do not break exhaustive switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable {
            case corosync, unreachable, accessDenied, invalidGroupName, messageTooLarge, tooManyBuffers
            case alreadyJoined, notJoined, closed, connectionLost, partialSend, confirmationCancelled, untrustedDaemon
            case cancelled, concurrentIteration, confirmationBlocked
        }

        fileprivate let base: Base

        /// Corosync answered a call with a failure status; ``CPGError/status`` says which.
        public static let corosync = Code(base: .corosync)
        /// No corosync daemon answers on this machine (or in this network namespace).
        public static let unreachable = Code(base: .unreachable)
        /// Corosync refused this user (`CS_ERR_ACCESS`); see its `uidgid.d` directory.
        public static let accessDenied = Code(base: .accessDenied)
        /// A group name is empty or longer than 128 bytes.
        public static let invalidGroupName = Code(base: .invalidGroupName)
        /// A message is larger than the client's maximum message size; nothing was sent.
        public static let messageTooLarge = Code(base: .messageTooLarge)
        /// A scatter-gather send has more buffers than libcpg can take (63); nothing was sent.
        public static let tooManyBuffers = Code(base: .tooManyBuffers)
        /// This process is already a member of the group (corosync answers `CS_ERR_EXIST`): a
        /// process joins a group once, whichever handle it uses.
        public static let alreadyJoined = Code(base: .alreadyJoined)
        /// The group was left: sending and membership queries need a joined group.
        public static let notJoined = Code(base: .notJoined)
        /// The client was closed.
        public static let closed = Code(base: .closed)
        /// The connection to corosync was lost (the daemon stopped or restarted).
        public static let connectionLost = Code(base: .connectionLost)
        /// A message above the atomic size failed after libcpg may have sent some of its
        /// fragments. Receivers never deliver an incomplete message; the sender may resend it.
        public static let partialSend = Code(base: .partialSend)
        /// A confirmed send was cancelled after corosync had accepted the message: the message is
        /// still delivered, only the wait for it ended.
        public static let confirmationCancelled = Code(base: .confirmationCancelled)
        /// The process answering on corosync's socket does not run as a trusted user
        /// (``CPGConfiguration/trustedDaemonUIDs``): the connection was refused.
        public static let untrustedDaemon = Code(base: .untrustedDaemon)
        /// The task was cancelled before the call completed, and the call undid what it had
        /// done: a cancelled join leaves no membership behind.
        public static let cancelled = Code(base: .cancelled)
        /// Two tasks waited at once for the next event of one sequence value, whose iterators
        /// share one subscription: the second wait throws this, the first goes on. Give each task
        /// a sequence of its own (each read of ``CPGGroup/events`` and the others makes one).
        public static let concurrentIteration = Code(base: .concurrentIteration)
        /// A confirmed send's delivery was still queued behind events no consumer had read when
        /// the event buffer reached twice its limits (the waiting task may be the consumer
        /// itself): the wait ended; the message is still delivered. See
        /// ``CPGGroup/sendConfirmed(_:)``.
        public static let confirmationBlocked = Code(base: .confirmationBlocked)

        /// The code's name, such as `connectionLost`.
        public var description: String {
            switch self.base {
            case .corosync: "corosync"
            case .unreachable: "unreachable"
            case .accessDenied: "accessDenied"
            case .invalidGroupName: "invalidGroupName"
            case .messageTooLarge: "messageTooLarge"
            case .tooManyBuffers: "tooManyBuffers"
            case .alreadyJoined: "alreadyJoined"
            case .notJoined: "notJoined"
            case .closed: "closed"
            case .connectionLost: "connectionLost"
            case .partialSend: "partialSend"
            case .confirmationCancelled: "confirmationCancelled"
            case .untrustedDaemon: "untrustedDaemon"
            case .cancelled: "cancelled"
            case .concurrentIteration: "concurrentIteration"
            case .confirmationBlocked: "confirmationBlocked"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// The corosync status behind the error, when corosync answered one.
    public let status: CPGStatus?
    /// A one-line explanation that names the problem.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String, status: CPGStatus? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    /// The message, followed by the corosync status when there is one.
    public var description: String {
        if let status = self.status {
            return "\(self.message): \(status)"
        }
        return self.message
    }
}

extension CPGError {
    /// The error for a failed `cpg_dispatch`, which ends the connection whatever the status:
    /// the event it failed on is gone, and reading on would leave a silent gap in the stream.
    static func dispatchFailed(_ status: CPGStatus) -> CPGError {
        let why =
            switch status {
            case .library: "the connection to corosync was lost, or libcpg got a message it does not know"
            case .noMemory: "libcpg could not allocate memory for an incoming message and dropped it"
            default: "libcpg failed to read an event"
            }
        return CPGError(
            .connectionLost,
            "cpg_dispatch failed: \(why); the connection is closed so that the event stream has no silent gap",
            status: status
        )
    }

    /// The error for a failed libcpg call: the status decides the code.
    static func call(_ function: String, _ status: CPGStatus) -> CPGError {
        switch status {
        case .library:
            CPGError(.connectionLost, "\(function) failed: the connection to corosync is lost", status: status)
        case .access:
            CPGError(
                .accessDenied,
                "\(function) failed: corosync denied access to this user; allow it with a file in /etc/corosync/uidgid.d",
                status: status
            )
        default:
            CPGError(.corosync, "\(function) failed", status: status)
        }
    }
}
