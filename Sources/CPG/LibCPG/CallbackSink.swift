import CLibCPG
import DequeModule

#if canImport(Glibc)
import Glibc
#endif

/// Receives libcpg's callbacks during a batch of `cpg_dispatch` calls and copies them into Swift
/// values (the C buffers die when the callback returns).
///
/// It is only touched on the group's serial queue: from inside `cpg_dispatch`, which the owning
/// ``LibCPGHandle`` calls there, and by the group's reader between calls. So it needs no lock.
///
/// Its properties skip Swift's dynamic exclusivity checks (a thread-local lookup per access,
/// several per message): every access runs on that one queue, and none is held across a call
/// that could reach another (libcpg calls back only from `cpg_dispatch`, while no access is open).
final class CallbackSink {
    /// Events produced by the current batch of `cpg_dispatch` calls, in callback order. A
    /// `UniqueDeque`, so that each event is moved in (`append` consumes it; `Deque.append`
    /// copies) and moved out one by one (`popFirst`) into the group's log.
    @exclusivity(unchecked) var events = UniqueDeque<CPGEvent>()
    /// What the reader needs of each of `events`, side by side with it: reading it from the
    /// event itself would copy the event (a retain and a release per message).
    @exclusivity(unchecked) var summaries: [DispatchedEvent] = []
    /// How many messages this handle delivered since it was created.
    @exclusivity(unchecked) var deliveredMessages: UInt64 = 0

    init() {
        self.events.reserveCapacity(64)
        self.summaries.reserveCapacity(64)
    }

    /// Copies a delivered message (its buffer dies when the callback returns).
    fileprivate func deliver(sender: CPGMember, message: UnsafeMutableRawPointer?, length: Int) {
        let payload: [UInt8]
        if let message, length > 0 {
            // One allocation and a memcpy. Not `init(unsafeUninitializedCapacity:)`: that calls
            // the standard library's unspecialized buffer initializer, which looks up the array's
            // generic metadata at run time for every message (about 20 ns more per allocation).
            payload = Array(UnsafeRawBufferPointer(start: message, count: length))
        } else {
            payload = []
        }
        self.deliveredMessages += 1
        let index = self.deliveredMessages
        self.summaries.append(
            DispatchedEvent(
                bytes: CPGEvent.approximateByteCount(messagePayload: payload.count),
                message: DispatchedEvent.Message(sender: sender, deliveryIndex: index, payloadBytes: payload.count)
            )
        )
        self.events.append(.message(CPGMessage(sender: sender, payload: payload, deliveryIndex: index)))
    }

    /// Appends an event that is not a message.
    fileprivate func append(other event: CPGEvent) {
        self.summaries.append(DispatchedEvent(bytes: event.approximateByteCount, message: nil))
        self.events.append(event)
    }

    /// Forgets the summaries of a batch whose events went to the log.
    func endBatch() {
        self.summaries.removeAll(keepingCapacity: true)
    }

    /// The model v1 callbacks, totem configuration changes included.
    static func modelData() -> cpg_model_v1_data_t {
        var data = cpg_model_v1_data_t()
        data.model = CPG_MODEL_V1
        data.cpg_deliver_fn = cpgDeliver
        data.cpg_confchg_fn = cpgConfigurationChange
        data.cpg_totem_confchg_fn = cpgTotemConfigurationChange
        data.flags = UInt32(CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF)
        return data
    }

    /// Runs `body` with the sink of a handle, recovered from libcpg's context pointer.
    ///
    /// The handle's ``LibCPGHandle`` holds the sink for as long as libcpg may call back, so the
    /// reference is used without a retain of its own (one atomic increment and decrement fewer
    /// per callback).
    static func with(_ handle: cpg_handle_t, _ body: (CallbackSink) -> Void) {
        var context: UnsafeMutableRawPointer?
        guard cpg_context_get(handle, &context) == CS_OK, let context else { return }
        Unmanaged<CallbackSink>.fromOpaque(context)._withUnsafeGuaranteedRef(body)
    }
}

