import Foundation
import ParleyProtocol
import Testing

@Suite("Kafka envelopes")
struct EnvelopeTests {
    let message = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "hi ✓", ts: 42, id: "c1")

    @Test func roundTripsEveryEnvelope() throws {
        let inbound = InboundEnvelope(message: message, edge: "e1", session: "s1")
        #expect(try Envelope.decode(InboundEnvelope.self, from: Envelope.encode(inbound)) == inbound)
        let inbox = InboxEnvelope(message: message, delivered: ["s2"])
        #expect(try Envelope.decode(InboxEnvelope.self, from: Envelope.encode(inbox)) == inbox)
        let ack = AckEnvelope(user: "bob", acks: [AckedMessage(msg: message.msg, from: "alice", id: "c1")])
        #expect(try Envelope.decode(AckEnvelope.self, from: Envelope.encode(ack)) == ack)
        let event = PresenceEvent(kind: .edgeStarted, edge: "e1", ts: 7)
        #expect(try Envelope.decode(PresenceEvent.self, from: Envelope.encode(event)) == event)
        let change = PresenceChange(kind: .sessionOnline, user: "bob", session: "s", edge: "e", status: .online, transition: true)
        #expect(try Envelope.decode(PresenceChange.self, from: Envelope.encode(change)) == change)
        let deliver = DeliverEnvelope(user: "bob", sessions: ["s"], messages: [message],
                                      receipts: [AckedMessageReceipt(msg: "m", by: "bob", id: nil)],
                                      presence: [PresenceStatus(user: "carol", status: .offline)])
        #expect(try Envelope.decode(DeliverEnvelope.self, from: Envelope.encode(deliver)) == deliver)
    }

    @Test func carriesAVersionAndToleratesNewFields() throws {
        let encoded = try #require(String(bytes: Envelope.encode(AckEnvelope(user: "bob", acks: [])), encoding: .utf8))
        #expect(encoded.contains(#""v":1"#))
        let newer = #"{"v":2,"user":"bob","acks":[{"msg":"m","future":true}],"shard":5}"#
        let decoded = try Envelope.decode(AckEnvelope.self, from: Array(newer.utf8))
        #expect(decoded.acks == [AckedMessage(msg: "m", from: nil, id: nil)])
        let sparse = #"{"v":1,"user":"bob"}"#
        #expect(try Envelope.decode(DeliverEnvelope.self, from: Array(sparse.utf8)).messages.isEmpty)
    }

    @Test func refusesMalformedEnvelopes() {
        #expect(throws: (any Error).self) { try Envelope.decode(InboundEnvelope.self, from: Array("{}".utf8)) }
        #expect(throws: (any Error).self) { try Envelope.decode(InboundEnvelope.self, from: Array("garbage".utf8)) }
    }
}

@Suite("Message ids")
struct MessageIDTests {
    @Test func areTimeOrderedStrictlyIncreasingAndValid() {
        var previous = ""
        for _ in 0..<10_000 {
            let id = MessageID.make()
            #expect(id > previous)
            #expect(MessageID.isValid(id))
            previous = id
        }
    }

    @Test func carryTheirTimeAndBoundsSortWithIt() throws {
        let id = MessageID.make(unixMilliseconds: 1_800_000_000_000)
        #expect(MessageID.unixMilliseconds(of: id) == 1_800_000_000_000)
        #expect(MessageID.lowerBound(unixMilliseconds: 1_800_000_000_000) <= id)
        #expect(MessageID.lowerBound(unixMilliseconds: 1_800_000_000_001) > id)
        #expect(!MessageID.isValid("0189ABCD-0000-7000-8000-000000000000"))
    }
}

@Suite("Identifiers and topics")
struct IdentifierTests {
    @Test func acceptOnlyTheSafeAlphabet() {
        #expect(Identifier.isValid("alice"))
        #expect(Identifier.isValid("A.b-c_9"))
        #expect(Identifier.isValid(String(repeating: "x", count: 64)))
        #expect(!Identifier.isValid(""))
        #expect(!Identifier.isValid("a b"))
        #expect(!Identifier.isValid("{x}"))
    }

