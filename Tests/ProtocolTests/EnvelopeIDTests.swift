import Foundation
import ParleyProtocol
import Testing

/// Envelope readers refuse ids no edge would accept (``WireError/Code/invalidID``), whoever
/// produced the record; the error names the field, never the value.
@Suite("Envelope ids")
struct EnvelopeIDTests {
    static let forged = ["evil}{x\nINJECTED", "", "a b", String(repeating: "a", count: 65), "dm:alice:bob", "ü"]

    func refused<T: WireObject>(_ type: T.Type, _ value: T, field: String) {
        do {
            _ = try Envelope.decode(T.self, from: Envelope.encode(value))
            Issue.record("\(T.self) with a forged \(field) was read")
        } catch {
            #expect(error.code == .invalidID, "\(T.self).\(field): \(error)")
            #expect(error.message == "\"\(field)\" is not a well-formed id")
        }
    }

    let message = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "hi", ts: 1, id: "c1")

    @Test("well-formed envelopes read as before: user, edge, session, device (and the v1 device), conv")
    func wellFormed() throws {
        let inbound = InboundEnvelope(message: message, edge: "edge-1", session: "5f0c0a6e-1b2c-4d5e-8f90-1234567890ab", device: "phone")
        #expect(try Envelope.decode(InboundEnvelope.self, from: Envelope.encode(inbound)) == inbound)
        let move = CursorMove(kind: .ack, user: "bob", device: Device.legacy, session: "s1", edge: "e1", seq: 1)
        #expect(try Envelope.decode(CursorMove.self, from: Envelope.encode(move)) == move)
        let resync = DeliverEnvelope(user: "", resync: true)
        #expect(try Envelope.decode(DeliverEnvelope.self, from: Envelope.encode(resync)) == resync)
        let group = GroupOperation(op: MessageID.make(), action: .add, conv: "g:team", by: "alice", id: "c1", members: ["bob"], ts: 1)
        #expect(try Envelope.decode(InboundEnvelope.self, from: Envelope.encode(InboundEnvelope(group: group, edge: "e1", session: "s1"))).group == group)
    }

    @Test("a forged user id is refused in every envelope a service consumes", arguments: forged)
    func forgedUsers(_ id: String) {
        var forgedMessage = message
        forgedMessage.from = id
        refused(InboundEnvelope.self, InboundEnvelope(message: forgedMessage, edge: "e1", session: "s1"), field: "from")
        refused(InboxEntry.self, InboxEntry(user: id, entry: .message(message)), field: "user")
        refused(CursorMove.self, CursorMove(kind: .ack, user: id, device: "d", session: "s", edge: "e", seq: 1), field: "user")
        refused(QueryEnvelope.self, QueryEnvelope(kind: .sync, user: id, device: "d", session: "s", edge: "e"), field: "user")
        refused(PresenceEvent.self, PresenceEvent(kind: .connect, edge: "e1", user: id, session: "s1", ts: 1), field: "user")
        refused(PresenceEvent.self, PresenceEvent(kind: .query, edge: "e1", user: "bob", session: "s1", users: ["carol", id], ts: 1),
                field: "users")
        refused(PresenceChange.self, PresenceChange(kind: .sessionOnline, user: id, session: "s", edge: "e", status: .online, transition: true),
                field: "user")
        refused(SignalEnvelope.self, SignalEnvelope(kind: .typing, conv: "g:team", user: id, session: "s", edge: "e", ts: 1), field: "user")
        refused(DeliverEnvelope.self, DeliverEnvelope(user: "bob", entries: [.message(forgedMessage, seq: 1)]), field: "from")
        let group = GroupOperation(op: MessageID.make(), action: .add, conv: "g:team", by: "alice", id: "c1", members: [id], ts: 1)
        refused(InboundEnvelope.self, InboundEnvelope(group: group, edge: "e1", session: "s1"), field: "members")
    }

    @Test("forged edge, session, device and conversation ids are refused")
    func forgedOthers() {
        let bad = "evil}{x\nINJECTED"
        refused(InboundEnvelope.self, InboundEnvelope(message: message, edge: bad, session: "s1"), field: "edge")
        refused(InboundEnvelope.self, InboundEnvelope(message: message, edge: "e1", session: bad), field: "session")
        refused(InboundEnvelope.self, InboundEnvelope(message: message, edge: "e1", session: "s1", device: bad), field: "device")
        var forgedConv = message
        forgedConv.conv = "dm:bob:alice"  // not in canonical order
        refused(InboundEnvelope.self, InboundEnvelope(message: forgedConv, edge: "e1", session: "s1"), field: "conv")
        refused(DeliverEnvelope.self, DeliverEnvelope(user: "bob", sessions: [bad]), field: "sessions")
    }

    @Test("a batch loses only its items with malformed ids; other failures still refuse the whole record")
    func batches() throws {
        let good = [InboxEntry(user: "alice", entry: .message(message)), InboxEntry(user: "bob", entry: .message(message))]
        let forged = InboxEntry(user: "evil}{x\nINJECTED", entry: .message(message))
        let record = Envelope.encode(EnvelopeBatch(items: [good[0], forged, good[1]]))
        let batch = try Envelope.decodeBatch(InboxEntry.self, from: record)
        #expect(batch.items == good)
        #expect(batch.refused.map(\.code) == [.invalidID])
        #expect(try Envelope.decodeBatch(InboxEntry.self, from: Envelope.encode(EnvelopeBatch(items: good))).items == good)
        let broken = Array(String(decoding: record, as: UTF8.self).replacingOccurrences(of: #""user":"bob""#, with: #""user":7"#).utf8)
        #expect(throws: WireError.self) { try Envelope.decodeBatch(InboxEntry.self, from: broken) }
    }

    @Test("fields the reader does not know are skipped; the known ids are still checked")
    func madeUpFields() throws {
        let extra = #"{"v":2,"message":{"msg":"m1","conv":"dm:alice:bob","from":"alice","admin":true,"body":"hi","ts":1},"#
            + #""edge":"e1","session":"s1","role":"root"}"#
        #expect(try Envelope.decode(InboundEnvelope.self, from: Array(extra.utf8)).message?.from == "alice")
        let forged = extra.replacingOccurrences(of: #""from":"alice""#, with: #""from":"a}{b""#)
        #expect(throws: WireError.self) { try Envelope.decode(InboundEnvelope.self, from: Array(forged.utf8)) }
    }
}
