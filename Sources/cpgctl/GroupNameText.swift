import CPG

/// A group's name as `cpgctl groups` prints it: escaped as corosync-cpgtool escapes it, or raw.
enum GroupNameText {
    /// The bytes to print for `name`.
    ///
    /// Escaped, as corosync-cpgtool's `fprint_group` does: printable ASCII (0x20 to 0x7E) as it
    /// is, a backslash doubled, every other byte as `\xNN` with two upper-case hex digits
    /// (`"name\0"` prints `name\x00`, `"café"` prints `caf\xC3\xA9`). Unlike corosync-cpgtool
    /// on x86-64, where a signed `char` turns a byte of 0x80 or more into `\xFFFFFFC3`, every
    /// byte takes exactly two digits.
    ///
    /// - Parameters:
    ///   - name: The group's name.
    ///   - escaped: `false` for the bytes exactly as corosync holds them (`-e`).
    /// - Returns: The bytes to write, without a newline.
    static func bytes(_ name: CPGGroupName, escaped: Bool) -> [UInt8] {
        guard escaped else { return name.bytes }
        var text: [UInt8] = []
        text.reserveCapacity(name.bytes.count)
        for byte in name.bytes {
            switch byte {
            case UInt8(ascii: "\\"):
                text += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x20..<0x7F:
                text.append(byte)
            default:
                text += [UInt8(ascii: "\\"), UInt8(ascii: "x"), self.hexDigits[Int(byte >> 4)], self.hexDigits[Int(byte & 0xF)]]
            }
        }
        return text
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)
}
