/// One entry of a user's stream (v2): what every device of that user must see, in `seq` order.
/// It is the same JSON on Kafka (`chat.inbox`, `chat.deliver.<edge>`) and to clients: `type` is
/// the entry's kind, so a client frame is the entry as it is (docs/protocol.md).
///
/// - `message`: `seq, msg, conv, cseq, from, to?, body, ts, id?` (`gone` when the body is past
///   the conversation log's retention; `id` only for the sender's own devices).
/// - `receipt`: `seq, conv, cseq, msg, by, status, id?`: messages of `conv` up to `cseq` were
///   delivered to / read by `by`; `msg` is the message at `cseq`.
/// - `read`: `seq, conv, cseq`: this user read `conv` up to `cseq` on another device.
/// - `rejected`: `seq, conv, msg, id, code, reason?`: relay-svc refused a message (or a group
///   change) it had answered `sent` to; `reason` says why in words (for a quota, its limit).
/// - `group`: `seq, conv, cseq, msg, event, by, members, title, admin?, ts, id?`: a membership
///   change of a group, at its `cseq` (`msg` is the change's op id; `members` the users it
///   changed; `admin` a member who became admin because the last admin left).
public struct StreamEntry: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable, WireEnum, CaseIterable {
        case message, receipt, read, rejected, group
    }

    /// What a `group` entry changed.
    public enum GroupEvent: String, Sendable, WireEnum, CaseIterable {
        case created, added, removed, left
    }

    public enum ReceiptStatus: String, Sendable, WireEnum, CaseIterable {
        case delivered, read
    }

    public var kind: Kind
    /// The entry's place in its user's stream; 0 before offline-svc appended it.
    public var seq: UInt64
    public var msg: String?
    public var conv: String
    /// The conversation's order (0 for `rejected`, which never got one).
    public var cseq: UInt64
    public var from: String?
    /// The other member of a direct conversation, for `message` (what v1 clients read).
    public var to: String?
    public var by: String?
    public var status: ReceiptStatus?
    public var body: String?
    /// Unix milliseconds: when the message was accepted.
    public var ts: UInt64?
    /// The sender's client id (`message` to the sender's devices, `receipt`, `rejected`).
    public var id: String?
    /// Why relay-svc refused the message (`rejected`).
    public var code: ErrorCode?
    /// Why, in words (`rejected`): e.g. the limit of the quota the message was over.
    public var reason: String?
    /// The message's body is past the conversation log's retention.
    public var gone: Bool
    /// `group`: what changed, the users it changed, the group's title, a newly made admin.
    public var event: GroupEvent?
    public var members: [String]?
    public var title: String?
    public var admin: String?

    public init(kind: Kind, seq: UInt64 = 0, msg: String? = nil, conv: String, cseq: UInt64, from: String? = nil,
                to: String? = nil, by: String? = nil, status: ReceiptStatus? = nil, body: String? = nil, ts: UInt64? = nil,
                id: String? = nil, code: ErrorCode? = nil, reason: String? = nil, gone: Bool = false, event: GroupEvent? = nil, members: [String]? = nil,
                title: String? = nil, admin: String? = nil) {
        self.kind = kind
        self.seq = seq
        self.msg = msg
        self.conv = conv
        self.cseq = cseq
        self.from = from
        self.to = to
        self.by = by
        self.status = status
        self.body = body
        self.ts = ts
        self.id = id
        self.code = code
        self.reason = reason
        self.gone = gone
        self.event = event
        self.members = members
        self.title = title
        self.admin = admin
    }

    /// The `message` entry of `message` (which carries its `conv` and `cseq`).
    public static func message(_ message: ChatMessage, seq: UInt64 = 0) -> StreamEntry {
        StreamEntry(kind: .message, seq: seq, msg: message.msg, conv: message.conv, cseq: message.cseq ?? 0, from: message.from,
                    to: message.to, body: message.body, ts: message.ts, id: message.id)
    }

    /// The message of a `message` entry (nil for other kinds).
    public var chatMessage: ChatMessage? {
        guard kind == .message, let msg, let from else { return nil }
        return ChatMessage(msg: msg, from: from, to: to, conv: conv, cseq: cseq, body: body ?? "", ts: ts ?? 0, id: id)
    }
}

extension StreamEntry: WireObject {
    public static var wire: WireTable<StreamEntry> {
        WireTable(StreamEntry(kind: .message, conv: "", cseq: 0)) { e, f in
            f.field("type", &e.kind)
            f.field("seq", &e.seq, default: 0, omittingDefault: true)
            f.id("msg", &e.msg)
            f.id("conv", &e.conv, .conversation)
            f.field("cseq", &e.cseq, default: 0, omittingDefault: true)
            f.id("from", &e.from)
            f.id("to", &e.to)
            f.id("by", &e.by)
            f.field("status", &e.status)
            f.field("body", &e.body)
            f.field("ts", &e.ts)
            f.field("id", &e.id)
            f.field("code", &e.code)
            f.field("reason", &e.reason)
            f.field("gone", &e.gone, default: false, omittingDefault: true)
            f.field("event", &e.event)
            f.id("members", &e.members)
            f.field("title", &e.title)
            f.id("admin", &e.admin)
        }
    }
}