/// The reader's view of one dispatched event: only trivial values, so reading it costs no
/// reference counting.
struct DispatchedEvent {
    /// The event's ``CPGEvent/approximateByteCount``.
    var bytes: Int
    /// For a message, what the reader accounts for; `nil` for every other event.
    var message: Message?

    struct Message {
        var sender: CPGMember
        var deliveryIndex: UInt64
        var payloadBytes: Int
    }
}

extension CPGGroupName {
    /// Copies a C group name as it is, an empty one included (a C client may join a group with
    /// an empty name); corosync never hands out one over 128 bytes, but the length is clamped
    /// anyway so a bad value cannot read past the array.
    init(copying name: UnsafePointer<cpg_name>) {
        let length = min(Int(name.pointee.length), CPGGroupName.maximumLength)
        self = withUnsafeBytes(of: name.pointee.value) { CPGGroupName(reportedBytes: $0.prefix(length)) }
    }

    /// Runs `body` with this name as a C `cpg_name`.
    func withCName<T>(_ body: (UnsafePointer<cpg_name>) throws(CPGError) -> T) throws(CPGError) -> T {
        var name = cpg_name()
        name.length = UInt32(self.bytes.count)
        withUnsafeMutableBytes(of: &name.value) { raw in
            raw.copyBytes(from: self.bytes)
        }
        return try withUnsafePointer(to: &name) { pointer throws(CPGError) in try body(pointer) }
    }
}

private func members(_ list: UnsafePointer<cpg_address>?, _ count: Int) -> [CPGMember] {
    guard let list, count > 0 else { return [] }
    return (0..<count).map { CPGMember(nodeID: list[$0].nodeid, pid: list[$0].pid) }
}

private func changes(_ list: UnsafePointer<cpg_address>?, _ count: Int) -> [CPGMemberChange] {
    guard let list, count > 0 else { return [] }
    return (0..<count).map {
        CPGMemberChange(
            member: CPGMember(nodeID: list[$0].nodeid, pid: list[$0].pid),
            reason: CPGChangeReason(rawValue: list[$0].reason)
        )
    }
}

private func cpgDeliver(
    handle: cpg_handle_t,
    group: UnsafePointer<cpg_name>?,
    nodeID: UInt32,
    pid: UInt32,
    message: UnsafeMutableRawPointer?,
    length: Int
) {
    CallbackSink.with(handle) { sink in
        sink.deliver(sender: CPGMember(nodeID: nodeID, pid: pid), message: message, length: length)
    }
}

private func cpgConfigurationChange(
    handle: cpg_handle_t,
    group: UnsafePointer<cpg_name>?,
    memberList: UnsafePointer<cpg_address>?,
    memberCount: Int,
    leftList: UnsafePointer<cpg_address>?,
    leftCount: Int,
    joinedList: UnsafePointer<cpg_address>?,
    joinedCount: Int
) {
    guard let group else { return }
    let change = CPGMembershipChange(
        group: CPGGroupName(copying: group),
        members: members(memberList, memberCount),
        joined: changes(joinedList, joinedCount),
        left: changes(leftList, leftCount)
    )
    CallbackSink.with(handle) { $0.append(other: .membership(change)) }
}

private func cpgTotemConfigurationChange(
    handle: cpg_handle_t,
    ringID: cpg_ring_id,
    memberCount: UInt32,
    memberList: UnsafePointer<UInt32>?
) {
    let nodes: [UInt32]
    if let memberList, memberCount > 0 {
        nodes = Array(UnsafeBufferPointer(start: memberList, count: Int(memberCount)))
    } else {
        nodes = []
    }
    let change = CPGRingChange(ringID: CPGRingID(nodeID: ringID.nodeid, sequence: ringID.seq), members: nodes)
    CallbackSink.with(handle) { $0.append(other: .ring(change)) }
}
