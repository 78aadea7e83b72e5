import Foundation
import ParleyProtocol
import Testing

@Suite("Kafka envelopes")
struct EnvelopeTests {
    let message = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "hi ✓", ts: 42, id: "c1")

    @Test func roundTripsEveryEnvelope() throws {
        let inbound = InboundEnvelope(message: message, edge: "e1", session: "s1")
        #expect(try Envelope.decode(InboundEnvelope.self, from: Envelope.encode(inbound)) == inbound)
        let inbox = InboxEntry(user: "bob", entry: .message(message))
        #expect(try Envelope.decode(InboxEntry.self, from: Envelope.encode(inbox)) == inbox)
        let move = CursorMove(kind: .read, user: "bob", device: "d", session: "s", edge: "e", conv: message.conv, cseq: 3)
        #expect(try Envelope.decode(CursorMove.self, from: Envelope.encode(move)) == move)
        let query = QueryEnvelope(kind: .sync, user: "bob", device: "d", session: "s", edge: "e", after: 7, epoch: "e1", subscribe: true)
        #expect(try Envelope.decode(QueryEnvelope.self, from: Envelope.encode(query)) == query)
        let event = PresenceEvent(kind: .edgeStarted, edge: "e1", ts: 7)
        #expect(try Envelope.decode(PresenceEvent.self, from: Envelope.encode(event)) == event)
        let change = PresenceChange(kind: .sessionOnline, user: "bob", session: "s", edge: "e", status: .online, transition: true)
        #expect(try Envelope.decode(PresenceChange.self, from: Envelope.encode(change)) == change)
        let deliver = DeliverEnvelope(user: "bob", sessions: ["s"], entries: [.message(message, seq: 1)],
                                      history: HistoryPage(conv: message.conv, messages: [message], more: false),
                                      presence: [PresenceStatus(user: "carol", status: .offline)])
        #expect(try Envelope.decode(DeliverEnvelope.self, from: Envelope.encode(deliver)) == deliver)
    }

    @Test func carriesAVersionAndToleratesNewFields() throws {
        let move = CursorMove(kind: .ack, user: "bob", device: "d", session: "s", edge: "e", seq: 4)
        let encoded = try #require(String(bytes: Envelope.encode(move), encoding: .utf8))
        #expect(encoded.contains(#""v":2"#))
        let newer = #"{"v":3,"kind":"ack","user":"bob","device":"d","session":"s","edge":"e","seq":4,"future":{"x":[1]},"shard":5}"#
        #expect(try Envelope.decode(CursorMove.self, from: Array(newer.utf8)) == CursorMove(kind: .ack, user: "bob", device: "d", session: "s",
                                                                                            edge: "e", seq: 4).with(version: 3))
        let sparse = #"{"v":2,"user":"bob"}"#
        #expect(try Envelope.decode(DeliverEnvelope.self, from: Array(sparse.utf8)).entries.isEmpty)
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

    @Test("a conversation id is valid exactly when it is a group id or a dm in canonical form")
    func conversationIDs() {
        let parts = ["", "a", "b", "bob", "A", "é", "a b", "x:y", String(repeating: "z", count: 64), String(repeating: "z", count: 65)]
        var checked = 0
        for a in parts {
            for b in parts {
                for conv in ["dm:\(a):\(b)", "dm:\(a)\(b)", "g:\(a)\(b)", "dm:\(a):\(b):", "\(a):\(b)"] {
                    // The definition spelled out: `dm:` and exactly two identifiers in byte order, or `g:` and one.
                    let users = conv.hasPrefix("dm:") ? conv.dropFirst(3).split(separator: ":", omittingEmptySubsequences: false) : []
                    let isDM = users.count == 2 && users.allSatisfy { Identifier.isValid(String($0)) }
                        && !users[1].utf8.lexicographicallyPrecedes(users[0].utf8)
                    let isGroup = conv.hasPrefix("g:") && Identifier.isValid(String(conv.dropFirst(2)))
                    #expect(Conversation.isValid(conv) == (isDM || isGroup), "\(conv)")
                    let members = Conversation.directMembers(conv)
                    #expect(members.map { [$0.0, $0.1] } == (isDM ? users.map(String.init) : nil), "\(conv)")
                    checked += Conversation.isValid(conv) ? 1 : 0
                }
            }
        }
        #expect(checked > 50, "valid ids were among the inputs")
        #expect(Conversation.isValid("dm:alice:bob") && Conversation.isValid("dm:bob:bob"))
        #expect(!Conversation.isValid("dm:bob:alice"), "not canonical")
    }

    @Test func topicsUseThePrefix() {
        let topics = Topics(prefix: "t1.")
        #expect(topics.inbound == "t1.chat.inbound")
        #expect(topics.deliver(edge: "edge-1") == "t1.chat.deliver.edge-1")
        #expect(topics.shared.count == 7)
        #expect(topics.signals == "t1.chat.signals")
        #expect(topics.queries == "t1.chat.queries")
    }
}

