@testable import CPG
import Testing

@Suite("DeliveryNudge: when the reader wakes corosync after emptying the event ring")
struct DeliveryNudgeTests {
    @Test("a fragment read since the last nudge makes the next emptied ring nudge, once")
    func fragment() {
        var nudge = DeliveryNudge()
        #expect(nudge.ringEmptied() == .none, "nothing read")
        nudge.fragmentRead()
        #expect(nudge.ringEmptied() == .nudge)
        #expect(nudge.ringEmptied() == .none, "nothing read since")
        #expect(!nudge.fragmentSinceNudge)
    }

    @Test("small events nudge only once they add up to the threshold, and the count starts again")
    func bytes() {
        var nudge = DeliveryNudge(threshold: 1000)
        nudge.eventRead(bytes: 400)
        #expect(nudge.ringEmptied() == .none)
        nudge.eventRead(bytes: 599)
        #expect(nudge.ringEmptied() == .none, "999 of 1000 bytes")
        nudge.eventRead(bytes: 1)
        #expect(nudge.ringEmptied() == .nudge)
        #expect(nudge.bytesSinceNudge == 0)
        nudge.eventRead(bytes: 999)
        #expect(nudge.ringEmptied() == .none)
    }

    @Test("the default threshold is a quarter of corosync's 1 MiB event ring")
    func defaultThreshold() {
        #expect(DeliveryNudge().threshold == 256 * 1024)
        var nudge = DeliveryNudge()
        nudge.eventRead(bytes: 1 << 20)
        #expect(nudge.ringEmptied() == .nudge, "one event of a whole ring")
    }
}
