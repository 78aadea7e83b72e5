import Foundation
import ParleyProtocol
import Testing

/// The hot envelopes are read by a hand-written reader; it must read what JSONDecoder reads.
@Suite("Envelope reading")
struct EnvelopeReadingTests {
    let tricky = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "a\"b c\\d line\nnext\t\u{1} é 👋 </script> \u{2028}",
                             ts: 1_800_000_000_123, id: nil)
    let plain = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "hi", ts: 1, id: "c1")

    func foundation<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    func parley<T: WireObject>(_ type: T.Type, _ json: String) throws -> T {
        try Envelope.decode(type, from: Array(json.utf8))
    }

    @Test func readsWhatEitherEncoderWrites() throws {
        let deliver = DeliverEnvelope(user: "bob", sessions: ["s1"], entries: [.message(plain, seq: 3), .message(tricky, seq: 4)],
                                      epoch: "e1", presence: [PresenceStatus(user: "carol", status: .online)], resync: true)
        let receipt = StreamEntry(kind: .receipt, msg: "m", conv: "dm:alice:bob", cseq: 2, by: "bob", status: .read, id: "c1")
        let encoder = JSONEncoder()
        func check<T: WireObject & Equatable>(_ value: T) throws {
            #expect(try Envelope.decode(T.self, from: Envelope.encode(value)) == value)
            #expect(try Envelope.decode(T.self, from: Array(encoder.encode(value))) == value)
        }
        try check(plain)
        try check(tricky)
        try check(InboundEnvelope(message: tricky, edge: "e1", session: "s1"))
        try check(InboxEntry(user: "bob", entry: .message(plain)))
        try check(CursorMove(kind: .ack, user: "bob", device: "d", session: "s", edge: "e", seq: 9, after: 4))
        try check(QueryEnvelope(kind: .history, user: "bob", device: "d", session: "s", edge: "e", conv: "dm:alice:bob", limit: 50))
        try check(deliver)
        try check(DeliverEnvelope(user: ""))
        try check(EnvelopeBatch(items: [deliver, DeliverEnvelope(user: "x", page: SyncPage(epoch: "e", head: 9, after: 2, more: true, reset: false))]))
        try check(EnvelopeBatch(items: [InboxEntry(user: "alice", entry: receipt), InboxEntry(user: "bob", entry: .message(tricky))]))
    }

    @Test func agreesWithJSONDecoderOnEscapesNullsWhitespaceAndUnknownKeys() throws {
        let documents = [
            #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"\u00e9\ud83d\udc4b\/\b\f\n\r\t\"\\","ts":5,"id":null}"#,
            #" { "future" : {"a":[1,-2.5e3,true,false,null,{"b":"}"}]} , "msg" : "m" , "conv":"dm:a:b", "from":"a","to":"b","body":"","ts":0 } "#,
            #"{"v":7,"user":"bob","sessions":null,"entries":null,"page":null,"epoch":null,"presence":[],"resync":null}"#,
        ]
        #expect(try parley(ChatMessage.self, documents[0]) == foundation(ChatMessage.self, documents[0]))
        #expect(try parley(ChatMessage.self, documents[1]) == foundation(ChatMessage.self, documents[1]))
        #expect(try parley(ChatMessage.self, documents[0]).body == "é👋/\u{8}\u{c}\n\r\t\"\\")
        #expect(try parley(DeliverEnvelope.self, documents[2]) == foundation(DeliverEnvelope.self, documents[2]))
        let batch = #"{"items":[{"v":2,"kind":"ack","user":"u","device":"d","session":"s","edge":"e","seq":3,"extra":[[]]}],"v":2}"#
        #expect(try parley(EnvelopeBatch<CursorMove>.self, batch) == foundation(EnvelopeBatch<CursorMove>.self, batch))
    }

    @Test(arguments: [
        "", "garbage", "{", "{}", "[]", "null",
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1} trailing"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x"}"#,  // ts missing
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":-1}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1.5}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":01}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":99999999999999999999}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":"1"}"#,
        #"{"msg":1,"from":"a","to":"b","body":"x","ts":1}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"\x","ts":1}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"\ud83d","ts":1}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"\u12","ts":1}"#,
        "{\"msg\":\"m\",\"from\":\"a\",\"to\":\"b\",\"body\":\"raw\ncontrol\",\"ts\":1}",
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1,}"#,
        #"{"msg":"m" "from":"a","to":"b","body":"x","ts":1}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1,"deep":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
    ])
    func refusesMalformedInput(_ json: String) {
        #expect(throws: (any Error).self) { try parley(ChatMessage.self, json) }
    }

    @Test func refusesInvalidUTF8AndUnknownStatus() {
        var bytes = Array(#"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"xx","ts":1}"#.utf8)
        let body = bytes.firstIndex(of: UInt8(ascii: "x"))!
        bytes[body] = 0xFF
        #expect(throws: (any Error).self) { try Envelope.decode(ChatMessage.self, from: bytes) }
        #expect(throws: (any Error).self) { try parley(PresenceStatus.self, #"{"user":"u","status":"away"}"#) }
    }
}
