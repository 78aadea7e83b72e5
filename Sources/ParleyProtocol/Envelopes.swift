// The Kafka envelopes. Each type's `wire` table is its only description on the wire: the order
// of its lines is the order fields are written in.

/// The current envelope version. Every envelope carries it as `v` (absent or `null` reads as
/// this version); readers skip fields they do not know, so a newer producer can add fields
/// without breaking older consumers.
public let envelopeVersion = 2

/// A chat message as it travels through Kafka, sits in its conversation's log in Redis, and
/// reaches clients in `history` pages.
public struct ChatMessage: Sendable, Equatable, Hashable {
    /// Time-ordered id (``MessageID``), made by the edge that accepted the send.
    public var msg: String
    public var from: String
    /// The other member of a direct conversation (nil in groups).
    public var to: String?
    /// The conversation (``Conversation``).
    public var conv: String
    /// The message's place in its conversation; nil until relay-svc assigned it.
    public var cseq: UInt64?
    public var body: String
    /// Unix milliseconds when the edge accepted it.
    public var ts: UInt64
    /// The sender's client id (dedup of retries, receipts).
    public var id: String?

    public init(msg: String, from: String, to: String?, conv: String, cseq: UInt64? = nil, body: String, ts: UInt64, id: String?) {
        self.msg = msg
        self.from = from
        self.to = to
        self.conv = conv
        self.cseq = cseq
        self.body = body
        self.ts = ts
        self.id = id
    }
}

extension ChatMessage: WireObject {
    public static var wire: WireTable<ChatMessage> {
        WireTable(ChatMessage(msg: "", from: "", to: nil, conv: "", body: "", ts: 0, id: nil)) { m, f in
            f.id("msg", &m.msg)
            f.id("conv", &m.conv, .conversation)
            f.field("cseq", &m.cseq)
            f.id("from", &m.from)
            f.id("to", &m.to)
            f.field("body", &m.body)
            f.field("ts", &m.ts)
            f.field("id", &m.id)
        }
    }
}

/// `chat.inbound` (key: `conv`): a send, a group change or a block the edge accepted; exactly
/// one of `message`, `group` and `block` is set (relay-svc drops and counts any other record).
public struct InboundEnvelope: Sendable, Equatable {
    public var v = envelopeVersion
    public var message: ChatMessage?
    public var group: GroupOperation?
    public var block: BlockOperation?
    /// Edge, session and device it was sent from (nil device: a v1 session).
    public var edge: String
    public var session: String
    public var device: String?

    public init(message: ChatMessage, edge: String, session: String, device: String? = nil) {
        self.message = message
        self.edge = edge
        self.session = session
        self.device = device
    }

    /// The conversation it belongs to (its key on `chat.inbound`).
    public var conv: String { message?.conv ?? group?.conv ?? block?.conv ?? "" }

    public init(group: GroupOperation, edge: String, session: String, device: String? = nil) {
        self.group = group
        self.edge = edge
        self.session = session
        self.device = device
    }

    public init(block: BlockOperation, edge: String, session: String, device: String? = nil) {
        self.block = block
        self.edge = edge
        self.session = session
        self.device = device
    }
}

extension InboundEnvelope: WireObject {
    public static var wire: WireTable<InboundEnvelope> {
        WireTable(InboundEnvelope(message: ChatMessage.wire.blank(), edge: "", session: "")) { e, f in
            f.field("v", &e.v, default: envelopeVersion)
            f.field("message", &e.message)
            f.field("group", &e.group)
            f.field("block", &e.block)
            f.id("edge", &e.edge)
            f.id("session", &e.session)
            f.id("device", &e.device, .device)
        }
    }
}

/// `presence.events` (key: the edge id, for every kind, so one edge's events stay in order).
public struct PresenceEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, WireEnum {
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

    public var v = envelopeVersion
    public var kind: Kind
    public var edge: String
    public var user: String?
    public var session: String?
    public var users: [String]?
    /// Unix milliseconds at the edge.
    public var ts: UInt64

