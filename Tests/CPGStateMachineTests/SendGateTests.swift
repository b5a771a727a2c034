@testable import CPG
import Testing

@Suite("SendGate: when a send may skip the queue, and own-message indices")
struct SendGateTests {
    @Test("an open gate hands out its handle; a closed one or one without a handle does not")
    func fastPathHandle() {
        var gate = SendGate<String>(handle: "h", open: true)
        #expect(gate.fastPathHandle == "h")
        gate.update(handle: "h", open: false)
        #expect(gate.fastPathHandle == nil)
        gate.update(handle: nil, open: true)
        #expect(gate.fastPathHandle == nil)
        #expect(!gate.isOpen, "no handle, no fast path")
    }

    @Test("accepted sends count own messages, from the fast path and the actor alike")
    func ownMessageIndices() {
        var gate = SendGate<String>(handle: "h", open: true)
        #expect(gate.fastSendFinished(accepted: true, tryAgain: false) == .accepted(1))
        #expect(gate.ownMessageAccepted() == 2)
        #expect(gate.fastSendFinished(accepted: true, tryAgain: false) == .accepted(3))
        #expect(gate.acceptedOwnMessages == 3)
    }

    @Test("CS_ERR_TRY_AGAIN closes the gate until the actor reopens it; a failure does not")
    func tryAgainCloses() {
        var gate = SendGate<String>(handle: "h", open: true)
        #expect(gate.fastSendFinished(accepted: false, tryAgain: false) == .failed)
        #expect(gate.isOpen)
        #expect(gate.fastSendFinished(accepted: false, tryAgain: true) == .tryAgain)
        #expect(!gate.isOpen)
        #expect(gate.fastPathHandle == nil)
        #expect(gate.acceptedOwnMessages == 0, "nothing was accepted")
        gate.update(handle: "h", open: true)
        #expect(gate.fastPathHandle == "h")
    }
}
