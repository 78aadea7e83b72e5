/// A chat message as it travels through Kafka and Redis and reaches clients.
public struct ChatMessage: Codable, Sendable, Equatable, Hashable {
    /// Time-ordered id (``MessageID``), made by the edge that accepted the send.
    public let msg: String
    public let from: String
    public let to: String
    public let body: String
    /// Unix milliseconds when the edge accepted it.
    public let ts: UInt64
    /// The sender's client id (dedup of retries, receipts).
    public let id: String?

    public init(msg: String, from: String, to: String, body: String, ts: UInt64, id: String?) {
        self.msg = msg
        self.from = from
        self.to = to
        self.body = body
        self.ts = ts
        self.id = id
    }
}

/// The current envelope version. Every envelope carries it as `v`; decoders ignore fields they
/// do not know, so a newer producer can add fields without breaking older consumers.
public let envelopeVersion = 1

/// `chat.inbound` (key: recipient): a send the edge accepted.
public struct InboundEnvelope: Codable, Sendable, Equatable {
    public var v: Int = envelopeVersion
    public let message: ChatMessage
    /// Edge and session the message was sent from (so the sender's other sessions get a copy).
    public let edge: String
    public let session: String

    public init(message: ChatMessage, edge: String, session: String) {
        self.message = message
        self.edge = edge
        self.session = session
    }
}

/// `chat.inbox` (key: recipient): a routed message for the recipient's inbox.
public struct InboxEnvelope: Codable, Sendable, Equatable {
    public var v: Int = envelopeVersion
    public let message: ChatMessage
    /// Sessions relay-svc already sent it to (fast path); offline-svc delivers to the others.
    public let delivered: [String]

    public init(message: ChatMessage, delivered: [String]) {
        self.message = message
        self.delivered = delivered
    }
}

/// One acked message. `from` and `id` are filled in by the edge that delivered it, when known.
public struct AckedMessage: Codable, Sendable, Equatable {
    public let msg: String
    public let from: String?
    public let id: String?

    public init(msg: String, from: String?, id: String?) {
        self.msg = msg
        self.from = from
        self.id = id
    }
}

/// `chat.acks` (key: acking user).
public struct AckEnvelope: Codable, Sendable, Equatable {
    public var v: Int = envelopeVersion
    public let user: String
    public let acks: [AckedMessage]

    public init(user: String, acks: [AckedMessage]) {
        self.user = user
        self.acks = acks
    }
}

/// `presence.events` (key: user, or the edge id for edge events).
public struct PresenceEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A session of `user` opened on `edge`.
        case connect
        /// A session of `user` closed on `edge`.
        case disconnect
        /// `edge` is alive.
        case heartbeat
        /// `edge` started: drop whatever sessions a previous run with the same id left.
        case edgeStarted = "edge_started"
        /// `edge` shut down cleanly: drop its sessions now.
        case edgeStopped = "edge_stopped"
        /// `session` of `user` on `edge` wants the current status of `users`.
        case query
    }

    public var v: Int = envelopeVersion
    public let kind: Kind
    public let edge: String
    public let user: String?
    public let session: String?
    public let users: [String]?
    /// Unix milliseconds at the edge.
    public let ts: UInt64

    public init(kind: Kind, edge: String, user: String? = nil, session: String? = nil, users: [String]? = nil, ts: UInt64) {
        self.kind = kind
        self.edge = edge
        self.user = user
        self.session = session
        self.users = users
        self.ts = ts
    }
}

/// A user's status.
public struct PresenceStatus: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case online, offline }
    public let user: String
    public let status: Status

    public init(user: String, status: Status) {
        self.user = user
        self.status = status
    }
}

/// `presence.changes` (key: user): a session came or went.
public struct PresenceChange: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case sessionOnline = "session_online"
        case sessionOffline = "session_offline"
    }

    public var v: Int = envelopeVersion
    public let kind: Kind
    public let user: String
    public let session: String
    public let edge: String
    /// The user's status after this change.
    public let status: PresenceStatus.Status
    /// Whether the user's status changed (first session opened, last session closed).
    public let transition: Bool

    public init(kind: Kind, user: String, session: String, edge: String, status: PresenceStatus.Status, transition: Bool) {
        self.kind = kind
        self.user = user
        self.session = session
        self.edge = edge
        self.status = status
        self.transition = transition
    }
}

