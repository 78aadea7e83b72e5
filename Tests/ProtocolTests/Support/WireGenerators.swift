import ParleyProtocol
import PropertyBased

/// Generators of wire values, with the characters that stress a JSON writer and reader:
/// quotes, backslashes, slashes, control characters, DEL, non-ASCII, U+2028, astral scalars.
enum WireGen {
    static let characters: [Character] = ["a", "Z", "0", " ", "-", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}",
                                          "é", "€", "\u{2028}", "\u{FFFD}", "👋", "\u{10FFFF}"]

    static let character = Gen.int(in: 0...characters.count - 1).map { characters[$0] }

    static let text = character.string(of: 0...8)

    static let timestamp = Gen<UInt64>.uint64()

    static let message = zip(text, text, text, text, timestamp, text.optional).map { m in
        ChatMessage(msg: m.0, from: m.1, to: m.2, conv: Conversation.direct(m.1, m.2), body: m.3, ts: m.4, id: m.5)
    }

    static let inbound = zip(message, text, text).map { e in InboundEnvelope(message: e.0, edge: e.1, session: e.2) }

    static let inbox = zip(message, text.array(of: 0...3)).map { e in InboxEnvelope(message: e.0, delivered: e.1) }

    static let inboxBatch = inbox.array(of: 0...3).map { EnvelopeBatch(items: $0) }

    static let ack = zip(text, zip(text, text.optional, text.optional).array(of: 0...3)).map { e in
        AckEnvelope(user: e.0, acks: e.1.map { AckedMessage(msg: $0.0, from: $0.1, id: $0.2) })
    }

    static let status = Gen.bool.map { $0 ? PresenceStatus.Status.online : .offline }

    static let deliver = zip(
        text, text.array(of: 0...2).optional, text.optional, message.array(of: 0...2),
        zip(text, text, text.optional).array(of: 0...2), zip(text, status).array(of: 0...2), Gen.bool
    ).map { d in
        DeliverEnvelope(user: d.0, sessions: d.1, exceptSession: d.2, messages: d.3,
                        receipts: d.4.map { AckedMessageReceipt(msg: $0.0, by: $0.1, id: $0.2) },
                        presence: d.5.map { PresenceStatus(user: $0.0, status: $0.1) }, resync: d.6)
    }

    static let presenceEvent = zip(
        Gen.int(in: 0...5).map { [PresenceEvent.Kind.connect, .disconnect, .heartbeat, .edgeStarted, .edgeStopped, .query][$0] },
        text, text.optional, text.optional, text.array(of: 0...2).optional, timestamp
    ).map { e in PresenceEvent(kind: e.0, edge: e.1, user: e.2, session: e.3, users: e.4, ts: e.5) }

    static let presenceChange = zip(
        Gen.bool.map { $0 ? PresenceChange.Kind.sessionOnline : .sessionOffline }, text, text, text, status, Gen.bool
    ).map { c in PresenceChange(kind: c.0, user: c.1, session: c.2, edge: c.3, status: c.4, transition: c.5) }

    /// JSON's structural bytes, half of the mutations' bytes.
    static let punctuation = Array(",:{}[]\"\\-.e0 ".utf8)

    static let mutation = zip(Gen<Mutation.Kind>.case, Gen.double(in: 0...1), Gen.uint8(), Gen.bool).map { m in
        Mutation(kind: m.0, at: m.1, byte: m.3 ? punctuation[Int(m.2) % punctuation.count] : m.2)
    }

    /// A value, how to restyle its JSON, and (for half of them) byte mutations to apply after.
    static func document<T, Shrinks>(_ value: Generator<T, Shrinks>) -> Generator<Document<T>, AnySequence<Any>> {
        zip(value, Gen.uint64(), Gen.bool, Gen.bool, mutation.array(of: 1...3)).map { d in
            Document(value: d.0, style: d.1, fromJSONEncoder: d.2, mutations: d.3 ? d.4 : [])
        }.eraseToAny()
    }
}

/// One input of the differential tests.
struct Document<T>: CustomStringConvertible {
    var value: T
    /// Seed of the ``Restyler``.
    var style: UInt64
    /// Start from what JSONEncoder writes instead of what Parley writes.
    var fromJSONEncoder: Bool
    var mutations: [Mutation]

    var description: String { "\(value) style \(style) \(fromJSONEncoder ? "JSONEncoder" : "Parley") \(mutations)" }
}
