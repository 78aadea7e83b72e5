// The v2 envelopes of user streams: entries on their way into a stream, cursor moves, queries,
// and the answers offline-svc sends back to one session.

/// `chat.inbox` (partition: the user's, ``StreamPartition``): an entry for `user`'s stream.
/// relay-svc produces one per member of a message's conversation, offline-svc the receipts
/// into a sender's stream.
public struct InboxEntry: Sendable, Equatable {
    public var user: String
    public var entry: StreamEntry

    public init(user: String, entry: StreamEntry) {
        self.user = user
        self.entry = entry
    }
}

extension InboxEntry: WireObject {
    public static var wire: WireTable<InboxEntry> {
        WireTable(InboxEntry(user: "", entry: StreamEntry.wire.blank())) { e, f in
            f.id("user", &e.user)
            f.field("entry", &e.entry)
        }
    }
}

/// `chat.acks` (key: user): a device's cursor moves.
public struct CursorMove: Sendable, Equatable {
    public enum Kind: String, Sendable, WireEnum {
        /// The device has every entry up to `seq`; `after` is where the acking session's
        /// previous ack (or its replay) started, so receipts are computed from the record alone.
        case ack
        /// The user read `conv` up to `cseq`.
        case read
    }

    public var v = envelopeVersion
    public var kind: Kind
    public var user: String
    public var device: String
    /// The session it came from (for a `not_member` answer).
    public var session: String
    public var edge: String
    public var seq: UInt64?
    public var after: UInt64?
    public var conv: String?
    public var cseq: UInt64?

    public init(kind: Kind, user: String, device: String, session: String, edge: String, seq: UInt64? = nil,
                after: UInt64? = nil, conv: String? = nil, cseq: UInt64? = nil) {
        self.kind = kind
        self.user = user
        self.device = device
        self.session = session
        self.edge = edge
        self.seq = seq
        self.after = after
        self.conv = conv
        self.cseq = cseq
    }
}

extension CursorMove: WireObject {
    public static var wire: WireTable<CursorMove> {
        WireTable(CursorMove(kind: .ack, user: "", device: "", session: "", edge: "")) { m, f in
            f.field("v", &m.v, default: envelopeVersion)
            f.field("kind", &m.kind)
            f.id("user", &m.user)
            f.id("device", &m.device, .device)
            f.id("session", &m.session)
            f.id("edge", &m.edge)
            f.field("seq", &m.seq)
            f.field("after", &m.after)
            f.id("conv", &m.conv, .conversation)
            f.field("cseq", &m.cseq)
        }
    }
}

/// `chat.queries` (key: user): what a session asks offline-svc; the answer goes to that
/// session through `chat.deliver.<edge>`.
public struct QueryEnvelope: Sendable, Equatable {
    public enum Kind: String, Sendable, WireEnum {
        /// A page of the stream after `after` (nil: after the device's cursor) in `epoch`;
        /// `subscribe` on a session's first pull (the same step subscribes it to live entries).
        case sync
        /// A page of `conv`'s log before `before`, `limit` messages.
        case history
        /// A page of the conversation list after `next`, `limit` items.
        case conversations
        /// A page of `conv`'s members after `next`.
        case members
        /// The session closed: drop its subscription.
        case unsubscribe
        /// The stream's state: epoch, head, first retained `seq`, each device's cursor (the
        /// server API's `GET /api/v1/users/{user}/stream`).
        case stream
    }

    public var v = envelopeVersion
    public var kind: Kind
    public var user: String
    public var device: String
    public var session: String
    public var edge: String
    public var after: UInt64?
    public var epoch: String?
    public var subscribe: Bool
    public var conv: String?
    public var before: UInt64?
    public var limit: Int?
    public var next: String?

    public init(kind: Kind, user: String, device: String, session: String, edge: String, after: UInt64? = nil,
                epoch: String? = nil, subscribe: Bool = false, conv: String? = nil, before: UInt64? = nil,
                limit: Int? = nil, next: String? = nil) {
        self.kind = kind
        self.user = user
        self.device = device
        self.session = session
        self.edge = edge
        self.after = after
        self.epoch = epoch
        self.subscribe = subscribe
        self.conv = conv
        self.before = before
        self.limit = limit
        self.next = next
    }
}

extension QueryEnvelope: WireObject {
    public static var wire: WireTable<QueryEnvelope> {
        WireTable(QueryEnvelope(kind: .sync, user: "", device: "", session: "", edge: "")) { q, f in
            f.field("v", &q.v, default: envelopeVersion)
            f.field("kind", &q.kind)
            f.id("user", &q.user)
            f.id("device", &q.device, .device)
            f.id("session", &q.session)
            f.id("edge", &q.edge)
            f.field("after", &q.after)
            f.field("epoch", &q.epoch)
            f.field("subscribe", &q.subscribe, default: false, omittingDefault: true)
            f.field("conv", &q.conv)
            f.field("before", &q.before)
            f.field("limit", &q.limit)
            f.field("next", &q.next)
        }
    }
}

/// The answer to a `sync` pull: the page's entries travel beside it in the deliver envelope.
public struct SyncPage: Sendable, Equatable {
    /// The stream's epoch and head when the page was read.
    public var epoch: String
    public var head: UInt64
    /// The page follows this `seq` (after a reset: the head).
    public var after: UInt64
    /// More entries follow the page: pull again after its last `seq`.
    public var more: Bool
    /// The client's position was not in this epoch's retained stream: it starts over at the head.
    public var reset: Bool