@Suite("Batched envelopes")
struct EnvelopeBatchTests {
    func ack(_ n: Int) -> CursorMove {
        CursorMove(kind: .ack, user: "u\(n)", device: "d\(n)", session: "s\(n)", edge: "e", seq: UInt64(n), after: 0)
    }

    @Test func encodeEveryItemOnceInOrderAndSplitBySize() throws {
        let items = (0..<100).map(ack)
        let one = try #require(Envelope.encodeBatches(items, maxBytes: 1 << 20).first)
        #expect(try Envelope.decode(EnvelopeBatch<CursorMove>.self, from: one) == EnvelopeBatch(items: items))

        let small = Envelope.encodeBatches(items, maxBytes: 1000)
        #expect(small.count > 1)
        #expect(small.allSatisfy { $0.count <= 1000 })
        let decoded = try small.flatMap { try Envelope.decode(EnvelopeBatch<CursorMove>.self, from: $0).items }
        #expect(decoded == items)
    }

    @Test func anItemLargerThanTheLimitGetsABatchOfItsOwn() throws {
        let long = String(repeating: "u", count: Identifier.maxLength)
        let big = CursorMove(kind: .ack, user: long, device: long, session: long, edge: long, seq: 1)
        let batches = Envelope.encodeBatches([ack(1), big, ack(2)], maxBytes: 200)
        #expect(batches.count == 3)
        #expect(try Envelope.decode(EnvelopeBatch<CursorMove>.self, from: batches[1]).items == [big])
        #expect(Envelope.encodeBatches([CursorMove](), maxBytes: 200).isEmpty)
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
        let tricky = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "a\"b c\\d line\nnext\t\u{1} é 👋 </script>",
                                 ts: 1_800_000_000_123, id: nil)
        let plain = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "hi", ts: 1, id: "c1")
        #expect(try written(tricky) == codable(tricky))
        #expect(try written(plain) == codable(plain))
        let inbound = InboundEnvelope(message: tricky, edge: "e1", session: "s1")
        #expect(try written(inbound) == codable(inbound))
        let inbox = InboxEntry(user: "bob", entry: .message(plain))
        #expect(try written(inbox) == codable(inbox))
        let move = CursorMove(kind: .ack, user: "bob", device: "d", session: "s", edge: "e", seq: 5, after: 2)
        #expect(try written(move) == codable(move))
        for deliver in [
            DeliverEnvelope(user: "bob", sessions: ["s1"], entries: [.message(plain, seq: 1), .message(tricky, seq: 2)], epoch: "e",
                            presence: [PresenceStatus(user: "carol", status: .online)]),
            DeliverEnvelope(user: "bob", sessions: ["s0"], entries: [.message(plain, seq: 9)],
                            page: SyncPage(epoch: "e", head: 9, after: 8, more: false, reset: false)),
            DeliverEnvelope(user: "", resync: true),
        ] {
            #expect(try written(deliver) == codable(deliver))
            #expect(try Envelope.decode(DeliverEnvelope.self, from: Envelope.encode(deliver)) == deliver)
        }
    }
}

extension CursorMove {
    func with(version: Int) -> CursorMove {
        var copy = self
        copy.v = version
        return copy
    }
}