/// `chat.deliver.<edge>`: frames for sessions of one user on that edge.
public struct DeliverEnvelope: Codable, Sendable, Equatable {
    public var v: Int = envelopeVersion
    public let user: String
    /// Only these sessions; nil means every session of `user` on the edge.
    public let sessions: [String]?
    /// Every session but this one (the sender's own session for copies of its message).
    public let exceptSession: String?
    public let messages: [ChatMessage]
    public let receipts: [AckedMessageReceipt]
    public let presence: [PresenceStatus]
    /// Set by presence-svc when it had given this edge up for dead but hears from it again:
    /// the edge reports every session it holds once more (`user` is empty then).
    public let resync: Bool

    public init(user: String, sessions: [String]? = nil, exceptSession: String? = nil, messages: [ChatMessage] = [],
                receipts: [AckedMessageReceipt] = [], presence: [PresenceStatus] = [], resync: Bool = false) {
        self.user = user
        self.sessions = sessions
        self.exceptSession = exceptSession
        self.messages = messages
        self.receipts = receipts
        self.presence = presence
        self.resync = resync
    }

    enum CodingKeys: String, CodingKey { case v, user, sessions, exceptSession, messages, receipts, presence, resync }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        v = try c.decodeIfPresent(Int.self, forKey: .v) ?? 1
        user = try c.decode(String.self, forKey: .user)
        sessions = try c.decodeIfPresent([String].self, forKey: .sessions)
        exceptSession = try c.decodeIfPresent(String.self, forKey: .exceptSession)
        messages = try c.decodeIfPresent([ChatMessage].self, forKey: .messages) ?? []
        receipts = try c.decodeIfPresent([AckedMessageReceipt].self, forKey: .receipts) ?? []
        presence = try c.decodeIfPresent([PresenceStatus].self, forKey: .presence) ?? []
        resync = try c.decodeIfPresent(Bool.self, forKey: .resync) ?? false
    }

    /// `resync` is written only when set (deliver envelopes are on the hot path).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(v, forKey: .v)
        try c.encode(user, forKey: .user)
        try c.encodeIfPresent(sessions, forKey: .sessions)
        try c.encodeIfPresent(exceptSession, forKey: .exceptSession)
        try c.encode(messages, forKey: .messages)
        try c.encode(receipts, forKey: .receipts)
        try c.encode(presence, forKey: .presence)
        if resync { try c.encode(true, forKey: .resync) }
    }
}

/// A receipt for the sender: `by` acked `msg` (client id `id`).
public struct AckedMessageReceipt: Codable, Sendable, Equatable {
    public let msg: String
    public let by: String
    public let id: String?

    public init(msg: String, by: String, id: String?) {
        self.msg = msg
        self.by = by
        self.id = id
    }
}

/// A Kafka record that carries several envelopes. `chat.inbox`, `chat.acks` and
/// `chat.deliver.<edge>` records each hold a batch, so the broker stores one record per producer
/// batch rather than one per message: the broker's cost is per record, and none of these
/// topics needs per-user order (inbox order comes from msg ids, acks are idempotent, and a
/// deliver topic has one partition).
public struct EnvelopeBatch<Item: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var v: Int = envelopeVersion
    public let items: [Item]

    public init(items: [Item]) { self.items = items }
}

/// Encoding and decoding of Kafka envelopes.
public enum Envelope {
    public static func encode<T: Encodable>(_ envelope: T) -> [UInt8] { JSONCoding.encode(envelope) }

    /// Decodes an envelope; throws on malformed input (the consumer logs and skips the record).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONCoding.decode(type, from: bytes)
    }

    /// Encodes `items` as ``EnvelopeBatch`` values of at most about `maxBytes` each (a larger
    /// single item gets a batch of its own), in order. Each item is encoded once.
    public static func encodeBatches<T: Encodable>(_ items: [T], maxBytes: Int) -> [[UInt8]] {
        let head = Array("{\"v\":\(envelopeVersion),\"items\":[".utf8)
        var batches: [[UInt8]] = []
        var current = head
        for item in items {
            let encoded = JSONCoding.encode(item)
            if current.count > head.count, current.count + encoded.count + 2 > maxBytes {
                batches.append(current + Array("]}".utf8))
                current = head
            }
            if current.count > head.count { current.append(UInt8(ascii: ",")) }
            current += encoded
        }
        if current.count > head.count { batches.append(current + Array("]}".utf8)) }
        return batches
    }
}
