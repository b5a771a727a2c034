@testable import CPG
import DequeModule
import Testing

extension EventLogStateMachine {
    /// Appends `events` as the reader does (taking them out of its deque) and checks that the
    /// deque is left empty.
    mutating func append(batch events: [CPGEvent]) -> AppendAction {
        var batch = UniqueDeque<CPGEvent>()
        for event in events { batch.append(event) }
        let action = self.append(draining: &batch)
        #expect(batch.count == 0, "the batch goes into the log, or is dropped by an ended log")
        return action
    }
}
