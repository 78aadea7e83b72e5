/// A frame ws-edge sends to a client: `{"type":"<case>", <the body's fields>}`. A new frame is
/// a body type with its ``WireTable``, a case here and its line in ``encoded()``.
public enum ServerFrame: Sendable, Equatable {
    /// The first frame of every session.
    case welcome(Welcome)
    /// The broker durably accepted a send.
    case sent(Sent)
    /// A chat message for the session's user (or the user's own message from another session),
    /// without the sender's client id.
    case message(ChatMessage)
    /// The recipient acked `msg`.
    case receipt(Receipt)
    case pong
    case error(ProtocolError)
    /// A watched user's status, `online` or `offline`.
    case presence(PresenceStatus)

    public struct Welcome: Sendable, Equatable {
        public var user: String
        public var session: String
        public var edge: String

        public init(user: String, session: String, edge: String) {
            self.user = user
            self.session = session
            self.edge = edge
        }
    }

    /// The send with client id `id` is durable as message `msg`, accepted at `ts`.
    public struct Sent: Sendable, Equatable {
        public var id: String
        public var msg: String
        public var ts: UInt64

        public init(id: String, msg: String, ts: UInt64) {
            self.id = id
            self.msg = msg
            self.ts = ts
        }
    }

    /// `by` acked `msg`; `id` is the sender's client id when known. `status` is `delivered`.
    public struct Receipt: Sendable, Equatable {
        public var msg: String
        public var by: String
        public var id: String?

        public init(msg: String, by: String, id: String?) {
            self.msg = msg
            self.by = by
            self.id = id
        }
    }

    /// The JSON text of the frame.
    public func encoded() -> [UInt8] {
        switch self {
        case .welcome(var body): return Self.encode("welcome", &body)
        case .sent(var body): return Self.encode("sent", &body)
        case .message(var message):
            message.id = nil  // the recipient's frame never shows the sender's client id
            return Self.encode("message", &message)
        case .receipt(var body): return Self.encode("receipt", &body)
        case .pong:
            var body = NoFields()
            return Self.encode("pong", &body)
        case .error(var body): return Self.encode("error", &body)
        case .presence(var body): return Self.encode("presence", &body)
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
        }
    }
}

extension ServerFrame.Sent: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(id: "", msg: "", ts: 0)) { s, f in
            f.field("id", &s.id)
            f.field("msg", &s.msg)
            f.field("ts", &s.ts)
        }
    }
}

extension ServerFrame.Receipt: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(msg: "", by: "", id: nil)) { r, f in
            f.field("msg", &r.msg)
            f.field("by", &r.by)
            f.constant("status", "delivered")
            f.field("id", &r.id)
        }
    }
}

/// The body of a frame without fields (`ping`, `pong`).
struct NoFields: WireObject {
    static var wire: WireTable<NoFields> { WireTable(NoFields()) { _, _ in } }
}
