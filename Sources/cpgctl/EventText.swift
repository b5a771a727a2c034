import CPG

/// The human-readable lines `cpgctl listen` prints.
enum EventText {
    /// The most payload characters a message line shows.
    static let payloadPreviewLength = 80

    /// One event as one line.
    static func line(_ event: CPGEvent) -> String {
        switch event {
        case .message(let message):
            let size = message.payload.count == 1 ? "1 byte" : "\(message.payload.count) bytes"
            return "message #\(message.deliveryIndex) from \(message.sender), \(size): \(self.preview(message.payload))"
        case .membership(let change):
            var line = "membership of \(change.group): \(change.members.count) "
            line += change.members.count == 1 ? "member" : "members"
            line += " [" + change.members.map(\.description).joined(separator: " ") + "]"
            if !change.joined.isEmpty {
                line += "; joined " + change.joined.map { "\($0.member) (\($0.reason))" }.joined(separator: ", ")
            }
            if !change.left.isEmpty {
                line += "; left " + change.left.map { "\($0.member) (\($0.reason))" }.joined(separator: ", ")
            }
            return line
        case .ring(let change):
            return "ring \(change.ringID): nodes [" + change.members.map { String($0) }.joined(separator: " ") + "]"
        case .disconnected(let error):
            return "disconnected from corosync: \(error); reconnecting"
        case .reconnected:
            return "reconnected to corosync and rejoined; a new view follows"
        }
    }

    /// The payload as quoted text if it is UTF-8 (non-printables escaped, long ones cut),
    /// otherwise its first bytes in hexadecimal.
    static func preview(_ payload: [UInt8]) -> String {
        guard let text = String(validating: payload, as: UTF8.self) else {
            let shown = payload.prefix(self.payloadPreviewLength / 2)
            let hex = shown.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined()
            return "0x" + hex + (shown.count < payload.count ? "…" : "")
        }
        var shown = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == self.payloadPreviewLength {
                return "\"" + shown + "\"…"
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                shown += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else if scalar == "\"" || scalar == "\\" {
                shown += "\\" + String(scalar)
            } else {
                shown.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return "\"" + shown + "\""
    }
}
