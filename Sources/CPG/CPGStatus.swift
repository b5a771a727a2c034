/// A status code of the corosync API (`cs_error_t` in `corotypes.h`).
///
/// A struct rather than an enum so that codes corosync adds later do not break anyone's
/// exhaustive `switch`. Each known code has a static member; ``description`` names the C constant.
public struct CPGStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The raw `cs_error_t` value.
    public let rawValue: UInt32

    /// Creates a status from a raw `cs_error_t` value.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `CS_OK`: success.
    public static let ok = CPGStatus(rawValue: 1)
    /// `CS_ERR_LIBRARY`: the connection to corosync failed or was lost.
    public static let library = CPGStatus(rawValue: 2)
    /// `CS_ERR_VERSION`: incompatible versions.
    public static let version = CPGStatus(rawValue: 3)
    /// `CS_ERR_INIT`: initialisation failed.
    public static let initialization = CPGStatus(rawValue: 4)
    /// `CS_ERR_TIMEOUT`: the operation timed out.
    public static let timeout = CPGStatus(rawValue: 5)
    /// `CS_ERR_TRY_AGAIN`: corosync is busy (flow control, or a previous leave not yet processed).
    public static let tryAgain = CPGStatus(rawValue: 6)
    /// `CS_ERR_INVALID_PARAM`: an argument was invalid.
    public static let invalidParameter = CPGStatus(rawValue: 7)
    /// `CS_ERR_NO_MEMORY`: out of memory.
    public static let noMemory = CPGStatus(rawValue: 8)
    /// `CS_ERR_BAD_HANDLE`: the handle is not (or no longer) valid.
    public static let badHandle = CPGStatus(rawValue: 9)
    /// `CS_ERR_BUSY`: a conflicting operation (such as a leave) is in progress.
    public static let busy = CPGStatus(rawValue: 10)
    /// `CS_ERR_ACCESS`: permission denied (see corosync's `uidgid.d`).
    public static let access = CPGStatus(rawValue: 11)
    /// `CS_ERR_NOT_EXIST`: the object does not exist (for example leave without join).
    public static let notExist = CPGStatus(rawValue: 12)
    /// `CS_ERR_NAME_TOO_LONG`: a name is over its limit.
    public static let nameTooLong = CPGStatus(rawValue: 13)
    /// `CS_ERR_EXIST`: the object exists already (for example a second join by the same process).
    public static let exist = CPGStatus(rawValue: 14)
    /// `CS_ERR_NO_SPACE`: no space left.
    public static let noSpace = CPGStatus(rawValue: 15)
    /// `CS_ERR_INTERRUPT`: the call was interrupted.
    public static let interrupt = CPGStatus(rawValue: 16)
    /// `CS_ERR_NAME_NOT_FOUND`: the name was not found.
    public static let nameNotFound = CPGStatus(rawValue: 17)
    /// `CS_ERR_NO_RESOURCES`: out of resources.
    public static let noResources = CPGStatus(rawValue: 18)
    /// `CS_ERR_NOT_SUPPORTED`: not supported.
    public static let notSupported = CPGStatus(rawValue: 19)
    /// `CS_ERR_BAD_OPERATION`: the operation is not allowed now.
    public static let badOperation = CPGStatus(rawValue: 20)
    /// `CS_ERR_FAILED_OPERATION`: the operation failed.
    public static let failedOperation = CPGStatus(rawValue: 21)
    /// `CS_ERR_MESSAGE_ERROR`: a message error.
    public static let messageError = CPGStatus(rawValue: 22)
    /// `CS_ERR_QUEUE_FULL`: a queue is full.
    public static let queueFull = CPGStatus(rawValue: 23)
    /// `CS_ERR_QUEUE_NOT_AVAILABLE`: a queue is not available.
    public static let queueNotAvailable = CPGStatus(rawValue: 24)
    /// `CS_ERR_BAD_FLAGS`: invalid flags.
    public static let badFlags = CPGStatus(rawValue: 25)
    /// `CS_ERR_TOO_BIG`: too big.
    public static let tooBig = CPGStatus(rawValue: 26)
    /// `CS_ERR_NO_SECTIONS`: no sections.
    public static let noSections = CPGStatus(rawValue: 27)
    /// `CS_ERR_CONTEXT_NOT_FOUND`: context not found.
    public static let contextNotFound = CPGStatus(rawValue: 28)
    /// `CS_ERR_TOO_MANY_GROUPS`: too many groups.
    public static let tooManyGroups = CPGStatus(rawValue: 30)
    /// `CS_ERR_SECURITY`: a security check failed.
    public static let security = CPGStatus(rawValue: 100)

    /// Every code `corotypes.h` defines, in numeric order.
    public static let allKnown: [CPGStatus] = [
        .ok, .library, .version, .initialization, .timeout, .tryAgain, .invalidParameter, .noMemory,
        .badHandle, .busy, .access, .notExist, .nameTooLong, .exist, .noSpace, .interrupt,
        .nameNotFound, .noResources, .notSupported, .badOperation, .failedOperation, .messageError,
        .queueFull, .queueNotAvailable, .badFlags, .tooBig, .noSections, .contextNotFound,
        .tooManyGroups, .security,
    ]

    /// The C constant's name, such as `CS_ERR_TRY_AGAIN`, or `cs_error_t(N)` for an unknown code.
    public var name: String {
        switch self.rawValue {
        case 1: "CS_OK"
        case 2: "CS_ERR_LIBRARY"
        case 3: "CS_ERR_VERSION"
        case 4: "CS_ERR_INIT"
        case 5: "CS_ERR_TIMEOUT"
        case 6: "CS_ERR_TRY_AGAIN"
        case 7: "CS_ERR_INVALID_PARAM"
        case 8: "CS_ERR_NO_MEMORY"
        case 9: "CS_ERR_BAD_HANDLE"
        case 10: "CS_ERR_BUSY"
        case 11: "CS_ERR_ACCESS"
        case 12: "CS_ERR_NOT_EXIST"
        case 13: "CS_ERR_NAME_TOO_LONG"
        case 14: "CS_ERR_EXIST"
        case 15: "CS_ERR_NO_SPACE"
        case 16: "CS_ERR_INTERRUPT"
        case 17: "CS_ERR_NAME_NOT_FOUND"
        case 18: "CS_ERR_NO_RESOURCES"
        case 19: "CS_ERR_NOT_SUPPORTED"
        case 20: "CS_ERR_BAD_OPERATION"
        case 21: "CS_ERR_FAILED_OPERATION"
        case 22: "CS_ERR_MESSAGE_ERROR"
        case 23: "CS_ERR_QUEUE_FULL"
        case 24: "CS_ERR_QUEUE_NOT_AVAILABLE"
        case 25: "CS_ERR_BAD_FLAGS"
        case 26: "CS_ERR_TOO_BIG"
        case 27: "CS_ERR_NO_SECTIONS"
        case 28: "CS_ERR_CONTEXT_NOT_FOUND"
        case 30: "CS_ERR_TOO_MANY_GROUPS"
        case 100: "CS_ERR_SECURITY"
        default: "cs_error_t(\(self.rawValue))"
        }
    }

    /// The C name and its numeric value, for example `CS_ERR_TRY_AGAIN (6)`.
    public var description: String { "\(self.name) (\(self.rawValue))" }
}
