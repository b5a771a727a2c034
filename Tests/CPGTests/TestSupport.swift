import CPG
import Foundation

/// A group name no other test (or earlier run) uses.
func uniqueGroupName(_ label: String = #function) -> CPGGroupName {
    let clean = label.prefix(40).filter { $0.isLetter || $0.isNumber }
    return try! CPGGroupName("swift-cpg-test-\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
}

/// A configuration for a group in `networkNamespace` that reconnects soon after losing its
/// daemon (20 ms, backing off to 200 ms).
func quicklyReconnecting(networkNamespace: String) -> CPGConfiguration {
    var configuration = CPGConfiguration()
    configuration.networkNamespace = networkNamespace
    var policy = CPGReconnectPolicy()
    policy.initialDelay = .milliseconds(20)
    policy.maximumDelay = .milliseconds(200)
    configuration.reconnect = policy
    return configuration
}

extension AsyncSequence {
    /// The first `count` elements (fewer if the sequence ends).
    func first(_ count: Int) async throws -> [Element] {
        var result: [Element] = []
        guard count > 0 else { return result }
        for try await element in self {
            result.append(element)
            if result.count == count { break }
        }
        return result
    }
}

extension CPGEvent {
    var message: CPGMessage? {
        if case .message(let message) = self { return message }
        return nil
    }

    var membership: CPGMembershipChange? {
        if case .membership(let change) = self { return change }
        return nil
    }

    var ring: CPGRingChange? {
        if case .ring(let change) = self { return change }
        return nil
    }
}
