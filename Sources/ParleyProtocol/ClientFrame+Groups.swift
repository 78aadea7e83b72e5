// The bodies of the group and typing frames (docs/protocol.md, "Groups").

extension ClientFrame {
    /// Creates a group: the creator is its admin, `members` join with it. The group's id is
    /// derived from the creator and `id`, so a retry (through any edge) names the same group.
    public struct GroupCreate: Sendable, Equatable {
        public var id: String
        public var title: String
        public var members: [String]

        public init(id: String, title: String, members: [String]) {
            self.id = id
            self.title = title
            self.members = members
        }
    }

    /// `group_add` / `group_remove`: `members` join or leave `conv`. `id` (optional) is the
    /// client's id for the change: `sent` and a `rejected` entry carry it, retries reuse it.
    public struct GroupChange: Sendable, Equatable {
        public var conv: String
        public var members: [String]
        public var id: String?

        public init(conv: String, members: [String], id: String? = nil) {
            self.conv = conv
            self.members = members
            self.id = id
        }
    }

    public struct GroupLeave: Sendable, Equatable {
        public var conv: String
        public var id: String?

        public init(conv: String, id: String? = nil) {
            self.conv = conv
            self.id = id
        }
    }

    /// A page of a group's members (roles, read `cseq`s) after `next`.
    public struct Members: Sendable, Equatable {
        public var conv: String
        public var next: String?

        public init(conv: String, next: String? = nil) {
            self.conv = conv
            self.next = next
        }
    }

    public struct Typing: Sendable, Equatable {
        public var conv: String

        public init(conv: String) { self.conv = conv }
    }
}

extension ClientFrame.GroupCreate: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(id: "", title: "", members: [])) { g, f in
            f.field("id", &g.id, .clientID)
            f.field("title", &g.title, .title)
            f.field("members", &g.members, default: [], .initialMembers)
        }
    }
}

extension ClientFrame.GroupChange: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(conv: "", members: [])) { g, f in
            f.field("id", &g.id, .clientID)
            f.field("conv", &g.conv, .group)
            f.field("members", &g.members, .changedMembers)
        }
    }
}

extension ClientFrame.GroupLeave: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(conv: "")) { g, f in
            f.field("id", &g.id, .clientID)
            f.field("conv", &g.conv, .group)
        }
    }
}

extension ClientFrame.Members: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(conv: "")) { m, f in
            f.field("conv", &m.conv, .group)
            f.field("next", &m.next, .pageCursor)
        }
    }
}

extension ClientFrame.Typing: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(conv: "")) { t, f in
            f.field("conv", &t.conv, .conversation)
        }
    }
}
