@testable import CPG
import Testing

@Suite("ReadOnDemandPolicy")
struct ReadOnDemandPolicyTests {
    @Test("a request-channel call in flight forbids reading on demand until the last one returns")
    func requestCalls() {
        var policy = ReadOnDemandPolicy()
        #expect(policy.allowsReadOnDemand)
        policy.requestStarted()
        policy.requestStarted()
        #expect(!policy.allowsReadOnDemand)
        policy.requestEnded()
        #expect(!policy.allowsReadOnDemand)
        policy.requestEnded()
        #expect(policy.allowsReadOnDemand)
    }

    @Test("a batch of large events forbids reading on demand; a batch of small ones allows it again")
    func eventSizes() {
        var policy = ReadOnDemandPolicy()
        policy.batchRead(count: 4, bytes: 4 * 65536)
        #expect(!policy.allowsReadOnDemand)
        policy.batchRead(count: 0, bytes: 0)
        #expect(!policy.allowsReadOnDemand, "an empty read says nothing about sizes")
        policy.batchRead(count: 10, bytes: 10 * 1024)
        #expect(policy.allowsReadOnDemand)
        policy.batchRead(count: 2, bytes: 2 * ReadOnDemandPolicy.largeEventBytes)
        #expect(policy.allowsReadOnDemand, "exactly the limit is not large")
    }
}
