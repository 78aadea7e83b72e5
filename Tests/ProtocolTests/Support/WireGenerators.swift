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

    /// Ids (users, edges, sessions, message ids, epochs): envelope readers refuse anything but
    /// 1-64 characters of `[A-Za-z0-9_.-]`, so the stress characters go into the other strings.
    static let id = Gen.int(in: 0...5).map { Array("aZ0-_.")[$0] }.string(of: 1...8)

    /// A device: an id or the v1 device.
    static let device = zip(Gen.bool, id).map { $0.0 ? Device.legacy : $0.1 }

    /// A well-formed conversation: a group or a direct conversation in canonical order.
    static let conv = zip(Gen.bool, id, id).map { $0.0 ? "g:\($0.1)" : Conversation.direct($0.1, $0.2) }

    static let message = zip(id, id, id.optional, conv, timestamp.optional, text, timestamp, text.optional).map { m in
        ChatMessage(msg: m.0, from: m.1, to: m.2, conv: m.3, cseq: m.4, body: m.5, ts: m.6, id: m.7)
    }

    static let groupOperation = zip(
        id, Gen<GroupOperation.Action>.case, conv, id, text, text.optional, id.array(of: 0...2), timestamp
    ).map { g in GroupOperation(op: g.0, action: g.1, conv: g.2, by: g.3, id: g.4, title: g.5, members: g.6, ts: g.7) }

    /// A send or a group change.
    static let inbound = zip(Gen.bool, message, groupOperation, id, id, device.optional).map { e in
        e.0 ? InboundEnvelope(message: e.1, edge: e.3, session: e.4, device: e.5) : InboundEnvelope(group: e.2, edge: e.3, session: e.4, device: e.5)
    }

    static let signal = zip(conv, id, id, id, timestamp).map { s in
        SignalEnvelope(kind: .typing, conv: s.0, user: s.1, session: s.2, edge: s.3, ts: s.4)
    }

    static let entry = zip(
        Gen<StreamEntry.Kind>.case, timestamp, id.optional, conv, timestamp,
        zip(id.optional, id.optional, id.optional), Gen<StreamEntry.ReceiptStatus>.case.optional, text.optional,
        zip(timestamp.optional, text.optional, Gen<ErrorCode>.case.optional, Gen.bool),
        zip(Gen<StreamEntry.GroupEvent>.case.optional, id.array(of: 0...2).optional, text.optional, id.optional)
    ).map { e in
        StreamEntry(kind: e.0, seq: e.1, msg: e.2, conv: e.3, cseq: e.4, from: e.5.0, to: e.5.1, by: e.5.2, status: e.6, body: e.7,
                    ts: e.8.0, id: e.8.1, code: e.8.2, gone: e.8.3, event: e.9.0, members: e.9.1, title: e.9.2, admin: e.9.3)
    }

    static let inboxBatch = zip(id, entry).map { InboxEntry(user: $0.0, entry: $0.1) }.array(of: 0...3).map { EnvelopeBatch(items: $0) }

    static let cursorMove = zip(
        Gen.bool.map { $0 ? CursorMove.Kind.ack : .read }, id, device, id, id,
        timestamp.optional, timestamp.optional, conv.optional, timestamp.optional
    ).map { m in CursorMove(kind: m.0, user: m.1, device: m.2, session: m.3, edge: m.4, seq: m.5, after: m.6, conv: m.7, cseq: m.8) }

    static let query = zip(
        Gen.int(in: 0...5).map { [QueryEnvelope.Kind.sync, .history, .conversations, .unsubscribe, .members, .stream][$0] }, id, device, id, id,
        zip(timestamp.optional, text.optional, Gen.bool), zip(text.optional, timestamp.optional), Gen.int(in: -5...500).optional,
        text.optional
    ).map { q in
        QueryEnvelope(kind: q.0, user: q.1, device: q.2, session: q.3, edge: q.4, after: q.5.0, epoch: q.5.1, subscribe: q.5.2,
                      conv: q.6.0, before: q.6.1, limit: q.7, next: q.8)
    }

    static let status = Gen.bool.map { $0 ? PresenceStatus.Status.online : .offline }

    static let page = zip(id, timestamp, timestamp, Gen.bool, Gen.bool).map { p in
        SyncPage(epoch: p.0, head: p.1, after: p.2, more: p.3, reset: p.4)
    }

    static let history = zip(conv, message.array(of: 0...1), Gen.bool).map { HistoryPage(conv: $0.0, messages: $0.1, more: $0.2) }

    static let summary = zip(conv, text.optional, id.array(of: 0...2).optional, message.optional, timestamp, timestamp, timestamp).map { c in
        ConversationSummary(conv: c.0, title: c.1, members: c.2, last: c.3, cseq: c.4, read: c.5, unread: c.6)
    }

    static let conversations = zip(summary.array(of: 0...1), text.optional).map { ConversationsPage(items: $0.0, next: $0.1) }

    static let refusal = zip(Gen<ErrorCode>.case, text, text.optional).map { ProtocolError($0.0, $0.1, clientID: $0.2) }

    static let members = zip(
        conv, text.optional, zip(id, Gen<GroupMemberInfo.Role>.case, timestamp, timestamp).array(of: 0...2), text.optional
    ).map { p in
        MembersPage(conv: p.0, title: p.1, members: p.2.map { GroupMemberInfo(user: $0.0, role: $0.1, joined: $0.2, read: $0.3) }, next: p.3)
    }

    static let typing = zip(conv, id).map { TypingNotice(conv: $0.0, user: $0.1) }

    static let stream = zip(text, text.optional, timestamp, timestamp, zip(text, timestamp).array(of: 0...2)).map { s in
        StreamState(user: s.0, epoch: s.1, head: s.2, first: s.3, devices: s.4.map { DeviceCursor(device: $0.0, cursor: $0.1) })
    }

    /// A deliver envelope carries live entries, or one answer to a session: a page (with its
    /// entries), a history page, a conversation list, a members page, a stream state, a typing
    /// notice or an error; presence statuses (with the watch answer) beside any of them; or a
    /// disconnect. Its `user` is empty on a resync.
    static let deliver = zip(
        id, id.array(of: 0...1).optional, entry.array(of: 0...2), Gen.int(in: 0...8), zip(page, history, conversations, refusal),
        zip(id, status, timestamp.optional).array(of: 0...1), Gen.bool, zip(members, typing, id.array(of: 0...2).optional, stream)
    ).map { d in
        let (kind, answers, more) = (d.3, d.4, d.7)
        return DeliverEnvelope(user: d.6 ? "" : d.0, sessions: d.1, entries: kind <= 1 ? d.2 : [], page: kind == 1 ? answers.0 : nil,
                               history: kind == 2 ? answers.1 : nil, conversations: kind == 3 ? answers.2 : nil,
                               members: kind == 5 ? more.0 : nil, stream: kind == 7 ? more.3 : nil, error: kind == 4 ? answers.3 : nil,
                               presence: d.5.map { PresenceStatus(user: $0.0, status: $0.1, lastSeen: $0.2) }, watch: more.2,
                               typing: kind == 6 ? more.1 : nil, resync: d.6, disconnect: kind == 8)
    }

    static let presenceEvent = zip(
        Gen.int(in: 0...5).map { [PresenceEvent.Kind.connect, .disconnect, .heartbeat, .edgeStarted, .edgeStopped, .query][$0] },
        id, id.optional, id.optional, id.array(of: 0...2).optional, timestamp
    ).map { e in PresenceEvent(kind: e.0, edge: e.1, user: e.2, session: e.3, users: e.4, ts: e.5) }

    static let presenceChange = zip(
        Gen.bool.map { $0 ? PresenceChange.Kind.sessionOnline : .sessionOffline }, id, id, id, status, Gen.bool, timestamp.optional
    ).map { c in PresenceChange(kind: c.0, user: c.1, session: c.2, edge: c.3, status: c.4, transition: c.5, lastSeen: c.6) }

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