    @Test func topicsUseThePrefix() {
        let topics = Topics(prefix: "t1.")
        #expect(topics.inbound == "t1.chat.inbound")
        #expect(topics.deliver(edge: "edge-1") == "t1.chat.deliver.edge-1")
        #expect(topics.shared.count == 5)
    }
}

@Suite("Batched envelopes")
struct EnvelopeBatchTests {
    func ack(_ n: Int) -> AckEnvelope {
        AckEnvelope(user: "u\(n)", acks: [AckedMessage(msg: "m\(n)", from: "s\(n)", id: "c\(n)")])
    }

    @Test func encodeEveryItemOnceInOrderAndSplitBySize() throws {
        let items = (0..<100).map(ack)
        let one = try #require(Envelope.encodeBatches(items, maxBytes: 1 << 20).first)
        #expect(try Envelope.decode(EnvelopeBatch<AckEnvelope>.self, from: one) == EnvelopeBatch(items: items))

        let small = Envelope.encodeBatches(items, maxBytes: 1000)
        #expect(small.count > 1)
        #expect(small.allSatisfy { $0.count <= 1000 })
        let decoded = try small.flatMap { try Envelope.decode(EnvelopeBatch<AckEnvelope>.self, from: $0).items }
        #expect(decoded == items)
    }

    @Test func anItemLargerThanTheLimitGetsABatchOfItsOwn() throws {
        let big = AckEnvelope(user: "big", acks: (0..<50).map { AckedMessage(msg: "m\($0)", from: nil, id: nil) })
        let batches = Envelope.encodeBatches([ack(1), big, ack(2)], maxBytes: 200)
        #expect(batches.count == 3)
        #expect(try Envelope.decode(EnvelopeBatch<AckEnvelope>.self, from: batches[1]).items == [big])
        #expect(Envelope.encodeBatches([AckEnvelope](), maxBytes: 200).isEmpty)
    }
}

@Suite("Envelope JSON")
struct EnvelopeJSONTests {
    /// The JSON the Codable conformance would write, as a Foundation object for comparison.
    func codable<T: Encodable>(_ value: T) throws -> NSDictionary {
        try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? NSDictionary)
    }

    func written<T: WireObject>(_ value: T) throws -> NSDictionary {
        try #require(JSONSerialization.jsonObject(with: Data(Envelope.encode(value))) as? NSDictionary)
    }

    @Test func matchesWhatCodableWritesForEveryHotEnvelope() throws {
        let tricky = ChatMessage(msg: MessageID.make(), from: "a\"b", to: "c\\d", conv: "dm:a:c", body: "line\nnext\t\u{1} é 👋 </script>",
                                 ts: 1_800_000_000_123, id: nil)
        let plain = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "hi", ts: 1, id: "c1")
        #expect(try written(tricky) == codable(tricky))
        #expect(try written(plain) == codable(plain))
        let inbound = InboundEnvelope(message: tricky, edge: "e1", session: "s1")
        #expect(try written(inbound) == codable(inbound))
        let inbox = InboxEnvelope(message: plain, delivered: ["s1", "s2"])
        #expect(try written(inbox) == codable(inbox))
        let ack = AckEnvelope(user: "bob", acks: [AckedMessage(msg: "m", from: "alice", id: nil), AckedMessage(msg: "n", from: nil, id: "c")])
        #expect(try written(ack) == codable(ack))
        for deliver in [
            DeliverEnvelope(user: "bob", sessions: ["s1"], messages: [plain, tricky],
                            receipts: [AckedMessageReceipt(msg: "m", by: "bob", id: nil)],
                            presence: [PresenceStatus(user: "carol", status: .online)]),
            DeliverEnvelope(user: "bob", exceptSession: "s0"),
            DeliverEnvelope(user: "", resync: true),
        ] {
            #expect(try written(deliver) == codable(deliver))
            #expect(try Envelope.decode(DeliverEnvelope.self, from: Envelope.encode(deliver)) == deliver)
        }
    }
}
