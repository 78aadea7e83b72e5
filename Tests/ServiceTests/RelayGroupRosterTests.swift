import ParleyBackend
import ParleyProtocol
@testable import Relay
import Testing

/// The pure parts of relay-svc's groups: who an entry at a cseq goes to, what a change changed,
/// and how an inbound group change is read.
@Suite("relay-svc group roster")
struct RelayGroupRosterTests {
    /// alice created at 1 with bob and carol; dave added at 3; bob removed at 4, added again at 6;
    /// carol left at 5.
    let roster = GroupRoster(fields: [
        "carol", "member 1-5", "bob", "member 1-4,6-0", "alice", "admin 1-0", "dave", "member 3-0",
    ])!

    @Test("the recipients at a cseq are the users whose intervals hold it, both ends included, by user id")
    func recipients() {
        #expect(roster.members.map(\.user) == ["alice", "bob", "carol", "dave"])
        #expect(roster.recipients(at: 1) == ["alice", "bob", "carol"])
        #expect(roster.recipients(at: 3) == ["alice", "bob", "carol", "dave"])
        #expect(roster.recipients(at: 4) == ["alice", "bob", "carol", "dave"], "bob gets his own removal")
        #expect(roster.recipients(at: 5) == ["alice", "carol", "dave"], "carol gets her own leave; bob is out")
        #expect(roster.recipients(at: 6) == ["alice", "bob", "dave"])
        #expect(roster.recipients(at: 99) == ["alice", "bob", "dave"])
        #expect(roster.isMember("bob") && !roster.isMember("carol") && !roster.isMember("zed"))
    }

    @Test("a change's users are the named ones whose interval starts (create, add) or ends (remove, leave) at its cseq")
    func changed() {
        #expect(roster.changed(by: change(.create, by: "alice", ["carol", "bob", "carol"]), at: 1) == ["alice", "carol", "bob"])
        #expect(roster.changed(by: change(.add, by: "alice", ["bob", "dave"]), at: 3) == ["dave"], "bob was a member already")
        #expect(roster.changed(by: change(.add, by: "alice", ["bob"]), at: 6) == ["bob"])
        #expect(roster.changed(by: change(.remove, by: "alice", ["bob", "zed"]), at: 4) == ["bob"])
        #expect(roster.changed(by: change(.leave, by: "carol"), at: 5) == ["carol"])
        #expect(roster.changed(by: change(.leave, by: "carol"), at: 6) == [])
    }

    @Test("a members hash value out of GroupMemberRecord's format is not a roster")
    func malformed() {
        #expect(GroupRoster(fields: ["alice", "admin 1-0", "bob", "owner 1-0"]) == nil)
        #expect(GroupRoster(fields: ["alice", "admin 3-2"]) == nil)
        #expect(GroupRoster(fields: [])?.members == [])
    }

    @Test("an inbound remove naming only its requester is a leave; malformed group changes are refused before the step")
    func inbound() throws {
        let conv = "g:team"
        let own = try ConversationOperation.of(InboundEnvelope(group: change(.remove, by: "bob", ["bob", "bob"], conv: conv), edge: "e",
                                                                session: "s"))
        guard case .group(let leave) = own else { Issue.record("not a group change"); return }
        #expect(leave.action == .leave && leave.members == [])
        #expect(own.joining == [])
        #expect(try ConversationOperation.of(InboundEnvelope(group: change(.create, by: "bob", ["carol"], conv: conv), edge: "e", session: "s"))
            .joining == ["bob", "carol"])

        for bad in [change(.add, by: "bob", ["not an id"], conv: conv), change(.add, by: "", ["carol"], conv: conv),
                    change(.add, by: "bob", ["carol"], conv: "g:"), change(.add, by: "bob", ["carol"], conv: conv, op: "")] {
            #expect(throws: MalformedInbound.self) { try ConversationOperation.of(InboundEnvelope(group: bad, edge: "e", session: "s")) }
        }
        var neither = InboundEnvelope(group: change(.leave, by: "bob", conv: conv), edge: "e", session: "s")
        neither.group = nil
        #expect(throws: MalformedInbound.self) { try ConversationOperation.of(neither) }
    }

    private func change(_ action: GroupOperation.Action, by: String, _ members: [String] = [], conv: String = "g:team",
                        op: String = "op1") -> GroupOperation {
        GroupOperation(op: op, action: action, conv: conv, by: by, id: "c1", members: members, ts: 1)
    }
}
