import Foundation
import Glibc

/// Why ``NetworkNamespace/perform(_:)`` could not enter a namespace.
public enum NetworkNamespaceError: Error, Sendable, CustomStringConvertible {
    /// The namespace file could not be opened (it does not exist, most likely).
    case cannotOpen(path: String, errno: Int32)
    /// `setns` refused (not root, most likely).
    case cannotEnter(path: String, errno: Int32)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .cannotOpen(let path, let code):
            "cannot open network namespace \(path): \(String(cString: strerror(code)))"
        case .cannotEnter(let path, let code):
            "cannot enter network namespace \(path): \(String(cString: strerror(code)))"
        }
    }
}
