import Foundation
import ParleyProtocol
import Testing

@Suite("Server frames")
struct ServerFrameTests {
    func json(_ frame: ServerFrame) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(frame.encoded())) as? [String: Any])
    }

    @Test func encodesTheDocumentedFields() throws {
        let welcome = try json(.welcome(.init(user: "alice", session: "s1", edge: "e1")))
        #expect(welcome["type"] as? String == "welcome")
        #expect(welcome["session"] as? String == "s1")
        let sent = try json(.sent(.init(id: "c1", msg: "m1", conv: "dm:alice:bob", ts: 1_700_000_000_123)))
        #expect(sent["ts"] as? Int == 1_700_000_000_123)
        #expect(sent["conv"] as? String == "dm:alice:bob")
        let receipt = try json(.entry(StreamEntry(kind: .receipt, seq: 4, msg: "m1", conv: "dm:alice:bob", cseq: 2, by: "bob",
                                                  status: .delivered)))
        #expect(receipt["type"] as? String == "receipt" && receipt["status"] as? String == "delivered")
        #expect(receipt["seq"] as? Int == 4 && receipt["cseq"] as? Int == 2)
        #expect(receipt["id"] == nil && receipt["body"] == nil && receipt["gone"] == nil)
        let synced = try json(.synced(.init(seq: 9, epoch: "e1", reset: false)))
        #expect(synced["seq"] as? Int == 9 && synced["reset"] == nil)
        #expect(try json(.synced(.init(seq: 9, epoch: "e1", reset: true)))["reset"] as? Bool == true)
        let error = try json(.error(ProtocolError(.tooLarge, "big", clientID: "c2")))
        #expect(error["code"] as? String == "too_large")
        #expect(error["id"] as? String == "c2")
        #expect(try json(.presence(PresenceStatus(user: "bob", status: .online)))["status"] as? String == "online")
    }

    @Test func encodesTheGroupFrames() throws {
        let group = try json(.entry(StreamEntry(kind: .group, seq: 7, msg: "op1", conv: "g:team", cseq: 3, by: "alice", ts: 5, id: "c9",
                                                event: .left, members: ["alice"], title: "Team", admin: "bob")))
        #expect(group["type"] as? String == "group" && group["event"] as? String == "left")
        #expect(group["members"] as? [String] == ["alice"] && group["admin"] as? String == "bob" && group["title"] as? String == "Team")
        #expect(group["seq"] as? Int == 7 && group["cseq"] as? Int == 3 && group["by"] as? String == "alice")
        let members = try json(.members(MembersPage(conv: "g:team", title: "Team",
                                                    members: [GroupMemberInfo(user: "bob", role: .admin, joined: 1, read: 4)], next: "bob")))
        #expect(members["type"] as? String == "members" && members["next"] as? String == "bob")
        let first = try #require((members["members"] as? [[String: Any]])?.first)
        #expect(first["user"] as? String == "bob" && first["role"] as? String == "admin" && first["joined"] as? Int == 1 && first["read"] as? Int == 4)
        let typing = try json(.typing(TypingNotice(conv: "g:team", user: "carol")))
        #expect(typing["type"] as? String == "typing" && typing["conv"] as? String == "g:team" && typing["user"] as? String == "carol")
        let away = try json(.presence(PresenceStatus(user: "bob", status: .offline, lastSeen: 1_700_000_000_000)))
        #expect(away["last_seen"] as? Int == 1_700_000_000_000)
        #expect(try json(.presence(PresenceStatus(user: "bob", status: .online)))["last_seen"] == nil)
    }

    @Test func escapesEveryStringAndRoundTripsUnicode() throws {
        let body = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} emoji 👋 <img src=x onerror=alert(1)>"
        let message = ChatMessage(msg: "m", from: "a", to: "b", conv: "dm:alice:bob", body: body, ts: 1, id: nil)
        let decoded = try json(.entry(.message(message, seq: 1)))
        #expect(decoded["body"] as? String == body)
        #expect(decoded["from"] as? String == "a")
    }
}
