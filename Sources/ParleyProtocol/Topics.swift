/// Kafka topic names, with a configurable prefix so several stacks (or tests) share a broker.
public struct Topics: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = "") { self.prefix = prefix }

    /// Client sends, keyed by conversation. Consumed by relay-svc.
    public var inbound: String { prefix + "chat.inbound" }
    /// Entries for user streams, on the user's ``StreamPartition``. Consumed by offline-svc.
    public var inbox: String { prefix + "chat.inbox" }
    /// Device acks and read moves, keyed by user. Consumed by offline-svc.
    public var acks: String { prefix + "chat.acks" }
    /// Sync pulls, history and conversation-list queries, keyed by user. Consumed by offline-svc.
    public var queries: String { prefix + "chat.queries" }
    /// Typing signals, keyed by conversation, short retention. Consumed by relay-svc.
    public var signals: String { prefix + "chat.signals" }
    /// Session connect/disconnect, edge heartbeats, presence queries, all keyed by the edge id
    /// (so one edge's events stay in order). Consumed by presence-svc.
    public var presenceEvents: String { prefix + "presence.events" }
    /// Online/offline transitions and new sessions, keyed by user.
    public var presenceChanges: String { prefix + "presence.changes" }
    /// What one edge writes to its sessions: one partition, short retention, read from its end.
    public func deliver(edge: String) -> String { prefix + "chat.deliver." + edge }

    /// The shared topics (everything but the per-edge deliver topics).
    public var shared: [String] { [inbound, inbox, acks, queries, signals, presenceEvents, presenceChanges] }
}
