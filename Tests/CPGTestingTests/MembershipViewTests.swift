import CPGTesting
import Testing

@Suite("MembershipView parsing")
struct MembershipViewTests {
    @Test("parses corosync-quorumtool -s -p")
    func parsesStatus() throws {
        let output = """
            Quorum information
            ------------------
            Date:             Tue Nov 24 07:28:43 2026
            Quorum provider:  corosync_votequorum
            Nodes:            3
            Node ID:          2
            Ring ID:          1.1c
            Quorate:          Yes

            Votequorum information
            ----------------------
            Expected votes:   3
            Highest expected: 3
            Total votes:      3
            Quorum:           2
            Flags:            Quorate

            Membership information
            ----------------------
                Nodeid      Votes    Qdevice Name
                     3          1         NR node3
                     1          1         NR node1
                     2          1         NR node2 (local)
            """
        let view = try #require(MembershipView(quorumtoolOutput: output))
        #expect(view == MembershipView(nodeID: 2, ringID: "1.1c", isQuorate: true, members: [1, 2, 3]))
    }

    @Test("an inquorate lone node")
    func parsesInquorate() throws {
        let output = """
            Node ID:          3
            Ring ID:          3.26
            Quorate:          No

            Membership information
            ----------------------
                Nodeid      Votes    Qdevice Name
                     3          1         NR node3 (local)
            """
        let view = try #require(MembershipView(quorumtoolOutput: output))
        #expect(view.members == [3])
        #expect(!view.isQuorate)
    }

    @Test("no answer from the daemon gives nil")
    func rejectsErrors() {
        #expect(MembershipView(quorumtoolOutput: "Cannot initialize CMAP service\n") == nil)
        #expect(MembershipView(quorumtoolOutput: "") == nil)
    }
}
