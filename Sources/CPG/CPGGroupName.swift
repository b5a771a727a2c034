/// The name of a closed process group: 1 to 128 bytes.
///
/// Corosync compares names as bytes, with their length: `"name"` and `"name\0"` are two different
/// groups. Pacemaker and Proxmox include the terminating NUL in their group names; to talk to their
/// groups, use ``init(bytes:)`` with the NUL, or ``init(_:includingNULTerminator:)``.
///
/// A name that corosync reports (``CPGCluster/groups(networkNamespace:)``) is taken as it is, and
/// may be empty: corosync lets a C client join a group with an empty name. Such a name cannot be
/// joined from Swift (``init(bytes:)`` refuses it: corosync never removes a member of an empty-named
/// group whose process dies), but it can be passed back to
/// ``CPGCluster/members(of:networkNamespace:)``.
public struct CPGGroupName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name corosync accepts, in bytes (`CPG_MAX_NAME_LENGTH`).
    public static let maximumLength = 128

    /// The name's bytes, exactly as corosync sees them.
    public let bytes: [UInt8]

    /// Creates a name from raw bytes.
    ///
    /// - Throws: ``CPGError/Code/invalidGroupName`` if `bytes` is empty or longer than 128 bytes.
    public init(bytes: some Sequence<UInt8>) throws(CPGError) {
        let bytes = Array(bytes)
        guard !bytes.isEmpty else {
            throw CPGError(.invalidGroupName, "group name is empty; a group name has 1 to 128 bytes")
        }
        guard bytes.count <= Self.maximumLength else {
            throw CPGError(
                .invalidGroupName,
                "group name is \(bytes.count) bytes; the limit is 128 bytes (CPG_MAX_NAME_LENGTH)"
            )
        }
        self.bytes = bytes
    }

    /// A name as corosync reports it: its bytes as they are, an empty name included, and at most
    /// 128 of them.
    init(reportedBytes bytes: some Sequence<UInt8>) {
        self.bytes = Array(bytes.prefix(Self.maximumLength))
    }

    /// Creates a name from a string's UTF-8 bytes, optionally followed by a NUL byte as Pacemaker
    /// and Proxmox name their groups.
    ///
    /// - Throws: ``CPGError/Code/invalidGroupName`` if the result is empty or longer than 128 bytes.
    public init(_ string: String, includingNULTerminator: Bool = false) throws(CPGError) {
        var bytes = Array(string.utf8)
        if includingNULTerminator { bytes.append(0) }
        try self.init(bytes: bytes)
    }

    /// The name as text: UTF-8 decoded, with non-printable bytes escaped as `\xNN`
    /// (so `"name\0"` reads `name\x00`).
    public var description: String {
        var text = ""
        for scalar in String(decoding: self.bytes, as: UTF8.self).unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                text += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text
    }
}
