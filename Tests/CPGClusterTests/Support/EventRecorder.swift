import CPG
import Foundation
import Synchronization

/// Why a wait on an ``EventRecorder`` failed: the events ended first, or the safety deadline passed.
struct RecorderWaitError: Error, CustomStringConvertible {
    var description: String
}

/// The events one member delivered, kept as they arrive, with waits on what arrives.
///
/// Waits look only at new events, so waiting costs O(1) per event. Each wait has a generous
/// deadline that only turns a hang into a failure with the member's events in the message; the
/// tests synchronise on the events themselves.
final class EventRecorder: Sendable {
    /// How the events ended.
    enum End: Sendable, Hashable, CustomStringConvertible {
        /// The sequence finished normally (a Swift member left, a C peer's output closed).
        case finished
        /// The sequence threw.
        case failed(CPGError)

        var description: String {
            switch self {
            case .finished: "finished"
            case .failed(let error): "failed with \(error.code): \(error)"
            }
        }

        /// The code of the error it failed with, if it did.
        var errorCode: CPGError.Code? {
            if case .failed(let error) = self { return error.code }
            return nil
        }
    }

    private struct Waiter {
        var id: UInt64
        var predicate: @Sendable (CPGEvent) -> Bool
        var continuation: CheckedContinuation<Result<Int, RecorderWaitError>, Never>
    }

    private struct State {
        var events: [CPGEvent] = []
        var end: End?
        var waiters: [Waiter] = []
        var endWaiters: [CheckedContinuation<End, Never>] = []
        var nextWaiterID: UInt64 = 0
    }

    /// Who this is, for failure messages.
    let label: String
    private let state = Mutex(State())

    init(label: String) {
        self.label = label
    }

    /// Every event so far.
    var events: [CPGEvent] {
        self.state.withLock { $0.events }
    }

    /// How the events ended, or `nil` while they go on.
    var end: End? {
        self.state.withLock { $0.end }
    }

    func append(_ event: CPGEvent) {
        let ready: [(CheckedContinuation<Result<Int, RecorderWaitError>, Never>, Int)] = self.state.withLock { state in
            state.events.append(event)
            let index = state.events.count - 1
            var ready: [(CheckedContinuation<Result<Int, RecorderWaitError>, Never>, Int)] = []
            state.waiters.removeAll { waiter in
                guard waiter.predicate(event) else { return false }
                ready.append((waiter.continuation, index))
                return true
            }
            return ready
        }
        for (continuation, index) in ready { continuation.resume(returning: .success(index)) }
    }

    func finish(_ end: End) {
        let (waiters, endWaiters, events): ([Waiter], [CheckedContinuation<End, Never>], Int) = self.state.withLock { state in
            guard state.end == nil else { return ([], [], 0) }
            state.end = end
            defer {
                state.waiters.removeAll()
                state.endWaiters.removeAll()
            }
            return (state.waiters, state.endWaiters, state.events.count)
        }
        for waiter in waiters {
            waiter.continuation.resume(
                returning: .failure(RecorderWaitError(description: "\(self.label): events ended (\(end)) after \(events) events"))
            )
        }
        for waiter in endWaiters { waiter.resume(returning: end) }
    }

    /// Waits for the first event at or after `start` that satisfies `predicate`, and returns its index.
    ///
    /// - Throws: ``RecorderWaitError`` if the events end first, or after `deadline`.
    @discardableResult
    func first(
        from start: Int = 0,
        deadline: Duration = .seconds(60),
        _ what: String,
        where predicate: @escaping @Sendable (CPGEvent) -> Bool
    ) async throws -> Int {
        let id = self.state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let result = await withTaskGroup(of: Result<Int, RecorderWaitError>?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let immediate: Result<Int, RecorderWaitError>? = self.state.withLock { state in
                        if start < state.events.count,
                            let index = state.events.indices[start...].first(where: { predicate(state.events[$0]) })
                        {
                            return .success(index)
                        }
                        if let end = state.end {
                            return .failure(RecorderWaitError(description: "\(self.label): events ended (\(end)) before \(what)"))
                        }
                        state.waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
                        return nil
                    }
                    if let immediate { continuation.resume(returning: immediate) }
                }
            }
            group.addTask {
                // The time limit racing the awaited event: wall-clock on purpose, not a wait for it.
                try? await Task.sleep(for: deadline)
                return nil
            }
            let first = await group.next()!
            if first == nil {
                // The deadline passed: take the waiter out (once) and let the wait end.
                let waiter = self.state.withLock { state -> Waiter? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index)
                }
                let events = self.events
                waiter?.continuation.resume(
                    returning: .failure(
                        RecorderWaitError(
                            description: "\(self.label): no \(what) within \(deadline); \(events.count) events, the last: "
                                + events.suffix(8).map(describeEvent).joined(separator: " | ")
                        )
                    )
                )
                return await group.next()!!
            }
            group.cancelAll()
            return first!
        }
        return try result.get()
    }

    /// Waits until the events end, and tells how.
    func ended() async -> End {
        await withCheckedContinuation { continuation in
            let end: End? = self.state.withLock { state in
                if let end = state.end { return end }
                state.endWaiters.append(continuation)
                return nil
            }
            if let end { continuation.resume(returning: end) }
        }
    }
}

/// One event in a line, for failure messages.
func describeEvent(_ event: CPGEvent) -> String {
    switch event {
    case .message(let message):
        "message \(message.sender) \(String(decoding: message.payload.prefix(24), as: UTF8.self))"
    case .membership(let change):
        "membership \(change.members) joined \(change.joined) left \(change.left)"
    case .ring(let change):
        "ring \(change.ringID) \(change.members)"
    case .disconnected(let error):
        "disconnected \(error)"
    case .reconnected:
        "reconnected"
    }
}
