@testable import CPG
import Testing

@Suite("How often a send looks at libqb's notification socket")
struct NotificationCheckSpacingTests {
    /// Half of the 2 MiB buffer a group asks for by default, and half of the system's default.
    static let largeLimit = 1 << 20
    static let defaultLimit = 212_992 / 2

    @Test("an empty socket is looked at again after half of what fits, counted at the bound")
    func emptySocket() {
        #expect(LibCPGHandle.sendsBeforeNextCheck(queued: 0, limit: Self.largeLimit) == 256)
        #expect(LibCPGHandle.sendsBeforeNextCheck(queued: 0, limit: Self.defaultLimit) == 26)
    }

    @Test("near the limit, or past it, the spacing is the minimum")
    func nearTheLimit() {
        let minimum = LibCPGHandle.notificationCheckInterval
        #expect(LibCPGHandle.sendsBeforeNextCheck(queued: Self.largeLimit - 10_000, limit: Self.largeLimit) == minimum)
        #expect(LibCPGHandle.sendsBeforeNextCheck(queued: Self.largeLimit, limit: Self.largeLimit) == minimum)
        #expect(LibCPGHandle.sendsBeforeNextCheck(queued: 2 * Self.largeLimit, limit: Self.largeLimit) == minimum)
    }

    @Test(
        "with corosync stopped, the looks catch the limit within the minimum spacing, and long before the buffer is full",
        arguments: [760, LibCPGHandle.notificationBytesBound], [defaultLimit, largeLimit]
    )
    func stoppedDaemon(bytesPerNotification: Int, limit: Int) {
        // Nothing is read: every accepted send leaves its notification queued.
        var queued = 0
        var looks = 0
        while queued <= limit {
            queued += LibCPGHandle.sendsBeforeNextCheck(queued: queued, limit: limit) * bytesPerNotification
            looks += 1
        }
        let overshoot = LibCPGHandle.notificationCheckInterval * bytesPerNotification
        #expect(queued <= limit + overshoot, "queued \(queued) against a limit of \(limit)")
        #expect(queued < 2 * limit, "the socket (twice the limit) never fills")
        let looksAtMinimumSpacing = limit / (LibCPGHandle.notificationCheckInterval * bytesPerNotification) + 1
        #expect(looks <= looksAtMinimumSpacing, "\(looks) looks, \(looksAtMinimumSpacing) at the minimum spacing")
    }
}
