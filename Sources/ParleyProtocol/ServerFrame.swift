/// A frame ws-edge sends to a client: `{"type":"<case>", <the body's fields>}`. A new frame is
/// a body type with its ``WireTable``, a case here and its line in ``encoded()``.
public enum ServerFrame: Sendable, Equatable {
    /// The first frame of every session.
    case welcome(Welcome)
    /// The broker durably accepted a send.
    case sent(Sent)
    /// An entry of the user's stream, written as it is (``StreamEntry``).
    case entry(StreamEntry)
    /// The replay is done: the session is at `seq`, the stream's head.
    case synced(Synced)
    case history(HistoryPage)
    case conversations(ConversationsPage)
    case pong
    case error(ProtocolError)
    /// A watched user's status, `online` or `offline` (with `last_seen`).
    case presence(PresenceStatus)
    /// A page of a group's members.
    case members(MembersPage)
    /// Someone is typing (ephemeral).
    case typing(TypingNotice)

    public struct Welcome: Sendable, Equatable {
        public var user: String
        public var session: String
        public var edge: String
        /// The session's device (nil for a v1 session, which uses the legacy device).
        public var device: String?

        public init(user: String, session: String, edge: String, device: String? = nil) {
            self.user = user
            self.session = session
            self.edge = edge
            self.device = device
        }
    }

    /// The send with client id `id` is durable as message `msg` of `conv`, accepted at `ts`.
    public struct Sent: Sendable, Equatable {
        public var id: String
        public var msg: String
        public var conv: String?
        public var ts: UInt64

        public init(id: String, msg: String, conv: String? = nil, ts: UInt64) {
            self.id = id
            self.msg = msg
            self.conv = conv
            self.ts = ts
        }
    }

    /// The end of a replay: the session saw its stream up to `seq` (the head) of `epoch`.
    public struct Synced: Sendable, Equatable {
        public var seq: UInt64
        public var epoch: String
        /// The client's position was not in this epoch's retained stream: drop the cache and
        /// re-read `conversations` and `history`.
        public var reset: Bool

        public init(seq: UInt64, epoch: String, reset: Bool) {
            self.seq = seq
            self.epoch = epoch
            self.reset = reset
        }
    }

    /// The JSON text of the frame.
    public func encoded() -> [UInt8] {
        switch self {
        case .welcome(var body): return Self.encode("welcome", &body)
        case .sent(var body): return Self.encode("sent", &body)
        case .entry(var entry):
            var fields = WireFields(writingCapacity: 256)
            StreamEntry.write(&entry, &fields)  // the entry's `type` is its kind
            return fields.writer.bytes
        case .synced(var body): return Self.encode("synced", &body)
        case .history(var body): return Self.encode("history", &body)
        case .conversations(var body): return Self.encode("conversations", &body)
        case .pong:
            var body = NoFields()
            return Self.encode("pong", &body)
        case .error(var body): return Self.encode("error", &body)
        case .presence(var body): return Self.encode("presence", &body)
        case .members(var body): return Self.encode("members", &body)
        case .typing(var body): return Self.encode("typing", &body)
        }
    }

    /// The JSON text as a String.
    public var text: String { String(decoding: encoded(), as: UTF8.self) }

    private static func encode<Body: WireObject>(_ type: StaticString, _ body: inout Body) -> [UInt8] {
        var fields = WireFields(writingCapacity: 256)
        fields.writeObject(Body.wire, &body, type: type)
        return fields.writer.bytes
    }
}

extension ServerFrame.Welcome: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(user: "", session: "", edge: "")) { w, f in
            f.field("user", &w.user)
            f.field("session", &w.session)
            f.field("edge", &w.edge)
            f.field("device", &w.device)
        }
    }
}

extension ServerFrame.Sent: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(id: "", msg: "", ts: 0)) { s, f in
            f.field("id", &s.id)
            f.field("msg", &s.msg)
            f.field("conv", &s.conv)
            f.field("ts", &s.ts)
        }
    }
}

extension ServerFrame.Synced: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(seq: 0, epoch: "", reset: false)) { s, f in
            f.field("seq", &s.seq)
            f.field("epoch", &s.epoch)
            f.field("reset", &s.reset, default: false, omittingDefault: true)
        }
    }
}

/// The body of a frame without fields (`ping`, `pong`).
struct NoFields: WireObject {
    static var wire: WireTable<NoFields> { WireTable(NoFields()) { _, _ in } }
}
