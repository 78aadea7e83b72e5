/// A `block` or `unblock` on `chat.inbound` (key: the direct conversation of `by` and `user`),
/// ordered with that conversation's messages by relay-svc, which keeps the block state in the
/// conversation's slot: a message after the block in that order is refused.
public struct BlockOperation: Sendable, Equatable {
    /// The operation's id (a ``MessageID`` made by the edge): the `msg` of its `sent`.
    public var op: String
    /// true: `by` blocks `user`; false: `by` lifts its block of `user`.
    public var blocks: Bool
    /// `Conversation.direct(by, user)`.
    public var conv: String
    public var by: String
    public var user: String
    /// The client's id for it.
    public var id: String
    /// Unix milliseconds when the edge accepted it.
    public var ts: UInt64

    public init(op: String, blocks: Bool, by: String, user: String, id: String, ts: UInt64) {
        self.op = op
        self.blocks = blocks
        self.conv = Conversation.direct(by, user)
        self.by = by
        self.user = user
        self.id = id
        self.ts = ts
    }
}

extension BlockOperation: WireObject {
    public static var wire: WireTable<BlockOperation> {
        WireTable(BlockOperation(op: "", blocks: true, by: "", user: "", id: "", ts: 0)) { b, f in
            f.id("op", &b.op)
            f.field("blocks", &b.blocks)
            f.id("conv", &b.conv, .conversation)
            f.id("by", &b.by)
            f.id("user", &b.user)
            f.field("id", &b.id)
            f.field("ts", &b.ts)
        }
    }
}
