// The envelopes of groups and typing: membership changes on their way to the conversation's
// writer, typing signals, and the `members` answer.

/// A membership change on `chat.inbound` (key: `conv`), ordered with the conversation's
/// messages by relay-svc, which gives it a `cseq`.
public struct GroupOperation: Sendable, Equatable {
    public enum Action: String, Sendable, WireEnum, CaseIterable {
        /// `by` creates `conv` titled `title` with `members` (and itself as admin).
        case create
        /// `by` (an admin) adds `members`.
        case add
        /// `by` (an admin) removes `members`.
        case remove
        /// `by` leaves.
        case leave
    }

    /// The change's op id (a ``MessageID`` made by the edge): the `msg` of its `group` entry,
    /// or of the `rejected` entry when relay-svc refuses it.
    public var op: String
    public var action: Action
    public var conv: String
    public var by: String
    /// The client's id for the change (retries reuse it: same `cseq`).
    public var id: String
    public var title: String?
    public var members: [String]
    /// Unix milliseconds when the edge accepted it.
    public var ts: UInt64

    public init(op: String, action: Action, conv: String, by: String, id: String, title: String? = nil, members: [String] = [],
                ts: UInt64) {
        self.op = op
        self.action = action
        self.conv = conv
        self.by = by
        self.id = id
        self.title = title
        self.members = members
        self.ts = ts
    }
}

extension GroupOperation: WireObject {
    public static var wire: WireTable<GroupOperation> {
        WireTable(GroupOperation(op: "", action: .leave, conv: "", by: "", id: "", ts: 0)) { g, f in
            f.id("op", &g.op)
            f.field("action", &g.action)
            f.id("conv", &g.conv, .conversation)
            f.id("by", &g.by)
            f.field("id", &g.id)
            f.field("title", &g.title)
            f.id("members", &g.members, default: [])
            f.field("ts", &g.ts)
        }
    }
}

/// `chat.signals` (key: `conv`): an ephemeral signal of a session, never stored.
public struct SignalEnvelope: Sendable, Equatable {
    public enum Kind: String, Sendable, WireEnum {
        /// `user` is typing in `conv`.
        case typing
    }

    public var v = envelopeVersion
    public var kind: Kind
    public var conv: String
    public var user: String
    /// Where it came from (a `not_member` answer goes back there; the sender's own sessions get nothing).
    public var session: String
    public var edge: String
    public var ts: UInt64

    public init(kind: Kind, conv: String, user: String, session: String, edge: String, ts: UInt64) {
        self.kind = kind
        self.conv = conv
        self.user = user
        self.session = session
        self.edge = edge
        self.ts = ts
    }
}

extension SignalEnvelope: WireObject {
    public static var wire: WireTable<SignalEnvelope> {
        WireTable(SignalEnvelope(kind: .typing, conv: "", user: "", session: "", edge: "", ts: 0)) { s, f in
            f.field("v", &s.v, default: envelopeVersion)
            f.field("kind", &s.kind)
            f.id("conv", &s.conv, .conversation)
            f.id("user", &s.user)
            f.id("session", &s.session)
            f.id("edge", &s.edge)
            f.field("ts", &s.ts)
        }
    }
}

/// `user` is typing in `conv`: the `typing` frame's body.
public struct TypingNotice: Sendable, Equatable {
    public var conv: String
    public var user: String

    public init(conv: String, user: String) {
        self.conv = conv
        self.user = user
    }
}

extension TypingNotice: WireObject {
    public static var wire: WireTable<TypingNotice> {
        WireTable(TypingNotice(conv: "", user: "")) { t, f in
            f.id("conv", &t.conv, .conversation)
            f.id("user", &t.user)
        }
    }
}

/// One member of a group as `members` shows it.
public struct GroupMemberInfo: Sendable, Equatable {
    public enum Role: String, Sendable, WireEnum, CaseIterable { case admin, member }

    public var user: String
    public var role: Role
    /// The `cseq` at which the member (last) joined.
    public var joined: UInt64
    /// The member's read cursor in the group.
    public var read: UInt64

    public init(user: String, role: Role, joined: UInt64, read: UInt64) {
        self.user = user
        self.role = role
        self.joined = joined
        self.read = read
    }
}

extension GroupMemberInfo: WireObject {
    public static var wire: WireTable<GroupMemberInfo> {
        WireTable(GroupMemberInfo(user: "", role: .member, joined: 0, read: 0)) { m, f in
            f.id("user", &m.user)
            f.field("role", &m.role)
            f.field("joined", &m.joined)
            f.field("read", &m.read)
        }
    }
}

/// A page of a group's current members: the `members` frame's body.
public struct MembersPage: Sendable, Equatable {
    public var conv: String
    public var title: String?
    public var members: [GroupMemberInfo]
    /// Opaque: pass it back as `next` for the following page; nil on the last page.
    public var next: String?

    public init(conv: String, title: String? = nil, members: [GroupMemberInfo], next: String? = nil) {
        self.conv = conv
        self.title = title
        self.members = members
        self.next = next
    }
}

extension MembersPage: WireObject {
    public static var wire: WireTable<MembersPage> {
        WireTable(MembersPage(conv: "", members: [])) { p, f in
            f.id("conv", &p.conv, .conversation)
            f.field("title", &p.title)
            f.field("members", &p.members)
            f.field("next", &p.next)
        }
    }
}
