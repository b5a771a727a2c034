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

    @Test("while the actor waits for a request's answer, direct sends and fragmented claims go to the queue; not while a fragmented send runs")
    func requestInFlight() {
        var gate = SendGate<String>(handle: "h", open: true)
        let started = gate.startRequest()
        #expect(started)
        #expect(gate.requestInFlight)
        #expect(gate.fastPathHandle == nil)
        let refusedClaim = gate.claimLargeSend()
        #expect(refusedClaim == nil)
        gate.requestFinished()
        #expect(gate.fastPathHandle == "h")
        let claim = gate.claimLargeSend()
        #expect(claim?.handle == "h")
        let startedDuringLargeSend = gate.startRequest()
        #expect(!startedDuringLargeSend, "a fragmented send holds the channel")
        #expect(!gate.requestInFlight)
        let actorHears = gate.largeSendReturned(succeeded: true)
        #expect(actorHears, "the actor waited for it")
        let startedAfter = gate.startRequest()
        #expect(startedAfter)
    }

    @Test("a fragmented send in flight knows its send id and whether its task was cancelled, until it has returned")
    func largeSendCancellation() {
        var gate = SendGate<String>(handle: "h", open: true)
        let claim = gate.claimLargeSend()
        let id = SendGate<String>.directSendID(ownIndex: claim?.ownIndex ?? 0)
        #expect(gate.largeSendID == id && id >= 1 << 63, "apart from the actor's ids")
        gate.cancelLargeSend(id: 3)
        #expect(!gate.largeSendCancelled, "another send's cancellation")
        gate.cancelLargeSend(id: id)
        #expect(gate.largeSendCancelled)
        _ = gate.largeSendReturned(succeeded: false)
        #expect(gate.largeSendCancelled, "kept for the actor to read")
        gate.largeSendFailureRecorded()
        #expect(gate.largeSendID == nil)
        let next = gate.startLargeSendForActor(id: 4)
        #expect(next != nil && gate.largeSendID == 4 && !gate.largeSendCancelled)
    }

    @Test("a send through the open gate claims the channel for a fragmented send; nothing else gets it until it returns")
    func claimLargeSend() {
        var gate = SendGate<String>(handle: "h", open: true)
        let claim = gate.claimLargeSend()
        #expect(claim?.handle == "h")
        #expect(claim?.ownIndex == 1, "the index is taken before libcpg sends")
        #expect(gate.largeSendInFlight)
        #expect(gate.fastPathHandle == nil, "atomic sends queue behind it")
        let second = gate.claimLargeSend()
        #expect(second == nil)
        let actorStart = gate.startLargeSendForActor(id: 7)
        #expect(actorStart == nil, "the actor waits too")
        #expect(gate.actorWaitsForLargeSend, "and is told when it ends")
        let tellActor = gate.largeSendReturned(succeeded: true)
        #expect(tellActor, "the actor asked to hear of the end")
        #expect(!gate.largeSendInFlight)
        #expect(!gate.actorWaitsForLargeSend)
        #expect(gate.fastPathHandle == "h")
    }

    @Test("a successful fragmented send nobody waited for ends without the actor")
    func unwatchedLargeSendEndsQuietly() {
        var gate = SendGate<String>(handle: "h", open: true)
        let claim = gate.claimLargeSend()
        #expect(claim != nil)
        let tellActor = gate.largeSendReturned(succeeded: true)
        #expect(!tellActor)
        #expect(gate.fastPathHandle == "h")
        let waits = gate.waitForLargeSend()
        #expect(!waits, "nothing in flight: no wait")
        #expect(!gate.actorWaitsForLargeSend)
    }

    @Test("a closed gate refuses a claim; the actor still starts fragmented sends")
    func actorStartsLargeSend() {
        var gate = SendGate<String>(handle: "h", open: false)
        let claim = gate.claimLargeSend()
        #expect(claim == nil)
        let first = gate.startLargeSendForActor(id: 7)
        #expect(first == 1)
        #expect(gate.largeSendInFlight)
        let second = gate.startLargeSendForActor(id: 7)
        #expect(second == nil)
        let next = gate.ownMessageAccepted()
        #expect(next == 2, "indices go on counting")
    }

    @Test("a failed fragmented send keeps the channel until the actor recorded it")
    func failedLargeSendWaitsForActor() {
        var gate = SendGate<String>(handle: "h", open: true)
        let claim = gate.claimLargeSend()
        #expect(claim != nil)
        let tellActor = gate.largeSendReturned(succeeded: false)
        #expect(tellActor, "the actor must hear of a failure")
        #expect(gate.largeSendInFlight)
        #expect(gate.fastPathHandle == nil, "no send may take the next own-message index yet")
        gate.largeSendFailureRecorded()
        #expect(!gate.largeSendInFlight)
        #expect(gate.fastPathHandle == "h")
    }

    @Test("the unretained fast-path handle is the gate's own object, and only while the gate is open")
    func unretainedFastPathHandle() {
        final class Handle {}
        let handle = Handle()
        var gate = SendGate<Handle>(handle: handle, open: true)
        #expect(gate.unretainedFastPathHandle?.takeUnretainedValue() === handle)
        let claim = gate.claimLargeSend()
        #expect(claim?.handle === handle)
        #expect(gate.unretainedFastPathHandle == nil, "a fragmented send holds the channel")
        _ = gate.largeSendReturned(succeeded: true)
        #expect(gate.unretainedFastPathHandle?.takeUnretainedValue() === handle)
        gate.update(handle: handle, open: false)
        #expect(gate.unretainedFastPathHandle == nil)
        gate.update(handle: nil, open: true)
        #expect(gate.unretainedFastPathHandle == nil)
    }
}