    public init(epoch: String, head: UInt64, after: UInt64, more: Bool, reset: Bool) {
        self.epoch = epoch
        self.head = head
        self.after = after
        self.more = more
        self.reset = reset
    }
}

extension SyncPage: WireObject {
    public static var wire: WireTable<SyncPage> {
        WireTable(SyncPage(epoch: "", head: 0, after: 0, more: false, reset: false)) { p, f in
            f.id("epoch", &p.epoch)
            f.field("head", &p.head)
            f.field("after", &p.after)
            f.field("more", &p.more, default: false, omittingDefault: true)
            f.field("reset", &p.reset, default: false, omittingDefault: true)
        }
    }
}

/// A page of a conversation's log: the `history` frame's body.
public struct HistoryPage: Sendable, Equatable {
    public var conv: String
    /// Oldest first.
    public var messages: [ChatMessage]
    /// Older messages exist: ask with `before` = the first message's `cseq`.
    public var more: Bool

    public init(conv: String, messages: [ChatMessage], more: Bool) {
        self.conv = conv
        self.messages = messages
        self.more = more
    }
}

extension HistoryPage: WireObject {
    public static var wire: WireTable<HistoryPage> {
        WireTable(HistoryPage(conv: "", messages: [], more: false)) { p, f in
            f.id("conv", &p.conv, .conversation)
            f.field("messages", &p.messages)
            f.field("more", &p.more)
        }
    }
}

/// One conversation in the user's list.
public struct ConversationSummary: Sendable, Equatable {
    public var conv: String
    public var title: String?
    public var members: [String]?
    /// The last message of the conversation in the user's own stream (nil if past retention).
    public var last: ChatMessage?
    /// The last `cseq` of the conversation in the user's stream.
    public var cseq: UInt64
    /// The user's read cursor.
    public var read: UInt64
    /// Messages from others above the read cursor.
    public var unread: UInt64

    public init(conv: String, title: String? = nil, members: [String]? = nil, last: ChatMessage?, cseq: UInt64,
                read: UInt64, unread: UInt64) {
        self.conv = conv
        self.title = title
        self.members = members
        self.last = last
        self.cseq = cseq
        self.read = read
        self.unread = unread
    }
}

extension ConversationSummary: WireObject {
    public static var wire: WireTable<ConversationSummary> {
        WireTable(ConversationSummary(conv: "", last: nil, cseq: 0, read: 0, unread: 0)) { c, f in
            f.id("conv", &c.conv, .conversation)
            f.field("title", &c.title)
            f.id("members", &c.members)
            f.field("last", &c.last)
            f.field("cseq", &c.cseq)
            f.field("read", &c.read)
            f.field("unread", &c.unread)
        }
    }
}

/// A page of the conversation list, newest activity first: the `conversations` frame's body.
public struct ConversationsPage: Sendable, Equatable {
    public var items: [ConversationSummary]
    /// Opaque: pass it back as `next` for the following page; nil on the last page.
    public var next: String?

    public init(items: [ConversationSummary], next: String?) {
        self.items = items
        self.next = next
    }
}

extension ConversationsPage: WireObject {
    public static var wire: WireTable<ConversationsPage> {
        WireTable(ConversationsPage(items: [], next: nil)) { p, f in
            f.field("items", &p.items)
            f.field("next", &p.next)
        }
    }
}

/// A stream's state: the answer to a `stream` query.
public struct StreamState: Sendable, Equatable {
    public var user: String
    /// The stream's storage epoch; nil before its first entry or sync.
    public var epoch: String?
    /// The last `seq` given (0: none yet).
    public var head: UInt64
    /// The first retained `seq`.
    public var first: UInt64
    public var devices: [DeviceCursor]

    public init(user: String, epoch: String?, head: UInt64, first: UInt64, devices: [DeviceCursor]) {
        self.user = user
        self.epoch = epoch
        self.head = head
        self.first = first
        self.devices = devices
    }
}

extension StreamState: WireObject {
    public static var wire: WireTable<StreamState> {
        WireTable(StreamState(user: "", epoch: nil, head: 0, first: 0, devices: [])) { s, f in
            f.field("user", &s.user)
            f.field("epoch", &s.epoch)
            f.field("head", &s.head)
            f.field("first", &s.first)
            f.field("devices", &s.devices)
        }
    }
}

/// A device and its cursor: the highest contiguous `seq` it acked.
public struct DeviceCursor: Sendable, Equatable {
    public var device: String
    public var cursor: UInt64

    public init(device: String, cursor: UInt64) {
        self.device = device
        self.cursor = cursor
    }
}

extension DeviceCursor: WireObject {
    public static var wire: WireTable<DeviceCursor> {
        WireTable(DeviceCursor(device: "", cursor: 0)) { d, f in
            f.field("device", &d.device)
            f.field("cursor", &d.cursor)
        }
    }
}

/// Which `chat.inbox` partition holds a user's stream entries. Everyone producing to
/// `chat.inbox` uses it (an explicit partition, not the key), so one partition carries all of a
/// user's entries in order and a batch for many users on one partition is one record.
public enum StreamPartition {
    /// FNV-1a of the user id, modulo `count` (stable across processes and releases).
    public static func of(_ user: String, count: Int32) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in user.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(hash % UInt32(max(1, count)))
    }
}
