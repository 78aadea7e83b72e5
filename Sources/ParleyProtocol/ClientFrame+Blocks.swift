// The body of the `block` and `unblock` frames (docs/protocol.md, "Blocking").

extension ClientFrame {
    /// `block` / `unblock`: stop or allow direct messages, presence and typing between the
    /// session's user and `user`, and (block) refuse being added to groups by `user`. `id`
    /// (optional) is the client's id for it: `sent` carries it.
    public struct Block: Sendable, Equatable {
        public var user: String
        public var id: String?

        public init(user: String, id: String? = nil) {
            self.user = user
            self.id = id
        }
    }
}

extension ClientFrame.Block: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(user: "")) { b, f in
            f.field("id", &b.id, .clientID)
            f.field("user", &b.user, .blockedUser)
        }
    }
}