    public init(kind: Kind, edge: String, user: String? = nil, session: String? = nil, users: [String]? = nil, ts: UInt64) {
        self.kind = kind
        self.edge = edge
        self.user = user
        self.session = session
        self.users = users
        self.ts = ts
    }
}

extension PresenceEvent: WireObject {
    public static var wire: WireTable<PresenceEvent> {
        WireTable(PresenceEvent(kind: .heartbeat, edge: "", ts: 0)) { e, f in
            f.field("v", &e.v, default: envelopeVersion)
            f.field("kind", &e.kind)
            f.id("edge", &e.edge)
            f.id("user", &e.user)
            f.id("session", &e.session)
            f.id("users", &e.users)
            f.field("ts", &e.ts)
        }
    }
}

/// A user's status.
public struct PresenceStatus: Sendable, Equatable {
    public enum Status: String, Sendable, WireEnum { case online, offline }
    public var user: String
    public var status: Status
    /// Unix milliseconds when the user's last session ended (offline users, when known).
    public var lastSeen: UInt64?

    public init(user: String, status: Status, lastSeen: UInt64? = nil) {
        self.user = user
        self.status = status
        self.lastSeen = lastSeen
    }
}

extension PresenceStatus: WireObject {
    public static var wire: WireTable<PresenceStatus> {
        WireTable(PresenceStatus(user: "", status: .offline)) { p, f in
            f.id("user", &p.user)
            f.field("status", &p.status)
            f.field("last_seen", &p.lastSeen)
        }
    }
}

/// `presence.changes` (key: user): a session came or went.
public struct PresenceChange: Sendable, Equatable {
    public enum Kind: String, Sendable, WireEnum {
        case sessionOnline = "session_online"
        case sessionOffline = "session_offline"
    }

    public var v = envelopeVersion
    public var kind: Kind
    public var user: String
    public var session: String
    public var edge: String
    /// The user's status after this change.
    public var status: PresenceStatus.Status
    /// Whether the user's status changed (first session opened, last session closed).
    public var transition: Bool
    /// Unix milliseconds when the last session ended (set when the user went offline).
    public var lastSeen: UInt64?

    public init(kind: Kind, user: String, session: String, edge: String, status: PresenceStatus.Status, transition: Bool,
                lastSeen: UInt64? = nil) {
        self.kind = kind
        self.user = user
        self.session = session
        self.edge = edge
        self.status = status
        self.transition = transition
        self.lastSeen = lastSeen
    }
}

extension PresenceChange: WireObject {
    public static var wire: WireTable<PresenceChange> {
        WireTable(PresenceChange(kind: .sessionOffline, user: "", session: "", edge: "", status: .offline, transition: false)) { c, f in
            f.field("v", &c.v, default: envelopeVersion)
            f.field("kind", &c.kind)
            f.id("user", &c.user)
            f.id("session", &c.session)
            f.id("edge", &c.edge)
            f.field("status", &c.status)
            f.field("transition", &c.transition)
            f.field("last_seen", &c.lastSeen)
        }
    }
}

