/// The validation limits of the client protocol. The edge configures them; these are defaults.
public struct ProtocolLimits: Sendable, Equatable {
    /// Largest `body` of a `send`, in UTF-8 bytes.
    public var maxBodyBytes: Int
    /// Largest text frame the edge reads; larger frames close the session with 1009.
    public var maxFrameBytes: Int
    /// Largest client `id`, in UTF-8 bytes.
    public var maxClientIDBytes: Int
    /// Most message ids in one `ack`.
    public var maxAckMessages: Int
    /// Most users in one `watch`.
    public var maxWatchUsers: Int
    /// Most users in one `group_create`, `group_add` or `group_remove` (and in a group).
    public var maxGroupMembers: Int
    /// Largest group `title`, in UTF-8 bytes.
    public var maxTitleBytes: Int

    /// Largest `limit` of a `history` or `conversations` query.
    public static let maxPage = 100
    /// Largest `seq` or `cseq` a client may name (2^53 − 1: exact in every JSON reader).
    public static let maxSequence: UInt64 = (1 << 53) - 1

    public init(maxBodyBytes: Int = 4096, maxFrameBytes: Int = 16384, maxClientIDBytes: Int = 64,
                maxAckMessages: Int = 256, maxWatchUsers: Int = 500, maxGroupMembers: Int = 1000, maxTitleBytes: Int = 128) {
        self.maxBodyBytes = maxBodyBytes
        self.maxFrameBytes = maxFrameBytes
        self.maxClientIDBytes = maxClientIDBytes
        self.maxAckMessages = maxAckMessages
        self.maxWatchUsers = maxWatchUsers
        self.maxGroupMembers = maxGroupMembers
        self.maxTitleBytes = maxTitleBytes
    }
}
