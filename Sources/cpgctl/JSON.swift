import CPG
import Foundation

/// The JSON `cpgctl` prints: hand-rolled, one object per line, keys in a fixed order.
///
/// Events:
///
/// ```
/// {"event":"message","nodeid":1,"pid":4242,"size":5,"data":"aGVsbG8="}
/// {"event":"membership","members":[{"nodeid":1,"pid":4242}],"joined":[{"nodeid":1,"pid":4242,"reason":"join"}],"left":[]}
/// {"event":"ring","ringid":{"nodeid":1,"seq":5},"members":[1,2,3]}
/// {"event":"error","message":"..."}
/// ```
///
/// Group names are their bytes decoded as UTF-8 (a NUL terminator reads `\u0000`; bytes that
/// are not UTF-8 become U+FFFD).
enum JSON {
    /// One event as a JSON object.
    static func event(_ event: CPGEvent) -> String {
        switch event {
        case .message(let message):
            return #"{"event":"message","nodeid":\#(message.sender.nodeID),"pid":\#(message.sender.pid),"#
                + #""size":\#(message.payload.count),"data":"\#(Data(message.payload).base64EncodedString())"}"#
        case .membership(let change):
            return #"{"event":"membership","members":\#(self.members(change.members)),"#
                + #""joined":\#(self.changes(change.joined)),"left":\#(self.changes(change.left))}"#
        case .ring(let change):
            let nodes = change.members.map { String($0) }.joined(separator: ",")
            return #"{"event":"ring","ringid":{"nodeid":\#(change.ringID.nodeID),"seq":\#(change.ringID.sequence)},"#
                + #""members":[\#(nodes)]}"#
        case .disconnected(let error):
            return #"{"event":"disconnected","message":\#(self.string(error.description))}"#
        case .reconnected:
            return #"{"event":"reconnected"}"#
        }
    }

    /// The event a failed `listen --json` ends with.
    static func error(_ message: String) -> String {
        #"{"event":"error","message":\#(self.string(message))}"#
    }

    /// A group with its members: `{"group":"name","members":[{"nodeid":1,"pid":42,"name":"node1"}]}`.
    static func group(_ name: CPGGroupName, members: [CPGMember], names: [UInt32: String] = [:]) -> String {
        #"{"group":\#(self.groupName(name)),"members":\#(self.members(members, names: names))}"#
    }

    /// A group's name as a JSON string: its bytes decoded as UTF-8.
    static func groupName(_ name: CPGGroupName) -> String {
        self.string(String(decoding: name.bytes, as: UTF8.self))
    }

    /// `{"nodeid":1,"pid":42}`, with `"name":"node1"` when `names` knows the node.
    static func member(_ member: CPGMember, names: [UInt32: String] = [:]) -> String {
        if let name = names[member.nodeID] {
            return #"{"nodeid":\#(member.nodeID),"pid":\#(member.pid),"name":\#(self.string(name))}"#
        }
        return #"{"nodeid":\#(member.nodeID),"pid":\#(member.pid)}"#
    }

    /// A JSON array of members, named where `names` knows their nodes.
    static func members(_ members: [CPGMember], names: [UInt32: String] = [:]) -> String {
        "[" + members.map { self.member($0, names: names) }.joined(separator: ",") + "]"
    }

    /// A node of the nodelist: `{"nodeid":1,"name":"node1","addresses":["10.0.0.1"]}`
    /// (`"name"` is `null` when the nodelist gives none).
    static func node(_ node: CPGNode) -> String {
        let name = node.name.map(self.string) ?? "null"
        let addresses = "[" + node.addresses.map(self.string).joined(separator: ",") + "]"
        return #"{"nodeid":\#(node.nodeID),"name":\#(name),"addresses":\#(addresses)}"#
    }

    /// A number for JSON: finite, with up to `digits` decimals.
    static func number(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite else { return "null" }
        return String(format: "%.\(digits)f", value)
    }

    /// A JSON array of joined or left members with their reasons.
    static func changes(_ changes: [CPGMemberChange]) -> String {
        let objects = changes.map {
            #"{"nodeid":\#($0.member.nodeID),"pid":\#($0.member.pid),"reason":\#(self.string($0.reason.description))}"#
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func string(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