/// `chat.deliver.<edge>`: frames for sessions of one user on that edge.
public struct DeliverEnvelope: Sendable, Equatable {
    public var v = envelopeVersion
    public var user: String
    /// Only these sessions; nil means every session of `user` on the edge.
    public var sessions: [String]?
    /// Entries of the user's stream (live, or a replay page), in `seq` order.
    public var entries: [StreamEntry]
    /// Set on the answer to a `sync` pull: `entries` are that page.
    public var page: SyncPage?
    /// The stream's epoch of live `entries`: an edge that knows another one pulls again (and
    /// learns of the reset) instead of taking the new epoch's `seq`s for duplicates.
    public var epoch: String?
    /// Answers to queries and refusals offline-svc found, for the addressed sessions.
    public var history: HistoryPage?
    public var conversations: ConversationsPage?
    public var members: MembersPage?
    /// The answer to a `stream` query.
    public var stream: StreamState?
    public var error: ProtocolError?
    public var presence: [PresenceStatus]
    /// The answer to a `watch`: the users of it this session may watch (they share a
    /// conversation with it); the edge forwards changes of these only.
    public var watch: [String]?
    /// Users the addressed sessions stop watching at once, whatever their `watch` asked: a block
    /// between them and `user` (relay-svc). Nobody is told; presence-svc refuses a later `watch`.
    public var unwatch: [String]?
    /// Someone is typing in a conversation of `user` (relay-svc, from `chat.signals`).
    public var typing: TypingNotice?
    /// Set by presence-svc when it had given this edge up for dead but hears from it again:
    /// the edge reports every session it holds once more (`user` is empty then).
    public var resync: Bool
    /// Set by presence-svc when the user holds more sessions across all edges than allowed: the
    /// addressed `sessions` (the oldest) are closed with 1008 `replaced`.
    public var replaced: Bool
    /// Set by the server API (`POST /api/v1/users/{user}/disconnect`): the edge closes every
    /// session of `user` it holds.
    public var disconnect: Bool

    public init(user: String, sessions: [String]? = nil, entries: [StreamEntry] = [], page: SyncPage? = nil,
                epoch: String? = nil, history: HistoryPage? = nil, conversations: ConversationsPage? = nil,
                members: MembersPage? = nil, stream: StreamState? = nil, error: ProtocolError? = nil, presence: [PresenceStatus] = [],
                watch: [String]? = nil, unwatch: [String]? = nil, typing: TypingNotice? = nil, resync: Bool = false, replaced: Bool = false,
                disconnect: Bool = false) {
        self.user = user
        self.sessions = sessions
        self.entries = entries
        self.page = page
        self.epoch = epoch
        self.history = history
        self.conversations = conversations
        self.members = members
        self.stream = stream
        self.error = error
        self.presence = presence
        self.watch = watch
        self.unwatch = unwatch
        self.typing = typing
        self.resync = resync
        self.replaced = replaced
        self.disconnect = disconnect
    }
}

extension DeliverEnvelope: WireObject {
    public static var wire: WireTable<DeliverEnvelope> {
        WireTable(DeliverEnvelope(user: "")) { d, f in
            // Deliver envelopes are on the hot path: empty fields are left out.
            f.field("v", &d.v, default: envelopeVersion)
            f.id("user", &d.user, .identifierOrEmpty)
            f.id("sessions", &d.sessions)
            f.field("entries", &d.entries, default: [], omittingDefault: true)
            f.field("page", &d.page)
            f.id("epoch", &d.epoch)
            f.field("history", &d.history)
            f.field("conversations", &d.conversations)
            f.field("members", &d.members)
            f.field("stream", &d.stream)
            f.field("error", &d.error)
            f.field("presence", &d.presence, default: [], omittingDefault: true)
            f.id("watch", &d.watch)
            f.id("unwatch", &d.unwatch)
            f.field("typing", &d.typing)
            f.field("resync", &d.resync, default: false, omittingDefault: true)
            f.field("replaced", &d.replaced, default: false, omittingDefault: true)
            f.field("disconnect", &d.disconnect, default: false, omittingDefault: true)
        }
    }
}

/// A Kafka record that carries several envelopes. `chat.inbox` (one record per partition),
/// `chat.acks` and `chat.queries` (one per user) and `chat.deliver.<edge>` records each hold a
/// batch, so the broker stores one record per producer batch rather than one per message: the
/// broker's cost is per record.
public struct EnvelopeBatch<Item: WireObject>: Sendable {
    public var v = envelopeVersion
    public var items: [Item]

    public init(items: [Item]) { self.items = items }
}

extension EnvelopeBatch: Equatable where Item: Equatable {}

extension EnvelopeBatch: WireObject {
    public static var wire: WireTable<EnvelopeBatch> {
        WireTable(EnvelopeBatch(items: [])) { b, f in
            f.field("v", &b.v, default: envelopeVersion)
            f.field("items", &b.items)
        }
    }
}
