/// The kinds of event a subscription wants.
struct CPGEventKinds: OptionSet, Hashable, Sendable {
    let rawValue: UInt8

    static let messages = CPGEventKinds(rawValue: 1 << 0)
    static let membership = CPGEventKinds(rawValue: 1 << 1)
    static let ring = CPGEventKinds(rawValue: 1 << 2)
    static let connection = CPGEventKinds(rawValue: 1 << 3)
    static let all: CPGEventKinds = [.messages, .membership, .ring, .connection]
}
