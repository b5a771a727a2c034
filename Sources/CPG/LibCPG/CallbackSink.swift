import CLibCPG

#if canImport(Glibc)
import Glibc
#endif

/// Receives libcpg's callbacks during one `cpg_dispatch` call and copies them into Swift values
/// (the C buffers die when the callback returns).
///
/// It is only touched from inside `cpg_dispatch`, which the owning ``LibCPGHandle`` calls on the
/// group's serial queue, so it needs no lock.
final class CallbackSink {
    /// Events produced by the current `cpg_dispatch` call, in callback order.
    var events: [CPGEvent] = []
    /// How many messages this handle delivered since it was created.
    var deliveredMessages: UInt64 = 0

    init() {
        self.events.reserveCapacity(4)
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

    /// Recovers the sink of a handle from libcpg's context pointer.
    static func of(_ handle: cpg_handle_t) -> CallbackSink? {
        var context: UnsafeMutableRawPointer?
        guard cpg_context_get(handle, &context) == CS_OK, let context else { return nil }
        return Unmanaged<CallbackSink>.fromOpaque(context).takeUnretainedValue()
    }
}

extension CPGGroupName {
    /// Copies a C group name; corosync never hands out one over 128 bytes, but the length is
    /// clamped anyway so a bad value cannot read past the array.
    init(copying name: UnsafePointer<cpg_name>) {
        let length = min(Int(name.pointee.length), CPGGroupName.maximumLength)
        let bytes = withUnsafeBytes(of: name.pointee.value) { Array($0.prefix(length)) }
        // A name from corosync is never empty in practice; an empty one keeps a placeholder NUL.
        self = (try? CPGGroupName(bytes: bytes)) ?? (try! CPGGroupName(bytes: [0]))
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
    guard let sink = CallbackSink.of(handle) else { return }
    let payload: [UInt8]
    if let message, length > 0 {
        // One allocation and a memcpy. Not `init(unsafeUninitializedCapacity:)`: that calls the
        // standard library's unspecialized buffer initializer, which looks up the array's generic
        // metadata at run time for every message (about 20 ns more per allocation).
        payload = Array(UnsafeRawBufferPointer(start: message, count: length))
    } else {
        payload = []
    }
    sink.deliveredMessages += 1
    sink.events.append(
        .message(
            CPGMessage(
                sender: CPGMember(nodeID: nodeID, pid: pid),
                payload: payload,
                deliveryIndex: sink.deliveredMessages
            )
        )
    )
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
    guard let sink = CallbackSink.of(handle), let group else { return }
    sink.events.append(
        .membership(
            CPGMembershipChange(
                group: CPGGroupName(copying: group),
                members: members(memberList, memberCount),
                joined: changes(joinedList, joinedCount),
                left: changes(leftList, leftCount)
            )
        )
    )
}

private func cpgTotemConfigurationChange(
    handle: cpg_handle_t,
    ringID: cpg_ring_id,
    memberCount: UInt32,
    memberList: UnsafePointer<UInt32>?
) {
    guard let sink = CallbackSink.of(handle) else { return }
    let nodes: [UInt32]
    if let memberList, memberCount > 0 {
        nodes = Array(UnsafeBufferPointer(start: memberList, count: Int(memberCount)))
    } else {
        nodes = []
    }
    sink.events.append(
        .ring(CPGRingChange(ringID: CPGRingID(nodeID: ringID.nodeid, sequence: ringID.seq), members: nodes))
    )
}
